/**
 * Policy decisions: pure functions the workflows call (they are deterministic) and the CLI reuses.
 */
import type { DriftReport } from './drift.js';
import type { Policy } from './schemas.js';
import { twoProportionZTest } from './metrics.js';

export type Severity = 'none' | 'mild' | 'severe';
export type Signal = 'performance' | 'features' | 'label-shift';

export interface Diagnosis {
  severity: Severity;
  signals: Signal[];
  rankedFeatures: { feature: string; psi: number }[];
  reason: string;
}

const LABEL_SHIFT_PSI = 0.25;

export function diagnose(report: DriftReport, policy: Policy['drift']): Diagnosis {
  const signals: Signal[] = [];
  if (report.performance.degraded) signals.push('performance');
  if (report.datasetDrifted) signals.push('features');
  if (report.labelShiftPsi !== null && report.labelShiftPsi >= LABEL_SHIFT_PSI) signals.push('label-shift');
  const rankedFeatures = report.features
    .filter((f) => f.drifted)
    .map((f) => ({ feature: f.feature, psi: f.psi }));
  const drop = report.performance.drop ?? 0;
  let severity: Severity = 'none';
  if (signals.includes('performance') || signals.includes('features')) {
    severity =
      (report.performance.degraded && drop >= policy.severeDrop) || report.driftedShare >= 0.75
        ? 'severe'
        : 'mild';
  }
  const parts = [
    `${(report.driftedShare * 100).toFixed(0)}% of features drifted`,
    report.performance.currentAccuracy === null
      ? 'no feedback in the window'
      : `accuracy ${pct(report.performance.currentAccuracy)} vs baseline ${pct(report.performance.baselineAccuracy)} on ${report.performance.labeledRows} labeled rows`,
  ];
  if (report.labelShiftPsi !== null) parts.push(`label PSI ${report.labelShiftPsi.toFixed(3)}`);
  return { severity, signals, rankedFeatures, reason: parts.join(', ') };
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
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}

export function routesToCandidate(key: string, candidateWeight: number): boolean {
  return trafficBucket(key) < candidateWeight;
}

/** Deterministic holdout assignment by key, so a dataset's split never depends on row order. */
export function isHoldout(key: string, holdoutShare: number): boolean {
  return trafficBucket(`holdout:${key}`) < Math.round(holdoutShare * 100);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
