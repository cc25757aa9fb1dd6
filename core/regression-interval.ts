/**
 * Prediction intervals for any regressor by split conformal prediction: on n labeled rows the model did
 * not train on, the interval is prediction ± q, where q is the k-th smallest absolute residual with
 * k = ⌈(n + 1) · level⌉ (the ⌈(n+1)(1−α)⌉/n empirical quantile, taken as the inverse of the empirical
 * distribution). For a new row exchangeable with those rows the interval holds its true value with
 * probability at least `level` (and below level + 1/(n + 1)). With k > n, too few rows for the level,
 * there is no finite interval and none is stored.
 *
 * numpy's `np.quantile(scores, k / n, method='higher')` is not this rule: it places quantiles on (n − 1)·q
 * and so returns the (k + 1)-th smallest for k < n, a wider interval than the guarantee needs; the
 * reference (test/fixtures/conformal_interval_reference.py) takes the k-th of the sorted scores.
 *
 * A version keeps its interval in its metrics (`metrics.interval`, a StoredInterval); the gateway answers
 * with it, evaluation measures how often it held. Pure.
 */
import { wilsonInterval } from './reference.js';
import { requireNumericPairs } from './regression-metrics.js';

/** The level a regressor's interval is calibrated for when `evaluation.intervalLevel` is unset. */
export const DEFAULT_INTERVAL_LEVEL = 0.9;

/** What a version stores: the half-width at a level, and the rows it was calibrated on. */
export interface StoredInterval {
  /** The share of true values the interval is built to hold, e.g. 0.9. */
  level: number;
  /** Prediction ± this, in the target's units. */
  halfWidth: number;
  /** How many labeled rows the half-width was calibrated on. */
  rows: number;
  /** Which rows: e.g. "the registration's reference holdout", "cycle c-1's holdout (dataset #4)". */
  calibratedOn: string;
}

/** What the gateway answers with beside the prediction. */
export interface AnsweredInterval {
  low: number;
  high: number;
  level: number;
}

/** The level the policy asks for (its `evaluation.intervalLevel`, else 90 %). */
export function intervalLevel(evaluation: { intervalLevel?: number | undefined }): number {
  return evaluation.intervalLevel ?? DEFAULT_INTERVAL_LEVEL;
}

function requireLevel(level: number, what: string): void {
  if (!(level > 0 && level < 1)) throw new Error(`${what}: level must be between 0 and 1, got ${level}`);
}

/**
 * k = ⌈(n + 1) · level⌉, the rank of the conformal quantile among n sorted scores; null when k > n (too
 * few rows for the level). The product is rounded within 1e-9 first, so 30 × 0.9 is 27, not 27.000…04.
 */
export function conformalRank(n: number, level: number): number | null {
  requireLevel(level, 'conformalRank');
  if (!Number.isInteger(n) || n < 0) throw new Error(`conformalRank: n must be a whole number ≥ 0, got ${n}`);
  const k = Math.max(1, Math.ceil((n + 1) * level - 1e-9));
  return k > n ? null : k;
}

/** The fewest calibration rows that give a finite interval at `level`: ⌈level / (1 − level)⌉. */
export function minCalibrationRows(level: number): number {
  requireLevel(level, 'minCalibrationRows');
  let n = 1;
  while (conformalRank(n, level) === null) n++;
  return n;
}

/** The conformal half-width from absolute residuals; null when there are too few for the level. */
export function conformalHalfWidth(absResiduals: readonly number[], level: number): number | null {
  const k = conformalRank(absResiduals.length, level);
  if (k === null) return null;
  for (const r of absResiduals)
    if (!(r >= 0) || !Number.isFinite(r))
      throw new Error(`conformalHalfWidth: a residual is not a finite absolute value (${String(r)})`);
  return Float64Array.from(absResiduals).sort()[k - 1]!;
}

/** The absolute residuals |predicted − actual|, row by row. */
export function absoluteResiduals(truth: readonly number[], predicted: readonly number[]): number[] {
  requireNumericPairs(truth, predicted, 'absoluteResiduals');
  return truth.map((y, i) => Math.abs(predicted[i]! - y));
}

/** The interval to store with a version, calibrated on these rows; null when too few for the level. */
export function calibrateInterval(
  truth: readonly number[],
  predicted: readonly number[],
  level: number,
  calibratedOn: string,
): StoredInterval | null {
  const halfWidth = conformalHalfWidth(absoluteResiduals(truth, predicted), level);
  return halfWidth === null ? null : { level, halfWidth, rows: truth.length, calibratedOn };
}

/** A version's stored interval, or null for a version stored without one (or with a malformed one). */
export function storedInterval(metrics: Record<string, unknown>): StoredInterval | null {
  const i = metrics['interval'] as Partial<StoredInterval> | null | undefined;
  if (!i || typeof i !== 'object') return null;
  const { level, halfWidth, rows, calibratedOn } = i;
  if (typeof level !== 'number' || !(level > 0 && level < 1)) return null;
  if (typeof halfWidth !== 'number' || !Number.isFinite(halfWidth) || halfWidth < 0) return null;
  return {
    level,
    halfWidth,
    rows: typeof rows === 'number' ? rows : 0,
    calibratedOn: typeof calibratedOn === 'string' ? calibratedOn : '',
  };
}

