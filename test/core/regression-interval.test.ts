/**
 * Split conformal prediction intervals, pinned to numpy on real rows: the cars of vega-datasets 3.2.1
 * with miles per gallon and weight, a model predicting 46.3 − 0.00767 × weight, its absolute residuals on
 * the first n cars as calibration scores.
 *
 * Reference values: test/fixtures/conformal_interval_reference.py, run from the repository root with
 * `.remedy/bench-venv/bin/python test/fixtures/conformal_interval_reference.py` (numpy 2.4.6): the k-th
 * of the sorted scores, k = ⌈(n + 1) · level⌉ in exact fractions (the same as numpy's quantile with
 * method='inverted_cdf'; method='higher' at k / n gives the next score up, printed as numpyHigher).
 */
import { describe, expect, it } from 'vitest';
import {
  absoluteResiduals,
  calibrateInterval,
  conformalHalfWidth,
  conformalRank,
  coverageOf,
  crossConformalCoverage,
  intervalAround,
  minCalibrationRows,
  storedInterval,
} from '../../core/regression-interval.js';
import { seededUniform } from '../../core/bootstrap.js';
import { predictValue, regressorForestConfig, trainRegressor } from '../../core/regression-forest.js';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_FEATURES, labeledCars, loadCars } from '../../dev/cars.js';

const cars = loadCars().filter((c) => c.Miles_per_Gallon !== null && c.Weight_in_lbs !== null);
const truth = cars.map((c) => c.Miles_per_Gallon!);
const predicted = cars.map((c) => 46.3 - 0.00767 * c.Weight_in_lbs);
const scores = absoluteResiduals(truth, predicted);

describe('split conformal half-width (numpy)', () => {
  it('given the first n cars and a level, then the rank and the half-width match the k-th sorted score', () => {
    expect(truth).toHaveLength(398);
    const cases: [number, number, number | null, number | null][] = [
      [35, 0.9, 33, 7.023419999999998],
      [48, 0.9, 45, 6.225549999999998],
      [398, 0.9, 360, 6.8843299999999985],
      [398, 0.8, 320, 5.3673],
      [398, 0.95, 380, 8.719700000000007],
      [9, 0.9, 9, 3.9688899999999983],
      [8, 0.9, null, null],
      [19, 0.95, 19, 8.630379999999999],
    ];
    for (const [n, level, k, halfWidth] of cases) {
      expect(conformalRank(n, level), `n=${n} level=${level}`).toBe(k);
      expect(conformalHalfWidth(scores.slice(0, n), level), `n=${n} level=${level}`).toBe(halfWidth);
    }
  });

  it("given 35 cars at 90 %, then the half-width is the 33rd score, narrower than numpy's method='higher' (the 34th)", () => {
    const hw = conformalHalfWidth(scores.slice(0, 35), 0.9)!;
    expect(hw).toBe(7.023419999999998);
    expect(hw).toBeLessThan(7.0972199999999965);
  });

  it('given the half-width calibrated on the first cars, then the later cars it holds match numpy', () => {
    const later = (n: number) => ({ truth: truth.slice(n), predicted: predicted.slice(n) });
    const at35 = coverageOf(
      later(35).truth,
      later(35).predicted,
      conformalHalfWidth(scores.slice(0, 35), 0.9)!,
    );
    expect({ rows: at35.rows, covered: at35.covered }).toEqual({ rows: 363, covered: 331 });
    expect(at35.share).toBeCloseTo(331 / 363, 15);
    expect(at35.low).toBeLessThan(at35.share);
    expect(at35.high).toBeGreaterThan(at35.share);
    const at48 = coverageOf(
      later(48).truth,
      later(48).predicted,
      conformalHalfWidth(scores.slice(0, 48), 0.9)!,
    );
    expect({ rows: at48.rows, covered: at48.covered }).toEqual({ rows: 350, covered: 301 });
  });

  it('given even and odd cars as two folds, then the cross-conformal coverage matches numpy', () => {
    const cases: [number, number, [number, number], number][] = [
      [398, 0.9, [6.657050000000002, 7.023419999999998], 361],
      [48, 0.9, [7.0972199999999965, 6.123800000000003], 45],
      [35, 0.8, [6.225549999999998, 4.989839999999997], 30],
    ];
    for (const [n, level, foldHalfWidths, covered] of cases) {
      const c = crossConformalCoverage(truth.slice(0, n), predicted.slice(0, n), level)!;
      expect(c).toMatchObject({ level, rows: n, covered, foldHalfWidths });
      expect(c.share).toBeCloseTo(covered / n, 15);
    }
    // Folds of 8 rows cannot give a 90 % interval: not measured.
    expect(crossConformalCoverage(truth.slice(0, 16), predicted.slice(0, 16), 0.9)).toBeNull();
  });

  it('given products that floating point rounds up, then the rank is still exact', () => {
    // 30 × 0.9 and 10 × 0.7 are whole numbers; the rank must not step past them.
    expect(conformalRank(29, 0.9)).toBe(27);
    expect(conformalRank(9, 0.7)).toBe(7);
    expect(conformalRank(99, 0.1 + 0.8)).toBe(90);
    expect(minCalibrationRows(0.9)).toBe(9);
    expect(minCalibrationRows(0.95)).toBe(19);
    expect(minCalibrationRows(0.8)).toBe(4);
  });

  it('given bad input, then the error says what was wrong', () => {
    expect(() => conformalRank(10, 1)).toThrow('level must be between 0 and 1, got 1');
    expect(() => conformalRank(-1, 0.9)).toThrow('n must be a whole number ≥ 0, got -1');
    expect(() => conformalHalfWidth([1, Number.NaN, 2, 3, 4, 5, 6, 7, 8], 0.9)).toThrow(
      'a residual is not a finite absolute value (NaN)',
    );
    expect(() => absoluteResiduals([1, 2], [1])).toThrow('2 labeled values but 1 predictions');
  });
});

