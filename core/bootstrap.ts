/**
 * Paired bootstrap intervals for the difference between two models scored on the same rows
 * (candidate − champion): accuracy, macro F1 and log-loss. Each resample draws the row indices once
 * and scores both models on those same rows, so what the two models share (easy and hard rows) cancels
 * out of the difference. Pure and deterministic (imported by workflow code through evaluation.ts): the
 * draws come from a seeded generator, so the same rows and seed give the same interval every time.
 */
import { predictedLabel } from './evaluation.js';
import { logLoss, requirePaired } from './metrics.js';

/** A point estimate with its percentile interval. */
export interface DifferenceInterval {
  estimate: number;
  lower: number;
  upper: number;
}

/** Candidate − champion on the same rows; a negative log-loss difference means the candidate is better. */
export interface PairedDifferences {
  rows: number;
  resamples: number;
  /** Two-sided coverage of each interval, e.g. 0.9: the lower bound is then the 5th percentile. */
  confidence: number;
  seed: number;
  accuracy: DifferenceInterval;
  macroF1: DifferenceInterval;
  logLoss: DifferenceInterval;
}

export interface BootstrapOptions {
  resamples: number;
  confidence: number;
  seed: number;
}

export const DEFAULT_BOOTSTRAP_SEED = 20_260_119;

/**
 * A small, well-mixed 32-bit generator (splitmix32) returning floats in [0, 1). Exported so a test can
 * redraw the same indices and score them another way.
 */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** One resample's row indices: n draws with replacement, into `out` when given (a buffer reused). */
export function drawIndices(rand: () => number, n: number, out = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * n);
  return out;
}

/** Percentile with linear interpolation between order statistics (numpy.percentile's default). */
export function percentileOf(sorted: ArrayLike<number>, q: number): number {
  const position = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (position - lo);
}

function requireOptions(o: BootstrapOptions): void {
  if (!Number.isInteger(o.resamples) || o.resamples < 100 || o.resamples > 100_000)
    throw new Error(`pairedBootstrap: resamples must be an integer in [100, 100000], got ${o.resamples}`);
  if (!(o.confidence > 0 && o.confidence < 1))
    throw new Error(`pairedBootstrap: confidence must be in (0, 1), e.g. 0.9, got ${o.confidence}`);
}

/**
 * One model's labels as numbers, so a resample's macro F1 is a sum over counts rather than a pass over
 * strings. `scored` marks the labels its macro F1 averages over: those that occur in the whole holdout as
 * truth or as this model's prediction, as evaluate() counts them.
 */
interface Coded {
  truth: Int32Array;
  predicted: Int32Array;
  labels: number;
  scored: Uint8Array;
}

function codeLabels(truth: readonly string[], predicted: readonly string[][]): Coded[] {
  const index = new Map<string, number>();
  const code = (label: string): number => {
    let k = index.get(label);
    if (k === undefined) {
      k = index.size;
      index.set(label, k);
    }
    return k;
  };
  const t = Int32Array.from(truth, code);
  const coded = predicted.map((p) => Int32Array.from(p, code));
  return coded.map((p) => {
    const scored = new Uint8Array(index.size);
    for (let i = 0; i < t.length; i++) scored[t[i]!] = scored[p[i]!] = 1;
    return { truth: t, predicted: p, labels: index.size, scored };
  });
}

/**
 * Macro F1 of the rows `idx` picks over the model's labels, like sklearn's
 * f1_score(average='macro', labels=…, zero_division=0): a label absent from the resample scores 0 for
 * both models alike. `tp`, `fp`, `fn` are scratch arrays.
 */
function macroF1At(c: Coded, idx: Int32Array, tp: Int32Array, fp: Int32Array, fn: Int32Array): number {
  tp.fill(0);
  fp.fill(0);
  fn.fill(0);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]!;
    const t = c.truth[i]!;
    const p = c.predicted[i]!;
    if (t === p) tp[t]!++;
    else {
      fp[p]!++;
      fn[t]!++;
    }
  }
  return macroF1From(c, tp, fp, fn);
}

/** Macro F1 from a resample's counts per label (see macroF1At). */
function macroF1From(c: Coded, tp: Int32Array, fp: Int32Array, fn: Int32Array): number {
  let sum = 0;
  let scored = 0;
  for (let l = 0; l < c.labels; l++) {
    if (c.scored[l] === 0) continue;
    scored++;
    const denom = 2 * tp[l]! + fp[l]! + fn[l]!;
    if (denom > 0) sum += (2 * tp[l]!) / denom;
  }
  return sum / scored;
}

