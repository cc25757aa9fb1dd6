import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { CampaignDecision, describeZodError, ExtendDeadlineInput, LabelAnswer } from '../core/inputs.js';
import {
  agreementShortfall,
  agreesTooLittle,
  settledBy,
  settledVerifiedBy,
  withVote,
} from '../core/labeling.js';
import { LabelingSettings, type LabelingCampaignInput } from '../core/labeling-settings.js';
import { canonicalNumericLabel, numericLabelProblem, readNumericLabel } from '../core/regression-labels.js';
import { publishReleased } from './label-studio.js';
import {
  decideCampaignUpdate,
  extendDeadlineUpdate,
  labelingStatusQuery,
  MOVING_TO_NEW_RUN,
  submitLabelUpdate,
  type Agreement,
  type LabelingStatus,
  type SubmitLabelResult,
} from './messages.js';
import {
  acts,
  agreement,
  allAnswered,
  batchDone,
  batchOf,
  carryOf,
  extend,
  historyFull,
  answersNeededIn,
  mayDecide,
  newCampaign,
  overlapped,
  park,
  restoredCampaign,
  reviewersNow,
  sendNextBatch,
  settledLabelIn,
  statusOf,
  tell,
  unpark,
  type Campaign,
  type CarriedCampaign,
} from './labeling-state.js';

/**
 * Who the campaign is for, and its settings as the policy gives them (core/labeling-settings.ts): a
 * setting left out takes its default there, as in campaigns started before it existed. A run that
 * continues an earlier one of the same campaign also gets that run's state (`carried`).
 */
export type LabelingInput = LabelingCampaignInput & { carried?: CarriedCampaign };

export interface LabelingResult {
  state: Exclude<LabelingStatus['state'], 'open' | 'parked'>;
  requested: number;
  answered: number;
  unlabeledRows: number;
  /** The campaign waited for a person's decision at some point. */
  parked?: boolean;
  /** Items the champion labeled itself (above the policy's autoLabelAbove), not counted in `answered`. */
  autoLabeled?: number;
  /** With overlap: how much the reviewers agreed. */
  agreement?: Agreement;
}
type Settled = LabelingResult['state'];

/**
 * A labeling campaign: asks people for labels (flagged failure cases first, then what the champion is
 * least sure of), takes answers as Updates, and always ends in a decision. Its SLA: a reminder part-way
 * to the deadline; at the deadline a second reviewer pool is called in for a grace period; then it
 * proceeds with what is labeled if that meets the minimum, or parks for a person to extend, proceed or
 * abort — and expires if nobody decides in time. Never a hang.
 *
 * With overlap, a share of the items needs two reviewers: two answers that agree settle an item, two
 * that disagree send it to a third (majority of three; the third decides a three-way split). Cohen's
 * kappa of the first two answers is a gate: below the policy's minimum the campaign parks for a person
 * to proceed or abort. With a batch size, requests go out a batch at a time, the next when the current
 * one is answered, and the reviewers are told.
 *
 * Its history grows by about 11 events per label: once a run's history is long (`maxHistoryEvents`),
 * the campaign continues as new with its whole state (docs/operations.md, "How long a history grows").
 */
