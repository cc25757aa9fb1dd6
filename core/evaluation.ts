/**
 * Holdout evaluation of a scored model (discrimination, calibration, latency, per slice) and the
 * go/no-go gates a candidate must pass against the champion. Pure and deterministic (imported by
 * workflow code): no I/O, no Node built-ins, no randomness.
 */
import { accuracy, hasOwn, logLoss, macroF1, requirePaired } from './metrics.js';

/** One holdout row as the model scored it. */
export interface Scored {
  truth: string;
  probabilities: Record<string, number>;
  slice?: string;
  latencyUs?: number;
}

/** One non-empty equal-width bin of top-label confidence; bins are (lower, upper], the first also holds 0. */
export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  meanConfidence: number;
  accuracy: number;
}

export interface ModelMetrics {
  rows: number;
  accuracy: number;
  macroF1: number;
  /** null when the rows hold fewer than two true classes (AUC is undefined). */
  macroAuc: number | null;
  logLoss: number;
  ece: number;
  calibration: CalibrationBin[];
  /** null when no row carries a latency. */
  p95LatencyMs: number | null;
}

/**
 * The label with the highest probability. Ties go to the label that sorts first (by UTF-16 code
 * units, not locale), so the prediction never depends on the key order of the row.
 */
export function predictedLabel(p: Record<string, number>): string {
  let best: string | undefined;
  let bestP = -Infinity;
  for (const label of Object.keys(p)) {
    const v = p[label]!;
    if (Number.isNaN(v)) throw new Error(`predictedLabel: probability of "${label}" is NaN`);
    if (best === undefined || v > bestP || (v === bestP && label < best)) {
      best = label;
      bestP = v;
    }
  }
  if (best === undefined) throw new Error('predictedLabel: the probability row has no labels');
  return best;
}

/** Probability of `label` in the row; a label missing from the row was given no mass. */
function probabilityOf(row: Record<string, number>, label: string): number {
  return hasOwn(row, label) ? row[label]! : 0;
}

/**
 * Binary ROC AUC as the Mann–Whitney U statistic: the chance that a random positive outscores a random
 * negative, ties counting one half. Tied scores share their average rank, which is exactly that half.
 */
function binaryAuc(scores: readonly number[], positive: readonly boolean[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positiveRankSum = 0;
  let positives = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    // 1-based ranks start+1 .. end+1 share their mean.
    const rank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) {
      if (positive[order[k]!]) {
        positiveRankSum += rank;
        positives++;
      }
    }
    start = end + 1;
  }
  const negatives = scores.length - positives;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * One-vs-rest ROC AUC averaged with equal weight over the classes that occur in `truth` (like
 * sklearn roc_auc_score(multi_class='ovr', average='macro') restricted to those classes). With two
 * or more true classes every one of them has positives and negatives; with fewer the AUC is
 * undefined and the result is null. Classes that only appear as probability keys are ignored: with
 * no positives they have no AUC.
 */
export function macroAucOvr(
  truth: readonly string[],
  probabilities: readonly Record<string, number>[],
): number | null {
  requirePaired(truth, probabilities, 'macroAucOvr');
  const classes = [...new Set(truth)].sort();
  if (classes.length < 2) return null;
  let sum = 0;
  for (const label of classes) {
    const scores = probabilities.map((row, i) => {
      const v = probabilityOf(row, label);
      if (Number.isNaN(v)) throw new Error(`macroAucOvr: probability of "${label}" in row ${i} is NaN`);
      return v;
    });
    sum += binaryAuc(
      scores,
      truth.map((t) => t === label),
    );
  }
  return sum / classes.length;
}

/**
 * One-vs-one ROC AUC averaged over the pairs of classes that occur in `truth` (Hand and Till's M, as
 * sklearn roc_auc_score(multi_class='ovo', average='macro')): for each pair, the mean of "a's probability
 * separates a from b" and "b's separates b from a", on the rows of those two classes only. Each pair
 * depends on the two classes' rows alone, so a change of the label mix leaves it unchanged, unlike the
 * one-vs-rest AUC whose "rest" is a mixture. Null with fewer than two true classes.
 */
export function macroAucOvo(
  truth: readonly string[],
  probabilities: readonly Record<string, number>[],
): number | null {
  requirePaired(truth, probabilities, 'macroAucOvo');
  const classes = [...new Set(truth)].sort();
  if (classes.length < 2) return null;
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < classes.length; a++) {
    for (let b = a + 1; b < classes.length; b++) {
      const rows = truth.flatMap((t, i) => (t === classes[a] || t === classes[b] ? [i] : []));
      const isA = rows.map((i) => truth[i] === classes[a]);
      const score = (label: string) =>
        rows.map((i) => {
          const v = probabilityOf(probabilities[i]!, label);
          if (Number.isNaN(v)) throw new Error(`macroAucOvo: probability of "${label}" in row ${i} is NaN`);
          return v;
        });
      const ab = binaryAuc(score(classes[a]!), isA);
      const ba = binaryAuc(
        score(classes[b]!),
        isA.map((x) => !x),
      );
      sum += (ab + ba) / 2;
      pairs++;
    }
  }
  return sum / pairs;
}

