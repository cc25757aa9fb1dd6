/**
 * Recalibration as a remedy: a calibrator fitted on new labels on top of a model's probabilities, and
 * the decision of when it is enough (the model still ranks as well as on its reference, but its
 * probabilities or the label mix moved). Pure: no I/O, no randomness; the fit is Newton's method from a
 * fixed start, so the same rows give the same calibrator.
 *
 * The calibrator is vector scaling without weights: z_c = ln p_c / T + b_c, q = softmax(z). A
 * temperature T corrects over- or under-confidence; a per-class bias b_c corrects a change of the class
 * priors (a label-mix shift moves ln p(y|x) by ln(π'_y/π_y), exactly a bias). With two classes it is
 * Platt scaling on the base model's log-odds. 'temperature' fits T alone.
 */
import { z } from 'zod';
import type { Prediction } from './model.js';

export type CalibrationMethod = 'vector' | 'temperature';

export interface Calibrator {
  method: CalibrationMethod;
  /** The classes, in the order of `bias`. */
  classes: string[];
  /** Divides the log-probabilities: above 1 softens, below 1 sharpens. */
  temperature: number;
  /** Added to the tempered log-probability of each class (all 0 for 'temperature'). */
  bias: number[];
  /** Probabilities are raised to at least this before the logarithm (a forest's 0 would be −∞). */
  floor: number;
}

export const CalibratorSchema = z.object({
  method: z.enum(['vector', 'temperature']),
  classes: z.array(z.string()).min(2),
  temperature: z.number().positive(),
  bias: z.array(z.number()),
  floor: z.number().gt(0).lt(1),
});

export const PROBABILITY_FLOOR = 1e-6;

/** The calibrated probabilities of one row of base probabilities (keyed by class). */
export function applyCalibrator(
  cal: Calibrator,
  probabilities: Record<string, number>,
): Record<string, number> {
  const z = cal.classes.map(
    (c, k) => Math.log(Math.max(probabilities[c] ?? 0, cal.floor)) / cal.temperature + cal.bias[k]!,
  );
  const q = softmax(z);
  const out: Record<string, number> = {};
  cal.classes.forEach((c, k) => (out[c] = q[k]!));
  return out;
}

/** A base prediction with its probabilities calibrated, and the label and confidence they give. */
export function calibratePrediction(cal: Calibrator, p: Prediction): Prediction {
  const probabilities = applyCalibrator(cal, p.probabilities);
  let label = cal.classes[0]!;
  for (const c of cal.classes) if (probabilities[c]! > probabilities[label]!) label = c;
  return { label, confidence: probabilities[label]!, probabilities };
}

export interface CalibratorFit {
  calibrator: Calibrator;
  /** Newton steps taken until the gradient vanished (or the cap). */
  iterations: number;
  /** Mean log-loss of the base probabilities and of the calibrated ones on the rows fitted on. */
  logLossBefore: number;
  logLossAfter: number;
}

export interface FitOptions {
  method?: CalibrationMethod;
  /** Newton iterations at most (default 100). */
  maxIterations?: number;
}

/**
 * Fits the calibrator by minimising the mean log-loss on (probabilities, truth), with a unit-normal prior
 * on each bias and on 1/T − 1 worth one row of evidence (a ridge of 1/n): a class the new labels never
 * show keeps a finite bias, and few rows move the calibrator little. The objective is convex in
 * (1/T, b), so Newton's method from the identity (T = 1, b = 0) with a backtracking line search finds
 * its one minimum.
 */
