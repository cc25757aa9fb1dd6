/**
 * Error metrics of a model that predicts a number: MAE, RMSE, R² and MAPE on labeled rows, their
 * percentile bootstrap intervals, the paired bootstrap of a candidate's errors against the champion's on
 * the same rows, and the residual bias by decile of the prediction (the regression analogue of a
 * calibration table: where in its range a model over- or under-predicts).
 *
 * Definitions follow scikit-learn's (mean_absolute_error, root_mean_squared_error, r2_score,
 * mean_absolute_percentage_error, a fraction, not a percentage), except that R² and MAPE are null where
 * they are undefined (constant truth; a truth of 0) rather than forced to a number. An error is
 * predicted − actual: positive means the model over-predicts. Pure and deterministic: bootstrap draws
 * come from the seeded generator of core/bootstrap.ts, so the same rows and seed give the same interval.
 */
import {
  drawIndices,
  percentileOf,
  seededUniform,
  type BootstrapOptions,
  type DifferenceInterval,
} from './bootstrap.js';

/** Error metrics of predictions against the labeled truth. */
export interface RegressionErrors {
  rows: number;
  /** Mean absolute error. */
  mae: number;
  /** Root mean squared error. */
  rmse: number;
  /** Coefficient of determination; null when the truth is constant. */
  r2: number | null;
  /** Mean absolute percentage error as a fraction (0.1 = 10 %); null when a truth is 0. */
  mape: number | null;
  /** Mean of predicted − actual: positive over-predicts on average, negative under-predicts. */
  meanError: number;
}

/** Each metric on all rows with its percentile bootstrap interval. */
export interface RegressionIntervals {
  rows: number;
  resamples: number;
  confidence: number;
  seed: number;
  mae: DifferenceInterval;
  rmse: DifferenceInterval;
  r2: DifferenceInterval | null;
  mape: DifferenceInterval | null;
  meanError: DifferenceInterval;
}

/** Candidate − champion on the same rows: negative means the candidate errs less. */
export interface PairedErrorDifferences {
  rows: number;
  resamples: number;
  confidence: number;
  seed: number;
  mae: DifferenceInterval;
  rmse: DifferenceInterval;
}

/** One decile of the rows ordered by prediction. */
export interface DecileBias {
  /** 1 (the lowest predictions) to the number of groups. */
  decile: number;
  rows: number;
  /** The smallest and largest prediction in the decile. */
  from: number;
  to: number;
  meanPredicted: number;
  meanActual: number;
  /** Mean of predicted − actual in the decile. */
  meanError: number;
}

/** Throws, naming the row, unless truth and predictions are as many finite numbers, at least one. */
export function requireNumericPairs(
  truth: readonly number[],
  predicted: readonly number[],
  what: string,
): void {
  if (truth.length !== predicted.length)
    throw new Error(`${what}: ${truth.length} labeled values but ${predicted.length} predictions`);
  if (truth.length === 0) throw new Error(`${what}: no labeled rows to measure errors on`);
  for (let i = 0; i < truth.length; i++) {
    if (!Number.isFinite(truth[i]))
      throw new Error(`${what}: the label of row ${i} is not a finite number (${String(truth[i])})`);
    if (!Number.isFinite(predicted[i]))
      throw new Error(`${what}: the prediction of row ${i} is not a finite number (${String(predicted[i])})`);
  }
}

/** Sums over the rows `idx` picks (all rows when null), from which every metric follows. */
interface Sums {
  n: number;
  abs: number;
  sq: number;
  err: number;
  truth: number;
  truthSq: number;
  pct: number;
  zeroTruth: boolean;
}

function sumsOf(truth: readonly number[], predicted: readonly number[], idx: Int32Array | null): Sums {
  const s: Sums = { n: 0, abs: 0, sq: 0, err: 0, truth: 0, truthSq: 0, pct: 0, zeroTruth: false };
  const count = idx ? idx.length : truth.length;
  for (let k = 0; k < count; k++) {
    const i = idx ? idx[k]! : k;
    const y = truth[i]!;
    const e = predicted[i]! - y;
    s.n++;
    s.abs += Math.abs(e);
    s.sq += e * e;
    s.err += e;
    s.truth += y;
    s.truthSq += y * y;
    if (y === 0) s.zeroTruth = true;
    else s.pct += Math.abs(e) / Math.abs(y);
  }
  return s;
}

/** R² from the sums; the total sum of squares is taken about the mean in a second, stable form. */
function metricsOf(s: Sums, truth: readonly number[], idx: Int32Array | null): RegressionErrors {
  const mean = s.truth / s.n;
  let ssTot = 0;
  const count = idx ? idx.length : truth.length;
  for (let k = 0; k < count; k++) ssTot += (truth[idx ? idx[k]! : k]! - mean) ** 2;
  return {
    rows: s.n,
    mae: s.abs / s.n,
    rmse: Math.sqrt(s.sq / s.n),
    r2: ssTot > 0 ? 1 - s.sq / ssTot : null,
    mape: s.zeroTruth ? null : s.pct / s.n,
    meanError: s.err / s.n,
  };
}

/** MAE, RMSE, R², MAPE and the mean error of the predictions on all rows. */
export function regressionErrors(truth: readonly number[], predicted: readonly number[]): RegressionErrors {
  requireNumericPairs(truth, predicted, 'regressionErrors');
  return metricsOf(sumsOf(truth, predicted, null), truth, null);
}

function requireBootstrap(o: BootstrapOptions, what: string): void {
  if (!Number.isInteger(o.resamples) || o.resamples < 100 || o.resamples > 100_000)
    throw new Error(`${what}: resamples must be a whole number in [100, 100000], got ${o.resamples}`);
  if (!(o.confidence > 0 && o.confidence < 1))
    throw new Error(`${what}: confidence must be between 0 and 1, e.g. 0.9, got ${o.confidence}`);
  if (!Number.isInteger(o.seed)) throw new Error(`${what}: seed must be a whole number, got ${o.seed}`);
}

