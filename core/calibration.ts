/**
 * Calibration of a classifier's scores into probabilities, fitted on a labeled reference: isotonic
 * regression by pool-adjacent-violators, and the check of whether calibrating helps at all (the expected
 * calibration error on held-out folds, with and without it). Pure: no I/O; randomness only from a seed.
 */

/** A fitted monotone (non-decreasing) map: knots in increasing x, linear between them, flat outside. */
export interface IsotonicFit {
  x: number[];
  y: number[];
}

/**
 * Isotonic regression of `labels` (0/1, or any numbers) on `scores`. Tied scores are first pooled into
 * their mean (weighted by count), then adjacent blocks that violate the order are merged until the fit
 * is non-decreasing. The result interpolates linearly between the distinct scores and clips outside them,
 * as scikit-learn's IsotonicRegression(out_of_bounds='clip') does.
 */
export function fitIsotonic(scores: ArrayLike<number>, labels: ArrayLike<number>): IsotonicFit {
  const n = scores.length;
  if (n !== labels.length)
    throw new Error(`fitIsotonic: ${n} scores but ${labels.length} labels; they must pair up`);
  if (n === 0) throw new Error('fitIsotonic: no rows to fit on');
  const order = Array.from({ length: n }, (_, i) => i);
  for (const i of order) {
    if (!Number.isFinite(scores[i]!)) throw new Error(`fitIsotonic: score at row ${i} is ${scores[i]}`);
    if (!Number.isFinite(labels[i]!)) throw new Error(`fitIsotonic: label at row ${i} is ${labels[i]}`);
  }
  order.sort((a, b) => scores[a]! - scores[b]!);
  // Distinct scores with the summed labels and counts of their rows.
  const xs: number[] = [];
  const sums: number[] = [];
  const weights: number[] = [];
  for (const i of order) {
    const s = scores[i]!;
    if (xs.length > 0 && xs[xs.length - 1] === s) {
      sums[sums.length - 1]! += labels[i]!;
      weights[weights.length - 1]! += 1;
    } else {
      xs.push(s);
      sums.push(labels[i]!);
      weights.push(1);
    }
  }
  // Pool adjacent violators: a stack of blocks (sum, weight, how many distinct scores).
  const bSum: number[] = [];
  const bWeight: number[] = [];
  const bSpan: number[] = [];
  for (let k = 0; k < xs.length; k++) {
    bSum.push(sums[k]!);
    bWeight.push(weights[k]!);
    bSpan.push(1);
    while (bSum.length > 1) {
      const last = bSum.length - 1;
      if (bSum[last - 1]! / bWeight[last - 1]! <= bSum[last]! / bWeight[last]!) break;
      bSum[last - 1]! += bSum[last]!;
      bWeight[last - 1]! += bWeight[last]!;
      bSpan[last - 1]! += bSpan[last]!;
      bSum.pop();
      bWeight.pop();
      bSpan.pop();
    }
  }
  // Keep the first and last distinct score of each block: interpolation between them is flat anyway.
  const fit: IsotonicFit = { x: [], y: [] };
  let k = 0;
  for (let b = 0; b < bSum.length; b++) {
    const value = bSum[b]! / bWeight[b]!;
    const first = k;
    const last = k + bSpan[b]! - 1;
    fit.x.push(xs[first]!);
    fit.y.push(value);
    if (last !== first) {
      fit.x.push(xs[last]!);
      fit.y.push(value);
    }
    k = last + 1;
  }
  return fit;
}

/** The fitted value at each score: linear between knots, the end values outside them. */
export function applyIsotonic(fit: IsotonicFit, scores: ArrayLike<number>): Float64Array {
  const { x, y } = fit;
  const out = new Float64Array(scores.length);
  const last = x.length - 1;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) out[i] = NaN;
    else if (s <= x[0]!) out[i] = y[0]!;
    else if (s >= x[last]!) out[i] = y[last]!;
    else {
      // Largest knot index with x <= s.
      let lo = 0;
      let hi = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (x[mid]! <= s) lo = mid;
        else hi = mid;
      }
      const t = (s - x[lo]!) / (x[hi]! - x[lo]!);
      out[i] = y[lo]! + t * (y[hi]! - y[lo]!);
    }
  }
  return out;
}

/**
 * Expected calibration error with equal-count bins: rows sorted by probability, cut into `bins` runs of
 * floor(n / bins) rows (the last takes the remainder), each contributing its share of rows times
 * |mean probability − mean label|.
 */
