/**
 * The gates that judge evidence beyond two sets of metrics: the interval of the gain (min-gain on its
 * lower bound), the holdout's size (min-holdout) and the backtest on the champion's reference.
 */
import { describe, expect, it } from 'vitest';
import type { PairedDifferences } from '../../core/bootstrap.js';
import {
  evaluationGates,
  gainInterval,
  type Backtest,
  type GatePolicy,
  type ModelMetrics,
} from '../../core/evaluation.js';
import { holdoutKeys, isHoldout } from '../../core/policy.js';

const metrics = (overrides: Partial<ModelMetrics>): ModelMetrics => ({
  rows: 40,
  accuracy: 0.7,
  macroF1: 0.7,
  macroAuc: 0.8,
  logLoss: 0.6,
  ece: 0.03,
  calibration: [],
  p95LatencyMs: 0.02,
  ...overrides,
});

const policy: GatePolicy = {
  minGain: 0.02,
  maxSliceDrop: 0.05,
  maxEce: 0.05,
  maxLatencyMs: 5,
  minSliceRows: 30,
  minHoldout: 30,
  maxForgetting: 0.05,
};

const interval = (estimate: number, lower: number, upper: number) => ({ estimate, lower, upper });
const difference = (accuracy: [number, number, number], rows = 40): PairedDifferences => ({
  rows,
  resamples: 2000,
  confidence: 0.9,
  seed: 1,
  accuracy: interval(...accuracy),
  macroF1: interval(0.05, -0.01, 0.11),
  logLoss: interval(-0.2, -0.35, 0.04),
});
const champion = { overall: metrics({ accuracy: 0.7 }), slices: {} };
const candidate = (accuracy: number, rows = 40) => ({ overall: metrics({ accuracy, rows }), slices: {} });
const backtest = (candidateAccuracy: number, championAccuracy: number): Backtest => ({
  datasetId: 3,
  rows: 192,
  candidateAccuracy,
  championAccuracy,
  difference: difference(
    [
      candidateAccuracy - championAccuracy,
      candidateAccuracy - championAccuracy - 0.07,
      candidateAccuracy - championAccuracy + 0.07,
    ],
    192,
  ),
});

describe('min-gain on the interval', () => {
  it('given a point gain of 7.5 pts whose interval crosses the minimum, when gated, then it is rejected with the interval in the reason', () => {
    const result = evaluationGates(candidate(0.775), champion, policy, {
      difference: difference([0.075, -0.025, 0.175]),
    });
    expect(result.go).toBe(false);
    const g = result.gates.find((x) => x.name === 'min-gain')!;
    expect([g.passed, g.measured, g.limit]).toEqual([false, -0.025, 0.02]);
    expect(g.interval).toEqual({ estimate: 0.075, lower: -0.025, upper: 0.175, confidence: 0.9 });
    expect(result.reason).toBe(
      'failed min-gain: gain 7.5 pts, 90% interval -2.5 to 17.5 pts on 40 rows: lower bound -2.5 pts < 2.0 pts',
    );
  });

  it('given an interval wholly above the minimum, when gated, then every gate passes and the reason gives the interval', () => {
    const result = evaluationGates(candidate(0.85), champion, policy, {
      difference: difference([0.15, 0.05, 0.25]),
      backtest: backtest(0.71, 0.72),
    });
    expect(result.go).toBe(true);
    expect(result.gates.map((g) => g.name)).toEqual([
      'min-holdout',
      'min-gain',
      'slice-drop',
      'calibration',
      'latency',
      'backtest',
    ]);
    expect(result.reason).toBe(
      'all gates passed (gain 15.0 pts, 90% interval 5.0 to 25.0 pts, worst slice drop n/a, ECE 0.030, p95 0.02 ms, backtest forgetting 1.0 pts)',
    );
  });

  it('given log-loss as the metric, when gated, then the gain is the reduction and its interval bounds swap', () => {
    const d = difference([0.1, 0, 0.2]);
    expect(gainInterval(d, 'logLoss')).toEqual({ estimate: 0.2, lower: -0.04, upper: 0.35 });
    const result = evaluationGates(
      candidate(0.8),
      champion,
      { ...policy, metric: 'logLoss', minGain: 0.01 },
      {
        difference: d,
      },
    );
    expect(result.reason).toBe(
      'failed min-gain: log-loss reduction 0.200, 90% interval -0.040 to 0.350 on 40 rows: lower bound -0.040 < 0.010',
    );
  });
});

