/**
 * Performance without labels for a multiclass classifier: each class's probability is calibrated
 * one-vs-rest on the labeled reference (isotonic, where it lowers the held-out calibration error), the
 * calibrated rows are renormalised to sum to 1, and then
 *   - expected accuracy is the mean calibrated probability of the predicted class;
 *   - expected macro F1 is the mean over classes of the binary expected F1 of "this class vs the rest".
 * Bands and alert thresholds follow the binary estimator (core/estimation.ts): ±3 sampling errors from
 * the reference's per-row terms, and the reference chunks' mean ± 3 standard deviations. Pure: no I/O.
 */
import { applyIsotonic, decideCalibration, type CalibrationDecision } from './calibration.js';
import { BAND_SIGMAS, chunkRanges, outputDrift, type MetricEstimate } from './estimation.js';
import { binShares, quantileEdges } from './stattests.js';

export const MULTICLASS_METRICS = ['accuracy', 'f1'] as const;
export type MulticlassMetric = (typeof MULTICLASS_METRICS)[number];

export interface MulticlassScores {
  /** Class names, one per probability column, in the same order as `proba`. */
  classes: string[];
  /** One array per class: that class's probability on each row. */
  proba: ArrayLike<number>[];
  /** Predicted class per row (one of `classes`). */
  predicted: readonly string[];
  /** True class per row; null where it has not arrived. */
  labels?: readonly (string | null)[];
}

export interface MulticlassModel {
  chunkSize: number;
  referenceRows: number;
  classes: string[];
  calibration: Record<string, CalibrationDecision>;
  sampling: { accuracyStd: number; f1: { variance: number; fraction: number }[] };
  thresholds: Record<MulticlassMetric, { lower: number | null; upper: number | null }>;
  referencePredicted: Record<string, number>;
  referenceConfidence: { edges: number[]; shares: number[] };
}

export interface MulticlassChunkEstimate {
  index: number;
  start: number;
  end: number;
  rows: number;
  labeled: number;
  metrics: Record<MulticlassMetric, MetricEstimate>;
  predictionDrift: { psi: number; drifted: boolean };
  confidenceDrift: { psi: number; drifted: boolean };
}

/** Realized accuracy and macro F1 over the rows with a label (null when none has one). */
export function realizedMulticlass(
  classes: readonly string[],
  predicted: readonly string[],
  labels: readonly (string | null)[],
): Record<MulticlassMetric, number | null> {
  let n = 0;
  let correct = 0;
  const tp = new Map(classes.map((c) => [c, 0]));
  const fp = new Map(classes.map((c) => [c, 0]));
  const fn = new Map(classes.map((c) => [c, 0]));
  for (let i = 0; i < predicted.length; i++) {
    const y = labels[i];
    if (y === null || y === undefined) continue;
    n++;
    const yhat = predicted[i]!;
    if (y === yhat) {
      correct++;
      tp.set(y, (tp.get(y) ?? 0) + 1);
    } else {
      fp.set(yhat, (fp.get(yhat) ?? 0) + 1);
      fn.set(y, (fn.get(y) ?? 0) + 1);
    }
  }
  if (n === 0) return { accuracy: null, f1: null };
  const f1 = classes.map((c) => {
    const d = 2 * tp.get(c)! + fp.get(c)! + fn.get(c)!;
    return d > 0 ? (2 * tp.get(c)!) / d : 0;
  });
  return { accuracy: correct / n, f1: f1.reduce((a, b) => a + b, 0) / classes.length };
}