export function expectedCalibrationError(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): number {
  const n = probabilities.length;
  if (n !== labels.length) throw new Error('expectedCalibrationError: probabilities and labels must pair up');
  let count = bins;
  if (n <= 2 * count) count = Math.floor(n / 2);
  if (count < 2) throw new Error(`expectedCalibrationError: ${n} rows cannot be split into 2 bins`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probabilities[a]! - probabilities[b]!);
  const width = Math.floor(n / count);
  let ece = 0;
  for (let b = 0; b < count; b++) {
    const start = b * width;
    const end = b === count - 1 ? n : start + width;
    let p = 0;
    let l = 0;
    for (let k = start; k < end; k++) {
      p += probabilities[order[k]!]!;
      l += labels[order[k]!]!;
    }
    ece += ((end - start) / n) * Math.abs(p / (end - start) - l / (end - start));
  }
  return ece;
}

/** Binary ROC AUC (ties count one half); null when only one class is present. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n;) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const rank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface CalibrationDecision {
  /** Whether the calibrator is applied to the analysis scores. */
  applied: boolean;
  /** Why, in a sentence. */
  reason: string;
  /** Held-out expected calibration error of the raw scores and of the calibrated ones (null if not measured). */
  eceBefore: number | null;
  eceAfter: number | null;
  /** The calibrator fitted on the whole reference (null when not applied). */
  fit: IsotonicFit | null;
}

export interface CalibrationOptions {
  /** Held-out folds (stratified, 10 % of the rows each). Default 10. */
  splits?: number;
  bins?: number;
  seed?: number;
}

/**
 * Fit an isotonic calibrator on the labeled reference and decide whether to use it: only when, over
 * `splits` stratified shuffles that hold out 10 % of the rows, the calibrated held-out scores have a lower
 * expected calibration error than the raw ones. Scores that already rank perfectly (AUC > 0.999) or a
 * reference with one class are left as they are.
 */
export function decideCalibration(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  opts: CalibrationOptions = {},
): CalibrationDecision {
  const splits = opts.splits ?? 10;
  const auc = rocAuc(scores, labels);
  if (auc === null)
    return {
      applied: false,
      reason: 'the reference has one class only',
      eceBefore: null,
      eceAfter: null,
      fit: null,
    };
  if (auc > 0.999)
    return {
      applied: false,
      reason: `the scores rank the reference perfectly (AUC ${auc.toFixed(4)})`,
      eceBefore: null,
      eceAfter: null,
      fit: null,
    };
  const rand = splitmix32(opts.seed ?? 42);
  const byClass = [0, 1].map((c) => indicesWhere(labels, c));
  const testRaw: number[] = [];
  const testCal: number[] = [];
  const testLabels: number[] = [];
  for (let s = 0; s < splits; s++) {
    const test = new Uint8Array(scores.length);
    for (const rows of byClass) {
      const take = Math.max(1, Math.round(rows.length * 0.1));
      for (const i of shuffled(rows, rand).slice(0, take)) test[i] = 1;
    }
    const trainScores: number[] = [];
    const trainLabels: number[] = [];
    const heldOut: number[] = [];
    for (let i = 0; i < scores.length; i++) {
      if (test[i]) heldOut.push(i);
      else {
        trainScores.push(scores[i]!);
        trainLabels.push(labels[i]!);
      }
    }
    const fold = fitIsotonic(trainScores, trainLabels);
    const calibrated = applyIsotonic(
      fold,
      heldOut.map((i) => scores[i]!),
    );
    heldOut.forEach((i, k) => {
      testRaw.push(scores[i]!);
      testCal.push(calibrated[k]!);
      testLabels.push(labels[i]!);
    });
  }
  const eceBefore = expectedCalibrationError(testRaw, testLabels, opts.bins);
  const eceAfter = expectedCalibrationError(testCal, testLabels, opts.bins);
  const applied = eceAfter < eceBefore;
  return {
    applied,
    reason: applied
      ? `isotonic calibration lowers the held-out calibration error (${eceBefore.toFixed(4)} → ${eceAfter.toFixed(4)})`
      : `the scores are as calibrated as isotonic regression makes them (held-out error ${eceBefore.toFixed(4)}, calibrated ${eceAfter.toFixed(4)})`,
    eceBefore,
    eceAfter,
    fit: applied ? fitIsotonic(scores, labels) : null,
  };
}

function indicesWhere(values: ArrayLike<number>, v: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] === v) out.push(i);
  return out;
}

function shuffled(values: readonly number[], rand: () => number): number[] {
  const a = [...values];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}
