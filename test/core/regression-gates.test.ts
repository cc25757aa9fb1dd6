/**
 * The regression gates on given evidence: the MAE reduction judged at the conservative end of its paired
 * interval, the per-slice MAE increase, latency, and the backtest (judged, reported, or reported because
 * the target moved), each with the sentence a reviewer reads.
 */
import { describe, expect, it } from 'vitest';
import {
  maeReduction,
  regressionGates,
  type RegressionBacktest,
  type RegressionEvaluated,
} from '../../core/regression-gates.js';
import type { GatePolicy } from '../../core/gates.js';
import type { PairedErrorDifferences, RegressionErrors } from '../../core/regression-metrics.js';

const errors = (mae: number, rows = 50): RegressionErrors => ({
  rows,
  mae,
  rmse: mae * 1.3,
  r2: 0.8,
  mape: 0.1,
  meanError: 0,
});

const side = (mae: number, slices: Record<string, RegressionErrors> = {}): RegressionEvaluated => ({
  overall: { ...errors(mae), p95LatencyMs: 0.4 },
  slices,
});

const difference = (estimate: number, lower: number, upper: number): PairedErrorDifferences => ({
  rows: 50,
  resamples: 2000,
  confidence: 0.9,
  seed: 1,
  mae: { estimate, lower, upper },
  rmse: { estimate, lower, upper },
});

const policy: GatePolicy = {
  minGain: 0.02,
  maxSliceDrop: 0.05,
  maxEce: 0.15,
  maxLatencyMs: 20,
  minSliceRows: 20,
  minHoldout: 30,
};

describe('the MAE reduction', () => {
  it('given candidate − champion MAE differences, then the reduction is their negation over the champion MAE, bounds swapped', () => {
    expect(maeReduction(difference(-0.4, -0.6, -0.1), 2)).toEqual({ estimate: 0.2, lower: 0.05, upper: 0.3 });
  });
});

describe('regressionGates', () => {
  it('given a candidate 20 % better whose interval stays above 2 %, then every gate passes and calibration is not among them', () => {
    const d = regressionGates(side(1.6), side(2), policy, { difference: difference(-0.4, -0.6, -0.1) });
    expect(d.go).toBe(true);
    expect(d.gates.map((g) => g.name)).toEqual(['min-holdout', 'min-gain', 'slice-drop', 'latency']);
    expect(d.gates[1]!.detail).toBe(
      'MAE 1.600 vs champion 2.000 (MAE reduction 20.0%, 90% interval 5.0% to 30.0% on 50 rows): lower bound 5.0% ≥ 2.0%',
    );
    expect(d.reason).toBe(
      'all gates passed (MAE reduction 20.0%, 90% interval 5.0% to 30.0%, worst slice MAE increase n/a, p95 0.40 ms)',
    );
  });

  it('given a gain the holdout cannot tell from noise, then min-gain fails on the lower bound', () => {
    const d = regressionGates(side(1.6), side(2), policy, { difference: difference(-0.4, -0.6, -0.02) });
    expect(d.go).toBe(false);
    expect(d.reason).toBe(
      'failed min-gain: MAE 1.600 vs champion 2.000 (MAE reduction 20.0%, 90% interval 1.0% to 30.0% on 50 rows): lower bound 1.0% < 2.0%',
    );
  });

  it('given a worse candidate, then the reason says its MAE is higher; a negative minGain tolerates that much increase', () => {
    const worse = difference(0.1, 0.05, 0.16);
    const d = regressionGates(side(2.1), side(2), policy, { difference: worse });
    expect(d.reason).toBe(
      "failed min-gain: the candidate's MAE 2.100 is higher than the champion's 2.000 (MAE reduction -5.0%, 90% interval -8.0% to -2.5% on 50 rows): lower bound -8.0% < 2.0%",
    );
    expect(regressionGates(side(2.1), side(2), { ...policy, minGain: -0.1 }, { difference: worse }).go).toBe(
      true,
    );
  });

  it('given slices, then the largest MAE increase over the limit fails, and slices under minSliceRows are not compared', () => {
    const candidate = side(1.6, { Europe: errors(2.2, 25), Japan: errors(1.0, 25), tiny: errors(9, 5) });
    const champion = side(2, { Europe: errors(2.0, 25), Japan: errors(1.2, 25), tiny: errors(1, 5) });
    const d = regressionGates(candidate, champion, policy, { difference: difference(-0.4, -0.6, -0.1) });
    const slice = d.gates.find((g) => g.name === 'slice-drop')!;
    expect(slice).toMatchObject({ passed: false, limit: 0.05 });
    expect(slice.measured).toBeCloseTo(0.1, 12);
    expect(d.reason).toBe('failed slice-drop: Europe MAE 2.200 vs 2.000 (increase 10.0% > 5.0%)');
  });

  const backtest: RegressionBacktest = {
    datasetId: 1,
    rows: 35,
    candidateMae: 3,
    championMae: 1.5,
    difference: difference(1.5, 1, 2),
  };

  it('given a candidate that forgets the reference, then the backtest fails unless the target moved or the policy reports it', () => {
    const evidence = { difference: difference(-0.4, -0.6, -0.1), backtest };
    const judged = regressionGates(side(1.6), side(2), policy, evidence);
    expect(judged.reason).toBe(
      'failed backtest: on 35 reference holdout rows candidate MAE 3.000 vs champion 1.500 (MAE increase 100.0% > 5.0%; MAE difference 90% interval 1.000 to 2.000)',
    );
    const moved = regressionGates(side(1.6), side(2), policy, { ...evidence, targetShiftPsi: 1.13 });
    expect(moved.go).toBe(true);
    expect(moved.gates.at(-1)).toMatchObject({ name: 'backtest', passed: true, advisory: true });
    expect(moved.gates.at(-1)!.detail).toContain(
      "reported, not judged: the window's values moved away from the reference's (target PSI 1.13 ≥ 0.25)",
    );
    const small = regressionGates(side(1.6), side(2), policy, { ...evidence, targetShiftPsi: 0.1 });
    expect(small.go).toBe(false);
    const enforced = regressionGates(
      side(1.6),
      side(2),
      { ...policy, backtest: 'enforce' },
      {
        ...evidence,
        targetShiftPsi: 1.13,
      },
    );
    expect(enforced.go).toBe(false);
    const reported = regressionGates(side(1.6), side(2), { ...policy, backtest: 'report' }, evidence);
    expect(reported.go).toBe(true);
    expect(reported.reason).toMatch(/backtest MAE increase 100\.0% \(reported, not judged\)\)$/);
  });

  it('given a small holdout and a slow candidate, then every failure is listed', () => {
    const slow: RegressionEvaluated = { overall: { ...errors(1.6, 12), p95LatencyMs: 31 }, slices: {} };
    const d = regressionGates(slow, side(2), policy, { difference: difference(-0.4, -0.6, -0.1) });
    expect(d.reason).toBe(
      'failed min-holdout: the holdout has 12 labeled rows and at least 30 are needed: label more rows (labeling.budget), raise collection.holdoutShare, or lower evaluation.minHoldout; failed latency: p95 31.00 ms > 20.00 ms',
    );
  });
});
