/**
 * The state of one labeling campaign, kept in one object that the campaign's handlers and its SLA loop
 * (workflows/labeling.ts) read and change, and the steps that act on it: extending the deadline,
 * telling people, parking for a decision, sending the next batch.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CampaignDecision } from '../core/inputs.js';
import { durationMs } from '../core/inputs.js';
import {
  agreementOf,
  answersNeeded,
  batchAnswered,
  batchProgress,
  batchSizeOf,
  choosesBatchByBatch,
  isOverlapped,
  settledLabel,
  type Agreement,
  type BatchProgress,
  type Vote,
} from '../core/labeling.js';
import type { CampaignIdentity, LabelingSettings } from '../core/labeling-settings.js';
import {
  agreeWithinOf,
  numericAnswersNeeded,
  numericVotesAgreement,
  settledNumericLabel,
} from '../core/numeric-votes.js';
import type { LabelingStatus, PendingItem } from './messages.js';
import { publishReleased } from './label-studio.js';
import { quickIo, summarized } from './presets.js';

export const acts = summarized(proxyActivities<Activities>(quickIo));

export interface Campaign {
  readonly id: CampaignIdentity;
  readonly settings: LabelingSettings;
  /** Items per batch (0: all at once); the candidate strategies choose each batch when the last is answered. */
  readonly batchSize: number;
  readonly batchByBatch: boolean;
  readonly startedAt: number;
  state: LabelingStatus['state'];
  /** The deadline (moved by extensions and the escalation's grace), and how often it moved. */
  deadlineMs: number;
  deadlineAt: string;
  extensions: number;
  /** Items chosen so far (grows batch by batch with the candidate strategies), how many are out, how many in all. */
  items: PendingItem[];
  released: number;
  total: number;
  /** Settled labels by record key. */
  answers: Map<string, string>;
  /** Overlapped items' answers in the order they came, one per reviewer. */
  votes: Map<string, Vote[]>;
  remindedAt: string | null;
  escalatedAt: string | null;
  /** While parked: why, the decision once given, and when it is due. */
  parkedFor: 'labels' | 'agreement' | null;
  decision: CampaignDecision | null;
  decisionDueAt: string | null;
  /** The campaign waited for a person's decision at some point. */
  wasParked: boolean;
  /** What opening the campaign found: rows without a label, items the champion labeled itself. */
  unlabeledRows: number;
  autoLabeled: number;
  /** Runs before this one (the campaign continues as new when its history grows long). */
  runs: number;
  /** This run may continue as new (false when replaying a run recorded before it could). */
  mayContinue: boolean;
  /** Items go out to Label Studio as they are released (false when replaying a run recorded before it could). */
  toLabelStudio: boolean;
  /**
   * The run is handing over to a new one: answers already accepted finish, new ones are refused with a
   * message the client recognizes and sends again, to land on the new run (ops/cycles.ts).
   */
  moving: boolean;
}

/**
 * Everything a campaign knows, as plain data: what one run hands the next when the campaign continues as
 * new (its history grows with every label; workflows/labeling.ts). Maps travel as entry lists.
 */
export interface CarriedCampaign {
  startedAt: number;
  state: LabelingStatus['state'];
  deadlineMs: number;
  extensions: number;
  items: PendingItem[];
  released: number;
  total: number;
  answers: [string, string][];
  votes: [string, Vote[]][];
  remindedAt: string | null;
  escalatedAt: string | null;
  parkedFor: Campaign['parkedFor'];
  decision: CampaignDecision | null;
  decisionDueAt: string | null;
  wasParked: boolean;
  /** What opening the campaign found, for its result: rows without a label, items the champion labeled. */
  unlabeledRows: number;
  autoLabeled: number;
  /** How many runs came before this one (0 in the first). */
  runs: number;
}

export function carryOf(c: Campaign): CarriedCampaign {
  return {
    startedAt: c.startedAt,
    state: c.state,
    deadlineMs: c.deadlineMs,
    extensions: c.extensions,
    items: c.items,
    released: c.released,
    total: c.total,
    answers: [...c.answers],
    votes: [...c.votes],
    remindedAt: c.remindedAt,
    escalatedAt: c.escalatedAt,
    parkedFor: c.parkedFor,
    decision: c.decision,
    decisionDueAt: c.decisionDueAt,
    wasParked: c.wasParked,
    unlabeledRows: c.unlabeledRows,
    autoLabeled: c.autoLabeled,
    runs: c.runs + 1,
  };
}

