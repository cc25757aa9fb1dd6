/**
 * A regression model's window: the performance signal on its numeric feedback (MAE, RMSE, R², MAPE
 * against the champion's holdout errors) and the drift of the target itself (the labeled truths against
 * the reference target, with the test a numeric feature gets, and the target's data-quality checks).
 *
 * How a tolerance reads for an error metric: MAE, RMSE and MAPE have the target's units (or are a
 * fraction of it), so "0.05" as an absolute increase would mean 0.05 mpg for one model and 0.05 dollars
 * for another. `performanceTolerance` and `severeDrop` are therefore RELATIVE increases for them: with
 * the default 0.05 the window is degraded when its MAE is more than 5 % above the holdout MAE, and a
 * severe drop is one of more than 15 %. R² is already on a common scale (1 is perfect), so for R² they are
 * absolute drops, as for accuracy. `drop` always stays in the metric's own units, oriented so that higher
 * is worse (error metrics: current − baseline; R²: baseline − current); `relativeDrop` is the error
 * metrics' drop ÷ baseline, the number the tolerance judges.
 */
import { regressionErrors } from '../regression-metrics.js';
import { readNumericLabel } from '../regression-labels.js';
import { isRegressionMetric, type RegressionMetric } from '../performance-metrics.js';
import type { Policy } from '../schemas.js';
import type { FeatureDrift } from './features.js';
import type { PerformanceCheck, WindowOutcome } from './performance.js';
import {
  targetColumnProfile,
  type NumericProfile,
  type ReferenceProfile,
  type TargetProfile,
} from './profile.js';
import type { QualityIssue } from './quality.js';

/** What the performance check says for a regressor while there are no labels to measure. */
export const NO_REGRESSION_ESTIMATE =
  'a regression model has no label-free estimate, CBPE estimates only a classifier from its probabilities; the signal waits for numeric feedback';

/** The name target issues and the target's drift carry in a report. */
export const TARGET = 'target';

const LABEL: Record<RegressionMetric, string> = { mae: 'MAE', rmse: 'RMSE', r2: 'R²', mape: 'MAPE' };

/** The labeled outcomes whose truth and prediction are both numbers, and how many feedbacks were not. */
export function numericOutcomes(outcomes: readonly WindowOutcome[]): {
  truth: number[];
  predicted: number[];
  notNumeric: number;
  examples: string[];
} {
  const truth: number[] = [];
  const predicted: number[] = [];
  const examples: string[] = [];
  let notNumeric = 0;
  for (const o of outcomes) {
    const value = o.truthValue === undefined ? truthOf(o.truth) : o.truthValue;
    if (value === null) {
      notNumeric++;
      if (examples.length < 3) examples.push(o.truth.length > 20 ? `${o.truth.slice(0, 20)}…` : o.truth);
      continue;
    }
    const p = o.predictedValue ?? Number(o.predicted);
    if (!Number.isFinite(p)) throw new Error(`the champion predicted "${o.predicted}", not a number`);
    truth.push(value);
    predicted.push(p);
  }
  return { truth, predicted, notNumeric, examples };
}

/** A feedback as the number it gives, or null when it is not one (readNumericLabel's rules). */
export function truthOf(feedback: string): number | null {
  const read = readNumericLabel(feedback);
  return 'value' in read ? read.value : null;
}

/**
 * The performance check of a regressor: its error metrics on the window's numeric feedback against the
 * holdout errors stored with its reference (profile.target.holdout), judged once there are at least
 * `minLabeledRows` numeric labels. Feedback that is not a number is counted, not measured.
 */
export function regressionPerformance(
  profile: ReferenceProfile,
  outcomes: readonly WindowOutcome[],
  policy: Policy['drift'],
): PerformanceCheck {
  const metric: RegressionMetric = isRegressionMetric(policy.performanceMetric)
    ? policy.performanceMetric
    : 'mae';
  const rows = numericOutcomes(outcomes);
  const n = rows.truth.length;
  const metrics: PerformanceCheck['metrics'] = {};
  if (n > 0) {
    const e = regressionErrors(rows.truth, rows.predicted);
    Object.assign(metrics, { mae: e.mae, rmse: e.rmse, r2: e.r2, mape: e.mape, meanError: e.meanError });
  }
  const holdout = profile.target?.holdout ?? null;
  const raw = holdout ? holdout[metric] : null;
  const baseline = raw !== null && Number.isFinite(raw) ? raw : null;
  const current = metrics[metric] ?? null;
  const drop =
    current === null || baseline === null ? null : metric === 'r2' ? baseline - current : current - baseline;
  const relativeDrop =
    metric === 'r2' || drop === null || baseline === null ? null : relative(drop, baseline);
  const judgedOn = metric === 'r2' ? drop : relativeDrop;
  const judged = n >= policy.minLabeledRows && judgedOn !== null;
  return {
    metric,
    labeledRows: n,
    baseline,
    current,
    drop,
    ...(metric === 'r2' ? {} : { relativeDrop }),
    judged,
    degraded: judged && judgedOn > policy.performanceTolerance,
    metrics,
    baselineAccuracy: profile.baselineAccuracy,
    currentAccuracy: null,
    ...(holdout ? { baselineRows: holdout.rows } : {}),
    ...(rows.notNumeric > 0 ? { notNumericLabels: rows.notNumeric } : {}),
    basis: judged ? 'measured' : 'none',
    ...(judged
      ? {}
      : {
          estimateUnavailable:
            baseline === null && n >= policy.minLabeledRows
              ? `the champion's reference has no holdout ${LABEL[metric]} to compare with`
              : NO_REGRESSION_ESTIMATE,
        }),
  };
}