/** The estimate with the (1 − confidence)/2 and (1 + confidence)/2 percentiles of the draws. */
function intervalOf(estimate: number, draws: number[], confidence: number): DifferenceInterval {
  const sorted = Float64Array.from(draws).sort();
  const tail = ((1 - confidence) / 2) * 100;
  return { estimate, lower: percentileOf(sorted, tail), upper: percentileOf(sorted, 100 - tail) };
}

/**
 * Percentile bootstrap intervals of every metric: rows resampled with replacement `resamples` times, the
 * same draws for all metrics. A resample whose truth is constant has no R² and is left out of R²'s
 * interval (R² is null only when the whole truth is constant).
 */
export function bootstrapRegressionErrors(
  truth: readonly number[],
  predicted: readonly number[],
  options: BootstrapOptions,
): RegressionIntervals {
  requireNumericPairs(truth, predicted, 'bootstrapRegressionErrors');
  requireBootstrap(options, 'bootstrapRegressionErrors');
  const all = regressionErrors(truth, predicted);
  const rand = seededUniform(options.seed);
  const draws = { mae: [] as number[], rmse: [] as number[], r2: [] as number[], mape: [] as number[] };
  const meanError: number[] = [];
  for (let b = 0; b < options.resamples; b++) {
    const idx = drawIndices(rand, truth.length);
    const m = metricsOf(sumsOf(truth, predicted, idx), truth, idx);
    draws.mae.push(m.mae);
    draws.rmse.push(m.rmse);
    if (m.r2 !== null) draws.r2.push(m.r2);
    if (m.mape !== null) draws.mape.push(m.mape);
    meanError.push(m.meanError);
  }
  const c = options.confidence;
  return {
    rows: truth.length,
    resamples: options.resamples,
    confidence: c,
    seed: options.seed,
    mae: intervalOf(all.mae, draws.mae, c),
    rmse: intervalOf(all.rmse, draws.rmse, c),
    r2: all.r2 === null || draws.r2.length === 0 ? null : intervalOf(all.r2, draws.r2, c),
    mape: all.mape === null ? null : intervalOf(all.mape, draws.mape, c),
    meanError: intervalOf(all.meanError, meanError, c),
  };
}

/**
 * The paired percentile bootstrap of candidate − champion MAE and RMSE: each resample draws the rows once
 * and scores both models on them, so rows that are hard for both cancel out of the difference.
 */
export function pairedErrorBootstrap(
  truth: readonly number[],
  candidate: readonly number[],
  champion: readonly number[],
  options: BootstrapOptions,
): PairedErrorDifferences {
  requireNumericPairs(truth, candidate, 'pairedErrorBootstrap (candidate)');
  requireNumericPairs(truth, champion, 'pairedErrorBootstrap (champion)');
  requireBootstrap(options, 'pairedErrorBootstrap');
  const difference = (idx: Int32Array | null) => {
    const a = sumsOf(truth, candidate, idx);
    const b = sumsOf(truth, champion, idx);
    return { mae: (a.abs - b.abs) / a.n, rmse: Math.sqrt(a.sq / a.n) - Math.sqrt(b.sq / b.n) };
  };
  const rand = seededUniform(options.seed);
  const mae: number[] = [];
  const rmse: number[] = [];
  for (let b = 0; b < options.resamples; b++) {
    const d = difference(drawIndices(rand, truth.length));
    mae.push(d.mae);
    rmse.push(d.rmse);
  }
  const all = difference(null);
  return {
    rows: truth.length,
    resamples: options.resamples,
    confidence: options.confidence,
    seed: options.seed,
    mae: intervalOf(all.mae, mae, options.confidence),
    rmse: intervalOf(all.rmse, rmse, options.confidence),
  };
}

/**
 * The mean error in each of `groups` equal-count groups of the rows ordered by prediction (ties by row
 * order), sized like numpy.array_split: the first n mod groups groups hold one row more. Fewer rows than
 * groups: one group per row.
 */
export function residualBiasByDecile(
  truth: readonly number[],
  predicted: readonly number[],
  groups = 10,
): DecileBias[] {
  requireNumericPairs(truth, predicted, 'residualBiasByDecile');
  if (!Number.isInteger(groups) || groups < 1)
    throw new Error(`residualBiasByDecile: groups must be a whole number ≥ 1, got ${groups}`);
  const n = truth.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => predicted[a]! - predicted[b]! || a - b);
  const k = Math.min(groups, n);
  const base = Math.floor(n / k);
  const extra = n % k;
  const out: DecileBias[] = [];
  let start = 0;
  for (let g = 0; g < k; g++) {
    const size = base + (g < extra ? 1 : 0);
    const rows = order.slice(start, start + size);
    start += size;
    let p = 0;
    let y = 0;
    for (const i of rows) {
      p += predicted[i]!;
      y += truth[i]!;
    }
    out.push({
      decile: g + 1,
      rows: size,
      from: predicted[rows[0]!]!,
      to: predicted[rows[size - 1]!]!,
      meanPredicted: p / size,
      meanActual: y / size,
      meanError: (p - y) / size,
    });
  }
  return out;
}

/** The decile with the largest absolute mean error: the model's worst systematic bias over its range. */
export function largestDecileBias(deciles: readonly DecileBias[]): DecileBias {
  if (deciles.length === 0) throw new Error('largestDecileBias: no deciles');
  return deciles.reduce((worst, d) => (Math.abs(d.meanError) > Math.abs(worst.meanError) ? d : worst));
}
