/**
 * Windows larger than any read limit: 24,000 records in one day whose later half alone changed. The
 * monitor, `remedy start` and collection must see the whole window (or a stated uniform sample of it);
 * the window's first hours alone look like the reference.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { windowReport, type CheckResult } from '../../activities/drift.js';
import { abortCycle, cycleStatus } from '../../ops/cycles.js';
import { createMonitor, triggerMonitor } from '../../ops/monitor.js';
import { ingestRecords, registerModelWithChampion, type LabeledExample } from '../../ops/setup.js';
import { driftReport, upgradeProfile, type DriftReport } from '../../core/drift.js';
import { ModelDefinition, Policy, type Features } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { cliRunner, until, useStack } from '../helpers.js';
import { seededRandom } from '../../core/seeded-random.js';

const stack = useStack('window');
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));

const DAY = { start: '2021-03-01T00:00:00.000Z', end: '2021-03-02T00:00:00.000Z' };
const RECORDS = 24_000;
const PLANS = ['basic', 'plus', 'pro'];

/** A small deterministic generator, so every run sees the same data. */
const random = seededRandom;

function customer(rnd: () => number): Features {
  return {
    age: Math.round(20 + rnd() * 50),
    income: Math.round(20_000 + rnd() * 60_000),
    plan: PLANS[Math.floor(rnd() * PLANS.length)]!,
  };
}

const truth = (f: Features) => ((f.age as number) > 45 ? 'churn' : 'stay');

/** A model whose champion learned `truth` from reference-like customers. */
async function register(modelId: string, policy: Record<string, unknown> = {}): Promise<void> {
  const def = ModelDefinition.parse({
    modelId,
    labelSet: ['churn', 'stay'],
    features: { numeric: ['age', 'income'], categorical: ['plan'] },
    policy,
  });
  const rnd = random(7);
  const reference: LabeledExample[] = Array.from({ length: 2000 }, (_, i) => {
    const features = customer(rnd);
    return { recordKey: `ref-${i}`, ts: '2021-01-01T00:00:00.000Z', features, label: truth(features) };
  });
  await registerModelWithChampion(stack.pool, def, reference);
}

/**
 * One day of traffic, evenly spread. `drifted`: from noon, customers are 25 years older and all on one
 * plan. `lateLabels`: feedback (the opposite of the rule the champion learned) only in the last two hours.
 * One record the next day closes the day for a monitor in cursor mode.
 */
async function ingestDay(modelId: string, opts: { drifted?: boolean; lateLabels?: boolean }): Promise<void> {
  const rnd = random(11);
  const t0 = Date.parse(DAY.start);
  const step = 86_400_000 / RECORDS;
  const records = Array.from({ length: RECORDS }, (_, i) => {
    const features = customer(rnd);
    if (opts.drifted && i >= RECORDS / 2) {
      features.age = (features.age as number) + 25;
      features.plan = 'basic';
    }
    const late = i >= (RECORDS * 22) / 24 && i % 10 === 0;
    return {
      recordKey: `${modelId}-${i}`,
      ts: new Date(t0 + Math.floor(i * step)).toISOString(),
      features,
      feedback: opts.lateLabels && late ? (truth(features) === 'churn' ? 'stay' : 'churn') : null,
    };
  });
  records.push({ recordKey: `${modelId}-next`, ts: DAY.end, features: customer(rnd), feedback: null });
  await ingestRecords(stack.pool, modelId, records);
}

const reportOf = async (modelId: string, policy: Policy['drift'] = Policy.parse({}).drift) =>
  windowReport(stack.pool, { modelId, championVersion: 1, window: DAY, policy });

