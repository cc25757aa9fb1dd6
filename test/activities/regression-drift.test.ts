/**
 * A regression model's confirm stage against a real Postgres, on the vega cars: the champion trained on
 * 1970–74 (registration), production 1975–82 in the log with numeric feedback. The window's report
 * measures the champion's errors on the feedback against its holdout, tests the target, and diagnose
 * sends the later cars' under-prediction to a retraining, not to a data-quality incident.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { windowReport } from '../../activities/drift.js';
import { describePerformance, NO_REGRESSION_ESTIMATE } from '../../core/drift.js';
import { diagnose } from '../../core/policy.js';
import { predictValue, type RegressionForestArtifact } from '../../core/regression-forest.js';
import { regressionErrors } from '../../core/regression-metrics.js';
import { ModelDefinition } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { registerRegressionModel, type RegressionRegistration } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let acts: ReturnType<typeof createActivities>;
let registered: RegressionRegistration;
const modelId = 'cars-drift';
const cycleId = 'remediation-cars-drift-1';
const def = ModelDefinition.parse({ modelId, task: 'regression', features: CAR_MEASUREMENTS });
const inActivity = <R>(fn: () => Promise<R>): Promise<R> =>
  new MockActivityEnvironment().run<[], R, () => Promise<R>>(fn);

/** The cars without their model year (not a feature of the model), each dated in its year. */
const cars = labeledCars().map(({ features: { year: _year, ...features }, ...c }, i) => ({
  ...c,
  features,
  ts: new Date(Date.UTC(c.year, 0, 1) + i * 3_600_000).toISOString(),
}));
const y1975to80 = { start: '1975-01-01T00:00:00Z', end: '1981-01-01T00:00:00Z' };
const y1981to82 = { start: '1981-01-01T00:00:00Z', end: '1983-01-01T00:00:00Z' };
/** Feedback for the 1975–80 cars: two in three have it. Two of the 1981–82 cars' feedbacks are not numbers. */
const feedbackOf = (c: (typeof cars)[number], i: number): string | null =>
  c.year >= 1981 ? (i < 2 ? ['n/a', 'about 30'][i]! : String(c.value)) : i % 3 === 2 ? null : String(c.value);

beforeAll(async () => {
  ({ pool } = await freshDatabase('regdrift'));
  acts = createActivities({ pool });
  const reference = cars.filter((c) => c.year <= 1974);
  registered = await registerRegressionModel(
    pool,
    def,
    reference.map((c) => ({
      recordKey: c.recordKey,
      ts: c.ts,
      features: c.features,
      label: String(c.value),
    })),
  );
  const later = cars.filter((c) => c.year >= 1975);
  const by = (year: (y: number) => boolean) => later.filter((c) => year(c.year));
  const log = [...by((y) => y <= 1980), ...by((y) => y >= 1981)].map((c, i, all) => ({
    recordKey: c.recordKey,
    ts: c.ts,
    features: c.features,
    feedback: feedbackOf(c, c.year >= 1981 ? i - all.findIndex((x) => x.year >= 1981) : i),
  }));
  await ingestRecords(pool, modelId, log, '1983-01-01T00:00:00Z');
});
afterAll(async () => {
  await pool?.end();
});

