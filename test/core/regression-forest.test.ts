/**
 * The built-in forest as a regressor on real data: the cars of vega-datasets 3.2.1 (miles per gallon
 * from cylinders, displacement, horsepower, weight, acceleration, model year and origin).
 *
 * Reference: scikit-learn's RandomForestRegressor (100 trees, min_samples_leaf=1, max_features=1.0) on
 * the same rows and splits, mean over random_state 0–4, from
 * `.remedy/python/bin/python test/fixtures/regression_forest_reference.py` (scikit-learn 1.9.1):
 * every 4th car held out: MAE 1.778, RMSE 2.577, R² 0.895; trained on 1970–74 without the year and scored
 * on 1979–82: mean error −7.38 mpg (the later cars' economy improved as the fuel standards arrived).
 */
import { describe, expect, it } from 'vitest';
import { regressionErrors } from '../../core/regression-metrics.js';
import {
  forestRegression,
  predictValue,
  RegressionForestArtifactSchema,
  trainRegressionForest,
  trainRegressor,
  type NumericExample,
} from '../../core/regression-forest.js';
import { canonicalJson } from '../../core/model.js';
import type { ForestConfig } from '../../core/forest.js';
import { CAR_FEATURES, labeledCars } from '../../dev/cars.js';

const cars = labeledCars();
const spec = CAR_FEATURES;
const train = cars.filter((_, i) => i % 4 !== 3);
const holdout = cars.filter((_, i) => i % 4 === 3);
const config: ForestConfig = { trees: 100, maxDepth: 30, minSamplesLeaf: 1, maxFeatures: 'all', seed: 7 };

function errorsOn(rows: readonly NumericExample[], model: ReturnType<typeof trainRegressor>) {
  return regressionErrors(
    rows.map((r) => r.value),
    rows.map((r) => predictValue(model, r.features).value),
  );
}

describe('regression forest', () => {
  it('given the cars, then it predicts held-out miles per gallon about as well as scikit-learn', () => {
    expect([train.length, holdout.length]).toEqual([294, 98]);
    const model = trainRegressor(spec, train, config);
    const m = errorsOn(holdout, model);
    // scikit-learn: MAE 1.778, RMSE 2.577, R² 0.895 (mean of five seeds).
    expect(m.mae).toBeLessThan(1.778 * 1.1);
    expect(m.rmse).toBeLessThan(2.577 * 1.1);
    expect(m.r2!).toBeGreaterThan(0.895 - 0.03);
    // Far better than predicting the training mean for every car.
    const mean = train.reduce((a, r) => a + r.value, 0) / train.length;
    const flat = regressionErrors(
      holdout.map((r) => r.value),
      holdout.map(() => mean),
    );
    expect(m.mae).toBeLessThan(flat.mae / 2.5);
  });

  it('given the same seed, then the same forest byte for byte; resumed from its first trees, the same forest', () => {
    const small = { ...config, trees: 12 };
    const a = trainRegressor(spec, train, small);
    const b = trainRegressor(spec, train, small);
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    // A worker that heartbeated 5 trees and restarted continues with tree 5 and ends with the same forest.
    const heartbeats: number[] = [];
    const first = trainRegressor(spec, train, { ...small, trees: 5 }).trees;
    const resumed = trainRegressor(spec, train, small, {
      done: first,
      onTree: (i) => heartbeats.push(i),
    });
    expect(heartbeats).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(canonicalJson(resumed.trees)).toBe(canonicalJson(a.trees));
    // Another seed grows other trees.
    expect(canonicalJson(trainRegressor(spec, train, { ...small, seed: 8 }).trees)).not.toBe(
      canonicalJson(a.trees),
    );
    // What it stores reads back through its schema.
    expect(RegressionForestArtifactSchema.parse(JSON.parse(canonicalJson(a)))).toEqual(
      JSON.parse(canonicalJson(a)),
    );
  });

  it('given a prediction, then it is the mean of the trees with their spread, within the trained range', () => {
    const model = trainRegressor(spec, train, config);
    for (const r of holdout.slice(0, 20)) {
      const p = predictValue(model, r.features);
      expect(p.trees).toBe(100);
      expect(p.spread).toBeGreaterThanOrEqual(0);
      expect(p.value).toBeGreaterThanOrEqual(model.trainedRange.min);
      expect(p.value).toBeLessThanOrEqual(model.trainedRange.max);
    }
    // The trees disagree more on a car unlike any in training than on a typical one.
    const typical = predictValue(model, train[0]!.features).spread;
    const odd = predictValue(model, { ...train[0]!.features, Weight_in_lbs: 1600, Horsepower: 230 }).spread;
    expect(odd).toBeGreaterThan(typical);
    // One tree: its own leaf, no spread.
    const one = trainRegressionForest([[0], [1], [2], [3]], [1, 1, 5, 5], null, { ...config, trees: 1 });
    expect(forestRegression(one, [0]).spread).toBe(0);
  });

  it('given a champion trained on 1970–74 without the year, then it under-predicts 1979–82 as scikit-learn does', () => {
    const noYear = { ...spec, numeric: spec.numeric.filter((f) => f !== 'year') };
    const early = cars.filter((c) => c.year <= 1974);
    const late = cars.filter((c) => c.year >= 1979);
    expect([early.length, late.length]).toEqual([150, 114]);
    const m = errorsOn(late, trainRegressor(noYear, early, config));
    // scikit-learn: mean error −7.38 mpg, R² −0.53.
    expect(m.meanError).toBeLessThan(-6);
    expect(m.r2!).toBeLessThan(0);
  });

  it('given rows it cannot learn from, then the error names the row', () => {
    expect(() => trainRegressionForest([[1], [2]], [1, Number.NaN], null, config)).toThrow(
      'row 1 has target NaN, expected a finite number',
    );
    expect(() => trainRegressionForest([[1], [2]], [1], null, config)).toThrow(
      '2 feature rows but 1 target values',
    );
    expect(() => trainRegressionForest([], [], null, config)).toThrow('empty dataset');
    expect(() => trainRegressionForest([[1], [2]], [1, 2], [1, -1], config)).toThrow('row 1 has weight -1');
    expect(() => trainRegressor(spec, [], config)).toThrow('no labeled rows');
  });
});