describe('windows of any size', () => {
  it('given a day whose later half drifted, then the monitor tests all 24,000 records and finds the drift its first hours hide', async () => {
    const modelId = 'late-drift';
    await register(modelId);
    await ingestDay(modelId, { drifted: true });

    // The first 5,000 records by time (what a check used to read) look like the reference.
    const stored = await db.getReferenceProfile(stack.pool, modelId, 1);
    const first = await db.recordsInWindow(stack.pool, modelId, DAY.start, DAY.end, 5000);
    const firstHours = driftReport(
      upgradeProfile(stored),
      first.map((r) => r.features),
      [],
      Policy.parse({}).drift,
    );
    expect(firstHours.driftedShare).toBe(0);

    await createMonitor(stack.h.client, stack.pool, stack.h, {
      modelId,
      every: '24h',
      window: '24h',
      mode: 'cursor',
      start: DAY.start,
    });
    const s = (await triggerMonitor(stack.h.client, modelId, { wait: true }))!;
    expect(s.state).toBe('checked');
    expect(s.check!.window).toEqual(DAY);
    expect(s.reason).toContain('67% of features drifted (all 24,000 records of the window tested)');
    expect(s.check!.signals).toContain('features');
    const { rows } = await stack.pool.query<{ report: DriftReport }>(
      'SELECT report FROM drift_checks WHERE check_key = $1',
      [s.checkKey],
    );
    expect(rows[0]!.report.window).toEqual({ held: 24_000, tested: 24_000, selection: 'all' });
    expect(
      rows[0]!.report.features
        .filter((f) => f.drifted)
        .map((f) => f.feature)
        .sort(),
    ).toEqual(['age', 'plan']);
  });

  it('given the same day, then remedy start confirms the drift over the whole window and collection samples all of it', async () => {
    const modelId = 'late-drift-cycle';
    await register(modelId);
    await ingestDay(modelId, { drifted: true });
    const started = await remedy('start', modelId, '--from', DAY.start, '--to', DAY.end);
    expect(started.code).toBe(0);
    const cycleId = started.out.trim().replace(/^started /, '');
    await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => s.stages.some((st) => st.stage === 'collect' && Boolean(st.endedAt)),
    );
    const status = await remedy('status', cycleId);
    expect(status.out).toContain('67% of features drifted (all 24,000 records of the window tested)');
    const { rows } = await stack.pool.query<{ report: { window: unknown; driftedShare: number } }>(
      'SELECT report FROM drift_reports WHERE cycle_id = $1',
      [cycleId],
    );
    expect(rows[0]!.report.window).toEqual({ held: 24_000, tested: 24_000, selection: 'all' });
    // Collection's candidates: a uniform sample of the whole day (4 × maxRows of 24,000), not its morning.
    const { rows: plans } = await stack.pool.query<{ plan: { window: unknown }; late: string }>(
      `SELECT d.sampling_plan AS plan,
              (SELECT count(*) FROM dataset_rows r WHERE r.dataset_id = d.dataset_id AND r.ts >= '2021-03-01T12:00:00Z') AS late
       FROM dataset_versions d WHERE d.cycle_id = $1 AND d.kind = 'collected'`,
      [cycleId],
    );
    expect(plans[0]!.plan.window).toEqual({
      held: 24_000,
      candidates: 20_000,
      selection: 'uniform-sample',
      seed: `${modelId}|${DAY.start}|${DAY.end}`,
    });
    expect(Number(plans[0]!.late)).toBeGreaterThan(1000);
    await abortCycle(stack.h.client, cycleId);
  });

  it('given feedback only in the last two hours, then the performance signal judges on every labeled record', async () => {
    const modelId = 'late-labels';
    await register(modelId);
    await ingestDay(modelId, { lateLabels: true });
    const first = await db.recordsInWindow(stack.pool, modelId, DAY.start, DAY.end, 5000);
    expect(first.filter((r) => r.feedback !== null)).toHaveLength(0);

    const report = await reportOf(modelId);
    expect(report.driftedShare).toBe(0);
    expect(report.performance).toMatchObject({ labeledRows: 200, judged: true, degraded: true });
    expect(report.performance.currentAccuracy).toBeLessThan(0.2);
  });

  it('given a policy that samples the window, then the report says held and tested, the sample repeats and still sees the later half', async () => {
    const modelId = 'late-sampled';
    await register(modelId, { drift: { maxWindowRows: 3000 } });
    await ingestDay(modelId, { drifted: true, lateLabels: true });
    const policy = Policy.parse({ drift: { maxWindowRows: 3000 } }).drift;
    const report = await reportOf(modelId, policy);
    expect(report.window).toEqual({
      held: 24_000,
      tested: 3000,
      selection: 'uniform-sample',
      seed: `${modelId}|${DAY.start}|${DAY.end}`,
    });
    expect(report.windowRows).toBe(3000);
    expect(report.features.filter((f) => f.drifted).map((f) => f.feature)).toEqual(
      expect.arrayContaining(['age', 'plan']),
    );
    // Feedback is scarce: the performance signal still reads every labeled record of the window.
    expect(report.performance.labeledRows).toBe(200);
    const again = await reportOf(modelId, policy);
    expect(again.features).toEqual(report.features);

    const acts = createActivities({ pool: stack.pool });
    const env = new MockActivityEnvironment();
    const check = await env.run<[], CheckResult, () => Promise<CheckResult>>(() =>
      acts.runDriftCheck({ checkKey: 'late-sampled-1', modelId, window: DAY }),
    );
    expect(check.reason).toContain("(a uniform sample of 3,000 of the window's 24,000 records tested)");
  });
});
