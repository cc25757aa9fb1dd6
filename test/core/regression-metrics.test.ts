/**
 * Error metrics of a model that predicts a number, pinned to scikit-learn and numpy on real rows: the
 * 398 cars of vega-datasets 3.2.1 with miles per gallon and weight, a champion predicting miles per
 * gallon from weight as 46.3 − 0.00767 × weight and a candidate as 48.0 − 0.0082 × weight.
 *
 * Reference values: test/fixtures/regression_metrics_reference.py, run from the repository root with
 * `.remedy/python/bin/python test/fixtures/regression_metrics_reference.py` (scikit-learn 1.9.1,
 * numpy 2.4.6): sklearn.metrics for the metrics; the bootstrap with the same row draws as
 * core/bootstrap.ts (seed 7, 400 resamples) and numpy.percentile; the deciles with
 * numpy.argsort(kind='stable') and numpy.array_split.
 */
import { describe, expect, it } from 'vitest';
import {
  bootstrapRegressionErrors,
  largestDecileBias,
  pairedErrorBootstrap,
  regressionErrors,
  residualBiasByDecile,
} from '../../core/regression-metrics.js';
import { loadCars } from '../../dev/cars.js';

const cars = loadCars().filter((c) => c.Miles_per_Gallon !== null);
const truth = cars.map((c) => c.Miles_per_Gallon!);
const champion = cars.map((c) => 46.3 - 0.00767 * c.Weight_in_lbs);
const candidate = cars.map((c) => 48.0 - 0.0082 * c.Weight_in_lbs);
const options = { seed: 7, resamples: 400, confidence: 0.9 };

/** [estimate, lower, upper] as the reference script prints them. */
function expectInterval(
  got: { estimate: number; lower: number; upper: number } | null,
  want: number[],
): void {
  expect(got).not.toBeNull();
  expect(got!.estimate).toBeCloseTo(want[0]!, 12);
  expect(got!.lower).toBeCloseTo(want[1]!, 12);
  expect(got!.upper).toBeCloseTo(want[2]!, 12);
}

