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

/** A sample as Welch's test reads it: its size, mean and unbiased variance (ddof 1). */
export interface SampleMoments {
  n: number;
  mean: number;
  variance: number;
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
  return welchFromMoments(momentsOf(a), momentsOf(b));
}

/** Welch's t-test from each sample's size, mean and variance (what a metrics store keeps), two-sided. */
export function welchFromMoments(a: SampleMoments, b: SampleMoments): WelchTest {
  const sa = a.variance / a.n;
  const sb = b.variance / b.n;
  const se2 = sa + sb;
  if (se2 === 0)
    return { t: a.mean === b.mean ? 0 : Math.sign(a.mean - b.mean) * Infinity, df: NaN, pValue: null };
  const t = (a.mean - b.mean) / Math.sqrt(se2);
  const df = (se2 * se2) / ((sa * sa) / (a.n - 1) + (sb * sb) / (b.n - 1));
  return { t, df, pValue: studentTTwoSided(t, df) };
}

/** Size, mean and unbiased variance (ddof 1), the variance by two passes for accuracy. */
function momentsOf(xs: readonly number[]): SampleMoments {
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { n: xs.length, mean, variance: xs.length > 1 ? ss / (xs.length - 1) : 0 };
}

/**
 * An arm's absolute errors from the running sums a metrics store keeps (their count, their sum, and the
 * sum of squared errors, which is the sum of squared absolute errors): mean and variance by
 * (Σe² − (Σ|e|)²/n)/(n − 1), never below 0 where rounding would take it there.
 */
export function momentsFromSums(s: { count: number; sum: number; squaredSum: number }): SampleMoments {
  const n = s.count;
  if (n <= 0) return { n: 0, mean: 0, variance: 0 };
  const variance = n > 1 ? Math.max(0, (s.squaredSum - (s.sum * s.sum) / n) / (n - 1)) : 0;
  return { n, mean: s.sum / n, variance };
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

/**
 * One arm's served rows with feedback: the predicted value and the true one for each, or, from a metrics
 * store, only the moments of the absolute errors (no bias then); and its p95 latency.
 */
export type RegressionArm = { p95LatencyMs: number | null } & (
  { pairs: readonly { predicted: number; actual: number }[] } | { absoluteErrors: SampleMoments }
);

/** An arm's report for a regressor: no accuracy or calibration, its MAE and bias instead. */
export interface RegressionArmReport extends ArmReport {
  mae: number | null;
  /** Mean of predicted − actual: positive over-predicts; null where only error sizes are known. */
  meanError: number | null;
}

export interface RegressionStepAnalysis extends StepAnalysis {
  candidate: RegressionArmReport;
  champion: RegressionArmReport;
  /** The test behind pValue. */
  test: 'welch-t on absolute errors';
}

/** The arm's absolute errors as Welch's test reads them, and its bias when the pairs are known. */
function armErrors(arm: RegressionArm): { moments: SampleMoments; bias: number | null } {
  if ('absoluteErrors' in arm) return { moments: arm.absoluteErrors, bias: null };
  let signed = 0;
  for (const p of arm.pairs) signed += p.predicted - p.actual;
  return {
    moments: momentsOf(arm.pairs.map((p) => Math.abs(p.predicted - p.actual))),
    bias: arm.pairs.length > 0 ? signed / arm.pairs.length : null,
  };
}

function armReport(arm: RegressionArm, e: ReturnType<typeof armErrors>): RegressionArmReport {
  const n = e.moments.n;
  return {
    n,
    correct: 0,
    meanConfidence: null,
    p95LatencyMs: arm.p95LatencyMs,
    accuracy: null,
    calibrationGap: null,
    mae: n > 0 ? e.moments.mean : null,
    meanError: e.bias,
  };
}

const num = (x: number) =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
const signed = (x: number) => `${x > 0 ? '+' : ''}${num(x)}`;
const biasText = (x: number | null) => (x === null ? '' : `, bias ${signed(x)}`);

/** A p-value as a person reads it: four decimals, or two significant digits below 0.0001. */
export const pValueText = (p: number) => (p >= 1e-4 ? p.toFixed(4) : p.toExponential(1));

/** The step's decision for a regressor (see the file's comment). */
export function analyzeRegressionStep(
  candidate: RegressionArm,
  champion: RegressionArm,
  policy: Policy['rollout'],
): RegressionStepAnalysis {
  const candErrors = armErrors(candidate);
  const champErrors = armErrors(champion);
  const cand = armReport(candidate, candErrors);
  const champ = armReport(champion, champErrors);
  const base = { candidate: cand, champion: champ, test: 'welch-t on absolute errors' as const };
  // Welch's test needs two errors an arm, whatever minSamples says.
  const need = Math.max(2, policy.minSamples);
  if (cand.n < need || champ.n < need)
    return {
      ...base,
      decision: 'inconclusive',
      pValue: null,
      checks: { accuracy: 'skipped', latency: 'skipped', calibration: 'skipped' },
      reason: `too few samples with feedback (candidate ${cand.n}, champion ${champ.n}; need ${need} each)`,
    };
  const test = welchFromMoments(candErrors.moments, champErrors.moments);
  const tolerated = champ.mae! * (1 + policy.maxDegradation);
  const errorsFail = test.pValue !== null && cand.mae! > tolerated && test.pValue < policy.alpha;
  const latencyFails = cand.p95LatencyMs !== null && cand.p95LatencyMs! > policy.maxLatencyP95Ms;
  const p = test.pValue === null ? 'no spread to test' : `Welch p=${pValueText(test.pValue)}`;
  const reasons = [
    `candidate MAE ${num(cand.mae!)} (n=${cand.n}${biasText(cand.meanError)}) vs champion MAE ${num(champ.mae!)} (n=${champ.n}${biasText(champ.meanError)}), ${p}: ${errorsFail ? 'significantly worse' : 'not worse beyond tolerance'}`,
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