export function fitCalibrator(
  probabilities: readonly Record<string, number>[],
  truth: readonly string[],
  classes: readonly string[],
  opts: FitOptions = {},
): CalibratorFit {
  const method = opts.method ?? 'vector';
  const n = truth.length;
  if (n !== probabilities.length)
    throw new Error(`fitCalibrator: ${n} labels but ${probabilities.length} rows of probabilities`);
  if (n === 0) throw new Error('fitCalibrator: no labeled rows to fit on');
  if (classes.length < 2) throw new Error('fitCalibrator: a calibrator needs at least two classes');
  const K = classes.length;
  const index = new Map(classes.map((c, k) => [c, k]));
  const y = truth.map((t, i) => {
    const k = index.get(t);
    if (k === undefined)
      throw new Error(`fitCalibrator: row ${i} is labeled "${t}", not one of ${classes.join(', ')}`);
    return k;
  });
  const logs = probabilities.map((row) =>
    classes.map((c) => Math.log(Math.max(row[c] ?? 0, PROBABILITY_FLOOR))),
  );
  const dims = method === 'vector' ? 1 + K : 1;
  const ridge = 1 / n;
  // θ = (a, b_0..b_{K−1}) with a = 1/T; the prior pulls toward (1, 0, …, 0).
  const objective = (theta: number[]): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum -= Math.log(softmax(logits(theta, logs[i]!, K))[y[i]!]!);
    return sum / n + (ridge / 2) * penalty(theta);
  };
  let theta = [1, ...new Array<number>(dims - 1).fill(0)];
  let current = objective(theta);
  let iterations = 0;
  for (; iterations < (opts.maxIterations ?? 100); iterations++) {
    const { gradient, hessian } = derivatives(theta, logs, y, K, dims, ridge);
    if (Math.max(...gradient.map(Math.abs)) < 1e-9) break;
    const step = solve(hessian, gradient);
    let t = 1;
    let next = theta.map((v, j) => v - step[j]!);
    let value = objective(next);
    while ((!(value <= current) || next[0]! <= 0) && t > 1e-10) {
      t /= 2;
      next = theta.map((v, j) => v - t * step[j]!);
      value = objective(next);
    }
    if (!(value <= current) || next[0]! <= 0) break;
    const gain = current - value;
    theta = next;
    current = value;
    if (gain < 1e-14) break;
  }
  const calibrator: Calibrator = {
    method,
    classes: [...classes],
    temperature: 1 / theta[0]!,
    bias: method === 'vector' ? theta.slice(1) : new Array<number>(K).fill(0),
    floor: PROBABILITY_FLOOR,
  };
  return {
    calibrator,
    iterations,
    logLossBefore: meanLogLoss(probabilities, y, classes),
    logLossAfter: meanLogLoss(
      probabilities.map((p) => applyCalibrator(calibrator, p)),
      y,
      classes,
    ),
  };
}

function penalty(theta: readonly number[]): number {
  let s = (theta[0]! - 1) ** 2;
  for (let j = 1; j < theta.length; j++) s += theta[j]! ** 2;
  return s;
}

function logits(theta: readonly number[], logp: readonly number[], K: number): number[] {
  const z = new Array<number>(K);
  for (let c = 0; c < K; c++) z[c] = theta[0]! * logp[c]! + (theta.length > 1 ? theta[1 + c]! : 0);
  return z;
}

/** Gradient and Hessian of the mean log-loss plus the ridge, in θ = (a, b…). */
function derivatives(
  theta: readonly number[],
  logs: readonly number[][],
  y: readonly number[],
  K: number,
  dims: number,
  ridge: number,
): { gradient: number[]; hessian: number[][] } {
  const n = logs.length;
  const g = new Array<number>(dims).fill(0);
  const H = Array.from({ length: dims }, () => new Array<number>(dims).fill(0));
  for (let i = 0; i < n; i++) {
    const l = logs[i]!;
    const q = softmax(logits(theta, l, K));
    let ql = 0;
    let qll = 0;
    for (let c = 0; c < K; c++) {
      ql += q[c]! * l[c]!;
      qll += q[c]! * l[c]! * l[c]!;
    }
    // d/dz of the row's loss is q − onehot(y); z = a·l + b.
    g[0]! += ql - l[y[i]!]!;
    H[0]![0]! += qll - ql * ql;
    if (dims === 1) continue;
    for (let c = 0; c < K; c++) {
      g[1 + c]! += q[c]! - (c === y[i] ? 1 : 0);
      const cross = q[c]! * (l[c]! - ql);
      H[0]![1 + c]! += cross;
      H[1 + c]![0]! += cross;
      for (let d = 0; d < K; d++) H[1 + c]![1 + d]! += (c === d ? q[c]! : 0) - q[c]! * q[d]!;
    }
  }
  const prior = [1, ...new Array<number>(dims - 1).fill(0)];
  for (let j = 0; j < dims; j++) {
    g[j] = g[j]! / n + ridge * (theta[j]! - prior[j]!);
    for (let k = 0; k < dims; k++) H[j]![k] = H[j]![k]! / n + (j === k ? ridge : 0);
  }
  return { gradient: g, hessian: H };
}

/** Solves H x = g by Gaussian elimination with partial pivoting (H is small and positive definite). */
function solve(H: readonly number[][], g: readonly number[]): number[] {
  const m = g.length;
  const a = H.map((row, i) => [...row, g[i]!]);
  for (let col = 0; col < m; col++) {
    let pivot = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = col + 1; r < m; r++) {
      const f = a[r]![col]! / a[col]![col]!;
      for (let k = col; k <= m; k++) a[r]![k]! -= f * a[col]![k]!;
    }
  }
  const x = new Array<number>(m).fill(0);
  for (let r = m - 1; r >= 0; r--) {
    let s = a[r]![m]!;
    for (let k = r + 1; k < m; k++) s -= a[r]![k]! * x[k]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

function softmax(z: readonly number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

function meanLogLoss(
  probabilities: readonly Record<string, number>[],
  y: readonly number[],
  classes: readonly string[],
): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++)
    sum -= Math.log(Math.max(probabilities[i]![classes[y[i]!]!] ?? 0, 1e-15));
  return sum / y.length;
}