/** drop ÷ baseline; a baseline of 0 (a perfect holdout) makes any error an infinite increase. */
function relative(drop: number, baseline: number): number {
  if (baseline > 0) return drop / baseline;
  return drop > 0 ? Infinity : 0;
}

const num = (x: number): string => String(Number(x.toFixed(x !== 0 && Math.abs(x) < 1 ? 3 : 2)));

function value(metric: RegressionMetric, x: number): string {
  return metric === 'mape' ? `${(x * 100).toFixed(1)}%` : num(x);
}

/**
 * A regressor's performance signal as one sentence: "measured MAE 4.12 vs baseline 1.37 (holdout, 35
 * rows) on 62 labeled rows", with the relative increase, too few rows or the feedback that was no number.
 */
export function describeRegressionPerformance(perf: PerformanceCheck, minLabeledRows?: number): string {
  const metric = perf.metric as RegressionMetric;
  const name = LABEL[metric];
  const ignored = perf.notNumericLabels
    ? `; ${perf.notNumericLabels} feedback${perf.notNumericLabels === 1 ? ' was' : 's were'} not a number and not counted`
    : '';
  if (perf.current === null && perf.labeledRows > 0)
    return `${name} is undefined on the window's ${perf.labeledRows} labeled rows (${metric === 'mape' ? 'a truth of 0' : 'every truth the same'}), so performance is not judged: choose another drift.performanceMetric${ignored}`;
  if (perf.current === null)
    return `no numeric feedback in the window${perf.estimateUnavailable ? ` and no estimate (${perf.estimateUnavailable})` : ''}${ignored}`;
  const baseline =
    perf.baseline === null
      ? 'no baseline'
      : `baseline ${value(metric, perf.baseline)} (holdout${perf.baselineRows !== undefined ? `, ${perf.baselineRows} rows` : ''})`;
  const change =
    perf.relativeDrop !== undefined && perf.relativeDrop !== null && Number.isFinite(perf.relativeDrop)
      ? `, ${perf.relativeDrop >= 0 ? '+' : '−'}${Math.abs(perf.relativeDrop * 100).toFixed(0)}%`
      : '';
  const measured = `measured ${name} ${value(metric, perf.current)} vs ${baseline}${change} on ${perf.labeledRows} labeled rows`;
  if (!perf.judged)
    return `${measured}, too few to judge${minLabeledRows ? ` (${minLabeledRows} needed)` : ''}${perf.estimateUnavailable ? ` and no estimate (${perf.estimateUnavailable})` : ''}${ignored}`;
  return `${measured}${ignored}`;
}

/**
 * A regression reference's target: the values the champion trained on (range, mean, population standard
 * deviation and the numeric profile the target's drift test reads) and its errors on a holdout (null
 * without one). Registration builds it; a promoted regressor's reference should too.
 */
export function buildTargetProfile(
  values: readonly number[],
  holdout: { rows: number; mae: number; rmse: number; r2: number | null; mape: number | null } | null,
): TargetProfile {
  if (values.length === 0) throw new Error('a target profile needs at least one value');
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new Error(`a target value is not a finite number (${String(v)})`);
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = sum / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return {
    rows: values.length,
    min,
    max,
    mean,
    std: Math.sqrt(variance),
    holdout:
      holdout === null
        ? null
        : { rows: holdout.rows, mae: holdout.mae, rmse: holdout.rmse, r2: holdout.r2, mape: holdout.mape },
    profile: targetColumnProfile(values),
  };
}

/** The target's side of a regression window: its drift against the reference target and its quality. */
export interface TargetDrift {
  /** Feedback rows in the window (numbers or not). */
  labeledRows: number;
  /** Feedback that is not a number (up to three shown in `examples`). */
  notNumeric: number;
  examples: string[];
  /** The test of the numeric truths against the reference target; null when not measured. */
  drift: FeatureDrift | null;
  /** Why the target's drift was not measured. */
  notMeasured?: string;
  quality: QualityIssue[];
}

/**
 * The reference target's numeric profile as a one-column reference the feature tests read (its test
 * chosen by the same rule as a numeric feature's; no per-feature policy or learned threshold applies).
 */
export function targetReference(profile: ReferenceProfile): {
  reference: ReferenceProfile;
  column: NumericProfile;
} | null {
  const column = profile.target?.profile;
  if (!column) return null;
  return {
    reference: { ...profile, rows: column.count, features: { [TARGET]: column }, learned: {} },
    column,
  };
}

/** The target's drift as a clause: "target drifted (ks p=1.2e-5, threshold 0.05, PSI 0.84)", or why it was not measured. */
export function describeTargetDrift(t: TargetDrift): string {
  const d = t.drift;
  if (!d) return `target drift not measured (${t.notMeasured ?? 'no test'})`;
  const stat =
    d.pValue !== null
      ? `${d.test} p=${fmtP(d.adjustedPValue ?? d.pValue)}, threshold ${d.threshold}`
      : `${d.test} ${num(d.statistic)}, threshold ${num(d.threshold)}`;
  return `target ${d.drifted ? 'drifted' : 'stable'} (${stat}, PSI ${d.psi.toFixed(2)})`;
}

function fmtP(p: number): string {
  return p < 0.0001 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}
