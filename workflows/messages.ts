/**
 * Every signal, query and update of Remedy's workflows, declared once. The worker, the CLI, the tests
 * (and any Temporal client, the `temporal` CLI included) drive workflows by these names.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TargetTrace } from '../activities/catalog.js';
import type { DriftReport } from '../core/drift.js';
import type { Agreement } from '../core/labeling.js';
import type { NumericLabelRange } from '../core/regression-labels.js';
import type { Diagnosis, StepAnalysis } from '../core/policy.js';
import type {
  ApprovalInput,
  CampaignDecision,
  ExtendDeadlineInput,
  Features,
  LabelAnswer,
  RolloutCommand,
} from '../core/schemas.js';

export const STAGES = [
  'confirm',
  'diagnose',
  'collect',
  'label',
  'retrain',
  'evaluate',
  'approval',
  'rollout',
  'close',
] as const;
export type Stage = (typeof STAGES)[number];

export const OUTCOMES = [
  'promoted',
  'rolled-back',
  'rejected',
  'no-action',
  'labeling-expired',
  'approval-denied',
  'aborted',
  'data-quality-incident',
  'failed',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface StageRecord {
  stage: Stage;
  startedAt: string;
  endedAt?: string;
  summary?: Record<string, unknown>;
}

export interface CycleSummary {
  cycleId: string;
  modelId: string;
  window: { start: string; end: string };
  stage: Stage;
  outcome: Outcome | null;
  reason: string | null;
  severity: Diagnosis['severity'] | null;
  championVersion: number | null;
  candidateVersion: number | null;
  awaitingApproval: boolean;
  stages: StageRecord[];
  /** Triggers that arrived while the cycle ran (a second drift check, a volume trigger, ...). */
  evidence?: TriggerEvidence[];
  /** The failure patterns this cycle targets; after promotion or rollback, whether it fixed them. */
  targets?: TargetTrace[];
}

/** Why a cycle was started, or what arrived later and was attached to the running cycle. */
export interface TriggerEvidence {
  kind: 'manual' | 'drift' | 'volume' | 'schedule';
  key: string;
  checkId?: number;
  window?: { start: string; end: string };
  route?: string;
  signals?: string[];
  streak?: number;
  reason: string;
}

/** Attach a trigger to a running cycle as evidence (never starts a second cycle). */
export const addEvidenceSignal = defineSignal<[TriggerEvidence]>('addEvidence');

export const cycleStatusQuery = defineQuery<CycleSummary>('cycleStatus');
export const approveRolloutUpdate = defineUpdate<{ approved: boolean }, [ApprovalInput]>('approveRollout');

export interface PendingItem {
  recordKey: string;
  features: Features;
  guess: string;
  confidence: number;
  /** Overlapped items: the reviewers who have answered so far (two needed; a third when they disagree). */
  reviewedBy?: string[];
  /** Overlapped items: how many answers the item needs in all now (2, or 3 after a disagreement). */
  needs?: number;
}

/** Agreement on overlapped items: declared with the campaign's rules in core/labeling.ts. */
export type { Agreement };

export interface LabelingStatus {
  campaignId: string;
  labelSet: string[];
  /** A regression model's campaign: answers are numbers in this range (labelSet is then empty). */
  numeric?: NumericLabelRange;
  requested: number;
  answered: number;
  pending: PendingItem[];
  deadlineAt: string;
  state: 'open' | 'parked' | 'complete' | 'deadline-partial' | 'deadline-insufficient' | 'aborted';
  /** When the reminder went out, when the second pool was called in (null until then). */
  remindedAt?: string | null;
  escalatedAt?: string | null;
  /** Who may label now: the reviewers, plus the escalation pool once escalated (empty: anyone). */
  reviewers?: string[];
  /** While parked: the decision is due by then, or the campaign expires. */
  decisionDueAt?: string | null;
  /** Why it is parked: too few labels, or reviewers who agree too little. */
  parkedFor?: 'labels' | 'agreement' | null;
  agreement?: Agreement;
  /** Batched requests: which batch is out, of how many. */
  batch?: { current: number; of: number; size: number };
}

export interface SubmitLabelResult {
  recordKey: string;
  label: string;
  duplicate: boolean;
  remaining: number;
  /** An overlapped item not settled yet: how many more reviewers' answers it needs. */
  awaiting?: number;
}

export const labelingStatusQuery = defineQuery<LabelingStatus>('labelingStatus');
export const extendDeadlineUpdate = defineUpdate<{ deadlineAt: string }, [ExtendDeadlineInput]>(
  'extendDeadline',
);
export const decideCampaignUpdate = defineUpdate<{ state: LabelingStatus['state'] }, [CampaignDecision]>(
  'decideCampaign',
);
export const submitLabelUpdate = defineUpdate<SubmitLabelResult, [LabelAnswer]>('submitLabel');
/** In the refusal a label gets while its campaign continues as new: clients send the label again. */
export const MOVING_TO_NEW_RUN = 'is moving to a new run';

export interface RolloutStepRecord {
  index: number;
  weight: number;
  /** Analysis runs of this step: more than one after a failure within the failure limit. */
  attempt: number;
  analysis: StepAnalysis;
  /** An analysis of the promoted candidate while it bakes (rollout.bakeTime), after the last step. */
  bake?: boolean;
}

export interface RolloutStatus {
  state: 'running' | 'paused' | 'awaiting-approval' | 'baking' | 'promoted' | 'rolled-back';
  currentWeight: number;
  steps: RolloutStepRecord[];
  reason: string | null;
}

export const rolloutStatusQuery = defineQuery<RolloutStatus>('rolloutStatus');
/** Force rollback at any point of the rollout. */
export const rollbackUpdate = defineUpdate<{ accepted: boolean }, [RolloutCommand]>('rollback');
/** Promote now, skipping the remaining steps. */
export const promoteUpdate = defineUpdate<{ accepted: boolean }, [RolloutCommand]>('promote');
/** The optional approval before the last (100%) step. */
export const approveFullUpdate = defineUpdate<{ approved: boolean }, [ApprovalInput]>('approveFull');
/** Answer an inconclusive pause: continue to the next step or roll back. */
export const resolvePauseUpdate = defineUpdate<
  { accepted: boolean },
  [RolloutCommand & { decision: 'continue' | 'rollback' }]
>('resolvePause');

export type { DriftReport, Diagnosis };
