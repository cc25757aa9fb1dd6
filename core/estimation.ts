/**
 * Performance without labels: confidence-based performance estimation (CBPE) for a binary classifier.
 * The probabilities are calibrated on a labeled reference; each calibrated probability p is then the
 * chance the row is positive, so a row predicted positive adds p to the expected true positives and
 * 1 − p to the false positives (and a row predicted negative p to the false negatives, 1 − p to the
 * true negatives). Accuracy, precision, recall and F1 follow from that expected confusion matrix.
 *
 * Each estimate carries a band of ±3 sampling errors: the spread of the metric's per-row terms on the
 * reference, divided by the square root of the rows in the chunk that the metric counts. Alert
 * thresholds are the reference chunks' realized metric, mean ± 3 standard deviations. Where a chunk
 * has labels, the realized value stands next to the estimate. Pure: no I/O.
 */
import { decideCalibration, applyIsotonic, type CalibrationDecision } from './calibration.js';
import { binShares, categoricalPsi, psiFromEdges, quantileEdges } from './stattests.js';

export const METRICS = ['accuracy', 'precision', 'recall', 'f1', 'tp', 'fp', 'tn', 'fn'] as const;
export type MetricName = (typeof METRICS)[number];
const COUNTS: ReadonlySet<MetricName> = new Set(['tp', 'fp', 'tn', 'fn']);

/** Sampling errors in the band, and standard deviations in the alert thresholds. */
export const BAND_SIGMAS = 3;
/** PSI at or above which the predicted-label or confidence distribution is called drifted. */
export const PREDICTION_PSI_THRESHOLD = 0.2;

/** A binary classifier's output: probability of the positive class, the predicted label, labels if any. */
export interface BinaryScores {
  /** Probability of the positive class, in [0, 1]. */
  proba: ArrayLike<number>;
  /** Predicted label, 0 or 1. */
  predicted: ArrayLike<number>;
  /** True label, 0 or 1; NaN where it has not arrived. */
  labels?: ArrayLike<number>;
}

interface SamplingComponent {
  /** Standard deviation of the metric's per-row terms on the reference. */
  std: number;
  /** Share of a chunk's rows the metric counts (predicted positives for precision, …). */
  fraction: number;
}

export interface CbpeModel {
  chunkSize: number;
  referenceRows: number;
  calibration: CalibrationDecision;
  sampling: Record<MetricName, SamplingComponent>;
  thresholds: Record<MetricName, { lower: number | null; upper: number | null }>;
  /** What prediction and confidence drift are measured against. */
  referencePredicted: Record<string, number>;
  /** Confidence max(p, 1 − p) on the reference: PSI bin edges (deciles) and the share in each bin. */
  referenceConfidence: { edges: number[]; shares: number[] };
}

export interface MetricEstimate {
  estimate: number | null;
  samplingError: number;
  band: [number, number] | null;
  realized: number | null;
  lowerThreshold: number | null;
  upperThreshold: number | null;
  /** The estimate is outside the alert thresholds. */
  alert: boolean;
}

export interface ChunkEstimate {
  index: number;
  /** Rows [start, end) of the data. */
  start: number;
  end: number;
  rows: number;
  /** Rows with a label, over which the realized values are measured. */
  labeled: number;
  metrics: Record<MetricName, MetricEstimate>;
  predictionDrift: { psi: number; drifted: boolean };
  confidenceDrift: { psi: number; drifted: boolean };
}

/** Row ranges of `size` rows; the remainder is kept as a last, shorter chunk. */
export function chunkRanges(rows: number, size: number): { start: number; end: number }[] {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`chunk size must be a positive integer, not ${size}`);
  const out: { start: number; end: number }[] = [];
  for (let start = 0; start < rows; start += size) out.push({ start, end: Math.min(rows, start + size) });
  return out;
}

/** The expected confusion matrix of rows whose positive-class probability is `proba`. */
export function expectedConfusion(
  proba: ArrayLike<number>,
  predicted: ArrayLike<number>,
): { tp: number; fp: number; tn: number; fn: number } {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < proba.length; i++) {
    const p = proba[i]!;
    if (predicted[i] === 1) {
      tp += p;
      fp += 1 - p;
    } else {
      fn += p;
      tn += 1 - p;
    }
  }
  return { tp, fp, tn, fn };
}

/** The confusion matrix over the rows that have a label (NaN labels skipped). */
export function realizedConfusion(
  predicted: ArrayLike<number>,
  labels: ArrayLike<number>,
): { tp: number; fp: number; tn: number; fn: number } {
  const m = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < predicted.length; i++) {
    const y = labels[i]!;
    if (Number.isNaN(y)) continue;
    if (predicted[i] === 1) m[y === 1 ? 'tp' : 'fp']++;
    else m[y === 1 ? 'fn' : 'tn']++;
  }
  return m;
}

