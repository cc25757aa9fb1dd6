/**
 * Policy decisions: pure functions the workflows call (they are deterministic) and the CLI reuses.
 */
import type { DriftReport } from './drift.js';
import { describePerformance } from './drift/performance.js';
import { describeTargetDrift } from './drift/regression.js';
import { isRegressionMetric } from './performance-metrics.js';
import type { Policy } from './schemas.js';
import { describeSelection } from './window.js';
import { fnv1a } from './hash.js';
import { twoProportionZTest } from './metrics.js';

export type Severity = 'none' | 'mild' | 'severe';
export type Signal = 'performance' | 'features' | 'label-shift' | 'data-quality';
/** What a check leads to: nothing, a fine-tune (mild), a full cycle (severe), or a data-quality incident. */
export type Route = 'none' | 'fine-tune' | 'full-cycle' | 'data-quality';

export interface Diagnosis {
  severity: Severity;
  signals: Signal[];
  route: Route;
  rankedFeatures: { feature: string; psi: number; test?: string; statistic?: number; score?: number }[];
  reason: string;
}

/** A label distribution this far (PSI) from the reference's is a label shift. */
export const LABEL_SHIFT_PSI = 0.25;

/**
 * Severity from the drifted share, the size of the statistics and the performance drop; the route from
 * severity and evidence. Data quality comes first: a broken feed is an incident, never a reason to
 * retrain. Feature drift while measured performance holds is observed, not acted on, unless the policy
 * says `featureDriftAlone: act`.
 */
export function diagnose(report: DriftReport, policy: Policy['drift']): Diagnosis {
  const signals: Signal[] = [];
  const perf = report.performance;
  if (perf.degraded) signals.push('performance');
  if (report.datasetDrifted) signals.push('features');
  if (report.labelShiftPsi !== null && report.labelShiftPsi >= LABEL_SHIFT_PSI) signals.push('label-shift');
  // A regression model's label shift: its numeric target drifted from the reference target.
  if (report.target?.drift?.drifted) signals.push('label-shift');
  const incident = report.dataQuality?.incident === true;
  if (incident) signals.push('data-quality');
  const rankedFeatures = report.features
    .filter((f) => f.drifted)
    .map((f) => ({ feature: f.feature, psi: f.psi, test: f.test, statistic: f.statistic, score: f.score }));
  // The drop the signal rests on: measured on labeled rows, or estimated without them (a regression
  // error metric's relative to its baseline, as its tolerance is: core/drift/regression.ts).
  const drop = (perf.basis === 'estimated' ? perf.estimate?.drop : (perf.relativeDrop ?? perf.drop)) ?? 0;
  const strongStatistics = report.features.some((f) => f.drifted && (f.score ?? 0) >= 5);
  let severity: Severity = 'none';
  if (signals.includes('performance') || signals.includes('features')) {
    severity =
      (perf.degraded && drop >= policy.severeDrop) ||
      report.driftedShare >= 0.75 ||
      (report.datasetDrifted && strongStatistics && !perf.judged)
        ? 'severe'
        : 'mild';
  }
  let route: Route = severity === 'severe' ? 'full-cycle' : severity === 'mild' ? 'fine-tune' : 'none';
  const observeOnly =
    !perf.degraded &&
    perf.judged &&
    signals.includes('features') &&
    (policy.featureDriftAlone ?? 'observe') === 'observe';
  if (observeOnly) route = 'none';
  if (incident) route = 'data-quality';

  const parts = [
    `${(report.driftedShare * 100).toFixed(0)}% of features drifted${report.window ? ` (${describeSelection(report.window)})` : ''}`,
    describePerformance(perf, policy.minLabeledRows),
  ];
  if (
    perf.metric &&
    perf.metric !== 'accuracy' &&
    !isRegressionMetric(perf.metric) &&
    perf.current !== null &&
    perf.baseline !== null
  )
    parts.push(`${perf.metric} ${perf.current.toFixed(3)} vs baseline ${perf.baseline.toFixed(3)}`);
  if (report.labelShiftPsi !== null) parts.push(`label PSI ${report.labelShiftPsi.toFixed(3)}`);
  if (report.target) parts.push(describeTargetDrift(report.target));
  if (observeOnly) parts.push('performance holds, so feature drift is observed, not acted on');
  if (incident)
    parts.push(
      `data-quality incident: ${report.dataQuality.issues.map((i) => `${i.feature} ${i.kind} (${pct(i.share)})`).join(', ')}`,
    );
  return { severity, signals, route, rankedFeatures, reason: parts.join(', ') };
}

/** One arm of a canary comparison: requests with feedback, how many were right, and serving health. */
export interface ArmMetrics {
  /** Requests whose ground truth has arrived. */
  n: number;
  correct: number;
  /** Mean confidence on those requests; its gap to accuracy is the calibration error. */
  meanConfidence?: number | null;
  p95LatencyMs?: number | null;
}

export type StepDecision = 'pass' | 'fail' | 'inconclusive';
export type CheckResult = 'pass' | 'fail' | 'skipped';

export interface ArmReport extends ArmMetrics {
  accuracy: number | null;
  calibrationGap: number | null;
}

export interface StepAnalysis {
  decision: StepDecision;
  candidate: ArmReport;
  champion: ArmReport;
  pValue: number | null;
  checks: { accuracy: CheckResult; latency: CheckResult; calibration: CheckResult };
  reason: string;
}

/**
 * Canary analysis on feedback. Inconclusive while either arm has fewer samples than the policy's
 * minimum. Otherwise it fails when any check fails:
 * - accuracy: the candidate is worse by more than the allowed degradation and the two-proportion
 *   z-test says the difference is significant;
 * - latency: the candidate's p95 exceeds the policy's bound;
 * - calibration: the candidate's |mean confidence − accuracy| exceeds the bound and the champion's.
 */
