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

export interface ArmMetrics {
  n: number;
  correct: number;
}

export interface EvaluationGate {
  go: boolean;
  gain: number;
  minGain: number;
  reason: string;
}

export function evaluationGate(
  candidateAccuracy: number,
  championAccuracy: number,
  policy: Policy['evaluation'],
): EvaluationGate {
  const gain = candidateAccuracy - championAccuracy;
  const go = gain >= policy.minGain;
  return {
    go,
    gain,
    minGain: policy.minGain,
    reason: `candidate ${pct(candidateAccuracy)} vs champion ${pct(championAccuracy)} on the holdout: gain ${pp(gain)} ${go ? '>=' : '<'} required ${pp(policy.minGain)}`,
  };
}

export type StepDecision = 'pass' | 'fail' | 'inconclusive';

export interface StepAnalysis {
  decision: StepDecision;
  candidate: ArmMetrics & { accuracy: number | null };
  champion: ArmMetrics & { accuracy: number | null };
  pValue: number | null;
  reason: string;
}

/**
 * Canary analysis on feedback: fail when the candidate is worse than the champion by more than the
 * allowed degradation and the difference is significant; inconclusive when either arm has too few samples.
 */
export function analyzeStep(
  candidate: ArmMetrics,
  champion: ArmMetrics,
  policy: Policy['rollout'],
): StepAnalysis {
  const acc = (a: ArmMetrics) => (a.n > 0 ? a.correct / a.n : null);
  const base = {
    candidate: { ...candidate, accuracy: acc(candidate) },
    champion: { ...champion, accuracy: acc(champion) },
  };
  if (candidate.n < policy.minSamples || champion.n < policy.minSamples) {
    return {
      ...base,
      decision: 'inconclusive',
      pValue: null,
      reason: `too few samples with feedback (candidate ${candidate.n}, champion ${champion.n}; need ${policy.minSamples} each)`,
    };
  }
  const test = twoProportionZTest(candidate.correct, candidate.n, champion.correct, champion.n);
  const worse = test.diff < -policy.maxDegradation && test.pValue < policy.alpha;
  return {
    ...base,
    decision: worse ? 'fail' : 'pass',
    pValue: test.pValue,
    reason: `candidate ${pct(base.candidate.accuracy!)} (n=${candidate.n}) vs champion ${pct(base.champion.accuracy!)} (n=${champion.n}), p=${test.pValue.toFixed(4)}: ${worse ? 'significantly worse' : 'not worse beyond tolerance'}`,
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
function pp(x: number): string {
  return `${(x * 100).toFixed(1)} pts`;
}