/** Accuracy, precision, recall, F1 and the four counts from a confusion matrix (null where undefined). */
export function metricsOf(m: {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}): Record<MetricName, number | null> {
  const n = m.tp + m.fp + m.tn + m.fn;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  return {
    accuracy: ratio(m.tp + m.tn, n),
    precision: ratio(m.tp, m.tp + m.fp),
    recall: ratio(m.tp, m.tp + m.fn),
    f1: ratio(m.tp, m.tp + 0.5 * (m.fp + m.fn)),
    tp: m.tp,
    fp: m.fp,
    tn: m.tn,
    fn: m.fn,
  };
}

/** Fit CBPE on a labeled reference: calibration, per-metric sampling errors and alert thresholds. */
export function fitCbpe(reference: BinaryScores, opts: { chunkSize: number; seed?: number }): CbpeModel {
  const { proba, predicted } = reference;
  const labels = reference.labels;
  if (!labels) throw new Error('the reference needs labels: CBPE calibrates and measures on them');
  validate(reference, 'reference');
  const n = proba.length;
  for (let i = 0; i < n; i++)
    if (Number.isNaN(labels[i]!))
      throw new Error(`the reference has no label at row ${i}: every reference row needs one`);
  const calibration = decideCalibration(proba, labels, opts.seed === undefined ? {} : { seed: opts.seed });

  const thresholds = {} as CbpeModel['thresholds'];
  const perChunk = chunkRanges(n, opts.chunkSize).map((r) =>
    metricsOf(realizedConfusion(slice(predicted, r), slice(labels, r))),
  );
  for (const name of METRICS) {
    const values = perChunk.map((m) => m[name]).filter((v): v is number => v !== null);
    thresholds[name] = alertThresholds(values, COUNTS.has(name) ? [0, null] : [0, 1]);
  }

  const confidence: number[] = [];
  const predictedCounts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    confidence.push(Math.max(proba[i]!, 1 - proba[i]!));
    const k = String(predicted[i]);
    predictedCounts[k] = (predictedCounts[k] ?? 0) + 1;
  }
  const edges = quantileEdges(
    [...confidence].sort((a, b) => a - b),
    10,
  );
  return {
    chunkSize: opts.chunkSize,
    referenceRows: n,
    calibration,
    sampling: samplingComponents(predicted, labels),
    thresholds,
    referencePredicted: predictedCounts,
    referenceConfidence: { edges, shares: binShares(edges, confidence) },
  };
}

/** Estimate every chunk of `data` (chunks of the model's size, the remainder kept as a shorter last one). */
export function estimatePerformance(model: CbpeModel, data: BinaryScores): ChunkEstimate[] {
  validate(data, 'current');
  const calibrated = model.calibration.fit ? applyIsotonic(model.calibration.fit, data.proba) : data.proba;
  return chunkRanges(data.proba.length, model.chunkSize).map((r, index) =>
    estimateChunk(model, index, r, calibrated, data),
  );
}

function estimateChunk(
  model: CbpeModel,
  index: number,
  r: { start: number; end: number },
  calibrated: ArrayLike<number>,
  data: BinaryScores,
): ChunkEstimate {
  const rows = r.end - r.start;
  const predicted = slice(data.predicted, r);
  const estimates = metricsOf(expectedConfusion(slice(calibrated, r), predicted));
  let realized: Record<MetricName, number | null> | null = null;
  let labeled = 0;
  if (data.labels) {
    const labels = slice(data.labels, r);
    labeled = labels.filter((y) => !Number.isNaN(y)).length;
    if (labeled > 0) realized = metricsOf(realizedConfusion(predicted, labels));
  }
  const metrics = {} as Record<MetricName, MetricEstimate>;
  for (const name of METRICS) {
    const { std, fraction } = model.sampling[name];
    const count = COUNTS.has(name);
    // A count's error grows with the rows (std·√n); a ratio's shrinks with the rows it counts.
    const samplingError = count ? std * Math.sqrt(rows) : std / Math.sqrt(rows * fraction);
    const estimate = estimates[name];
    const upperLimit = count ? rows : 1;
    const t = model.thresholds[name];
    metrics[name] = {
      estimate,
      samplingError,
      band:
        estimate === null
          ? null
          : [
              Math.max(0, estimate - BAND_SIGMAS * samplingError),
              Math.min(upperLimit, estimate + BAND_SIGMAS * samplingError),
            ],
      realized: realized ? realized[name] : null,
      lowerThreshold: t.lower,
      upperThreshold: t.upper,
      alert:
        estimate !== null &&
        ((t.lower !== null && estimate < t.lower) || (t.upper !== null && estimate > t.upper)),
    };
  }
  const predictedCounts: Record<string, number> = {};
  const confidence: number[] = [];
  for (let i = r.start; i < r.end; i++) {
    const k = String(data.predicted[i]);
    predictedCounts[k] = (predictedCounts[k] ?? 0) + 1;
    confidence.push(Math.max(data.proba[i]!, 1 - data.proba[i]!));
  }
  return {
    index,
    start: r.start,
    end: r.end,
    rows,
    labeled,
    metrics,
    ...outputDrift(model, predictedCounts, confidence),
  };
}

