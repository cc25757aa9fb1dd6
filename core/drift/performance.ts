/**
 * The performance path: the champion's metrics on the window's labeled rows against its baseline, or,
 * while fewer labeled rows than the policy's minimum have arrived, the label-free estimate (CBPE).
 */
import { macroAucOvr } from '../evaluation.js';
import { accuracy, logLoss, macroF1 } from '../metrics.js';
import { isRegressionMetric } from '../performance-metrics.js';
import type { Policy } from '../schemas.js';
import type { EstimateOutcome, PerformanceEstimate } from './estimate.js';
import { describeBaseline } from '../reference.js';
import { describeRegressionPerformance, regressionPerformance } from './regression.js';
import type { BaselineEvidence, PerformanceMetric, ReferenceProfile } from './profile.js';

export interface WindowOutcome {
  /** Ground truth, where feedback has arrived. */
  truth: string;
  /** What the champion predicted for the same request. */
  predicted: string;
  /** The champion's class probabilities, when known (needed for AUC and log-loss). */
  probabilities?: Record<string, number>;
  /** A regression model's truth as a number, null when the feedback is not one (parsed from `truth` when absent). */
  truthValue?: number | null;
  /** A regression model's predicted value (parsed from `predicted` when absent). */
  predictedValue?: number;
}

export interface PerformanceCheck {
  metric: PerformanceMetric;
  labeledRows: number;
  baseline: number | null;
  current: number | null;
  /** How much worse than the baseline (higher is worse for every metric, log-loss included). */
  drop: number | null;
  /** False when fewer labeled rows than the policy's minimum: too few to judge. */
  judged: boolean;
  degraded: boolean;
  /** Every metric measured on the labeled rows (a regressor's also carry its mean error, predicted − actual). */
  metrics: Partial<Record<PerformanceMetric | 'meanError', number | null>>;
  /**
   * A regression error metric's drop relative to its baseline (drop ÷ baseline): what the tolerance and
   * severeDrop judge for MAE, RMSE and MAPE (core/drift/regression.ts). Absent for classifiers and R².
   */
  relativeDrop?: number | null;
  /** A regression baseline's rows (the champion's holdout). */
  baselineRows?: number;
  /** A regression window's feedback that was not a number: counted, left out of the metrics. */
  notNumericLabels?: number;
  baselineAccuracy: number;
  currentAccuracy: number | null;
  /** How many rows the baseline was measured on, with its interval, when the reference says. */
  baselineEvidence?: BaselineEvidence;
  /**
   * What the signal rests on: enough labeled rows (`measured`), the label-free estimate (`estimated`), or
   * neither (`none`). Absent in reports stored before estimates were made (read as measured or none).
   */
  basis?: PerformanceBasis;
  /** The label-free estimate, when labels were too few and one could be made. */
  estimate?: EstimatedPerformance;
  /** Why there is no estimate although labels were too few. */
  estimateUnavailable?: string;
}

export type PerformanceBasis = 'measured' | 'estimated' | 'none';

/** The estimate, and the metric it is judged on against the baseline. */
export interface EstimatedPerformance extends PerformanceEstimate {
  /** accuracy, or macro F1 when the policy judges on it (CBPE estimates no AUC or log-loss). */
  metric: 'accuracy' | 'macroF1';
  baseline: number | null;
  /** How much lower the estimate is than the baseline. */
  drop: number | null;
}

/**
 * An estimate counts as degraded only when it is below the baseline by more than the tolerance and
 * its whole band is below the baseline: on a small window the band is wide, and the estimate alone
 * should not start a cycle that sampling explains.
 */
function judgeEstimate(
  profile: ReferenceProfile,
  metric: PerformanceMetric,
  estimate: PerformanceEstimate,
  policy: Policy['drift'],
): { estimated: EstimatedPerformance; degraded: boolean } {
  const on = metric === 'macroF1' ? 'macroF1' : 'accuracy';
  const raw =
    on === 'macroF1' ? profile.baseline.macroF1 : (profile.baseline.accuracy ?? profile.baselineAccuracy);
  const baseline = raw !== undefined && Number.isFinite(raw) ? raw : null;
  const value = estimate[on];
  const drop = baseline === null ? null : baseline - value.estimate;
  const degraded =
    drop !== null && baseline !== null && drop > policy.performanceTolerance && value.band[1] < baseline;
  return { estimated: { ...estimate, metric: on, baseline, drop }, degraded };
}