function requireBins(bins: number, what: string): void {
  if (!Number.isInteger(bins) || bins < 1)
    throw new Error(`${what}: bins must be an integer >= 1, got ${bins}`);
}

/**
 * Reliability bins of top-label confidence (the winning probability) against top-label accuracy.
 * Bins are equal-width over [0, 1] and right-closed, (i/bins, (i+1)/bins], the first also holding 0:
 * the convention of sklearn.calibration.calibration_curve(strategy='uniform'), so a row scored
 * exactly 0.7 lands in (0.6, 0.7]. Empty bins are omitted. A confidence outside [0, 1] is an error,
 * not clamped: it means the scores are not probabilities, and calibration of them is meaningless.
 */
export function calibrationBins(
  truth: readonly string[],
  probabilities: readonly Record<string, number>[],
  bins = 10,
): CalibrationBin[] {
  requirePaired(truth, probabilities, 'calibrationBins');
  requireBins(bins, 'calibrationBins');
  const count = new Array<number>(bins).fill(0);
  const confidenceSum = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  for (let i = 0; i < truth.length; i++) {
    const row = probabilities[i]!;
    const label = predictedLabel(row);
    const confidence = row[label]!;
    if (!(confidence >= 0 && confidence <= 1)) {
      throw new Error(`calibrationBins: top-label confidence in row ${i} is ${confidence}, outside [0, 1]`);
    }
    // Compare against the edges themselves rather than floor(confidence * bins): 0.7 * 10 rounds to
    // 7.000000000000001, which would push a confidence of exactly 0.7 into the bin above.
    let b = 0;
    while (b < bins - 1 && confidence > (b + 1) / bins) b++;
    count[b]!++;
    confidenceSum[b]! += confidence;
    if (label === truth[i]) correct[b]!++;
  }
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const n = count[b]!;
    if (n === 0) continue;
    out.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      count: n,
      meanConfidence: confidenceSum[b]! / n,
      accuracy: correct[b]! / n,
    });
  }
  return out;
}

function eceFromBins(calibration: readonly CalibrationBin[], rows: number): number {
  let ece = 0;
  for (const bin of calibration) ece += (bin.count / rows) * Math.abs(bin.accuracy - bin.meanConfidence);
  return ece;
}

/** Expected calibration error: the row-weighted mean |accuracy − mean confidence| over the bins. */
export function expectedCalibrationError(
  truth: readonly string[],
  probabilities: readonly Record<string, number>[],
  bins = 10,
): number {
  return eceFromBins(calibrationBins(truth, probabilities, bins), truth.length);
}

/** Percentile with linear interpolation between order statistics, like numpy.percentile's default. */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (position - lo);
}

/**
 * Every holdout metric for one model. p95 latency is taken over the rows that carry a latency (an
 * offline replay may time only some of them) and reported in milliseconds.
 */
export function evaluate(scored: readonly Scored[]): ModelMetrics {
  if (scored.length === 0) throw new Error('evaluate: needs at least one scored row, got none');
  const truth = scored.map((s) => s.truth);
  const probabilities = scored.map((s) => s.probabilities);
  const predicted = probabilities.map(predictedLabel);
  const calibration = calibrationBins(truth, probabilities);
  const latenciesUs: number[] = [];
  for (const s of scored) {
    if (s.latencyUs === undefined) continue;
    if (!Number.isFinite(s.latencyUs) || s.latencyUs < 0) {
      throw new Error(`evaluate: latencyUs must be a finite number >= 0, got ${s.latencyUs}`);
    }
    latenciesUs.push(s.latencyUs);
  }
  return {
    rows: scored.length,
    accuracy: accuracy(truth, predicted),
    macroF1: macroF1(truth, predicted),
    macroAuc: macroAucOvr(truth, probabilities),
    logLoss: logLoss(truth, probabilities),
    ece: eceFromBins(calibration, scored.length),
    calibration,
    p95LatencyMs: latenciesUs.length === 0 ? null : percentile(latenciesUs, 95) / 1000,
  };
}

/** evaluate() per slice name. Rows without a slice count in the overall metrics only. */
export function evaluateBySlice(scored: readonly Scored[]): Record<string, ModelMetrics> {
  const groups = new Map<string, Scored[]>();
  for (const s of scored) {
    if (s.slice === undefined) continue;
    const group = groups.get(s.slice);
    if (group) group.push(s);
    else groups.set(s.slice, [s]);
  }
  // Object.fromEntries defines own properties, so a slice named "__proto__" stays an ordinary key.
  return Object.fromEntries(
    [...groups.keys()].sort().map((name) => [name, evaluate(groups.get(name)!)] as const),
  );
}

// The go/no-go gates live in core/gates.ts; re-exported so callers import evaluation and gates from one place.
export * from './gates.js';
