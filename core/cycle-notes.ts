/**
 * What a remediation cycle writes down at each stage (the `summary` of its stage records, shown by
 * `remedy status` and stored with the cycle), the reasons it gives for each ending, and the input it
 * hands its labeling campaign. Pure: the cycle workflow (workflows/cycle.ts) calls these with what its
 * activities returned. Parameter types name only the fields read, so any richer result fits.
 */
import type { DriftReport } from './drift.js';
import { isRegressionMetric } from './performance-metrics.js';
import {
  MAX_HISTORY_EVENTS,
  type CampaignIdentity,
  type LabelingCampaignInput,
  type LabelingSettings,
} from './labeling-settings.js';
import type { Diagnosis, StepAnalysis } from './policy.js';
import type { TrainingSetSummary } from './training-scope.js';

/** Four decimals: enough to read, short enough to scan. */
export function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
const roundOrNull = (x: number | null): number | null => (x === null ? null : round(x));

/** confirm: the drift report's headline numbers. */
export function driftNote(reportId: number, report: DriftReport) {
  return {
    reportId,
    windowRows: report.windowRows,
    driftedShare: report.driftedShare,
    topFeatures: report.features.slice(0, 3).map((f) => ({
      feature: f.feature,
      test: f.test,
      statistic: round(f.statistic),
      pValue: f.adjustedPValue ?? f.pValue,
      threshold: f.threshold,
      drifted: f.drifted,
      psi: round(f.psi),
      ksPValue: f.ksPValue,
    })),
    labeledRows: report.performance.labeledRows,
    ...(isRegressionMetric(report.performance.metric)
      ? regressionNote(report)
      : {
          baselineAccuracy: round(report.performance.baselineAccuracy),
          currentAccuracy: roundOrNull(report.performance.currentAccuracy),
        }),
    labelShiftPsi: roundOrNull(report.labelShiftPsi),
    ...performanceBasisNote(report),
  };
}

/** A regression model's headline: its error metric against the holdout's, and its target's drift. */
function regressionNote(report: DriftReport) {
  const p = report.performance;
  const t = report.target;
  return {
    performanceMetric: p.metric,
    current: roundOrNull(p.current),
    baseline: roundOrNull(p.baseline),
    ...(p.relativeDrop !== undefined ? { relativeDrop: roundOrNull(p.relativeDrop) } : {}),
    ...(p.notNumericLabels ? { notNumericLabels: p.notNumericLabels } : {}),
    ...(t
      ? {
          targetDrift: t.drift
            ? {
                test: t.drift.test,
                statistic: round(t.drift.statistic),
                pValue: t.drift.pValue,
                drifted: t.drift.drifted,
              }
            : { notMeasured: t.notMeasured ?? 'not measured' },
        }
      : {}),
  };
}

/** What the performance signal rested on, and the label-free estimate when it was used. */
function performanceBasisNote(report: DriftReport) {
  const p = report.performance;
  if (!p.basis) return {};
  const e = p.basis === 'estimated' ? p.estimate : undefined;
  return {
    performanceBasis: p.basis,
    ...(e
      ? {
          estimatedAccuracy: round(e.accuracy.estimate),
          estimatedAccuracyBand: e.accuracy.band.map(round),
          estimatedRows: e.rows,
        }
      : {}),
    ...(p.estimateUnavailable ? { estimateUnavailable: p.estimateUnavailable } : {}),
  };
}

/** diagnose: how severe, on which signals, and which features drifted most. */
export function diagnosisNote(d: Diagnosis) {
  return { severity: d.severity, signals: d.signals, reason: d.reason, drifted: d.rankedFeatures };
}

/** A failure pattern the cycle targets, before and (after a rollout) after the remedy. */
export interface PatternTrace {
  patternKey: string;
  cases: number;
  before: { rate: number | null };
  after: { rate: number | null } | null;
  verdict: string | null;
}

export function traceNote(t: PatternTrace) {
  return {
    pattern: t.patternKey,
    cases: t.cases,
    before: roundOrNull(t.before.rate),
    after: t.after ? roundOrNull(t.after.rate) : null,
    verdict: t.verdict,
  };
}

/**
 * The campaign's input: who it is for, and the policy's labeling settings. Overlap and batches only
 * when used, as cycles have always passed them (a campaign reads what is left out as its default).
 */