describe('a stored interval and the answer around a prediction', () => {
  it('given a calibration, then the stored interval reads back and answers prediction ± half-width, cut to the target', () => {
    const stored = calibrateInterval(truth.slice(0, 35), predicted.slice(0, 35), 0.9, 'the first 35 cars');
    expect(stored).toEqual({
      level: 0.9,
      halfWidth: 7.023419999999998,
      rows: 35,
      calibratedOn: 'the first 35 cars',
    });
    expect(storedInterval({ interval: stored })).toEqual(stored);
    expect(intervalAround(20, stored!)).toEqual({
      low: 20 - 7.023419999999998,
      high: 20 + 7.023419999999998,
      level: 0.9,
    });
    expect(intervalAround(5, stored!, { min: 0, max: 80 })).toEqual({
      low: 0,
      high: 5 + 7.023419999999998,
      level: 0.9,
    });
    expect(calibrateInterval(truth.slice(0, 8), predicted.slice(0, 8), 0.9, 'eight cars')).toBeNull();
  });

  it('given a version stored without an interval or with a malformed one, then it has none', () => {
    expect(storedInterval({})).toBeNull();
    expect(storedInterval({ interval: null })).toBeNull();
    expect(storedInterval({ interval: { level: 0.9 } })).toBeNull();
    expect(storedInterval({ interval: { level: 1.5, halfWidth: 2 } })).toBeNull();
    expect(storedInterval({ interval: { level: 0.9, halfWidth: -1 } })).toBeNull();
  });
});

describe('the guarantee on exchangeable rows', () => {
  it('given 40 random splits of the cars (half to train a forest, 35 rows to calibrate, a quarter to judge), then the 90 % intervals hold about 33/36 of the judged values on average', () => {
    const def = ModelDefinition.parse({ modelId: 'mpg', task: 'regression', features: CAR_FEATURES });
    const all = labeledCars();
    const shares: number[] = [];
    for (let split = 0; split < 40; split++) {
      const u = seededUniform(1000 + split);
      const order = all
        .map((c) => ({ c, r: u() }))
        .sort((a, b) => a.r - b.r)
        .map((x) => x.c);
      const n = order.length;
      const train = order.slice(0, Math.floor(n / 2));
      const calibration = order.slice(Math.floor(n / 2), Math.floor(n / 2) + 35);
      const judged = order.slice(Math.floor((3 * n) / 4));
      const forest = trainRegressor(
        CAR_FEATURES,
        train.map((c) => ({ features: c.features, value: c.value })),
        { ...regressorForestConfig(def.policy.training), seed: split },
      );
      const values = (cs: typeof all) => cs.map((c) => predictValue(forest, c.features).value);
      const interval = calibrateInterval(
        calibration.map((c) => c.value),
        values(calibration),
        0.9,
        'a random split',
      )!;
      shares.push(
        coverageOf(
          judged.map((c) => c.value),
          values(judged),
          interval.halfWidth,
        ).share,
      );
    }
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    // The k-th of n = 35 scores (k = 33) holds a new value with probability 33/36 = 0.9167 on average.
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(0.935);
    expect(mean.toFixed(3)).toBe('0.917');
  }, 60_000);
});