describe('min-holdout', () => {
  it('given a holdout smaller than the minimum, when gated, then it fails saying how many rows there were and how many are needed', () => {
    const result = evaluationGates(candidate(0.9, 18), champion, policy, {
      difference: difference([0.2, 0.1, 0.3], 18),
    });
    expect(result.go).toBe(false);
    const g = result.gates.find((x) => x.name === 'min-holdout')!;
    expect([g.passed, g.measured, g.limit]).toEqual([false, 18, 30]);
    expect(result.reason).toBe(
      'failed min-holdout: the holdout has 18 labeled rows and at least 30 are needed: label more rows (labeling.budget), raise collection.holdoutShare, or lower evaluation.minHoldout',
    );
  });
});

describe('backtest on the reference', () => {
  const evidence = { difference: difference([0.15, 0.05, 0.25]) };

  it('given a candidate 12 pts worse than the champion on the reference, when gated, then the backtest rejects it', () => {
    const result = evaluationGates(candidate(0.85), champion, policy, {
      ...evidence,
      backtest: backtest(0.6, 0.72),
      labelShiftPsi: 0.02,
    });
    expect(result.go).toBe(false);
    const g = result.gates.find((x) => x.name === 'backtest')!;
    expect(g.passed).toBe(false);
    expect(g.measured).toBeCloseTo(0.12, 12);
    expect(result.reason).toBe(
      'failed backtest: on 192 reference holdout rows candidate 60.0% vs champion 72.0% (forgetting 12.0 pts > 5.0 pts; difference 90% interval -19.0 to -5.0 pts)',
    );
  });

  it("given the window's labels moved away from the reference's, when gated in auto, then the forgetting is reported but does not decide; enforce decides", () => {
    const shifted = { ...evidence, backtest: backtest(0.36, 0.7), labelShiftPsi: 3.19 };
    const auto = evaluationGates(candidate(0.85), champion, policy, shifted);
    expect(auto.go).toBe(true);
    const g = auto.gates.find((x) => x.name === 'backtest')!;
    expect([g.passed, g.advisory]).toEqual([true, true]);
    expect(g.detail).toContain('forgetting 34.0 pts > 5.0 pts');
    expect(g.detail).toContain('reported, not judged');
    expect(g.detail).toContain('label PSI 3.19 ≥ 0.25');
    expect(auto.reason).toContain('backtest forgetting 34.0 pts (reported, not judged)');
    const enforced = evaluationGates(candidate(0.85), champion, { ...policy, backtest: 'enforce' }, shifted);
    expect(enforced.go).toBe(false);
    const report = evaluationGates(
      candidate(0.85),
      champion,
      { ...policy, backtest: 'report' },
      { ...shifted, labelShiftPsi: 0 },
    );
    expect(report.go).toBe(true);
  });

  it('given a champion without a labeled reference holdout, when gated, then the backtest passes saying there was nothing to judge', () => {
    const result = evaluationGates(candidate(0.85), champion, policy, { ...evidence, backtest: null });
    const g = result.gates.find((x) => x.name === 'backtest')!;
    expect([g.passed, g.measured, g.detail]).toEqual([
      true,
      null,
      'the champion has no labeled reference holdout: nothing to backtest',
    ]);
  });
});

describe('holdoutKeys', () => {
  const rows = Array.from({ length: 40 }, (_, i) => ({
    recordKey: `r${String(39 - i).padStart(2, '0')}`,
    ts: new Date(Date.UTC(2014, 0, 1 + (i % 20))).toISOString(),
  }));

  it('given 40 rows, when the holdout is the latest quarter, then it is the 10 rows with the latest times (ties by key) whatever the row order', () => {
    const held = holdoutKeys(rows, 0.25, 'latest');
    expect(held.size).toBe(10);
    const latest = [...rows]
      .sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.recordKey < b.recordKey ? -1 : 1))
      .slice(30)
      .map((r) => r.recordKey);
    expect([...held].sort()).toEqual(latest.sort());
    for (const r of rows) if (held.has(r.recordKey)) expect(r.ts >= '2014-01-16').toBe(true);
    expect(holdoutKeys([...rows].reverse(), 0.25, 'latest')).toEqual(held);
  });

  it('given the random holdout, when keys are chosen, then they are the ones isHoldout picks by key', () => {
    const held = holdoutKeys(rows, 0.25, 'random');
    expect([...held].sort()).toEqual(
      rows
        .filter((r) => isHoldout(r.recordKey, 0.25))
        .map((r) => r.recordKey)
        .sort(),
    );
  });

  it('given a row without a valid time, when the latest holdout is chosen, then it names the record', () => {
    expect(() => holdoutKeys([{ recordKey: 'k1', ts: 'yesterday' }], 0.25, 'latest')).toThrow(
      /record k1 has no valid time \("yesterday"\)/,
    );
  });
});