/** The campaign as the previous run left it. */
export function restoredCampaign(
  id: CampaignIdentity,
  settings: LabelingSettings,
  k: CarriedCampaign,
): Campaign {
  return {
    ...newCampaign(id, settings, k.startedAt),
    state: k.state,
    deadlineMs: k.deadlineMs,
    deadlineAt: new Date(k.deadlineMs).toISOString(),
    extensions: k.extensions,
    items: k.items,
    released: k.released,
    total: k.total,
    answers: new Map(k.answers),
    votes: new Map(k.votes),
    remindedAt: k.remindedAt,
    escalatedAt: k.escalatedAt,
    parkedFor: k.parkedFor,
    decision: k.decision,
    decisionDueAt: k.decisionDueAt,
    wasParked: k.wasParked,
    unlabeledRows: k.unlabeledRows,
    autoLabeled: k.autoLabeled,
    runs: k.runs,
  };
}

export function newCampaign(id: CampaignIdentity, settings: LabelingSettings, startedAt: number): Campaign {
  const deadlineMs = startedAt + durationMs(settings.deadline);
  const batchByBatch = choosesBatchByBatch(settings.strategy);
  return {
    id,
    settings,
    batchSize: batchSizeOf(settings),
    batchByBatch,
    startedAt,
    state: 'open',
    deadlineMs,
    deadlineAt: new Date(deadlineMs).toISOString(),
    extensions: 0,
    items: [],
    released: 0,
    total: 0,
    answers: new Map(),
    votes: new Map(),
    remindedAt: null,
    escalatedAt: null,
    parkedFor: null,
    decision: null,
    decisionDueAt: null,
    wasParked: false,
    unlabeledRows: 0,
    autoLabeled: 0,
    runs: 0,
    mayContinue: false,
    toLabelStudio: false,
    moving: false,
  };
}

export const overlapped = (c: Campaign, recordKey: string): boolean =>
  isOverlapped(c.id.campaignId, recordKey, c.settings.overlap);

/** How far apart a numeric campaign's two answers may be and still agree; null for a class campaign. */
export const agreeWithin = (c: Campaign): number | null =>
  c.id.numeric ? agreeWithinOf(c.id.numeric, c.settings.agreeWithin) : null;

export const agreement = (c: Campaign): Agreement => {
  const count = c.items.filter((i) => overlapped(c, i.recordKey)).length;
  const within = agreeWithin(c);
  // Settings kept by a campaign started before minAlpha existed read its default.
  if (within !== null)
    return numericVotesAgreement(c.votes.values(), count, {
      minKappa: c.settings.minKappa,
      minAlpha: c.settings.minAlpha ?? 0.667,
      within,
    });
  return agreementOf(c.votes.values(), count, c.settings.minKappa);
};

/** Answers an overlapped item needs in all (numbers: two within the tolerance, else three). */
export const answersNeededIn = (c: Campaign, votes: readonly Vote[]): number => {
  const within = agreeWithin(c);
  return within === null ? answersNeeded(votes) : numericAnswersNeeded(votes, within);
};

/** An overlapped item's settled label (numbers: the mean of two that agree, else the median of three). */
export const settledLabelIn = (c: Campaign, votes: readonly Vote[]): string | null => {
  const within = agreeWithin(c);
  return within === null ? settledLabel(votes) : settledNumericLabel(votes, within);
};

export const batchOf = (c: Campaign): BatchProgress => batchProgress(c.released, c.total, c.batchSize);

export const batchDone = (c: Campaign): boolean =>
  batchAnswered(c.items, c.released, c.total, c.batchSize, c.answers);

export const allAnswered = (c: Campaign): boolean => c.answers.size >= c.total;

/**
 * This run's history is long enough that the campaign should continue as new: at the settings'
 * `maxHistoryEvents`, or earlier when Temporal suggests it. Never in a run recorded before it could.
 */
export const historyFull = (c: Campaign): boolean =>
  c.mayContinue &&
  (workflowInfo().historyLength >= c.settings.maxHistoryEvents || workflowInfo().continueAsNewSuggested);

/** Who may label now: the reviewers, plus the escalation pool once escalated (empty: anyone). */
export const reviewersNow = (c: Campaign): string[] =>
  c.escalatedAt && c.settings.reviewers.length > 0
    ? [...c.settings.reviewers, ...c.settings.escalationReviewers]
    : c.settings.reviewers;

