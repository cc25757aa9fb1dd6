import { describe, it, expect } from 'vitest';
import {
  calibrationBins,
  evaluate,
  evaluateBySlice,
  evaluationGates,
  expectedCalibrationError,
  macroAucOvr,
  predictedLabel,
  type GatePolicy,
  type ModelMetrics,
  type Scored,
} from '../../core/evaluation.js';

/*
 * Expected numbers were computed independently in Python (scikit-learn 1.9.1, numpy 2.4.6) and pasted
 * in; the producing call is named next to each. Tolerance 1e-12 absolute: the rank-based AUC and the
 * trapezoidal sklearn AUC agree to rounding, not bit for bit.
 */

function expectAbs(actual: number | null, expected: number, abs = 1e-12): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(abs);
}

const rows = (labels: readonly string[], matrix: readonly (readonly number[])[]): Record<string, number>[] =>
  matrix.map((r) => Object.fromEntries(labels.map((l, i) => [l, r[i]!])));

// Three classes; rows sum to 1; scores tie within a row (argmax ties) and across rows (rank ties).
const y1 = ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'a'];
const P1 = rows(
  ['a', 'b', 'c'],
  [
    [0.6, 0.3, 0.1],
    [0.2, 0.5, 0.3],
    [0.2, 0.5, 0.3],
    [0.6, 0.3, 0.1],
    [0.3, 0.3, 0.4],
    [0.1, 0.2, 0.7],
    [0.4, 0.4, 0.2],
    [0.4, 0.4, 0.2],
    [0.3, 0.4, 0.3],
    [0.7, 0.2, 0.1],
    [0.2, 0.6, 0.2],
    [0.3, 0.3, 0.4],
  ],
);

// 'd' is a probability key (and a prediction) but never a true label.
const y2 = ['a', 'b', 'c', 'a', 'c', 'b', 'a', 'c'];
const P2 = rows(
  ['a', 'b', 'c', 'd'],
  [
    [0.5, 0.2, 0.1, 0.2],
    [0.1, 0.4, 0.1, 0.4],
    [0.2, 0.2, 0.3, 0.3],
    [0.25, 0.25, 0.25, 0.25],
    [0.1, 0.1, 0.7, 0.1],
    [0.3, 0.3, 0.2, 0.2],
    [0.2, 0.1, 0.1, 0.6],
    [0.4, 0.1, 0.4, 0.1],
  ],
);

const scored = (truth: readonly string[], probabilities: readonly Record<string, number>[]): Scored[] =>
  truth.map((t, i) => ({ truth: t, probabilities: probabilities[i]! }));

describe('predictedLabel', () => {
  it('given a clear maximum, when the label is predicted, then it is the argmax', () => {
    expect(predictedLabel({ a: 0.2, b: 0.7, c: 0.1 })).toBe('b');
  });

  it('given tied maxima in any key order, when the label is predicted, then the alphabetically first wins', () => {
    expect(predictedLabel({ c: 0.4, b: 0.4, a: 0.2 })).toBe('b');
    expect(predictedLabel({ b: 0.4, c: 0.4, a: 0.2 })).toBe('b');
  });

  it('given an empty row or a NaN, when the label is predicted, then it throws', () => {
    expect(() => predictedLabel({})).toThrow(/no labels/);
    expect(() => predictedLabel({ a: NaN })).toThrow(/NaN/);
  });
});

describe('macroAucOvr', () => {
  it('given three classes with tied scores, when macro AUC is computed, then it matches sklearn', () => {
    // roc_auc_score(y1, P1, multi_class='ovr', average='macro', labels=['a','b','c']) -> 0.8415454144620811
    expectAbs(macroAucOvr(y1, P1), 0.8415454144620811);
  });

  it('given a probability class missing from truth, when macro AUC is computed, then only true classes are averaged', () => {
    // roc_auc_score(label_binarize(y2, classes=['a','b','c']), P2[:, :3], average='macro') -> 0.9
    expectAbs(macroAucOvr(y2, P2), 0.9);
  });

  it('given two classes whose scores do not sum to 1, when macro AUC is computed, then both one-vs-rest AUCs are averaged', () => {
    // mean(roc_auc_score(y == 'no', P[:, 0]), roc_auc_score(y == 'yes', P[:, 1])) -> 0.7777777777777779
    const y = ['no', 'yes', 'yes', 'no', 'yes', 'no'];
    const P = rows(
      ['no', 'yes'],
      [
        [0.8, 0.3],
        [0.4, 0.4],
        [0.3, 0.9],
        [0.5, 0.5],
        [0.6, 0.2],
        [0.9, 0.1],
      ],
    );
    expectAbs(macroAucOvr(y, P), 0.7777777777777779);
  });

  it('given a true class absent from a probability row, when macro AUC is computed, then that row scores 0 for it', () => {
    // the 'b' row has no 'a' key: it ranks below every 'a' positive, as an explicit 0 would
    expect(macroAucOvr(['a', 'b'], [{ a: 0.9, b: 0.1 }, { b: 1 }])).toBe(1);
  });

  it('given a single true class, when macro AUC is computed, then it is null', () => {
    expect(
      macroAucOvr(
        ['a', 'a'],
        [
          { a: 0.9, b: 0.1 },
          { a: 0.4, b: 0.6 },
        ],
      ),
    ).toBeNull();
  });

  it('given mismatched lengths or no rows, when macro AUC is computed, then it throws', () => {
    expect(() => macroAucOvr(['a'], [])).toThrow(/1 entries/);
    expect(() => macroAucOvr([], [])).toThrow(/at least one/);
  });
});