export function analyzeStep(
  candidate: ArmMetrics,
  champion: ArmMetrics,
  policy: Policy['rollout'],
): StepAnalysis {
  const report = (a: ArmMetrics): ArmReport => {
    const accuracy = a.n > 0 ? a.correct / a.n : null;
    const calibrationGap =
      accuracy !== null && a.meanConfidence !== undefined && a.meanConfidence !== null
        ? Math.abs(a.meanConfidence - accuracy)
        : null;
    return { ...a, accuracy, calibrationGap };
  };
  const cand = report(candidate);
  const champ = report(champion);
  if (candidate.n < policy.minSamples || champion.n < policy.minSamples) {
    return {
      decision: 'inconclusive',
      candidate: cand,
      champion: champ,
      pValue: null,
      checks: { accuracy: 'skipped', latency: 'skipped', calibration: 'skipped' },
      reason: `too few samples with feedback (candidate ${candidate.n}, champion ${champion.n}; need ${policy.minSamples} each)`,
    };
  }
  const test = twoProportionZTest(candidate.correct, candidate.n, champion.correct, champion.n);
  const accuracyFails = test.diff < -policy.maxDegradation && test.pValue < policy.alpha;
  const latencyFails =
    cand.p95LatencyMs !== undefined &&
    cand.p95LatencyMs !== null &&
    cand.p95LatencyMs > policy.maxLatencyP95Ms;
  const calibrationFails =
    cand.calibrationGap !== null &&
    cand.calibrationGap > policy.maxCalibrationGap &&
    cand.calibrationGap > (champ.calibrationGap ?? 0);
  const reasons = [
    `candidate ${pct(cand.accuracy!)} (n=${candidate.n}) vs champion ${pct(champ.accuracy!)} (n=${champion.n}), p=${test.pValue.toFixed(4)}: ${accuracyFails ? 'significantly worse' : 'not worse beyond tolerance'}`,
  ];
  if (latencyFails)
    reasons.push(`candidate p95 latency ${cand.p95LatencyMs!.toFixed(1)} ms > ${policy.maxLatencyP95Ms} ms`);
  if (calibrationFails)
    reasons.push(
      `candidate calibration gap ${cand.calibrationGap!.toFixed(3)} > ${policy.maxCalibrationGap}`,
    );
  const check = (fails: boolean, measured: boolean): CheckResult =>
    !measured ? 'skipped' : fails ? 'fail' : 'pass';
  return {
    decision: accuracyFails || latencyFails || calibrationFails ? 'fail' : 'pass',
    candidate: cand,
    champion: champ,
    pValue: test.pValue,
    checks: {
      accuracy: check(accuracyFails, true),
      latency: check(latencyFails, cand.p95LatencyMs !== undefined && cand.p95LatencyMs !== null),
      calibration: check(calibrationFails, cand.calibrationGap !== null),
    },
    reason: reasons.join('; '),
  };
}

/** Sticky routing: a request key always lands in the same bucket 0..99 (FNV-1a). */
export function trafficBucket(key: string): number {
  return fnv1a(key) % 100;
}

export function routesToCandidate(key: string, candidateWeight: number): boolean {
  return trafficBucket(key) < candidateWeight;
}

/** Deterministic holdout assignment by key, so a dataset's split never depends on row order. */
export function isHoldout(key: string, holdoutShare: number): boolean {
  return trafficBucket(`holdout:${key}`) < Math.round(holdoutShare * 100);
}

/**
 * The record keys a window's dataset holds out. `random`: by key (isHoldout). `latest`: the latest
 * `holdoutShare` of the rows by record time (ties by key), so the candidate is judged on the period that
 * follows everything it trained on. Neither depends on the order of `rows`.
 */
export function holdoutKeys(
  rows: readonly { recordKey: string; ts: string }[],
  holdoutShare: number,
  mode: 'random' | 'latest',
): Set<string> {
  if (mode === 'random')
    return new Set(rows.filter((r) => isHoldout(r.recordKey, holdoutShare)).map((r) => r.recordKey));
  const timed = rows.map((r) => {
    const t = Date.parse(r.ts);
    if (Number.isNaN(t)) throw new Error(`holdoutKeys: record ${r.recordKey} has no valid time ("${r.ts}")`);
    return { key: r.recordKey, t };
  });
  timed.sort((a, b) => a.t - b.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const held = Math.round(timed.length * holdoutShare);
  return new Set(timed.slice(timed.length - held).map((r) => r.key));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/**
 * The order in which people are asked: random (a stable shuffle, the baseline), or flagged failure cases
 * first (the more severe first) and then the least certain by `uncertainty` (lowest top probability) or
 * `margin` (smallest gap between the two most likely labels). Ties break by record key.
 */
export function orderForLabeling<T extends { recordKey: string; confidence: number; margin: number }>(
  items: readonly T[],
  strategy: 'uncertainty' | 'margin' | 'random',
  rank: (recordKey: string) => number,
  salt: string,
): T[] {
  const byKey = (a: T, b: T) => (a.recordKey < b.recordKey ? -1 : a.recordKey > b.recordKey ? 1 : 0);
  if (strategy === 'random')
    return [...items].sort(
      (a, b) => fnv1a(`${salt}:${a.recordKey}`) - fnv1a(`${salt}:${b.recordKey}`) || byKey(a, b),
    );
  const score = (s: T) => (strategy === 'margin' ? s.margin : s.confidence);
  return [...items].sort(
    (a, b) => rank(a.recordKey) - rank(b.recordKey) || score(a) - score(b) || byKey(a, b),
  );
}