/** Expected accuracy and macro F1 from calibrated, renormalised probabilities (rows × classes). */
export function expectedMulticlass(
  classes: readonly string[],
  calibrated: readonly Float64Array[],
  predicted: readonly string[],
): Record<MulticlassMetric, number> {
  const n = predicted.length;
  const index = new Map(classes.map((c, k) => [c, k]));
  let accuracy = 0;
  const tp = new Float64Array(classes.length);
  const fp = new Float64Array(classes.length);
  const fn = new Float64Array(classes.length);
  for (let i = 0; i < n; i++) {
    const k = index.get(predicted[i]!)!;
    accuracy += calibrated[k]![i]!;
    for (let c = 0; c < classes.length; c++) {
      const p = calibrated[c]![i]!;
      if (c === k) {
        tp[c]! += p;
        fp[c]! += 1 - p;
      } else fn[c]! += p;
    }
  }
  let f1 = 0;
  for (let c = 0; c < classes.length; c++) {
    const d = tp[c]! + 0.5 * (fp[c]! + fn[c]!);
    f1 += d > 0 ? tp[c]! / d : 0;
  }
  return { accuracy: accuracy / n, f1: f1 / classes.length };
}

export function fitCbpeMulticlass(
  reference: MulticlassScores,
  opts: { chunkSize: number; seed?: number },
): MulticlassModel {
  const labels = reference.labels;
  if (!labels) throw new Error('the reference needs labels: CBPE calibrates and measures on them');
  validate(reference, 'reference');
  const { classes, predicted } = reference;
  const n = predicted.length;
  const missing = labels.findIndex((y) => y === null);
  if (missing >= 0)
    throw new Error(`the reference has no label at row ${missing}: every reference row needs one`);

  const calibration: Record<string, CalibrationDecision> = {};
  classes.forEach((c, k) => {
    const oneVsRest = labels.map((y) => (y === c ? 1 : 0));
    calibration[c] = decideCalibration(
      reference.proba[k]!,
      oneVsRest,
      opts.seed === undefined ? {} : { seed: opts.seed },
    );
  });

  const thresholds = {} as MulticlassModel['thresholds'];
  const perChunk = chunkRanges(n, opts.chunkSize).map((r) =>
    realizedMulticlass(classes, predicted.slice(r.start, r.end), labels.slice(r.start, r.end)),
  );
  for (const name of MULTICLASS_METRICS)
    thresholds[name] = meanPlusMinus(perChunk.map((m) => m[name]).filter((v): v is number => v !== null));

  let correct = 0;
  for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
  const pc = correct / n;
  const f1 = classes.map((c) => {
    let tp = 0;
    let relevant = 0;
    for (let i = 0; i < n; i++) {
      const isPred = predicted[i] === c;
      const isTrue = labels[i] === c;
      if (isPred && isTrue) tp++;
      if (isPred || isTrue) relevant++;
    }
    const p = relevant > 0 ? tp / relevant : NaN;
    return { variance: p * (1 - p), fraction: relevant / n };
  });

  const predictedCounts: Record<string, number> = {};
  for (const c of predicted) predictedCounts[c] = (predictedCounts[c] ?? 0) + 1;
  const confidence = maxProba(reference.proba, 0, n);
  const edges = quantileEdges(
    [...confidence].sort((a, b) => a - b),
    10,
  );
  return {
    chunkSize: opts.chunkSize,
    referenceRows: n,
    classes: [...classes],
    calibration,
    sampling: { accuracyStd: Math.sqrt(pc * (1 - pc)), f1 },
    thresholds,
    referencePredicted: predictedCounts,
    referenceConfidence: { edges, shares: binShares(edges, confidence) },
  };
}

/** Each class calibrated one-vs-rest, then every row renormalised to sum to 1 (uniform when all are 0). */
export function calibrateMulticlass(model: MulticlassModel, proba: ArrayLike<number>[]): Float64Array[] {
  const cal = model.classes.map((c, k) => {
    const fit = model.calibration[c]!.fit;
    return fit ? applyIsotonic(fit, proba[k]!) : Float64Array.from(proba[k]!);
  });
  const n = proba[0]?.length ?? 0;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const col of cal) sum += col[i]!;
    for (const col of cal) col[i] = sum > 0 ? col[i]! / sum : 1 / cal.length;
  }
  return cal;
}