/** What the labelingStatus query shows. */
export function statusOf(c: Campaign): LabelingStatus {
  return {
    campaignId: c.id.campaignId,
    labelSet: c.id.labelSet,
    ...(c.id.numeric ? { numeric: c.id.numeric } : {}),
    requested: c.total,
    answered: c.answers.size,
    pending: c.items
      .slice(0, c.released)
      .filter((i) => !c.answers.has(i.recordKey))
      .map((i) => {
        if (!overlapped(c, i.recordKey)) return i;
        const votes = c.votes.get(i.recordKey) ?? [];
        return { ...i, reviewedBy: votes.map((v) => v.reviewer), needs: answersNeededIn(c, votes) };
      }),
    deadlineAt: c.deadlineAt,
    state: c.state,
    remindedAt: c.remindedAt,
    escalatedAt: c.escalatedAt,
    reviewers: reviewersNow(c),
    decisionDueAt: c.decisionDueAt,
    ...(c.parkedFor ? { parkedFor: c.parkedFor } : {}),
    ...(c.settings.overlap > 0 ? { agreement: agreement(c) } : {}),
    ...(c.batchSize > 0 && c.total > 0 ? { batch: batchOf(c) } : {}),
  };
}

/** Refuses an actor who is not one of the deciders (empty: anyone decides). */
export function mayDecide(c: Campaign, actor: string): void {
  const deciders = c.settings.deciders;
  if (deciders.length > 0 && !deciders.includes(actor))
    throw new Error(`refused: "${actor}" may not decide for campaign ${c.id.campaignId}`);
}

/** Moves the deadline `by` later, from now if it has passed (a grace period counts from the deadline). */
export function extend(c: Campaign, by: string, fromDeadline = false): void {
  c.deadlineMs = (fromDeadline ? c.deadlineMs : Math.max(c.deadlineMs, Date.now())) + durationMs(by);
  c.deadlineAt = new Date(c.deadlineMs).toISOString();
  c.extensions++;
}

export async function tell(
  c: Campaign,
  kind: 'reminder' | 'escalation' | 'parked' | 'decision' | 'batch',
  recipients: string[],
  message: string,
  key = String(c.extensions),
): Promise<void> {
  await acts.notify({
    eventKey: `${c.id.campaignId}:${kind}:${key}`,
    campaignId: c.id.campaignId,
    kind,
    recipients,
    message,
  });
}

/** Parks the campaign for a person's decision and tells the deciders; returns when the decision is due. */
export async function park(
  c: Campaign,
  why: 'labels' | 'agreement',
  message: (dueAt: string) => string,
  key?: string,
): Promise<number> {
  c.state = 'parked';
  c.parkedFor = why;
  c.wasParked = true;
  c.decision = null;
  const due = Date.now() + durationMs(c.settings.decisionTimeout);
  c.decisionDueAt = new Date(due).toISOString();
  await tell(c, 'parked', c.settings.deciders, message(c.decisionDueAt), key);
  return due;
}

/** The decision wait is over (decided, expired or unparked by labels): the campaign is no longer parked. */
export function unpark(c: Campaign): void {
  c.decisionDueAt = null;
  c.parkedFor = null;
}

/**
 * The current batch is answered: send the next one (with the candidate strategies, chosen now from the
 * labels so far) and tell the reviewers. True when that leaves nothing to ask.
 */
export async function sendNextBatch(c: Campaign): Promise<boolean> {
  if (c.batchByBatch) {
    const next = await acts.nextLabelBatch({
      campaignId: c.id.campaignId,
      modelId: c.id.modelId,
      datasetId: c.id.datasetId,
      championVersion: c.id.championVersion,
      index: Math.ceil(c.released / c.batchSize),
      size: c.batchSize,
      budget: c.total,
      ...(c.settings.strategy === 'disagreement' ? { strategy: 'disagreement' as const } : {}),
    });
    c.items = [...c.items, ...next.items];
    c.released = c.items.length;
    // Fewer rows left than the budget: the campaign asks for what there is.
    if (next.items.length < c.batchSize) c.total = c.items.length;
    if (allAnswered(c)) return true;
  } else c.released = Math.min(c.released + c.batchSize, c.total);
  await publishReleased(c);
  const b = batchOf(c);
  await tell(
    c,
    'batch',
    reviewersNow(c),
    `batch ${b.current} of ${b.of} is out: ${c.released - (b.current - 1) * c.batchSize} items, by ${c.deadlineAt}`,
    `${b.current}`,
  );
  return false;
}