describe('calibrationBins and expectedCalibrationError', () => {
  // correct = (predicted == truth), confidence = P.max(axis=1);
  // calibration_curve(correct, confidence, n_bins=10, strategy='uniform')
  //   -> prob_true [0.2, 0.5, 1.0, 1.0], prob_pred [0.4, 0.5, 0.6, 0.7]; counts (np.bincount) [5, 2, 3, 2]
  it('given confidences on bin edges, when ten bins are built, then they match sklearn calibration_curve', () => {
    const bins = calibrationBins(y1, P1);
    expect(bins.map((b) => b.count)).toEqual([5, 2, 3, 2]);
    expect(bins.map((b) => [b.lower, b.upper])).toEqual([
      [0.3, 0.4],
      [0.4, 0.5],
      [0.5, 0.6],
      [0.6, 0.7],
    ]);
    [0.2, 0.5, 1.0, 1.0].forEach((acc, i) => expectAbs(bins[i]!.accuracy, acc));
    [0.4, 0.5, 0.6, 0.7].forEach((conf, i) => expectAbs(bins[i]!.meanConfidence, conf));
  });

  it('given five bins, when bins are built, then right-closed edges put 0.6 and 0.5 together like sklearn', () => {
    // calibration_curve(correct, confidence, n_bins=5, strategy='uniform')
    //   -> prob_true [0.2, 0.8, 1.0], prob_pred [0.4, 0.56, 0.7]; counts [5, 5, 2]
    const bins = calibrationBins(y1, P1, 5);
    expect(bins.map((b) => b.count)).toEqual([5, 5, 2]);
    [0.2, 0.8, 1.0].forEach((acc, i) => expectAbs(bins[i]!.accuracy, acc));
    [0.4, 0.56, 0.7].forEach((conf, i) => expectAbs(bins[i]!.meanConfidence, conf));
  });

  it('given the same rows, when ECE is computed, then it is the count-weighted gap over the sklearn bins', () => {
    // sum(counts / n * |prob_true - prob_pred|) with the calibration_curve outputs above -> 0.23333333333333334
    expectAbs(expectedCalibrationError(y1, P1), 0.23333333333333334);
    expectAbs(expectedCalibrationError(y1, P1, 5), 0.23333333333333334);
  });

  it('given a confidence above 1 or a bad bin count, when bins are built, then it throws', () => {
    expect(() => calibrationBins(['a'], [{ a: 1.5 }])).toThrow(/outside \[0, 1\]/);
    expect(() => calibrationBins(['a'], [{ a: 1 }], 0)).toThrow(/bins/);
  });
});

describe('evaluate', () => {
  it('given three-class rows, when evaluated, then every metric matches sklearn', () => {
    const m = evaluate(scored(y1, P1));
    expect(m.rows).toBe(12);
    // accuracy_score(y1, pred1) with pred1 the alphabetical-first argmax -> 0.5833333333333334
    expectAbs(m.accuracy, 0.5833333333333334);
    // f1_score(y1, pred1, average='macro') -> 0.5444444444444444
    expectAbs(m.macroF1, 0.5444444444444444);
    expectAbs(m.macroAuc, 0.8415454144620811);
    // log_loss(y1, P1, labels=['a','b','c']) -> 0.7989538850656198
    expectAbs(m.logLoss, 0.7989538850656198);
    expectAbs(m.ece, 0.23333333333333334);
    expect(m.calibration).toHaveLength(4);
    expect(m.p95LatencyMs).toBeNull();
  });

  it('given a predicted class missing from truth, when evaluated, then macro F1 charges it like sklearn', () => {
    // f1_score(y2, pred2, average='macro'), pred2 = ['a','b','c','a','c','a','d','a'] -> 0.5095238095238095
    expectAbs(evaluate(scored(y2, P2)).macroF1, 0.5095238095238095);
  });

  it('given latencies on some rows, when evaluated, then p95 is numpy-interpolated over those rows in ms', () => {
    // numpy.percentile([120, 80, 95, 400, 150, 90, 110, 105, 99, 2000, 130], 95) / 1000 -> 1.2
    const latencies = [120, 80, 95, 400, 150, 90, 110, 105, 99, 2000, 130];
    const input = scored(y1, P1).map((s, i) =>
      i < latencies.length ? { ...s, latencyUs: latencies[i]! } : s,
    );
    expectAbs(evaluate(input).p95LatencyMs, 1.2);
  });

  it('given no rows or a negative latency, when evaluated, then it throws', () => {
    expect(() => evaluate([])).toThrow(/at least one/);
    expect(() => evaluate([{ truth: 'a', probabilities: { a: 1 }, latencyUs: -1 }])).toThrow(/latencyUs/);
  });
});