export function estimateMulticlass(
  model: MulticlassModel,
  data: MulticlassScores,
): MulticlassChunkEstimate[] {
  validate(data, 'current');
  const order = model.classes.map((c) => {
    const k = data.classes.indexOf(c);
    if (k < 0) throw new Error(`the current data has no probability column for class "${c}"`);
    return k;
  });
  const proba = order.map((k) => data.proba[k]!);
  const calibrated = calibrateMulticlass(model, proba);
  return chunkRanges(data.predicted.length, model.chunkSize).map((r, index) => {
    const rows = r.end - r.start;
    const predicted = data.predicted.slice(r.start, r.end);
    const expected = expectedMulticlass(
      model.classes,
      calibrated.map((col) => col.subarray(r.start, r.end)),
      predicted,
    );
    const labels = data.labels?.slice(r.start, r.end);
    const labeled = labels ? labels.filter((y) => y !== null).length : 0;
    const realized = labels && labeled > 0 ? realizedMulticlass(model.classes, predicted, labels) : null;
    const { accuracyStd, f1 } = model.sampling;
    const errors: Record<MulticlassMetric, number> = {
      accuracy: accuracyStd / Math.sqrt(rows),
      f1: Math.sqrt(f1.reduce((a, c) => a + c.variance / (rows * c.fraction), 0)) / f1.length,
    };
    const metrics = {} as Record<MulticlassMetric, MetricEstimate>;
    for (const name of MULTICLASS_METRICS) {
      const estimate = expected[name];
      const se = errors[name];
      const t = model.thresholds[name];
      metrics[name] = {
        estimate,
        samplingError: se,
        band: [Math.max(0, estimate - BAND_SIGMAS * se), Math.min(1, estimate + BAND_SIGMAS * se)],
        realized: realized ? realized[name] : null,
        lowerThreshold: t.lower,
        upperThreshold: t.upper,
        alert: (t.lower !== null && estimate < t.lower) || (t.upper !== null && estimate > t.upper),
      };
    }
    const counts: Record<string, number> = {};
    for (const c of predicted) counts[c] = (counts[c] ?? 0) + 1;
    return {
      index,
      start: r.start,
      end: r.end,
      rows,
      labeled,
      metrics,
      ...outputDrift(model, counts, maxProba(proba, r.start, r.end)),
    };
  });
}

function maxProba(proba: ArrayLike<number>[], start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i++) out.push(Math.max(...proba.map((col) => col[i]!)));
  return out;
}

function meanPlusMinus(values: number[]): { lower: number | null; upper: number | null } {
  if (values.length === 0) return { lower: null, upper: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { lower: Math.max(0, mean - BAND_SIGMAS * sd), upper: Math.min(1, mean + BAND_SIGMAS * sd) };
}

function validate(data: MulticlassScores, what: string): void {
  const { classes, proba, predicted } = data;
  if (classes.length < 2) throw new Error(`the ${what} data needs at least two classes`);
  if (new Set(classes).size !== classes.length) throw new Error(`the ${what} data names a class twice`);
  if (proba.length !== classes.length)
    throw new Error(`the ${what} data has ${classes.length} classes but ${proba.length} probability columns`);
  const n = predicted.length;
  if (n === 0) throw new Error(`the ${what} data has no rows`);
  const known = new Set(classes);
  classes.forEach((c, k) => {
    const col = proba[k]!;
    if (col.length !== n)
      throw new Error(`the ${what} probabilities of "${c}" have ${col.length} rows, not ${n}`);
    for (let i = 0; i < n; i++)
      if (!(col[i]! >= 0 && col[i]! <= 1))
        throw new Error(`the ${what} probability of "${c}" at row ${i} is ${col[i]}; it must lie in [0, 1]`);
  });
  for (let i = 0; i < n; i++) {
    if (!known.has(predicted[i]!))
      throw new Error(
        `the ${what} predicted class at row ${i} is "${predicted[i]}", which has no probability column (classes: ${classes.join(', ')})`,
      );
    const y = data.labels?.[i];
    if (y !== null && y !== undefined && !known.has(y))
      throw new Error(`the ${what} label at row ${i} is "${y}", which is not one of ${classes.join(', ')}`);
  }
}