describe('regression error metrics (scikit-learn)', () => {
  it('given the cars and the champion, then MAE, RMSE, R², MAPE and the mean error match scikit-learn', () => {
    expect(truth).toHaveLength(398);
    const m = regressionErrors(truth, champion);
    expect(m.rows).toBe(398);
    expect(m.mae).toBeCloseTo(3.292386608040201, 12);
    expect(m.rmse).toBeCloseTo(4.333702359883121, 12);
    expect(m.r2!).toBeCloseTo(0.6917923825325678, 12);
    expect(m.mape!).toBeCloseTo(0.1441922997668559, 12);
    expect(m.meanError).toBeCloseTo(0.002270276381906982, 12);
  });

  it('given the same rows and seed, then each bootstrap interval matches numpy on the same draws', () => {
    const b = bootstrapRegressionErrors(truth, champion, options);
    expect(b).toMatchObject({ rows: 398, resamples: 400, confidence: 0.9, seed: 7 });
    expectInterval(b.mae, [3.292386608040201, 3.0610376959798993, 3.5298900238693474]);
    expectInterval(b.rmse, [4.333702359883121, 4.011172732113161, 4.6450093516877615]);
    expectInterval(b.r2, [0.6917923825325678, 0.6580369800585583, 0.7258576918147526]);
    expectInterval(b.mape, [0.1441922997668559, 0.13489706537103424, 0.1547359996802574]);
    expectInterval(b.meanError, [0.002270276381906982, -0.31999851381909783, 0.35517852889447]);
    // Deterministic: the same call gives the same intervals; another seed gives others.
    expect(bootstrapRegressionErrors(truth, champion, options)).toEqual(b);
    expect(bootstrapRegressionErrors(truth, champion, { ...options, seed: 8 }).mae.lower).not.toBe(
      b.mae.lower,
    );
  });

  it('given a candidate and the champion on the same rows, then the paired differences match numpy', () => {
    const d = pairedErrorBootstrap(truth, candidate, champion, options);
    // The candidate errs more: its MAE is higher at the lower bound, its RMSE not clearly so.
    expectInterval(d.mae, [0.07316866834170854, 0.037879886934674166, 0.10932144221105519]);
    expectInterval(d.rmse, [0.024424254666094214, -0.013047461856409771, 0.06374466982023597]);
  });

  it('given the champion, then the residual bias by decile of prediction matches numpy', () => {
    const want = [
      [40, 6.876199999999997, 13.487739999999995, 11.385201249999998, 13.3475, -1.9622987500000022],
      [40, 13.518419999999999, 17.0006, 15.290765249999998, 15.3175, -0.026734750000001826],
      [40, 17.269049999999996, 20.03025, 18.757221749999996, 17.580000000000002, 1.177221749999998],
      [40, 20.068599999999996, 22.638049999999996, 21.341819999999995, 19.7875, 1.5543199999999977],
      [40, 22.753099999999996, 24.823999999999998, 23.82747525, 22.8325, 0.9949752499999978],
      [40, 24.86235, 26.54975, 25.799432249999995, 25.3375, 0.4619322499999977],
      [40, 26.57276, 28.659, 27.6239335, 26.735000000000003, 0.8889334999999982],
      [40, 28.659, 29.809499999999996, 29.2706825, 28.577499999999997, 0.6931824999999976],
      [
        39, 29.847849999999998, 31.075049999999997, 30.375310000000006, 32.864102564102566,
        -2.4887925641025666,
      ],
      [39, 31.075049999999997, 33.92829, 31.877056666666668, 33.24358974358974, -1.3665330769230797],
    ];
    const deciles = residualBiasByDecile(truth, champion);
    expect(deciles).toHaveLength(10);
    deciles.forEach((d, i) => {
      const [rows, from, to, meanPredicted, meanActual, meanError] = want[i]!;
      expect(d.decile).toBe(i + 1);
      expect(d.rows).toBe(rows);
      expect(d.from).toBeCloseTo(from!, 12);
      expect(d.to).toBeCloseTo(to!, 12);
      expect(d.meanPredicted).toBeCloseTo(meanPredicted!, 12);
      expect(d.meanActual).toBeCloseTo(meanActual!, 12);
      expect(d.meanError).toBeCloseTo(meanError!, 12);
    });
    // A straight line in weight under-predicts the lightest cars most (decile 9: 2.5 mpg too low).
    expect(largestDecileBias(deciles).decile).toBe(9);
  });

  it('given undefined cases, then R² and MAPE are null rather than a forced number', () => {
    expect(regressionErrors([3, 3, 3], [2, 3, 4])).toEqual({
      rows: 3,
      mae: 2 / 3,
      rmse: Math.sqrt(2 / 3),
      r2: null,
      mape: 2 / 9,
      meanError: 0,
    });
    expect(regressionErrors([0, 1, 2], [0, 1, 2]).mape).toBeNull();
    expect(residualBiasByDecile([1, 2, 3], [1, 2, 4])).toHaveLength(3);
  });

  it('given bad input, then the error names what is wrong', () => {
    expect(() => regressionErrors([1, Number.NaN], [1, 2])).toThrow(
      'regressionErrors: the label of row 1 is not a finite number (NaN)',
    );
    expect(() => regressionErrors([1, 2], [1, Infinity])).toThrow(
      'the prediction of row 1 is not a finite number',
    );
    expect(() => regressionErrors([1, 2], [1])).toThrow('2 labeled values but 1 predictions');
    expect(() => regressionErrors([], [])).toThrow('no labeled rows');
    expect(() => bootstrapRegressionErrors(truth, champion, { ...options, resamples: 10 })).toThrow(
      'resamples must be a whole number in [100, 100000], got 10',
    );
    expect(() => residualBiasByDecile(truth, champion, 0)).toThrow('groups must be a whole number ≥ 1');
  });
});