function interval(estimate: number, draws: Float64Array, confidence: number): DifferenceInterval {
  draws.sort();
  const tail = ((1 - confidence) / 2) * 100;
  return { estimate, lower: percentileOf(draws, tail), upper: percentileOf(draws, 100 - tail) };
}

/**
 * The paired percentile bootstrap of candidate − champion. Rows are resampled with replacement
 * `resamples` times; each interval's bounds are the (1 − confidence)/2 and (1 + confidence)/2
 * percentiles of the resampled differences, and its estimate is the difference on all the rows.
 */
export function pairedBootstrap(
  truth: readonly string[],
  candidate: readonly Record<string, number>[],
  champion: readonly Record<string, number>[],
  options: BootstrapOptions,
): PairedDifferences {
  requirePaired(truth, candidate, 'pairedBootstrap (candidate)');
  requirePaired(truth, champion, 'pairedBootstrap (champion)');
  requireOptions(options);
  const n = truth.length;
  const predicted = [candidate.map(predictedLabel), champion.map(predictedLabel)];
  const [cand, champ] = codeLabels(truth, predicted) as [Coded, Coded];
  // Per-row differences: correct (1/0) and log-loss, each model clipped as logLoss clips.
  const correctDiff = new Float64Array(n);
  const lossDiff = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    correctDiff[i] =
      Number(cand.predicted[i] === cand.truth[i]) - Number(champ.predicted[i] === champ.truth[i]);
    lossDiff[i] = rowLoss(truth[i]!, candidate[i]!) - rowLoss(truth[i]!, champion[i]!);
  }
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const scratch = [
    new Int32Array(cand.labels),
    new Int32Array(cand.labels),
    new Int32Array(cand.labels),
  ] as const;
  const f1Diff = (idx: Int32Array): number =>
    macroF1At(cand, idx, ...scratch) - macroF1At(champ, idx, ...scratch);
  const mean = (values: Float64Array, idx: Int32Array): number => {
    let sum = 0;
    for (let k = 0; k < idx.length; k++) sum += values[idx[k]!]!;
    return sum / idx.length;
  };

  const rand = seededUniform(options.seed);
  const acc = new Float64Array(options.resamples);
  const f1 = new Float64Array(options.resamples);
  const loss = new Float64Array(options.resamples);
  // One pass over each resample's rows: both sums (added in draw order, as `mean` adds them) and both
  // models' confusion counts, over draws into one reused buffer.
  const idx = new Int32Array(n);
  const counts = [cand, champ].map((c) => ({
    c,
    tp: new Int32Array(c.labels),
    fp: new Int32Array(c.labels),
    fn: new Int32Array(c.labels),
  }));
  const [a, h] = counts as [(typeof counts)[0], (typeof counts)[0]];
  for (let b = 0; b < options.resamples; b++) {
    drawIndices(rand, n, idx);
    for (const x of counts) {
      x.tp.fill(0);
      x.fp.fill(0);
      x.fn.fill(0);
    }
    let correct = 0;
    let lossSum = 0;
    for (let k = 0; k < n; k++) {
      const i = idx[k]!;
      correct += correctDiff[i]!;
      lossSum += lossDiff[i]!;
      const t = a.c.truth[i]!;
      const p = a.c.predicted[i]!;
      if (t === p) a.tp[t]!++;
      else {
        a.fp[p]!++;
        a.fn[t]!++;
      }
      const q = h.c.predicted[i]!;
      if (t === q) h.tp[t]!++;
      else {
        h.fp[q]!++;
        h.fn[t]!++;
      }
    }
    acc[b] = correct / n;
    f1[b] = macroF1From(a.c, a.tp, a.fp, a.fn) - macroF1From(h.c, h.tp, h.fp, h.fn);
    loss[b] = lossSum / n;
  }
  return {
    rows: n,
    resamples: options.resamples,
    confidence: options.confidence,
    seed: options.seed,
    accuracy: interval(mean(correctDiff, all), acc, options.confidence),
    macroF1: interval(f1Diff(all), f1, options.confidence),
    logLoss: interval(mean(lossDiff, all), loss, options.confidence),
  };
}

/** One row's log-loss, clipped exactly as logLoss() clips (a label missing from the row counts as 0). */
function rowLoss(truth: string, row: Record<string, number>): number {
  return logLoss([truth], [row]);
}
