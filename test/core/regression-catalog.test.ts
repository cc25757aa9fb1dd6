/**
 * A regressor's failure cases: a miss beyond the policy's multiple of the holdout MAE, its pattern by
 * slice and sign, and the per-slice counts a cycle's trace compares.
 */
import { describe, expect, it } from 'vitest';
import { flagContext } from '../../core/catalog.js';
import {
  flagLargeError,
  largeErrorLimit,
  largeErrorSign,
  parseRegressionPattern,
  sliceErrors,
} from '../../core/regression-catalog.js';
import { Policy } from '../../core/schemas.js';

const failures = Policy.parse({}).failures;
const spec = { numeric: ['Weight_in_lbs'], categorical: ['Origin'] };
const profile = (mae: number) =>
  ({
    target: {
      rows: 100,
      min: 9,
      max: 46,
      mean: 23,
      std: 7,
      holdout: { rows: 20, mae, rmse: 3, r2: 0.8, mape: 0.1 },
    },
  }) as never;
const ctx = (limit: number | null) => ({
  ...flagContext(spec, null, failures),
  regression: { largeErrorLimit: limit },
});
const car = { Weight_in_lbs: 2720, Origin: 'Japan' };

describe('large errors of a regressor', () => {
  it('given a holdout MAE, then the limit is twice it by default, or the policy’s multiple', () => {
    expect(largeErrorLimit(profile(1.5), failures)).toBe(3);
    expect(largeErrorLimit(profile(1.5), { ...failures, largeErrorMultiple: 3.5 })).toBe(5.25);
    expect(largeErrorLimit(null, failures)).toBeNull();
    expect(largeErrorLimit(profile(0), failures)).toBeNull();
  });

  it('given a miss beyond the limit, then it is a wrong prediction named by its slice and sign', () => {
    const under = flagLargeError(ctx(3), { features: car, predicted: '23.5', truth: '31' })!;
    expect(under).toEqual({
      kind: 'wrong-prediction',
      taxonomy: 'model-error',
      severity: 'high',
      patternKey: 'model-error/Origin=Japan/error=under',
      description: 'Origin=Japan: under-predicted by more than 3',
      truth: '31',
      detail: { error: -7.5, limit: 3 },
    });
    const over = flagLargeError(ctx(3), { features: car, predicted: '27', truth: '23' })!;
    expect([over.patternKey, over.severity]).toEqual(['model-error/Origin=Japan/error=over', 'medium']);
    expect(parseRegressionPattern(over.patternKey)).toEqual({ slice: 'Origin=Japan', sign: 'over' });
    expect(parseRegressionPattern('model-error/Origin=Japan/truth=a/predicted=b')).toBeNull();
  });

  it('given a miss within the limit, no limit, or a value that is not a number, then nothing is flagged', () => {
    expect(flagLargeError(ctx(3), { features: car, predicted: '23.5', truth: '26.5' })).toBeNull();
    expect(flagLargeError(ctx(null), { features: car, predicted: '23.5', truth: '40' })).toBeNull();
    expect(flagLargeError(ctx(3), { features: car, predicted: '23.5', truth: 'fast' })).toBeNull();
    expect(flagLargeError(ctx(3), { features: car, predicted: '23.5', truth: '' })).toBeNull();
    expect(largeErrorSign(10, 13, 3)).toBeNull();
  });

  it('given rows of two slices, then each slice counts its rows and its large errors by sign', () => {
    const rows = [
      { features: car, predicted: 20, truth: 30 },
      { features: car, predicted: 20, truth: 21 },
      { features: car, predicted: 30, truth: 20 },
      { features: { ...car, Origin: 'USA' }, predicted: 15, truth: 25 },
    ];
    expect(Object.fromEntries(sliceErrors(rows, ['Origin'], 3))).toEqual({
      'Origin=Japan': { rows: 3, over: 1, under: 1 },
      'Origin=USA': { rows: 1, over: 0, under: 1 },
    });
  });
});
