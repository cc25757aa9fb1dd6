/**
 * The performance path: the champion's metrics on the window's labeled rows against its baseline.
 */
import { macroAucOvr } from '../evaluation.js';
import { accuracy, logLoss, macroF1 } from '../metrics.js';
import type { Policy } from '../schemas.js';
import type { BaselineEvidence, PerformanceMetric, ReferenceProfile } from './profile.js';

export interface WindowOutcome {
  /** Ground truth, where feedback has arrived. */
  truth: string;
  /** What the champion predicted for the same request. */
  predicted: string;
  /** The champion's class probabilities, when known (needed for AUC and log-loss). */
  probabilities?: Record<string, number>;
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
  metrics: Partial<Record<PerformanceMetric, number | null>>;
  baselineAccuracy: number;
  currentAccuracy: number | null;
  /** How many rows the baseline was measured on, with its interval, when the reference says. */
  baselineEvidence?: BaselineEvidence;
}

export function performance(
  profile: ReferenceProfile,
  outcomes: readonly WindowOutcome[],
  policy: Policy['drift'],
): PerformanceCheck {
  const metric = policy.performanceMetric;
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
  return {
    metric,
    labeledRows: n,
    baseline: baseline ?? null,
    current,
    drop,
    judged,
    degraded: judged && drop !== null && drop > policy.performanceTolerance,
    metrics,
    baselineAccuracy: profile.baselineAccuracy,
    ...(profile.baselineEvidence ? { baselineEvidence: profile.baselineEvidence } : {}),
    currentAccuracy: metrics.accuracy ?? null,
  };
}