/**
 * The interval around one prediction, cut to the target's range when the definition gives one (a true
 * value never lies outside it, so the cut loses no coverage).
 */
export function intervalAround(
  value: number,
  interval: StoredInterval,
  target?: { min?: number | undefined; max?: number | undefined },
): AnsweredInterval {
  let low = value - interval.halfWidth;
  let high = value + interval.halfWidth;
  if (target?.min !== undefined) low = Math.max(low, target.min);
  if (target?.max !== undefined) high = Math.min(high, target.max);
  return { low, high, level: interval.level };
}

/** How often an interval of a given half-width held the true value. */
export interface Coverage {
  rows: number;
  covered: number;
  /** covered / rows. */
  share: number;
  /** Wilson 95 % interval of the share. */
  low: number;
  high: number;
}

/** Rows whose |predicted − actual| ≤ halfWidth (the interval's ends included). */
export function coverageOf(
  truth: readonly number[],
  predicted: readonly number[],
  halfWidth: number,
): Coverage {
  const residuals = absoluteResiduals(truth, predicted);
  const covered = residuals.filter((r) => r <= halfWidth).length;
  const w = wilsonInterval(covered, residuals.length)!;
  return { rows: residuals.length, covered, share: covered / residuals.length, low: w.low, high: w.high };
}

/** The candidate's interval measured on rows it was not calibrated on: two folds, each judged by the other. */
export interface CrossCoverage extends Coverage {
  level: number;
  /** Each fold's half-width, calibrated on the other fold (even rows, then odd rows). */
  foldHalfWidths: [number, number];
}

/**
 * Two-fold cross-conformal coverage: the rows split by position (even, odd); each fold's rows are judged
 * by the half-width calibrated on the other fold, and the two counts pooled. No row is judged by an
 * interval it helped calibrate. Null when a fold has too few rows for the level.
 */
export function crossConformalCoverage(
  truth: readonly number[],
  predicted: readonly number[],
  level: number,
): CrossCoverage | null {
  requireNumericPairs(truth, predicted, 'crossConformalCoverage');
  const fold = (parity: number) => {
    const idx = truth.map((_, i) => i).filter((i) => i % 2 === parity);
    return { truth: idx.map((i) => truth[i]!), predicted: idx.map((i) => predicted[i]!) };
  };
  const even = fold(0);
  const odd = fold(1);
  if (odd.truth.length === 0) return null;
  const fromEven = conformalHalfWidth(absoluteResiduals(even.truth, even.predicted), level);
  const fromOdd = conformalHalfWidth(absoluteResiduals(odd.truth, odd.predicted), level);
  if (fromEven === null || fromOdd === null) return null;
  const onEven = coverageOf(even.truth, even.predicted, fromOdd);
  const onOdd = coverageOf(odd.truth, odd.predicted, fromEven);
  const covered = onEven.covered + onOdd.covered;
  const w = wilsonInterval(covered, truth.length)!;
  return {
    level,
    rows: truth.length,
    covered,
    share: covered / truth.length,
    low: w.low,
    high: w.high,
    foldHalfWidths: [fromOdd, fromEven],
  };
}

/** What evaluation shows of both models' prediction intervals on the cycle's holdout. */
export interface IntervalEvidence {
  level: number;
  /** The fewest calibration rows a finite interval at this level needs. */
  minRows: number;
  /** The candidate's interval calibrated on the whole holdout: what its version stores (null: too few rows). */
  candidate: StoredInterval | null;
  /** Its coverage on rows it was not calibrated on, two folds (null: a fold too small for the level). */
  candidateCoverage: CrossCoverage | null;
  /** The champion's stored interval and how often it held on this holdout (null: it has none). */
  champion: { interval: StoredInterval; coverage: Coverage } | null;
}

/**
 * Both models' intervals on the holdout: the candidate calibrated on it (stored) and judged two-fold,
 * the champion's stored interval judged on every row (it was calibrated on other rows, before).
 */
export function intervalEvidence(
  rows: readonly { actual: number; candidate: number; champion: number }[],
  level: number,
  championInterval: StoredInterval | null,
  calibratedOn: string,
): IntervalEvidence {
  const actual = rows.map((r) => r.actual);
  const candidate = rows.map((r) => r.candidate);
  return {
    level,
    minRows: minCalibrationRows(level),
    candidate: rows.length > 0 ? calibrateInterval(actual, candidate, level, calibratedOn) : null,
    candidateCoverage: rows.length > 1 ? crossConformalCoverage(actual, candidate, level) : null,
    champion:
      championInterval && rows.length > 0
        ? {
            interval: championInterval,
            coverage: coverageOf(
              actual,
              rows.map((r) => r.champion),
              championInterval.halfWidth,
            ),
          }
        : null,
  };
}
