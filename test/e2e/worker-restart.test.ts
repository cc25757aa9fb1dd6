/**
 * Durability: the worker process is killed (SIGKILL) while the cycle waits for labels, a new one is
 * started, and the same cycle finishes as if nothing happened.
 */
import { inject } from 'vitest';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pendingLabels, startCycle, waitForCycle } from '../../ops/cycles.js';
import { answerLabels, approveWhenAsked, atStage, waitForStatus } from '../../dev/reviewer.js';
import * as db from '../../db/index.js';
import { DEMO_POLICY, futureTraffic, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { stepTraffic } from '../../dev/step-traffic.js';
import type { Gateway } from '../../gateway/server.js';
import { spawnWorker, type WorkerProcess } from '../../dev/stack.js';
import { freshDatabase, startGateway, temporalHarness, until, type TemporalHarness } from '../helpers.js';

let pool: pg.Pool;
let url: string;
let h: TemporalHarness;
let gateway: Gateway;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  ({ pool, url } = await freshDatabase('restart'));
  h = await temporalHarness('restart');
  gateway = await startGateway(pool);
});
// Each test owns its workers: a leftover worker would pick up the next test's tasks.
afterEach(async () => {
  for (const p of processes.splice(0)) await p.stop('SIGKILL');
});
afterAll(async () => {
  await gateway?.close();
  await h?.close();
  await pool?.end();
});

const launch = async () => {
  const p = await spawnWorker({
    DATABASE_URL: url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    REMEDY_TASK_QUEUE: h.taskQueue,
    REMEDY_TRAINING_TASK_QUEUE: h.trainingTaskQueue,
  });
  processes.push(p);
  return p;
};

describe('worker crash during the label wait', () => {
  it('given the worker is killed while the cycle waits for labels, when a new worker starts, then the same cycle finishes', async () => {
    // Each rollout step is judged on a fixed sample of 60 answers an arm, sent as the step begins, so
    // the outcome does not depend on how much traffic a loaded machine gets through in a dwell.
    const prepared = await prepareWeatherModel(pool, 'weather-restart', {
      ...DEMO_POLICY,
      rollout: { ...DEMO_POLICY.rollout, stepSamples: 60 },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const first = await launch();
    const { cycleId, runId } = await startCycle(h.client, h, {
      modelId: 'weather-restart',
      window: SCENARIO.window,
    });
    await waitForStatus(h.client, cycleId, atStage('label'));
    await until(
      () => pendingLabels(h.client, cycleId),
      (s) => s.requested > 0,
    );

    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull(); // killed by a signal, no exit code

    await launch();
    const answered = await answerLabels(h.client, cycleId, (k) => truth.get(k), 'scripted-reviewer');
    expect(answered).toBe(40);
    await approveWhenAsked(h.client, cycleId, 'scripted-approver', 'ok');
    // Production traffic, with feedback, while the candidate rolls out.
    const load = stepTraffic({
      gatewayUrl: gateway.url,
      pool,
      modelId: 'weather-restart',
      cycleId,
      rows: futureTraffic(prepared),
      perArm: 60,
      maxPerStep: 5_000,
    });
    let sent: Awaited<ReturnType<typeof load.stop>> | undefined;
    const summary = await waitForCycle(h.client, cycleId).finally(async () => {
      sent = await load.stop();
    });
    expect(sent?.offSplit).toBe(0);

    expect(summary.outcome).toBe('promoted');
    const described = await h.client.workflow.getHandle(cycleId).describe();
    expect(described.runId).toBe(runId); // the same run, not a restart from scratch
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM dataset_versions WHERE cycle_id = $1 AND kind = 'collected'",
      [cycleId],
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('given the worker is killed mid-training, when a new worker starts, then training resumes from the last heartbeat, not from zero', async () => {
    const prepared = await prepareWeatherModel(pool, 'weather-killtrain', {
      labeling: { budget: 10, minLabels: 5, reviewers: [SCENARIO.reviewer] },
      // Enough trees to take several seconds; a short heartbeat timeout so the retry starts soon.
      training: {
        trees: 1000,
        maxDepth: 30,
        minSamplesLeaf: 1,
        searchDepths: [30],
        searchLeaves: [1],
        historyShare: 1,
        heartbeatTimeout: '10s',
      },
      rollout: { dwell: '1s', sampleWait: '1s', decisionTimeout: '1s' },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const first = await launch();
    const { cycleId } = await startCycle(h.client, h, {
      modelId: 'weather-killtrain',
      window: SCENARIO.window,
    });
    await waitForStatus(h.client, cycleId, atStage('label'));
    await answerLabels(h.client, cycleId, (k) => truth.get(k), SCENARIO.reviewer);
    // Wait until the training activity has heartbeated progress: trees already built and saved.
    const treesSaved = (d: {
      pendingActivities?:
        | {
            activityType?: { name?: string | null } | null;
            heartbeatDetails?: { payloads?: { data?: Uint8Array | null }[] | null } | null;
          }[]
        | null;
    }) =>
      (d.pendingActivities ?? [])
        .filter((a) => a.activityType?.name === 'trainCandidate')
        .map((a) => a.heartbeatDetails?.payloads?.[0]?.data)
        .map((data) =>
          data ? ((JSON.parse(Buffer.from(data).toString()) as { trees?: number }).trees ?? 0) : 0,
        )
        .some((trees) => trees > 0);
    await until(
      () =>
        h.client.workflowService.describeWorkflowExecution({
          namespace: 'default',
          execution: { workflowId: cycleId },
        }),
      treesSaved,
    );
    first.child.kill('SIGKILL');
    await first.exited;

    await launch();
    const summary = await waitForCycle(h.client, cycleId);
    const retrain = summary.stages.find((s) => s.stage === 'retrain')!.summary!;
    expect(retrain.trainer).toBe('forest');
    expect(retrain.resumedFrom as number).toBeGreaterThan(0);
    expect(retrain.resumedFrom as number).toBeLessThan(1000);
    const version = await db.getModelVersion(pool, 'weather-killtrain', summary.candidateVersion!);
    expect(version.metrics).toMatchObject({ resumedFrom: retrain.resumedFrom, trees: 1000 });
  });
});
