/**
 * The failure catalog for a model that predicts a number. A served prediction with feedback is a failure
 * case when its error is large: |predicted − truth| above the policy's `failures.largeErrorMultiple`
 * (default 2) times the champion's holdout MAE (its reference profile's `target.holdout`). Its pattern is
 * its slice and the error's sign: over-prediction or under-prediction, in place of a classifier's true
 * and predicted labels (`model-error/<slice>/error=over|under`). Pure and deterministic.
 */
import type { FlaggedCase, FlagContext, FailurePolicy } from './catalog.js';
import { sliceOf } from './catalog.js';
import type { ReferenceProfile } from './drift.js';
import type { Features } from './schemas.js';

export const DEFAULT_LARGE_ERROR_MULTIPLE = 2;
export type ErrorSign = 'over' | 'under';

/**
 * The error above which a regressor's prediction is a failure case: the policy's multiple of the version's
 * holdout MAE; null when its profile has no holdout errors (nothing to measure "large" against).
 */
export function largeErrorLimit(profile: ReferenceProfile | null, policy: FailurePolicy): number | null {
  const mae = profile?.target?.holdout?.mae;
  if (mae === undefined || !(mae > 0)) return null;
  return mae * (policy.largeErrorMultiple ?? DEFAULT_LARGE_ERROR_MULTIPLE);
}

/** The pattern of a large error: its slice and whether the model predicted too high or too low. */
export function regressionErrorPattern(features: Features, sliceBy: readonly string[], sign: ErrorSign) {
  const slice = sliceOf(features, sliceBy);
  return {
    patternKey: `model-error/${slice}/error=${sign}`,
    description: `${slice}: ${sign}-predicted by more than the large-error limit`,
  };
}

/** model-error/<slice>/error=over|under → its slice and sign; null for a classifier's pattern. */
export function parseRegressionPattern(key: string): { slice: string; sign: ErrorSign } | null {
  const m = /^model-error\/(.*)\/error=(over|under)$/.exec(key);
  return m ? { slice: m[1]!, sign: m[2] as ErrorSign } : null;
}

/** The sign of a large error (predicted − truth beyond `limit`), or null when the error is not large. */
export function largeErrorSign(predicted: number, truth: number, limit: number): ErrorSign | null {
  const error = predicted - truth;
  if (Math.abs(error) <= limit) return null;
  return error > 0 ? 'over' : 'under';
}

const round = (x: number) => Number(x.toPrecision(4));

/**
 * A regressor's served prediction once its true value is known: a `wrong-prediction` case when the error
 * is large (high severity beyond twice the limit), else null. Null too when either value is not a
 * number or the version has no limit yet (a candidate before promotion has no reference profile).
 */
export function flagLargeError(
  ctx: Pick<FlagContext, 'sliceBy' | 'regression'>,
  r: { features: Features; predicted: string; truth: string },
): FlaggedCase | null {
  const limit = ctx.regression?.largeErrorLimit ?? null;
  const predicted = Number(r.predicted);
  const truth = Number(r.truth);
  if (limit === null || r.predicted.trim() === '' || r.truth.trim() === '') return null;
  if (!Number.isFinite(predicted) || !Number.isFinite(truth)) return null;
  const sign = largeErrorSign(predicted, truth, limit);
  if (sign === null) return null;
  const error = predicted - truth;
  const { patternKey } = regressionErrorPattern(r.features, ctx.sliceBy, sign);
  const slice = sliceOf(r.features, ctx.sliceBy);
  // The description names the pattern (the catalog keeps the first case's); the case's numbers are in detail.
  return {
    kind: 'wrong-prediction',
    taxonomy: 'model-error',
    severity: Math.abs(error) > 2 * limit ? 'high' : 'medium',
    patternKey,
    description: `${slice}: ${sign}-predicted by more than ${round(limit)}`,
    truth: r.truth,
    detail: { error: round(error), limit },
  };
}

/** Labeled rows of one slice: how many, and how many large errors of each sign. */
export interface SliceErrors {
  rows: number;
  over: number;
  under: number;
}

/** Rows by slice with their large errors of each sign, for a pattern's error rate before or after. */
export function sliceErrors(
  rows: readonly { features: Features; predicted: number; truth: number }[],
  sliceBy: readonly string[],
  limit: number,
  into = new Map<string, SliceErrors>(),
): Map<string, SliceErrors> {
  for (const r of rows) {
    const slice = sliceOf(r.features, sliceBy);
    const g = into.get(slice) ?? { rows: 0, over: 0, under: 0 };
    g.rows++;
    const sign = largeErrorSign(r.predicted, r.truth, limit);
    if (sign) g[sign]++;
    into.set(slice, g);
  }
  return into;
}