export function performance(
  profile: ReferenceProfile,
  outcomes: readonly WindowOutcome[],
  policy: Policy['drift'],
  /** The label-free estimate of the window, used while labels are too few. */
  estimate?: EstimateOutcome,
): PerformanceCheck {
  const metric = policy.performanceMetric;
  if (isRegressionMetric(metric)) return regressionPerformance(profile, outcomes, policy);
  const n = outcomes.length;
  const metrics: PerformanceCheck['metrics'] = {};
  if (n > 0) {
    const truth = outcomes.map((o) => o.truth);
    const predicted = outcomes.map((o) => o.predicted);
    metrics.accuracy = accuracy(truth, predicted);
    metrics.macroF1 = macroF1(truth, predicted);
    if (outcomes.every((o) => o.probabilities)) {
      const probs = outcomes.map((o) => o.probabilities!);
      metrics.auc = macroAucOvr(truth, probs);
      metrics.logLoss = logLoss(truth, probs);
    }
  }
  const baseline = profile.baseline[metric] ?? (metric === 'accuracy' ? profile.baselineAccuracy : undefined);
  const current = metrics[metric] ?? null;
  const drop =
    current === null || baseline === undefined || !Number.isFinite(baseline)
      ? null
      : metric === 'logLoss'
        ? current - baseline
        : baseline - current;
  const judged = n >= policy.minLabeledRows && drop !== null;
  const fromEstimate =
    !judged && estimate && 'estimate' in estimate
      ? judgeEstimate(profile, metric, estimate.estimate, policy)
      : null;
  return {
    metric,
    labeledRows: n,
    baseline: baseline ?? null,
    current,
    drop,
    judged,
    degraded: judged
      ? drop !== null && drop > policy.performanceTolerance
      : (fromEstimate?.degraded ?? false),
    metrics,
    baselineAccuracy: profile.baselineAccuracy,
    ...(profile.baselineEvidence ? { baselineEvidence: profile.baselineEvidence } : {}),
    currentAccuracy: metrics.accuracy ?? null,
    basis: judged ? 'measured' : fromEstimate ? 'estimated' : 'none',
    ...(fromEstimate ? { estimate: fromEstimate.estimated } : {}),
    ...(!judged && estimate && 'unavailable' in estimate
      ? { estimateUnavailable: estimate.unavailable }
      : {}),
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/**
 * The performance signal as one sentence, saying what it rests on: "measured accuracy …" on labeled
 * rows, "estimated accuracy … (CBPE, no labels)" while labels are too few, or why there is neither.
 */
export function describePerformance(perf: PerformanceCheck, minLabeledRows?: number): string {
  if (isRegressionMetric(perf.metric)) return describeRegressionPerformance(perf, minLabeledRows);
  const baseline = describeBaseline(perf.baselineAccuracy, perf.baselineEvidence);
  const measured =
    perf.currentAccuracy === null
      ? null
      : `measured accuracy ${pct(perf.currentAccuracy)} vs baseline ${baseline} on ${perf.labeledRows} labeled rows`;
  const e = perf.estimate;
  if (perf.basis === 'estimated' && e) {
    const labels =
      perf.labeledRows === 0
        ? 'no labels'
        : `${perf.labeledRows} labeled rows${minLabeledRows ? `, fewer than the ${minLabeledRows} needed` : ''}`;
    const over = e.rows < e.windowRows ? `${e.rows} of ${e.windowRows}` : `${e.rows}`;
    const parts = [
      `estimated accuracy ${pct(e.accuracy.estimate)} (CBPE, ${labels}) vs baseline ${baseline}, band ${pct(e.accuracy.band[0])}–${pct(e.accuracy.band[1])} on ${over} rows`,
    ];
    if (e.metric === 'macroF1' && e.baseline !== null)
      parts.push(`estimated macroF1 ${e.macroF1.estimate.toFixed(3)} vs baseline ${e.baseline.toFixed(3)}`);
    return parts.join(', ');
  }
  if (measured === null)
    return `no feedback in the window${perf.estimateUnavailable ? ` and no estimate (${perf.estimateUnavailable})` : ''}`;
  if (perf.basis === 'none' || (perf.basis === undefined && !perf.judged))
    return `${measured}, too few to judge${minLabeledRows ? ` (${minLabeledRows} needed)` : ''}${perf.estimateUnavailable ? ` and no estimate (${perf.estimateUnavailable})` : ''}`;
  return measured;
}