export function labelingInputOf(id: CampaignIdentity, l: LabelingSettings): LabelingCampaignInput {
  return {
    ...id,
    budget: l.budget,
    minLabels: l.minLabels,
    deadline: l.deadline,
    reviewers: l.reviewers,
    strategy: l.strategy,
    ...(l.autoLabelAbove !== undefined ? { autoLabelAbove: l.autoLabelAbove } : {}),
    reminderAt: l.reminderAt,
    escalationReviewers: l.escalationReviewers,
    escalationGrace: l.escalationGrace,
    decisionTimeout: l.decisionTimeout,
    deciders: l.deciders,
    ...(l.overlap > 0
      ? { overlap: l.overlap, minKappa: l.minKappa, minOverlapItems: l.minOverlapItems }
      : {}),
    ...(l.batchSize > 0 ? { batchSize: l.batchSize } : {}),
    ...(l.maxHistoryEvents !== MAX_HISTORY_EVENTS ? { maxHistoryEvents: l.maxHistoryEvents } : {}),
    ...(l.tool !== 'review-page' ? { tool: l.tool } : {}),
    ...(l.labelStudio ? { labelStudio: l.labelStudio } : {}),
  };
}

/** How a campaign ended, as far as the cycle's reasons need it. */
export interface CampaignEnding {
  answered: number;
  requested: number;
  parked?: boolean;
}

export function labelingAbortedReason(c: CampaignEnding): string {
  return `labeling aborted by a person's decision with ${c.answered} of ${c.requested} labels`;
}

export function labelingExpiredReason(
  c: CampaignEnding,
  l: Pick<LabelingSettings, 'deadline' | 'minLabels' | 'decisionTimeout'>,
): string {
  return `labeling deadline (${l.deadline}) passed with ${c.answered} of ${c.requested} labels; at least ${l.minLabels} needed${c.parked ? `, and nobody decided within ${l.decisionTimeout}` : ''}`;
}

/** label: the frozen dataset the candidate trains on. */
export function labeledNote(d: { datasetId: number; rowCount: number; humanLabels: number }) {
  return { labeledDatasetId: d.datasetId, labeledRows: d.rowCount, humanLabels: d.humanLabels };
}

/** retrain: the candidate, how it was trained, and the trainer's own details. */
export function trainedNote(t: {
  version: number;
  trainer: string;
  trainRows: number;
  historyRows: number;
  resumedFrom: number;
  trainAccuracy: number;
  artifactSha256: string;
  configHash: string;
  details: Record<string, unknown>;
  trainingSet?: TrainingSetSummary;
  /** A regression candidate's training errors: it has no accuracy (its details carry them rounded). */
  trainErrors?: unknown;
}) {
  return {
    version: t.version,
    trainer: t.trainer,
    trainRows: t.trainRows,
    historyRows: t.historyRows,
    resumedFrom: t.resumedFrom,
    ...(t.trainErrors === undefined ? { trainAccuracy: round(t.trainAccuracy) } : {}),
    artifactSha256: t.artifactSha256,
    configHash: t.configHash,
    ...(t.trainingSet ? { trainingSet: t.trainingSet } : {}),
    ...t.details,
  };
}

interface Scored {
  accuracy: number;
  macroF1: number;
  ece: number;
  logLoss: number;
}

/** evaluate: candidate against champion, every gate, and the verdict. */
type Interval = { estimate: number; lower: number; upper: number };
const roundInterval = (i: Interval) => ({
  estimate: round(i.estimate),
  lower: round(i.lower),
  upper: round(i.upper),
});

/** A regression candidate's evaluation, as far as its note reads it. */
interface RegressionEvaluated {
  task: 'regression';
  holdoutRows: number;
  holdout: string;
  candidate: { mae: number; rmse: number; r2: number | null; mape: number | null; meanError: number };
  champion: { mae: number; rmse: number; r2: number | null; mape: number | null; meanError: number };
  slices: unknown;
  intervals: { difference: { confidence: number; resamples: number; mae: Interval; rmse: Interval } };
  backtest: { rows: number; candidateMae: number; championMae: number; difference: { mae: Interval } } | null;
  gates: readonly { name: string; passed: boolean; measured: number | null; limit: number }[];
  go: boolean;
  reason: string;
}

