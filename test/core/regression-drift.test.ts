/**
 * A regression model's window check: its error metrics on numeric feedback against the holdout, judged
 * with a relative tolerance for error metrics, the drift and quality of its target, and what diagnose
 * makes of it. Reference values: test/fixtures/regression_drift_reference.py (scikit-learn, scipy) on the
 * vega cars, 1970–74 as the reference and 1975–80 as the window.
 */
import { describe, expect, it } from 'vitest';
import {
  buildReferenceProfile,
  buildTargetProfile,
  describePerformance,
  driftReport,
  NO_REGRESSION_ESTIMATE,
  type ReferenceProfile,
  type WindowOutcome,
} from '../../core/drift.js';
import { driftNote } from '../../core/cycle-notes.js';
import { diagnose } from '../../core/policy.js';
import { stageBlocks } from '../../core/report-stages.js';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';

// Pinned by test/fixtures/regression_drift_reference.py.
const SKLEARN = {
  baseline: {
    rows: 150,
    mae: 1.9309144399999998,
    rmse: 2.448036961029333,
    r2: 0.8324056079554826,
    mape: 0.10563592167011375,
  },
  window: {
    rows: 184,
    mae: 4.217553804347827,
    rmse: 5.951062793803368,
    r2: 0.377303072442687,
    mape: 0.15246381309462972,
  },
  referenceTarget: { rows: 150, min: 9.0, max: 35.0, mean: 19.22, std: 5.979821624987376 },
  targetKs: { statistic: 0.31478260869565217, pvalue: 9.26012494707124e-8 },
  targetKsEvenRows: { statistic: 0.02666666666666667, pvalue: 0.999999999999973 },
};

const definition = (drift: Record<string, unknown> = {}) =>
  ModelDefinition.parse({
    modelId: 'cars-mpg',
    task: 'regression',
    features: CAR_MEASUREMENTS,
    policy: { drift },
  });
const policy = definition().policy.drift;

const cars = labeledCars().map(({ features: { year: _year, ...features }, ...c }) => ({ ...c, features }));
const reference = cars.filter((c) => c.year <= 1974);
const window = cars.filter((c) => c.year >= 1975 && c.year <= 1980);
/** The champion of the reference script: a straight line in weight fitted on 1970–74. */
const champion = (c: (typeof cars)[number]) => 37.22 - 0.005602 * (c.features.Weight_in_lbs as number);

function profileOf(holdout = SKLEARN.baseline, withTargetProfile = true): ReferenceProfile {
  const base = buildReferenceProfile(
    CAR_MEASUREMENTS,
    reference.map((c) => c.features),
    [],
    {},
  );
  const { profile, ...target } = buildTargetProfile(
    reference.map((c) => c.value),
    holdout,
  );
  return { ...base, target: withTargetProfile ? { ...target, profile } : target };
}

const outcomesOf = (rows: typeof cars): WindowOutcome[] =>
  rows.map((c) => ({ truth: String(c.value), predicted: String(champion(c)), predictedValue: champion(c) }));