describe('evaluateBySlice', () => {
  it('given rows in two slices and one unsliced, when evaluated by slice, then each slice has its own metrics', () => {
    const input: Scored[] = [
      { truth: 'a', probabilities: { a: 0.9, b: 0.1 }, slice: 'north' },
      { truth: 'b', probabilities: { a: 0.9, b: 0.1 }, slice: 'north' },
      { truth: 'a', probabilities: { a: 0.8, b: 0.2 }, slice: 'south' },
      { truth: 'b', probabilities: { a: 0.2, b: 0.8 } },
    ];
    const bySlice = evaluateBySlice(input);
    expect(Object.keys(bySlice)).toEqual(['north', 'south']);
    expect(bySlice.north!.rows).toBe(2);
    expect(bySlice.north!.accuracy).toBe(0.5);
    expect(bySlice.south!.accuracy).toBe(1);
    expect(bySlice.south!.macroAuc).toBeNull();
  });

  it('given a slice named __proto__, when evaluated by slice, then it is an ordinary own key', () => {
    const bySlice = evaluateBySlice([{ truth: 'a', probabilities: { a: 1 }, slice: '__proto__' }]);
    expect(Object.keys(bySlice)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(bySlice)).toBe(Object.prototype);
  });
});

describe('evaluationGates', () => {
  const policy: GatePolicy = {
    minGain: 0.02,
    maxSliceDrop: 0.05,
    maxEce: 0.05,
    maxLatencyMs: 5,
    minSliceRows: 30,
  };

  const metrics = (overrides: Partial<ModelMetrics>): ModelMetrics => ({
    rows: 500,
    accuracy: 0.7,
    macroF1: 0.7,
    macroAuc: 0.8,
    logLoss: 0.6,
    ece: 0.03,
    calibration: [],
    p95LatencyMs: 0.02,
    ...overrides,
  });

  const champion = {
    overall: metrics({ accuracy: 0.7 }),
    slices: {
      Boston: metrics({ rows: 200, accuracy: 0.72 }),
      'New York': metrics({ rows: 100, accuracy: 0.7 }),
    },
  };

  const gate = (result: ReturnType<typeof evaluationGates>, name: string) =>
    result.gates.find((g) => g.name === name)!;

  it('given a candidate better everywhere, when gated, then every gate passes and the reason summarises them', () => {
    const result = evaluationGates(
      {
        overall: metrics({ accuracy: 0.904, ece: 0.041 }),
        slices: {
          Boston: metrics({ rows: 200, accuracy: 0.9 }),
          'New York': metrics({ rows: 100, accuracy: 0.91 }),
        },
      },
      champion,
      policy,
    );
    expect(result.go).toBe(true);
    expect(result.gates.map((g) => [g.name, g.passed])).toEqual([
      ['min-gain', true],
      ['slice-drop', true],
      ['calibration', true],
      ['latency', true],
    ]);
    expect(result.reason).toBe(
      'all gates passed (gain 20.4 pts, worst slice drop 0.0 pts, ECE 0.041, p95 0.02 ms)',
    );
  });

  it('given a gain below the minimum, when gated, then min-gain fails with the gain measured', () => {
    const result = evaluationGates({ overall: metrics({ accuracy: 0.704 }), slices: {} }, champion, policy);
    const g = gate(result, 'min-gain');
    expect(g.passed).toBe(false);
    expect(g.measured).toBeCloseTo(0.004, 12);
    expect(g.limit).toBe(0.02);
    expect(g.detail).toBe('gain 0.4 pts < 2.0 pts (candidate 70.4% vs champion 70.0%)');
    expect(result.go).toBe(false);
    expect(result.reason).toBe('failed min-gain: gain 0.4 pts < 2.0 pts');
  });

  it('given a gain of exactly the minimum that rounds below it in floating point, when gated, then min-gain passes', () => {
    // 0.3 - 0.28 = 0.019999999999999962 in doubles
    const result = evaluationGates(
      { overall: metrics({ accuracy: 0.3 }), slices: {} },
      { overall: metrics({ accuracy: 0.28 }), slices: {} },
      policy,
    );
    expect(gate(result, 'min-gain').passed).toBe(true);
  });

  it('given a slice that drops beyond the limit, when gated, then slice-drop fails naming the slice', () => {
    const result = evaluationGates(
      {
        overall: metrics({ accuracy: 0.704 }),
        slices: {
          Boston: metrics({ rows: 200, accuracy: 0.74 }),
          'New York': metrics({ rows: 100, accuracy: 0.61 }),
        },
      },
      champion,
      policy,
    );
    const g = gate(result, 'slice-drop');
    expect(g.passed).toBe(false);
    expect(g.measured).toBeCloseTo(0.09, 12);
    expect(g.detail).toBe('New York 61.0% vs 70.0% (drop 9.0 pts > 5.0 pts)');
    expect(result.reason).toBe(
      'failed min-gain: gain 0.4 pts < 2.0 pts; failed slice-drop: New York 61.0% vs 70.0% (drop 9.0 pts > 5.0 pts)',
    );
  });

  it('given two slices over the limit, when gated, then the worst is named and the other counted', () => {
    const result = evaluationGates(
      {
        overall: metrics({ accuracy: 0.75 }),
        slices: {
          Boston: metrics({ rows: 200, accuracy: 0.65 }),
          'New York': metrics({ rows: 100, accuracy: 0.61 }),
        },
      },
      champion,
      policy,
    );
    expect(gate(result, 'slice-drop').detail).toBe(
      'New York 61.0% vs 70.0% (drop 9.0 pts > 5.0 pts), and 1 more slice over the limit',
    );
  });

  it('given a small drop within the limit, when gated, then slice-drop passes with the worst drop measured', () => {
    const result = evaluationGates(
      {
        overall: metrics({ accuracy: 0.75 }),
        slices: {
          Boston: metrics({ rows: 200, accuracy: 0.7 }),
          'New York': metrics({ rows: 100, accuracy: 0.8 }),
        },
      },
      champion,
      policy,
    );
    const g = gate(result, 'slice-drop');
    expect(g.passed).toBe(true);
    expect(g.measured).toBeCloseTo(0.02, 12);
    expect(g.detail).toBe('Boston 70.0% vs 72.0% (drop 2.0 pts ≤ 5.0 pts)');
  });

  it('given a large drop on a slice under minSliceRows, when gated, then that slice is not judged', () => {
    const result = evaluationGates(
      { overall: metrics({ accuracy: 0.75 }), slices: { Boston: metrics({ rows: 29, accuracy: 0.1 }) } },
      champion,
      policy,
    );
    const g = gate(result, 'slice-drop');
    expect(g.passed).toBe(true);
    expect(g.measured).toBeNull();
    expect(g.detail).toBe('no slice has 30+ rows on both sides; nothing to compare');
    expect(result.reason).toContain('worst slice drop n/a');
  });

  it('given an ECE above the limit, when gated, then calibration fails', () => {
    const result = evaluationGates(
      { overall: metrics({ accuracy: 0.75, ece: 0.081 }), slices: {} },
      champion,
      policy,
    );
    const g = gate(result, 'calibration');
    expect([g.passed, g.measured, g.limit]).toEqual([false, 0.081, 0.05]);
    expect(result.reason).toBe('failed calibration: ECE 0.081 > 0.050');
  });

  it('given a p95 above the limit, when gated, then latency fails', () => {
    const result = evaluationGates(
      { overall: metrics({ accuracy: 0.75, p95LatencyMs: 12.3 }), slices: {} },
      champion,
      policy,
    );
    const g = gate(result, 'latency');
    expect([g.passed, g.measured, g.limit]).toEqual([false, 12.3, 5]);
    expect(result.reason).toBe('failed latency: p95 12.30 ms > 5.00 ms');
  });

  it('given no latency measured, when gated, then latency passes with nothing measured', () => {
    const result = evaluationGates(
      { overall: metrics({ accuracy: 0.75, p95LatencyMs: null }), slices: {} },
      champion,
      policy,
    );
    const g = gate(result, 'latency');
    expect([g.passed, g.measured, g.detail]).toEqual([true, null, 'p95 latency not measured']);
    expect(result.go).toBe(true);
    expect(result.reason).toContain('p95 not measured');
  });
});
