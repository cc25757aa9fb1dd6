/**
 * A regression candidate's rollout step: its absolute errors against the champion's on the step's traffic
 * with feedback, compared by Welch's t-test (unequal variances, as scipy.stats.ttest_ind with
 * equal_var=False, two-sided). The step fails when the candidate's mean absolute error is higher, the
 * test says so at the policy's alpha, and the gap is more than the policy's tolerated degradation (a
 * share of the champion's MAE); it is inconclusive while either arm has fewer than minSamples rows with
 * feedback, as for classifiers. Latency is checked as for classifiers; the bias (mean of predicted −
 * actual) is reported for each arm. Pure and deterministic.
 */
import { logGamma } from './stats.js';
import type { ArmReport, CheckResult, StepAnalysis } from './policy.js';
import type { Policy } from './schemas.js';

/** Welch's two-sample t-test of `a` against `b`: t > 0 when a's mean is higher. */
export interface WelchTest {
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value; null when both samples are constant (no spread to test against). */
  pValue: number | null;
}

/** Welch's t-test (scipy.stats.ttest_ind(a, b, equal_var=False)), two-sided. Each sample needs 2 values. */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchTest {
  for (const [name, s] of [
    ['first', a],
    ['second', b],
  ] as const) {
    if (s.length < 2)
      throw new Error(`welchTTest: the ${name} sample has ${s.length} value(s); at least 2 are needed`);
    if (s.some((x) => !Number.isFinite(x)))
      throw new Error(`welchTTest: the ${name} sample holds a value that is not a finite number`);
  }
  const [ma, va] = meanAndVariance(a);
  const [mb, vb] = meanAndVariance(b);
  const sa = va / a.length;
  const sb = vb / b.length;
  const se2 = sa + sb;
  if (se2 === 0) return { t: ma === mb ? 0 : Math.sign(ma - mb) * Infinity, df: NaN, pValue: null };
  const t = (ma - mb) / Math.sqrt(se2);
  const df = (se2 * se2) / ((sa * sa) / (a.length - 1) + (sb * sb) / (b.length - 1));
  return { t, df, pValue: studentTTwoSided(t, df) };
}

/** Mean and unbiased variance (ddof 1), the variance by two passes for accuracy. */
function meanAndVariance(xs: readonly number[]): [number, number] {
  let sum = 0;
  for (const x of xs) sum += x;
  const m = sum / xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return [m, ss / (xs.length - 1)];
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSided(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`studentTTwoSided: degrees of freedom must be positive, got ${df}`);
  if (!Number.isFinite(t)) return 0;
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz), on the
 * side of the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges fast.
 */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    // The even step of the fraction, then the odd one.
    for (const coef of [
      (m * (b - m) * x) / ((a + m2 - 1) * (a + m2)),
      -((a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1)),
    ]) {
      d = 1 + coef * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + coef / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** One arm's served rows with feedback: predicted value and the true one, and its p95 latency. */
export interface RegressionArm {
  pairs: readonly { predicted: number; actual: number }[];
  p95LatencyMs: number | null;
}

/** An arm's report for a regressor: no accuracy or calibration, its MAE and bias instead. */
export interface RegressionArmReport extends ArmReport {
  mae: number | null;
  /** Mean of predicted − actual: positive over-predicts. */
  meanError: number | null;
}

export interface RegressionStepAnalysis extends StepAnalysis {
  candidate: RegressionArmReport;
  champion: RegressionArmReport;
  /** The test behind pValue. */
  test: 'welch-t on absolute errors';
}

function armReport(arm: RegressionArm): RegressionArmReport {
  const n = arm.pairs.length;
  let abs = 0;
  let signed = 0;
  for (const p of arm.pairs) {
    abs += Math.abs(p.predicted - p.actual);
    signed += p.predicted - p.actual;
  }
  return {
    n,
    correct: 0,
    meanConfidence: null,
    p95LatencyMs: arm.p95LatencyMs,
    accuracy: null,
    calibrationGap: null,
    mae: n > 0 ? abs / n : null,
    meanError: n > 0 ? signed / n : null,
  };
}

const num = (x: number) =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
const signed = (x: number) => `${x > 0 ? '+' : ''}${num(x)}`;

/** A p-value as a person reads it: four decimals, or two significant digits below 0.0001. */
export const pValueText = (p: number) => (p >= 1e-4 ? p.toFixed(4) : p.toExponential(1));

/** The step's decision for a regressor (see the file's comment). */
export function analyzeRegressionStep(
  candidate: RegressionArm,
  champion: RegressionArm,
  policy: Policy['rollout'],
): RegressionStepAnalysis {
  const cand = armReport(candidate);
  const champ = armReport(champion);
  const base = { candidate: cand, champion: champ, test: 'welch-t on absolute errors' as const };
  if (cand.n < policy.minSamples || champ.n < policy.minSamples)
    return {
      ...base,
      decision: 'inconclusive',
      pValue: null,
      checks: { accuracy: 'skipped', latency: 'skipped', calibration: 'skipped' },
      reason: `too few samples with feedback (candidate ${cand.n}, champion ${champ.n}; need ${policy.minSamples} each)`,
    };
  const errors = (arm: RegressionArm) => arm.pairs.map((p) => Math.abs(p.predicted - p.actual));
  const test = welchTTest(errors(candidate), errors(champion));
  const tolerated = champ.mae! * (1 + policy.maxDegradation);
  const errorsFail = test.pValue !== null && cand.mae! > tolerated && test.pValue < policy.alpha;
  const latencyFails = cand.p95LatencyMs !== null && cand.p95LatencyMs! > policy.maxLatencyP95Ms;
  const p = test.pValue === null ? 'no spread to test' : `Welch p=${pValueText(test.pValue)}`;
  const reasons = [
    `candidate MAE ${num(cand.mae!)} (n=${cand.n}, bias ${signed(cand.meanError!)}) vs champion MAE ${num(champ.mae!)} (n=${champ.n}, bias ${signed(champ.meanError!)}), ${p}: ${errorsFail ? 'significantly worse' : 'not worse beyond tolerance'}`,
  ];
  if (latencyFails)
    reasons.push(`candidate p95 latency ${cand.p95LatencyMs!.toFixed(1)} ms > ${policy.maxLatencyP95Ms} ms`);
  const check = (fails: boolean, measured: boolean): CheckResult =>
    !measured ? 'skipped' : fails ? 'fail' : 'pass';
  return {
    ...base,
    decision: errorsFail || latencyFails ? 'fail' : 'pass',
    pValue: test.pValue,
    checks: {
      accuracy: check(errorsFail, test.pValue !== null),
      latency: check(latencyFails, cand.p95LatencyMs !== null),
      calibration: 'skipped',
    },
    reason: reasons.join('; '),
  };
}