describe('the performance check of a regression model', () => {
  it('given the cars of 1975–80, then MAE, RMSE, R² and MAPE are scikit-learn’s and the MAE is judged degraded, relative to the holdout', () => {
    const r = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomesOf(window),
      policy,
    );
    const p = r.performance;
    expect(p.metric).toBe('mae');
    expect(p.labeledRows).toBe(SKLEARN.window.rows);
    for (const m of ['mae', 'rmse', 'r2', 'mape'] as const)
      expect({ m, off: Math.abs(p.metrics[m]! - SKLEARN.window[m]) < 1e-10 }).toEqual({ m, off: true });
    expect(p.baseline).toBe(SKLEARN.baseline.mae);
    expect(p.drop).toBeCloseTo(SKLEARN.window.mae - SKLEARN.baseline.mae, 10);
    expect(p.relativeDrop).toBeCloseTo(SKLEARN.window.mae / SKLEARN.baseline.mae - 1, 10);
    expect(p.judged).toBe(true);
    expect(p.degraded).toBe(true);
    expect(p.basis).toBe('measured');
    expect(p.currentAccuracy).toBeNull();
    expect(describePerformance(p, policy.minLabeledRows)).toBe(
      'measured MAE 4.22 vs baseline 1.93 (holdout, 150 rows), +118% on 184 labeled rows',
    );
  });

  it('given R² as the metric, then its drop is baseline − current, judged as an absolute drop', () => {
    const p = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomesOf(window),
      definition({ performanceMetric: 'r2' }).policy.drift,
    ).performance;
    expect(p.metric).toBe('r2');
    expect(p.drop).toBeCloseTo(SKLEARN.baseline.r2 - SKLEARN.window.r2, 10);
    expect(p.relativeDrop).toBeUndefined();
    expect(p.degraded).toBe(true);
    expect(describePerformance(p)).toBe(
      'measured R² 0.377 vs baseline 0.832 (holdout, 150 rows) on 184 labeled rows',
    );
  });

  it('given an MAE 24 % above the holdout’s, then it holds at a regressor’s default tolerance of 25 %; 26 % above, then it is degraded', () => {
    const at = (ratio: number) =>
      driftReport(
        profileOf({ ...SKLEARN.baseline, mae: SKLEARN.window.mae / ratio }),
        window.map((c) => c.features),
        outcomesOf(window),
        policy,
      ).performance;
    expect(policy.performanceTolerance).toBe(0.25);
    expect(at(1.24)).toMatchObject({ judged: true, degraded: false });
    expect(at(1.24).relativeDrop).toBeCloseTo(0.24, 10);
    expect(at(1.26)).toMatchObject({ judged: true, degraded: true });
  });

  it('given fewer numeric labels than minLabeledRows, then it is not judged and says a regressor has no label-free estimate', () => {
    const few = window.slice(0, 12);
    const p = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomesOf(few),
      policy,
    ).performance;
    expect(p).toMatchObject({ judged: false, degraded: false, basis: 'none', labeledRows: 12 });
    expect(p.estimateUnavailable).toBe(NO_REGRESSION_ESTIMATE);
    expect(describePerformance(p, 30)).toMatch(
      /^measured MAE \d+\.\d+ vs baseline 1\.93 \(holdout, 150 rows\), \+\d+% on 12 labeled rows, too few to judge \(30 needed\) and no estimate \(a regression model has no label-free estimate/,
    );
    const none = driftReport(
      profileOf(),
      window.map((c) => c.features),
      [],
      policy,
    ).performance;
    expect(describePerformance(none)).toBe(
      `no numeric feedback in the window and no estimate (${NO_REGRESSION_ESTIMATE})`,
    );
  });

  it('given MAPE as the metric and a truth of 0 in the window, then MAPE is undefined and the sentence says why nothing is judged', () => {
    const outcomes = [...outcomesOf(window), { truth: '0', predicted: '12', predictedValue: 12 }];
    const p = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomes,
      definition({ performanceMetric: 'mape' }).policy.drift,
    ).performance;
    expect(p).toMatchObject({ metric: 'mape', current: null, judged: false, degraded: false });
    expect(describePerformance(p)).toBe(
      "MAPE is undefined on the window's 185 labeled rows (a truth of 0), so performance is not judged: choose another drift.performanceMetric",
    );
  });

  it('given feedback that is not a number, then it is counted and reported, left out of the metrics, and a data-quality issue of the target', () => {
    const outcomes = [
      ...outcomesOf(window),
      { truth: 'n/a', predicted: '20', predictedValue: 20 },
      { truth: '18,5', predicted: '20', predictedValue: 20 },
    ];
    const r = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomes,
      policy,
    );
    expect(r.performance.labeledRows).toBe(SKLEARN.window.rows);
    expect(r.performance.metrics.mae).toBeCloseTo(SKLEARN.window.mae, 10);
    expect(r.performance.notNumericLabels).toBe(2);
    expect(describePerformance(r.performance)).toContain('; 2 feedbacks were not a number and not counted');
    expect(r.target).toMatchObject({ labeledRows: 186, notNumeric: 2, examples: ['n/a', '18,5'] });
    const issue = r.dataQuality.issues.find((i) => i.feature === 'target');
    expect(issue).toMatchObject({
      kind: 'schema',
      detail: '2 of 186 feedbacks are not a number ("n/a", "18,5")',
    });
    expect(r.dataQuality.incident).toBe(true);
  });
});

