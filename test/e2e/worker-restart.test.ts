/**
 * Durability: the worker process is killed (SIGKILL) while the cycle waits for labels, a new one is
 * started, and the same cycle finishes as if nothing happened.
 */
import { inject } from 'vitest';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingLabels, startCycle, waitForCycle } from '../../client/cycles.js';
import { answerLabels, approveWhenAsked, atStage, waitForStatus } from '../../client/reviewer.js';
import {
  DEMO_POLICY,
  futureTraffic,
  prepareWeatherModel,
  SCENARIO,
  TRAFFIC_BOUND,
} from '../../client/scenario.js';
import { backgroundTraffic } from '../../client/traffic.js';
import type { Gateway } from '../../gateway/server.js';
import { spawnWorker, type WorkerProcess } from '../../client/stack.js';
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
afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
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
    const prepared = await prepareWeatherModel(pool, 'weather-restart', DEMO_POLICY);
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
    const load = backgroundTraffic({
      gatewayUrl: gateway.url,
      modelId: 'weather-restart',
      rows: futureTraffic(prepared),
      maxRequests: TRAFFIC_BOUND,
    });
    const summary = await waitForCycle(h.client, cycleId).finally(() => load.stop());

    expect(summary.outcome).toBe('promoted');
    const described = await h.client.workflow.getHandle(cycleId).describe();
    expect(described.runId).toBe(runId); // the same run, not a restart from scratch
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM dataset_versions WHERE cycle_id = $1 AND kind = 'collected'",
      [cycleId],
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });
});