/** evaluate, for a regression model: both models' errors, the paired MAE difference, gates, verdict. */
function regressionEvaluationNote(e: RegressionEvaluated) {
  const errors = (m: RegressionEvaluated['candidate']) => ({
    mae: round(m.mae),
    rmse: round(m.rmse),
    r2: roundOrNull(m.r2),
    mape: roundOrNull(m.mape),
    meanError: round(m.meanError),
  });
  const d = e.intervals.difference;
  return {
    task: 'regression' as const,
    holdoutRows: e.holdoutRows,
    holdout: e.holdout,
    candidate: errors(e.candidate),
    champion: errors(e.champion),
    intervals: {
      confidence: d.confidence,
      resamples: d.resamples,
      maeDifference: roundInterval(d.mae),
      rmseDifference: roundInterval(d.rmse),
    },
    backtest:
      e.backtest === null
        ? null
        : {
            rows: e.backtest.rows,
            candidateMae: round(e.backtest.candidateMae),
            championMae: round(e.backtest.championMae),
            maeDifference: roundInterval(e.backtest.difference.mae),
          },
    slices: e.slices,
    gates: e.gates.map((g) => ({ gate: g.name, passed: g.passed, measured: g.measured, limit: g.limit })),
    gate: e.go ? 'go' : 'no-go',
    reason: e.reason,
  };
}

export function evaluationNote(e: ClassificationEvaluated | RegressionEvaluated) {
  return e.task === 'regression' ? regressionEvaluationNote(e) : classificationNote(e);
}

interface ClassificationEvaluated {
  task?: undefined;
  holdoutRows: number;
  holdout?: string;
  candidate: Scored;
  champion: Scored;
  slices: unknown;
  /** Results recorded before the intervals and the backtest existed lack them. */
  intervals?: {
    confidence: number;
    resamples: number;
    accuracy: Interval;
    macroF1: Interval;
    logLoss: Interval;
  };
  backtest?: {
    rows: number;
    candidateAccuracy: number;
    championAccuracy: number;
    difference: Interval;
  } | null;
  gates: readonly { name: string; passed: boolean; measured: number | null; limit: number }[];
  go: boolean;
  reason: string;
}

function classificationNote(e: ClassificationEvaluated) {
  return {
    holdoutRows: e.holdoutRows,
    ...(e.holdout === undefined ? {} : { holdout: e.holdout }),
    candidateAccuracy: round(e.candidate.accuracy),
    championAccuracy: round(e.champion.accuracy),
    candidateMacroF1: round(e.candidate.macroF1),
    championMacroF1: round(e.champion.macroF1),
    candidateEce: round(e.candidate.ece),
    championEce: round(e.champion.ece),
    candidateLogLoss: round(e.candidate.logLoss),
    championLogLoss: round(e.champion.logLoss),
    ...(e.intervals === undefined
      ? {}
      : {
          intervals: {
            confidence: e.intervals.confidence,
            resamples: e.intervals.resamples,
            accuracy: roundInterval(e.intervals.accuracy),
            macroF1: roundInterval(e.intervals.macroF1),
            logLoss: roundInterval(e.intervals.logLoss),
          },
        }),
    ...(e.backtest === undefined
      ? {}
      : {
          backtest:
            e.backtest === null
              ? null
              : {
                  rows: e.backtest.rows,
                  candidateAccuracy: round(e.backtest.candidateAccuracy),
                  championAccuracy: round(e.backtest.championAccuracy),
                  difference: roundInterval(e.backtest.difference),
                },
        }),
    slices: e.slices,
    gates: e.gates.map((g) => ({ gate: g.name, passed: g.passed, measured: g.measured, limit: g.limit })),
    gate: e.go ? 'go' : 'no-go',
    reason: e.reason,
  };
}

export function approvalDeniedReason(d: { approver: string; reason?: string | undefined }): string {
  return `rollout denied by ${d.approver}${d.reason ? `: ${d.reason}` : ''}`;
}

/**
 * rollout: how it ended, and each step's decision on the two versions' accuracy (a regressor's: their MAE,
 * core/regression-rollout.ts).
 */
export function rolloutNote(r: {
  outcome: string;
  reason: string;
  steps: readonly { weight: number; analysis: StepAnalysis }[];
}) {
  return {
    outcome: r.outcome,
    reason: r.reason,
    steps: r.steps.map((s) => {
      const mae = (a: object): number | null | undefined =>
        'mae' in a ? (a.mae as number | null) : undefined;
      const [candidateMae, championMae] = [mae(s.analysis.candidate), mae(s.analysis.champion)];
      return {
        weight: s.weight,
        decision: s.analysis.decision,
        ...(candidateMae !== undefined
          ? { candidateMae: roundOrNull(candidateMae), championMae: roundOrNull(championMae ?? null) }
          : {
              candidateAccuracy: roundOrNull(s.analysis.candidate.accuracy),
              championAccuracy: roundOrNull(s.analysis.champion.accuracy),
            }),
        candidateN: s.analysis.candidate.n,
        championN: s.analysis.champion.n,
      };
    }),
  };
}