describe('the confirm stage of a regression model', () => {
  it('given the cars of 1975–80, then the champion’s MAE on the feedback is measured against its holdout MAE and judged degraded; diagnose routes a full cycle', async () => {
    await inActivity(() => acts.openCycle({ cycleId, modelId, window: y1975to80, trigger: 'test' }));
    const input = {
      cycleId,
      modelId,
      championVersion: registered.version,
      window: y1975to80,
      policy: def.policy.drift,
      maxRows: 5000,
    };
    const { report } = await inActivity(() => acts.confirmDrift(input));
    const again = await inActivity(() => acts.confirmDrift(input));
    expect(again.report).toEqual(report);

    // The same errors, computed here from the champion's artifact and the cars' true values.
    const labeled = cars.filter((c) => c.year >= 1975 && c.year <= 1980).filter((_, i) => i % 3 !== 2);
    const champion = await db.getModelVersion(pool, modelId, registered.version);
    const artifact = champion.artifact as unknown as RegressionForestArtifact;
    const expected = regressionErrors(
      labeled.map((c) => c.value),
      labeled.map((c) => predictValue(artifact, c.features).value),
    );
    const p = report.performance;
    expect(p).toMatchObject({
      metric: 'mae',
      labeledRows: labeled.length,
      judged: true,
      degraded: true,
      basis: 'measured',
    });
    expect(p.baseline).toBe(registered.holdoutErrors!.mae);
    expect(p.baselineRows).toBe(registered.holdoutRows);
    for (const m of ['mae', 'rmse', 'r2', 'mape'] as const)
      expect({ m, off: Math.abs(p.metrics[m]! - expected[m]!) < 1e-9 }).toEqual({ m, off: true });
    expect(p.metrics.meanError).toBeLessThan(0); // the later cars go further: the champion under-predicts
    expect(p.relativeDrop).toBeCloseTo(expected.mae / registered.holdoutErrors!.mae - 1, 9);
    expect(describePerformance(p, 30)).toBe(
      `measured MAE ${expected.mae.toFixed(2)} vs baseline ${registered.holdoutErrors!.mae.toFixed(2)} (holdout, ${registered.holdoutRows} rows), +${((expected.mae / registered.holdoutErrors!.mae - 1) * 100).toFixed(0)}% on ${labeled.length} labeled rows`,
    );

    // The target moved too, and nothing about the feed is broken.
    expect(report.target).toMatchObject({ labeledRows: labeled.length, notNumeric: 0 });
    expect(report.target!.drift).toMatchObject({ test: 'ks', drifted: true });
    expect(report.dataQuality).toEqual({ incident: false, issues: [] });
    const d = diagnose(report, def.policy.drift);
    expect(d.route).toBe('full-cycle');
    expect(d.signals).toEqual(expect.arrayContaining(['performance', 'label-shift']));
    expect(d.signals).not.toContain('data-quality');
  });

  it('given feedback that is not a number in the 1981–82 window, then the report counts it, measures the rest and calls it a data-quality incident of the target', async () => {
    const report = await windowReport(pool, {
      modelId,
      championVersion: registered.version,
      window: y1981to82,
      policy: def.policy.drift,
    });
    const numbers = cars.filter((c) => c.year >= 1981).length - 2;
    expect(report.performance).toMatchObject({ labeledRows: numbers, notNumericLabels: 2, judged: true });
    expect(report.target).toMatchObject({ notNumeric: 2, examples: ['n/a', 'about 30'] });
    expect(report.dataQuality.incident).toBe(true);
    expect(report.dataQuality.issues.map((i) => `${i.feature} ${i.kind}`)).toContain('target schema');
    expect(diagnose(report, def.policy.drift).route).toBe('data-quality');
  });

  it('given a window with fewer numeric labels than the policy asks for, then it is not judged and no label-free estimate is tried', async () => {
    const report = await windowReport(pool, {
      modelId,
      championVersion: registered.version,
      window: y1975to80,
      policy: { ...def.policy.drift, minLabeledRows: 1000 },
    });
    expect(report.performance).toMatchObject({ judged: false, degraded: false, basis: 'none' });
    expect(report.performance.estimateUnavailable).toBe(NO_REGRESSION_ESTIMATE);
    expect(report.target!.drift).toBeNull();
  });
});

describe('the monitor of a regression model', () => {
  it('given a check of the 1975–80 window, then its stored reason speaks of MAE against the holdout, not accuracy, and the window is actionable', async () => {
    const check = await inActivity(() =>
      acts.runDriftCheck({ checkKey: 'cars-drift-check-1', modelId, window: y1975to80 }),
    );
    expect(check.route).toBe('full-cycle');
    expect(check.reason).toMatch(
      /measured MAE \d+\.\d+ vs baseline 1\.41 \(holdout, 35 rows\), \+\d+% on \d+ labeled rows/,
    );
    expect(check.reason).toMatch(/target drifted \(ks p=/);
    expect(check.reason).not.toMatch(/accuracy/);
  });
});