describe('the drift of a regression model’s target', () => {
  it('given the mpg of 1970–74, then the target profile’s range, mean and population spread are numpy’s, with every value kept for the test', () => {
    const t = buildTargetProfile(
      reference.map((c) => c.value),
      null,
    );
    const ref = SKLEARN.referenceTarget;
    expect({ rows: t.rows, min: t.min, max: t.max }).toEqual({ rows: ref.rows, min: ref.min, max: ref.max });
    expect(t.mean).toBeCloseTo(ref.mean, 12);
    expect(t.std).toBeCloseTo(ref.std, 12);
    expect(t.holdout).toBeNull();
    expect(t.profile).toMatchObject({ type: 'numeric', count: 150, exact: true, min: 9, max: 35 });
    expect(() => buildTargetProfile([1, NaN], null)).toThrow('a target value is not a finite number (NaN)');
  });

  it('given the mpg of 1975–80 against 1970–74, then KS is scipy’s and the target drifted; half the reference against itself is stable', () => {
    const r = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomesOf(window),
      policy,
    );
    const d = r.target!.drift!;
    expect(d.test).toBe('ks');
    expect(d.statistic).toBeCloseTo(SKLEARN.targetKs.statistic, 12);
    expect(d.pValue! / SKLEARN.targetKs.pvalue).toBeCloseTo(1, 6);
    expect(d.drifted).toBe(true);
    // The target is tested apart from the features: the features' share is not changed by it.
    expect(r.features.map((f) => f.feature)).not.toContain('target');

    const even = reference.filter((_, i) => i % 2 === 0);
    const same = driftReport(
      profileOf(),
      even.map((c) => c.features),
      outcomesOf(even),
      policy,
    ).target!.drift!;
    expect(same.statistic).toBeCloseTo(SKLEARN.targetKsEvenRows.statistic, 12);
    expect(same.pValue!).toBeCloseTo(SKLEARN.targetKsEvenRows.pvalue, 9);
    expect(same.drifted).toBe(false);
  });

  it('given truths far above the reference target, then they are out of range: a data-quality issue of the target', () => {
    const outcomes = outcomesOf(window).map((o, i) => (i < 20 ? { ...o, truth: '95' } : o));
    const r = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomes,
      policy,
    );
    const issues = r.dataQuality.issues.filter((i) => i.feature === 'target');
    expect(issues.map((i) => i.kind)).toEqual(['out-of-range']);
    expect(issues[0]!.detail).toMatch(/^20 values outside \[-4, 48\]/);
  });

  it('given a profile that counted the numeric labels as classes, then there is no label PSI: the target’s test stands for it', () => {
    const counted = {
      ...profileOf(),
      labels: Object.fromEntries(reference.map((c) => [String(c.value), 1])),
    };
    const r = driftReport(
      counted,
      window.map((c) => c.features),
      outcomesOf(window),
      policy,
    );
    expect(r.labelShiftPsi).toBeNull();
    expect(r.target!.drift!.drifted).toBe(true);
  });

  it('given a reference stored without the target’s profile, then the target’s drift is not measured and the rest of the report stands', () => {
    const r = driftReport(
      profileOf(SKLEARN.baseline, false),
      window.map((c) => c.features),
      outcomesOf(window),
      policy,
    );
    expect(r.target!.drift).toBeNull();
    expect(r.target!.notMeasured).toContain('has no target profile');
    expect(r.performance.degraded).toBe(true);
  });
});

describe('diagnosing a regression window', () => {
  it('given the cars of 1975–80, then performance is degraded severely (MAE +118 %), the target drifted, and the route is a full cycle, not a data-quality incident', () => {
    const r = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomesOf(window),
      policy,
    );
    const d = diagnose(r, policy);
    expect(r.dataQuality.issues).toEqual([]);
    expect(d.signals).toEqual(expect.arrayContaining(['performance', 'label-shift']));
    expect(d.signals).not.toContain('data-quality');
    expect(d.severity).toBe('severe');
    expect(d.route).toBe('full-cycle');
    expect(d.reason).toContain(
      'measured MAE 4.22 vs baseline 1.93 (holdout, 150 rows), +118% on 184 labeled rows',
    );
    expect(d.reason).toMatch(/target drifted \(ks p=9\.3e-8, threshold 0\.05, PSI \d\.\d\d\)/);
  });

  it('given an MAE 40 % above the holdout’s on stable features, then it is a mild degradation: a fine-tune', () => {
    const even = reference.filter((_, i) => i % 2 === 0);
    const current = driftReport(
      profileOf(),
      even.map((c) => c.features),
      outcomesOf(even),
      policy,
    ).performance;
    const r = driftReport(
      profileOf({ ...SKLEARN.baseline, mae: current.metrics.mae! / 1.4 }),
      even.map((c) => c.features),
      outcomesOf(even),
      policy,
    );
    expect(r.datasetDrifted).toBe(false);
    expect(r.performance.relativeDrop).toBeCloseTo(0.4, 10);
    const d = diagnose(r, policy);
    expect(d).toMatchObject({ signals: ['performance'], severity: 'mild', route: 'fine-tune' });
    expect(d.reason).toContain('target stable (ks p=1, threshold 0.05');
  });
});

describe('what the confirm stage notes for a regression model', () => {
  it('given the cars of 1975–80, then the note and the cycle report say MAE against the holdout and the target’s drift, not accuracy', () => {
    const r = driftReport(
      profileOf(),
      window.map((c) => c.features),
      outcomesOf(window),
      policy,
    );
    const note = driftNote(7, r);
    expect(note).toMatchObject({
      labeledRows: 184,
      performanceMetric: 'mae',
      current: 4.2176,
      baseline: 1.9309,
      relativeDrop: 1.1842,
    });
    expect(note).toMatchObject({ targetDrift: { test: 'ks', statistic: 0.3148, drifted: true } });
    expect(note).not.toHaveProperty('baselineAccuracy');
    const lines = stageBlocks(note).flatMap((b) => (b.kind === 'line' ? [b.text] : []));
    expect(lines).toContain(
      "Measured MAE 4.22 on 184 labeled rows against the holdout's 1.93 (+118.4%). The target drifted (ks p 9.3e-8).",
    );
    expect(lines.join(' ')).not.toMatch(/accuracy/i);
  });
});