export interface RecalibrationPolicy {
  recalibrate: 'off' | 'auto';
  recalibration: {
    aucTolerance: number;
    minRows: number;
    minEceIncrease: number;
    minLabelPsi: number;
    method: CalibrationMethod;
    judgeOn?: 'logLoss' | 'policy';
    minLogLossGain?: number;
  };
}

/**
 * The evaluation policy a candidate is judged by: a recalibrated champion (`trainer: recalibration` in its
 * version's metrics) is judged on its log-loss reduction unless its policy said `judgeOn: policy`;
 * every other candidate, and a recalibration registered before this setting existed, by the policy as is.
 */
export function judgingPolicy<P extends { metric: 'accuracy' | 'macroF1' | 'logLoss'; minGain: number }>(
  policy: P,
  candidateMetrics: Record<string, unknown>,
): P {
  if (candidateMetrics.trainer !== 'recalibration') return policy;
  const config = candidateMetrics.config as
    { recalibration?: Partial<RecalibrationPolicy['recalibration']> } | undefined;
  const settings = config?.recalibration;
  if (!settings?.judgeOn || settings.judgeOn === 'policy') return policy;
  return { ...policy, metric: 'logLoss', minGain: settings.minLogLossGain ?? 0.01 };
}

/** What the champion shows on its reference holdout and on the cycle's new labels. */
export interface RecalibrationEvidence {
  reference: { rows: number; auc: number | null; ece: number | null };
  current: { rows: number; auc: number | null; ece: number | null };
  /** How far the new labels' mix is from the reference's (PSI), and where that was measured. */
  labelPsi: number | null;
}

export interface RecalibrationDecision {
  recalibrate: boolean;
  /** Why, in a sentence a reviewer reads in the report and on the model card. */
  reason: string;
}

const f3 = (v: number) => v.toFixed(3);

/**
 * Recalibrate instead of retraining when the champion still ranks the new labels as well as its
 * reference (macro one-vs-rest AUC at most `aucTolerance` lower) and what moved is its calibration (ECE
 * up by `minEceIncrease`) or the label mix (PSI at least `minLabelPsi`). Everything else retrains.
 */
export function decideRecalibration(
  policy: RecalibrationPolicy,
  e: RecalibrationEvidence,
): RecalibrationDecision {
  const p = policy.recalibration;
  const no = (why: string): RecalibrationDecision => ({ recalibrate: false, reason: `retrained: ${why}` });
  if (policy.recalibrate === 'off') return no('training.recalibrate is off');
  if (e.current.rows < p.minRows)
    return no(
      `${e.current.rows} labeled training rows, fewer than the ${p.minRows} a calibrator is fitted on (training.recalibration.minRows)`,
    );
  if (e.reference.auc === null || e.current.auc === null)
    return no(
      e.reference.auc === null
        ? "the champion's reference has no labeled holdout with two classes to compare its AUC with"
        : 'the new labels have one class only, so the AUC is undefined',
    );
  const aucs = `champion AUC ${f3(e.current.auc)} on ${e.current.rows} new labels vs ${f3(e.reference.auc)} on ${e.reference.rows} reference rows`;
  const drop = e.reference.auc - e.current.auc;
  if (drop > p.aucTolerance)
    return no(`${aucs}: the ranking moved by ${f3(drop)}, more than the tolerance ${f3(p.aucTolerance)}`);
  const moved: string[] = [];
  if (
    e.current.ece !== null &&
    e.reference.ece !== null &&
    e.current.ece - e.reference.ece >= p.minEceIncrease
  )
    moved.push(`calibration error ${f3(e.reference.ece)} → ${f3(e.current.ece)}`);
  if (e.labelPsi !== null && e.labelPsi >= p.minLabelPsi) moved.push(`label mix PSI ${f3(e.labelPsi)}`);
  if (moved.length === 0)
    return no(
      `${aucs} (ranking holds), but neither the calibration nor the label mix moved (ECE ${e.reference.ece === null ? 'n/a' : f3(e.reference.ece)} → ${e.current.ece === null ? 'n/a' : f3(e.current.ece)}, label PSI ${e.labelPsi === null ? 'n/a' : f3(e.labelPsi)})`,
    );
  return {
    recalibrate: true,
    reason: `${aucs} (within ${f3(p.aucTolerance)}), while ${moved.join(' and ')}`,
  };
}

/** "vector scaling: temperature 1.12, biases fog −0.41, rain +0.63": the calibrator in words. */
export function describeCalibrator(cal: Calibrator): string {
  const sign = (v: number) => `${v < 0 ? '−' : '+'}${Math.abs(v).toFixed(2)}`;
  const temp = `temperature ${cal.temperature.toFixed(2)}`;
  if (cal.method === 'temperature') return `temperature scaling: ${temp}`;
  return `vector scaling: ${temp}, biases ${cal.classes.map((c, k) => `${c} ${sign(cal.bias[k]!)}`).join(', ')}`;
}