/** How far a chunk's predicted classes and confidences moved from the reference's (PSI each). */
export function outputDrift(
  model: {
    referencePredicted: Record<string, number>;
    referenceConfidence: { edges: number[]; shares: number[] };
  },
  predictedCounts: Record<string, number>,
  confidence: number[],
): {
  predictionDrift: { psi: number; drifted: boolean };
  confidenceDrift: { psi: number; drifted: boolean };
} {
  const predictionPsi = categoricalPsi(model.referencePredicted, predictedCounts).statistic;
  const { edges, shares } = model.referenceConfidence;
  const confidencePsi = psiFromEdges(edges, shares, confidence).statistic;
  return {
    predictionDrift: { psi: predictionPsi, drifted: predictionPsi >= PREDICTION_PSI_THRESHOLD },
    confidenceDrift: { psi: confidencePsi, drifted: confidencePsi >= PREDICTION_PSI_THRESHOLD },
  };
}

/**
 * Per-row terms of each metric on the reference, whose spread sets the sampling error: for accuracy
 * 1/0 per correct/wrong row; for precision the correctness of predicted positives; for recall that of
 * actual positives; for F1 the rows in TP, FP or FN, scaled so their mean is the F1; for each count an
 * indicator per row.
 */
function samplingComponents(
  predicted: ArrayLike<number>,
  labels: ArrayLike<number>,
): Record<MetricName, SamplingComponent> {
  const n = predicted.length;
  const m = realizedConfusion(predicted, labels);
  const bernoulli = (hits: number, total: number): number => {
    if (total === 0) return NaN;
    const p = hits / total;
    return Math.sqrt(p * (1 - p));
  };
  // F1 terms: TP rows are c, FP and FN rows 0, with c = (tp+fp+fn)/(tp + (fp+fn)/2).
  const relevant = m.tp + m.fp + m.fn;
  const c = relevant / (m.tp + 0.5 * (m.fp + m.fn));
  const f1Std = relevant === 0 ? NaN : c * bernoulli(m.tp, relevant);
  const indicator = (k: number): SamplingComponent => ({ std: bernoulli(k, n), fraction: 1 });
  return {
    accuracy: { std: bernoulli(m.tp + m.tn, n), fraction: 1 },
    precision: { std: bernoulli(m.tp, m.tp + m.fp), fraction: (m.tp + m.fp) / n },
    recall: { std: bernoulli(m.tp, m.tp + m.fn), fraction: (m.tp + m.fn) / n },
    f1: { std: f1Std, fraction: relevant / n },
    tp: indicator(m.tp),
    fp: indicator(m.fp),
    tn: indicator(m.tn),
    fn: indicator(m.fn),
  };
}

/** Mean ± 3 standard deviations of the reference chunks' values, clipped to the metric's range. */
function alertThresholds(
  values: number[],
  [min, max]: [number, number | null],
): { lower: number | null; upper: number | null } {
  if (values.length === 0) return { lower: null, upper: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const lower = mean - BAND_SIGMAS * sd;
  const upper = mean + BAND_SIGMAS * sd;
  return { lower: Math.max(min, lower), upper: max === null ? upper : Math.min(max, upper) };
}

function slice(values: ArrayLike<number>, r: { start: number; end: number }): number[] {
  return Array.from({ length: r.end - r.start }, (_, k) => values[r.start + k]!);
}

function validate(data: BinaryScores, what: string): void {
  const n = data.proba.length;
  if (n === 0) throw new Error(`the ${what} data has no rows`);
  if (data.predicted.length !== n)
    throw new Error(`the ${what} data has ${n} probabilities but ${data.predicted.length} predicted labels`);
  if (data.labels && data.labels.length !== n)
    throw new Error(`the ${what} data has ${n} probabilities but ${data.labels.length} labels`);
  for (let i = 0; i < n; i++) {
    const p = data.proba[i]!;
    if (!(p >= 0 && p <= 1))
      throw new Error(`the ${what} probability at row ${i} is ${p}; probabilities must lie in [0, 1]`);
    const yhat = data.predicted[i];
    if (yhat !== 0 && yhat !== 1)
      throw new Error(`the ${what} predicted label at row ${i} is ${yhat}; binary labels must be 0 or 1`);
    const y = data.labels?.[i];
    if (y !== undefined && y !== 0 && y !== 1 && !Number.isNaN(y))
      throw new Error(`the ${what} label at row ${i} is ${y}; binary labels must be 0 or 1 (or missing)`);
  }
}