export async function labelingCampaign(input: LabelingInput): Promise<LabelingResult> {
  const parsed = LabelingSettings.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid labeling settings for campaign ${input.campaignId}: ${describeZodError(parsed.error)}`,
      'InvalidInput',
    );
  }
  const { campaignId, cycleId, modelId, datasetId, championVersion, labelSet, numeric } = input;
  const id = {
    campaignId,
    cycleId,
    modelId,
    datasetId,
    championVersion,
    labelSet,
    ...(numeric ? { numeric } : {}),
  };
  const { carried, ...given } = input;
  // Runs recorded before campaigns could continue as new replay without it.
  const mayContinue = patched('labeling-continue-as-new');
  const c = carried
    ? restoredCampaign(id, parsed.data, carried)
    : newCampaign(id, parsed.data, workflowInfo().startTime.getTime());
  c.mayContinue = mayContinue;
  // Campaigns recorded before Label Studio could take their items replay without it.
  c.toLabelStudio = c.settings.tool === 'label-studio' && patched('label-studio');
  const settings = c.settings;
  handleMessages(c);
  const next = () => continueRun(c, given);

  if (carried) {
    log.info('labeling campaign continued', { campaignId, run: c.runs + 1, answered: c.answers.size });
    c.state = await runSla(c, next);
    if (settings.overlap > 0 && (c.state === 'complete' || c.state === 'deadline-partial'))
      c.state = await agreementGate(c, c.state);
  } else {
    const opened = await acts.openLabelTasks({
      campaignId,
      modelId,
      datasetId,
      championVersion,
      budget: settings.budget,
      strategy: settings.strategy,
      ...(settings.autoLabelAbove !== undefined ? { autoLabelAbove: settings.autoLabelAbove } : {}),
      ...(c.batchByBatch ? { firstBatch: c.batchSize } : {}),
    });
    c.items = opened.items;
    c.released = c.batchSize > 0 ? Math.min(c.batchSize, c.items.length) : c.items.length;
    c.total = c.batchByBatch ? opened.total : c.items.length;
    c.unlabeledRows = opened.unlabeledRows;
    c.autoLabeled = opened.autoLabeled;
    log.info('labeling campaign open', { campaignId, requested: c.total, deadline: settings.deadline });
    await publishReleased(c);

    if (patched('labeling-sla')) {
      c.state = await runSla(c, next);
      if (settings.overlap > 0 && (c.state === 'complete' || c.state === 'deadline-partial'))
        c.state = await agreementGate(c, c.state);
    } else {
      const remainingMs = Date.parse(c.deadlineAt) - Date.now();
      const complete = await condition(() => allAnswered(c), Math.max(remainingMs, 1));
      if (complete) c.state = 'complete';
      else c.state = c.answers.size >= settings.minLabels ? 'deadline-partial' : 'deadline-insufficient';
    }
  }
  // Answers already accepted finish their write before the campaign reports.
  await condition(allHandlersFinished);
  return {
    state: c.state,
    requested: c.total,
    answered: c.answers.size,
    unlabeledRows: c.unlabeledRows,
    ...(c.autoLabeled ? { autoLabeled: c.autoLabeled } : {}),
    ...(c.wasParked ? { parked: true } : {}),
    ...(settings.overlap > 0 ? { agreement: agreement(c) } : {}),
  };
}

/**
 * This run's history is long: once every accepted answer has finished its write, the campaign goes on
 * in a new run of the same workflow ID with its whole state. Answers sent meanwhile are retried by
 * Temporal against the new run; the parent cycle waits for the last run's result.
 */
async function continueRun(c: Campaign, given: LabelingCampaignInput): Promise<never> {
  // New answers are refused (and sent again by the client) so the accepted ones can drain.
  c.moving = true;
  await condition(allHandlersFinished);
  log.info('labeling campaign continues as new', {
    campaignId: c.id.campaignId,
    events: workflowInfo().historyLength,
    answered: c.answers.size,
  });
  return await continueAsNew<typeof labelingCampaign>({ ...given, carried: carryOf(c) });
}

/** Continues the campaign in a new run: thrown through the waits by `continueRun`. */
type Next = () => Promise<never>;

/**
 * The SLA: reminder, deadline, escalation, then proceed or park for a decision. A continued run picks
 * up where the last one was: the reminder and the escalation go out once, a parked campaign stays parked.
 */
async function runSla(c: Campaign, next: Next): Promise<Settled> {
  const { settings } = c;
  if (c.total === 0) return 'complete';
  if (settings.reminderAt > 0 && c.remindedAt === null) {
    if (await waitUntil(c, () => c.startedAt + settings.reminderAt * (c.deadlineMs - c.startedAt), next))
      return 'complete';
    c.remindedAt = new Date(Date.now()).toISOString();
    await tell(
      c,
      'reminder',
      settings.reviewers,
      `${c.total - c.answers.size} of ${c.total} labels still wanted by ${c.deadlineAt}`,
    );
  }
  for (;;) {
    // A continued run may start parked: it goes on waiting for the decision.
    if (c.state !== 'parked') {
      if (await waitUntil(c, () => c.deadlineMs, next)) return 'complete';
      if (!c.escalatedAt && settings.escalationReviewers.length > 0) {
        c.escalatedAt = new Date(Date.now()).toISOString();
        extend(c, settings.escalationGrace, true);
        await tell(
          c,
          'escalation',
          settings.escalationReviewers,
          `deadline passed with ${c.answers.size} of ${c.total} labels: please help label by ${c.deadlineAt}`,
        );
        continue;
      }
      if (c.answers.size >= settings.minLabels) return 'deadline-partial';
    }
    const settled = await parkForLabels(c, next);
    if (settled !== null) return settled;
  }
}

/**
 * Too few labels at the deadline: a person extends, proceeds or aborts. Labels are still taken while
 * parked, and enough of them let the campaign go on by itself. Null: back to waiting (extended).
 */
async function parkForLabels(c: Campaign, next: Next): Promise<Settled | null> {
  const { settings } = c;
  // Parked already: a continued run keeps the decision's due time and tells nobody again.
  const due =
    c.state === 'parked' && c.decisionDueAt !== null
      ? Date.parse(c.decisionDueAt)
      : await park(
          c,
          'labels',
          (by) =>
            `${c.answers.size} of ${settings.minLabels} needed labels: extend, proceed or abort by ${by}`,
        );
  const seen = c.extensions;
  const waiting = () => c.decision === null && c.extensions === seen && c.answers.size < settings.minLabels;
  const decided = await condition(() => !waiting() || historyFull(c), Math.max(due - Date.now(), 1), {
    summary: 'Parked: wait for a decision (remedy labels decide extend|proceed|abort)',
  });
  if (decided && waiting()) await next();
  unpark(c);
  if (c.decision === null && c.extensions === seen && c.answers.size >= settings.minLabels) {
    c.state = 'open';
    return allAnswered(c) ? 'complete' : 'deadline-partial';
  }
  if (!decided) return 'deadline-insufficient';
  const d = c.decision;
  if (d === null) return null; // extended through extendDeadline: back to waiting
  await acts.recordAudit({
    key: `${c.id.campaignId}:decision:${c.extensions}`,
    cycleId: c.id.cycleId,
    modelId: c.id.modelId,
    actor: d.actor,
    action: `labeling.${d.decision}`,
    details: {
      by: d.by ?? null,
      reason: d.reason ?? null,
      answered: c.answers.size,
      verifiedBy: d.verifiedBy ?? 'unverified',
    },
  });
  if (d.decision === 'abort') return 'aborted';
  if (d.decision === 'proceed') return 'deadline-partial';
  extend(c, d.by!);
  c.state = 'open';
  return null;
}

/**
 * Waits until `target()` (re-read when the deadline moves) or completion, sending each next batch as
 * the current one is answered; true when complete.
 */
async function waitUntil(c: Campaign, target: () => number, next: Next): Promise<boolean> {
  for (;;) {
    const seen = c.extensions;
    await condition(
      () => allAnswered(c) || c.extensions !== seen || batchDone(c) || historyFull(c),
      Math.max(target() - Date.now(), 1),
      { summary: 'Labeling: wait for answers until the next reminder or deadline' },
    );
    if (allAnswered(c)) return true;
    if (historyFull(c)) await next();
    if (batchDone(c)) {
      if (await sendNextBatch(c)) return true;
      continue;
    }
    if (c.extensions === seen && Date.now() >= target()) return false;
  }
}

/** Reviewers who agree too little make a dataset no one should train on: a person proceeds or aborts. */
async function agreementGate(c: Campaign, settledState: Settled): Promise<Settled> {
  const a = agreement(c);
  if (!agreesTooLittle(a, c.settings.minOverlapItems)) return settledState;
  const due = await park(
    c,
    'agreement',
    (by) =>
      `reviewers agree too little: ${agreementShortfall(a)} on ${a.pairs} items answered twice; proceed or abort by ${by}`,
    'agreement',
  );
  const decided = await condition(() => c.decision !== null, Math.max(due - Date.now(), 1), {
    summary: 'Parked on low agreement: wait for a decision (remedy labels decide proceed|abort)',
  });
  unpark(c);
  const d = c.decision;
  if (!decided || d === null) return 'deadline-insufficient';
  await acts.recordAudit({
    key: `${c.id.campaignId}:agreement-decision`,
    cycleId: c.id.cycleId,
    modelId: c.id.modelId,
    actor: d.actor,
    action: `labeling.${d.decision}`,
    details: { reason: d.reason ?? null, agreement: a, verifiedBy: d.verifiedBy ?? 'unverified' },
  });
  if (d.decision === 'abort') return 'aborted';
  c.state = 'open';
  return settledState;
}

/** The campaign's query and Updates: status, extend the deadline, decide when parked, submit a label. */
function handleMessages(c: Campaign): void {
  const { campaignId } = c.id;
  setHandler(labelingStatusQuery, () => statusOf(c));
  setHandler(
    extendDeadlineUpdate,
    async (raw) => {
      const e = ExtendDeadlineInput.parse(raw);
      extend(c, e.by);
      if (c.state === 'parked') c.state = 'open';
      log.info('deadline extended', { campaignId, by: e.by, actor: e.actor, deadlineAt: c.deadlineAt });
      await acts.recordAudit({
        key: `${campaignId}:extended:${c.extensions}`,
        cycleId: c.id.cycleId,
        modelId: c.id.modelId,
        actor: e.actor,
        action: 'labeling.deadline-extended',
        details: {
          by: e.by,
          deadlineAt: c.deadlineAt,
          reason: e.reason ?? null,
          verifiedBy: e.verifiedBy ?? 'unverified',
        },
      });
      return { deadlineAt: c.deadlineAt };
    },
    {
      validator: (raw) => {
        const p = ExtendDeadlineInput.safeParse(raw);
        if (!p.success) throw new Error(`extension refused: ${describeZodError(p.error)}`);
        if (c.state !== 'open' && c.state !== 'parked')
          throw new Error(`extension refused: campaign ${campaignId} is closed (${c.state})`);
        mayDecide(c, p.data.actor);
      },
    },
  );
  setHandler(
    decideCampaignUpdate,
    (raw) => {
      c.decision = CampaignDecision.parse(raw);
      return { state: c.state };
    },
    {
      validator: (raw) => {
        const p = CampaignDecision.safeParse(raw);
        if (!p.success) throw new Error(`decision refused: ${describeZodError(p.error)}`);
        if (c.state !== 'parked')
          throw new Error(
            `decision refused: campaign ${campaignId} is not parked (it is ${c.state}); use "remedy labels extend" for more time`,
          );
        if (c.parkedFor === 'agreement' && p.data.decision === 'extend')
          throw new Error(
            `decision refused: campaign ${campaignId} is parked because reviewers agree too little; more time does not change that: proceed or abort`,
          );
        mayDecide(c, p.data.actor);
      },
    },
  );
  setHandler(
    submitLabelUpdate,
    async (raw) => {
      const answer = LabelAnswer.parse(asSubmitted(c, raw));
      // A numeric answer is stored in one form ("23.50" and 23.5 both as "23.5").
      if (c.id.numeric) answer.label = canonicalNumericLabel(answer.label);
      if (overlapped(c, answer.recordKey) && !c.answers.has(answer.recordKey)) return await vote(c, answer);
      const stored = await acts.recordLabel({ campaignId, ...answer });
      const duplicate = stored.duplicate || c.answers.has(answer.recordKey);
      c.answers.set(answer.recordKey, stored.label);
      return {
        recordKey: answer.recordKey,
        label: stored.label,
        duplicate,
        remaining: c.total - c.answers.size,
      };
    },
    // Synchronous checks: a refused answer is never written to history, so the campaign is unchanged.
    { validator: (raw) => refuseLabel(c, raw) },
  );
}

/**
 * The answer as the campaign reads it: a numeric campaign takes a JSON number as its decimal text, so an
 * API client may send 23.5 or "23.5". Anything else is read as sent (a classification campaign's always).
 */
function asSubmitted(c: Campaign, raw: unknown): unknown {
  if (!c.id.numeric || typeof raw !== 'object' || raw === null) return raw;
  const label = (raw as { label?: unknown }).label;
  return typeof label === 'number' && Number.isFinite(label) ? { ...raw, label: String(label) } : raw;
}

/** Throws, naming what is wrong, for an answer the campaign cannot take. */
function refuseLabel(c: Campaign, raw: unknown): void {
  const { campaignId, labelSet, numeric } = c.id;
  const given = asSubmitted(c, raw);
  // A numeric campaign says what a number answer must be, not just "expected string".
  const label =
    typeof given === 'object' && given !== null ? (given as { label?: unknown }).label : undefined;
  if (numeric && label !== undefined && typeof label !== 'string') {
    const read = readNumericLabel(label);
    if ('problem' in read) throw new Error(`label refused: ${read.problem}`);
  }
  const parsed = LabelAnswer.safeParse(given);
  if (!parsed.success) throw new Error(`label refused: ${describeZodError(parsed.error)}`);
  const answer = parsed.data;
  if (c.state !== 'open' && c.state !== 'parked')
    throw new Error(`label refused: campaign ${campaignId} is closed (${c.state})`);
  if (c.moving)
    throw new Error(
      `label refused for now: campaign ${campaignId} ${MOVING_TO_NEW_RUN} (its history grew long); send it again`,
    );
  const index = c.items.findIndex((i) => i.recordKey === answer.recordKey);
  if (index < 0) {
    throw new Error(
      `label refused: recordKey "${answer.recordKey}" is not an item of campaign ${campaignId}; list pending items with "remedy pending"`,
    );
  }
  if (index >= c.released) {
    const b = batchOf(c);
    throw new Error(
      `label refused: recordKey "${answer.recordKey}" is in a later batch (batch ${b.current} of ${b.of} is out); answer the pending items first`,
    );
  }
  if (numeric) {
    const problem = numericLabelProblem(answer.label, numeric);
    if (problem !== null) throw new Error(`label refused: ${problem}`);
  } else if (!labelSet.includes(answer.label)) {
    throw new Error(`label refused: label "${answer.label}" is not one of ${labelSet.join(', ')}`);
  }
  const reviewers = reviewersNow(c);
  if (reviewers.length > 0 && !reviewers.includes(answer.reviewer)) {
    throw new Error(`label refused: reviewer "${answer.reviewer}" may not label for this model`);
  }
}

/** An answer to an overlapped item: kept per reviewer; the item settles on agreement or a third answer. */
async function vote(c: Campaign, answer: LabelAnswer): Promise<SubmitLabelResult> {
  const key = answer.recordKey;
  const stored = await acts.recordVote({ campaignId: c.id.campaignId, ...answer });
  const list = withVote(c.votes.get(key) ?? [], {
    reviewer: answer.reviewer,
    label: stored.label,
    ...(answer.verifiedBy ? { verifiedBy: answer.verifiedBy } : {}),
  });
  c.votes.set(key, list);
  const settled = settledLabelIn(c, list);
  if (settled !== null && !c.answers.has(key)) {
    c.answers.set(key, settled);
    await acts.recordLabel({
      campaignId: c.id.campaignId,
      recordKey: key,
      label: settled,
      reviewer: settledBy(list),
      ...(answer.via ? { via: answer.via } : {}),
      verifiedBy: settledVerifiedBy(list),
    });
    log.info('overlapped item settled', {
      campaignId: c.id.campaignId,
      recordKey: key,
      answers: list.length,
    });
  }
  return {
    recordKey: key,
    label: stored.label,
    duplicate: stored.duplicate,
    remaining: c.total - c.answers.size,
    ...(c.answers.has(key) ? {} : { awaiting: answersNeededIn(c, list) - list.length }),
  };
}
