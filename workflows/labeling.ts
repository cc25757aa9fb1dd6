import {
  allHandlersFinished,
  condition,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { cohenKappa } from '../core/metrics.js';
import { trafficBucket } from '../core/policy.js';
import {
  CampaignDecision,
  describeZodError,
  durationMs,
  ExtendDeadlineInput,
  LabelAnswer,
} from '../core/inputs.js';
import {
  decideCampaignUpdate,
  extendDeadlineUpdate,
  labelingStatusQuery,
  submitLabelUpdate,
  type Agreement,
  type LabelingStatus,
  type PendingItem,
} from './messages.js';
import { quickIo, summarized } from './presets.js';

const acts = summarized(proxyActivities<Activities>(quickIo));

export interface LabelingInput {
  campaignId: string;
  cycleId: string;
  modelId: string;
  datasetId: number;
  championVersion: number;
  labelSet: string[];
  budget: number;
  minLabels: number;
  deadline: string;
  reviewers: string[];
  /** How people's items are chosen, and the auto-label threshold (optional: campaigns started before them). */
  strategy?: 'uncertainty' | 'margin' | 'random' | 'candidate' | 'disagreement';
  autoLabelAbove?: number;
  /** The SLA (optional, for campaigns started before it existed; defaults as the policy's). */
  reminderAt?: number;
  escalationReviewers?: string[];
  escalationGrace?: string;
  decisionTimeout?: string;
  deciders?: string[];
  /** Overlap and the agreement gate, and batched requests (optional: campaigns started before them). */
  overlap?: number;
  minKappa?: number;
  minOverlapItems?: number;
  batchSize?: number;
}

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
 */
export async function labelingCampaign(input: LabelingInput): Promise<LabelingResult> {
  const startedAt = workflowInfo().startTime.getTime();
  let deadlineMs = startedAt + durationMs(input.deadline);
  let deadlineAt = new Date(deadlineMs).toISOString();
  const answers = new Map<string, string>();
  let items: PendingItem[] = [];
  let state: LabelingStatus['state'] = 'open';
  let remindedAt: string | null = null;
  let escalatedAt: string | null = null;
  let decisionDueAt: string | null = null;
  let decision: CampaignDecision | null = null;
  let extensions = 0;
  let wasParked = false;
  const escalationPool = input.escalationReviewers ?? [];
  const overlap = input.overlap ?? 0;
  /** Candidate strategy: each batch is chosen when the previous one is answered, by a quick forest. */
  const candidateMode = input.strategy === 'candidate' || input.strategy === 'disagreement';
  const batchSize = candidateMode ? input.batchSize || 10 : (input.batchSize ?? 0);
  /** Items people will be asked in all: `items` grows batch by batch in candidate mode. */
  let total = 0;
  const minKappa = input.minKappa ?? 0.6;
  /** Overlapped items' answers in the order they came, one per reviewer. */
  const votes = new Map<string, { reviewer: string; label: string }[]>();
  /** Which items two reviewers answer: a stable hash of the item, so a replay (and a later batch) agrees. */
  const isOverlapped = (key: string): boolean =>
    overlap > 0 && trafficBucket(`${input.campaignId}:${key}`) < Math.round(overlap * 100);
  /** How many of `items` are out to reviewers (all, without batches). */
  let released = 0;
  let parkedFor: 'labels' | 'agreement' | null = null;

  /** Answers an overlapped item needs: two, or three once the first two disagree. */
  const needs = (key: string): number => {
    const v = votes.get(key) ?? [];
    return v.length >= 2 && v[0]!.label !== v[1]!.label ? 3 : 2;
  };
  /** The settled label of an overlapped item, or null while it waits for another answer. */
  const settle = (v: readonly { label: string }[]): string | null => {
    if (v.length >= 2 && v[0]!.label === v[1]!.label) return v[0]!.label;
    if (v.length < 3) return null;
    const counts = new Map<string, number>();
    for (const x of v.slice(0, 3)) counts.set(x.label, (counts.get(x.label) ?? 0) + 1);
    for (const [label, n] of counts) if (n >= 2) return label;
    return v[2]!.label;
  };
  const agreement = (): Agreement => {
    const pairs: [string, string][] = [];
    let settledByThird = 0;
    for (const v of votes.values()) {
      if (v.length >= 2) pairs.push([v[0]!.label, v[1]!.label]);
      if (v.length >= 3) settledByThird++;
    }
    return {
      overlapped: items.filter((i) => isOverlapped(i.recordKey)).length,
      pairs: pairs.length,
      kappa: cohenKappa(pairs),
      disagreements: pairs.filter(([a, b]) => a !== b).length,
      settledByThird,
      minKappa,
    };
  };
  const batchOf = (): { current: number; of: number; size: number } => ({
    current: Math.ceil(released / batchSize),
    of: Math.ceil(total / batchSize),
    size: batchSize,
  });
  /** The batch that is out has every item settled, and there is another to send. */
  const batchDone = (): boolean =>
    batchSize > 0 && released < total && items.slice(0, released).every((i) => answers.has(i.recordKey));
  const allowed = () =>
    escalatedAt && input.reviewers.length > 0 ? [...input.reviewers, ...escalationPool] : input.reviewers;

  setHandler(labelingStatusQuery, () => ({
    campaignId: input.campaignId,
    labelSet: input.labelSet,
    requested: total,
    answered: answers.size,
    pending: items
      .slice(0, released)
      .filter((i) => !answers.has(i.recordKey))
      .map((i) =>
        isOverlapped(i.recordKey)
          ? {
              ...i,
              reviewedBy: (votes.get(i.recordKey) ?? []).map((v) => v.reviewer),
              needs: needs(i.recordKey),
            }
          : i,
      ),
    deadlineAt,
    state,
    remindedAt,
    escalatedAt,
    reviewers: allowed(),
    decisionDueAt,
    ...(parkedFor ? { parkedFor } : {}),
    ...(overlap > 0 ? { agreement: agreement() } : {}),
    ...(batchSize > 0 && total > 0 ? { batch: batchOf() } : {}),
  }));

  const mayDecide = (actor: string) => {
    const deciders = input.deciders ?? [];
    if (deciders.length > 0 && !deciders.includes(actor))
      throw new Error(`refused: "${actor}" may not decide for campaign ${input.campaignId}`);
  };
  /** Moves the deadline `by` later, from now if it has passed (a grace period counts from the deadline). */
  const extend = (by: string, fromDeadline = false) => {
    deadlineMs = (fromDeadline ? deadlineMs : Math.max(deadlineMs, Date.now())) + durationMs(by);
    deadlineAt = new Date(deadlineMs).toISOString();
    extensions++;
  };
  setHandler(
    extendDeadlineUpdate,
    async (raw) => {
      const e = ExtendDeadlineInput.parse(raw);
      extend(e.by);
      if (state === 'parked') state = 'open';
      log.info('deadline extended', { campaignId: input.campaignId, by: e.by, actor: e.actor, deadlineAt });
      await acts.recordAudit({
        key: `${input.campaignId}:extended:${extensions}`,
        cycleId: input.cycleId,
        modelId: input.modelId,
        actor: e.actor,
        action: 'labeling.deadline-extended',
        details: { by: e.by, deadlineAt, reason: e.reason ?? null },
      });
      return { deadlineAt };
    },
    {
      validator: (raw) => {
        const p = ExtendDeadlineInput.safeParse(raw);
        if (!p.success) throw new Error(`extension refused: ${describeZodError(p.error)}`);
        if (state !== 'open' && state !== 'parked')
          throw new Error(`extension refused: campaign ${input.campaignId} is closed (${state})`);
        mayDecide(p.data.actor);
      },
    },
  );
  setHandler(
    decideCampaignUpdate,
    (raw) => {
      decision = CampaignDecision.parse(raw);
      return { state };
    },
    {
      validator: (raw) => {
        const p = CampaignDecision.safeParse(raw);
        if (!p.success) throw new Error(`decision refused: ${describeZodError(p.error)}`);
        if (state !== 'parked')
          throw new Error(
            `decision refused: campaign ${input.campaignId} is not parked (it is ${state}); use "remedy labels extend" for more time`,
          );
        if (parkedFor === 'agreement' && p.data.decision === 'extend')
          throw new Error(
            `decision refused: campaign ${input.campaignId} is parked because reviewers agree too little; more time does not change that: proceed or abort`,
          );
        mayDecide(p.data.actor);
      },
    },
  );

  setHandler(
    submitLabelUpdate,
    async (raw) => {
      const answer = LabelAnswer.parse(raw);
      if (isOverlapped(answer.recordKey) && !answers.has(answer.recordKey)) return await vote(answer);
      const stored = await acts.recordLabel({ campaignId: input.campaignId, ...answer });
      const duplicate = stored.duplicate || answers.has(answer.recordKey);
      answers.set(answer.recordKey, stored.label);
      return {
        recordKey: answer.recordKey,
        label: stored.label,
        duplicate,
        remaining: total - answers.size,
      };
    },
    {
      // Synchronous checks: a refused answer is never written to history, so the campaign is unchanged.
      validator: (raw) => {
        const parsed = LabelAnswer.safeParse(raw);
        if (!parsed.success) throw new Error(`label refused: ${describeZodError(parsed.error)}`);
        const answer = parsed.data;
        if (state !== 'open' && state !== 'parked')
          throw new Error(`label refused: campaign ${input.campaignId} is closed (${state})`);
        const index = items.findIndex((i) => i.recordKey === answer.recordKey);
        if (index < 0) {
          throw new Error(
            `label refused: recordKey "${answer.recordKey}" is not an item of campaign ${input.campaignId}; list pending items with "remedy pending"`,
          );
        }
        if (index >= released) {
          const b = batchOf();
          throw new Error(
            `label refused: recordKey "${answer.recordKey}" is in a later batch (batch ${b.current} of ${b.of} is out); answer the pending items first`,
          );
        }
        if (!input.labelSet.includes(answer.label)) {
          throw new Error(
            `label refused: label "${answer.label}" is not one of ${input.labelSet.join(', ')}`,
          );
        }
        const reviewers = allowed();
        if (reviewers.length > 0 && !reviewers.includes(answer.reviewer)) {
          throw new Error(`label refused: reviewer "${answer.reviewer}" may not label for this model`);
        }
      },
    },
  );

  /** An answer to an overlapped item: kept per reviewer; the item settles on agreement or a third answer. */
  async function vote(answer: LabelAnswer) {
    const key = answer.recordKey;
    const stored = await acts.recordVote({ campaignId: input.campaignId, ...answer });
    const list = votes.get(key) ?? [];
    if (!list.some((v) => v.reviewer === answer.reviewer))
      list.push({ reviewer: answer.reviewer, label: stored.label });
    votes.set(key, list);
    const settled = settle(list);
    if (settled !== null && !answers.has(key)) {
      answers.set(key, settled);
      await acts.recordLabel({
        campaignId: input.campaignId,
        recordKey: key,
        label: settled,
        reviewer: list.map((v) => v.reviewer).join('+'),
        ...(answer.via ? { via: answer.via } : {}),
      });
      log.info('overlapped item settled', {
        campaignId: input.campaignId,
        recordKey: key,
        answers: list.length,
      });
    }
    return {
      recordKey: key,
      label: stored.label,
      duplicate: stored.duplicate,
      remaining: total - answers.size,
      ...(answers.has(key) ? {} : { awaiting: needs(key) - list.length }),
    };
  }

  const opened = await acts.openLabelTasks({
    campaignId: input.campaignId,
    modelId: input.modelId,
    datasetId: input.datasetId,
    championVersion: input.championVersion,
    budget: input.budget,
    ...(input.strategy ? { strategy: input.strategy } : {}),
    ...(input.autoLabelAbove !== undefined ? { autoLabelAbove: input.autoLabelAbove } : {}),
    ...(candidateMode ? { firstBatch: batchSize } : {}),
  });
  items = opened.items;
  released = batchSize > 0 ? Math.min(batchSize, items.length) : items.length;
  total = candidateMode ? opened.total : items.length;
  log.info('labeling campaign open', {
    campaignId: input.campaignId,
    requested: total,
    deadline: input.deadline,
  });

  if (patched('labeling-sla')) {
    state = await runSla();
    if (overlap > 0 && (state === 'complete' || state === 'deadline-partial'))
      state = await agreementGate(state);
  } else {
    const remainingMs = Date.parse(deadlineAt) - Date.now();
    const complete = await condition(() => answers.size >= total, Math.max(remainingMs, 1));
    if (complete) state = 'complete';
    else state = answers.size >= input.minLabels ? 'deadline-partial' : 'deadline-insufficient';
  }
  // Answers already accepted finish their write before the campaign reports.
  await condition(allHandlersFinished);
  return {
    state: state,
    requested: total,
    answered: answers.size,
    unlabeledRows: opened.unlabeledRows,
    ...(opened.autoLabeled ? { autoLabeled: opened.autoLabeled } : {}),
    ...(wasParked ? { parked: true } : {}),
    ...(overlap > 0 ? { agreement: agreement() } : {}),
  };

  /** Waits until `target()` (re-read when the deadline moves) or completion; true when complete. */
  async function waitUntil(target: () => number): Promise<boolean> {
    for (;;) {
      const seen = extensions;
      await condition(
        () => answers.size >= total || extensions !== seen || batchDone(),
        Math.max(target() - Date.now(), 1),
        { summary: 'Labeling: wait for answers until the next reminder or deadline' },
      );
      if (answers.size >= total) return true;
      if (batchDone()) {
        if (candidateMode) {
          const next = await acts.nextLabelBatch({
            campaignId: input.campaignId,
            modelId: input.modelId,
            datasetId: input.datasetId,
            championVersion: input.championVersion,
            index: Math.ceil(released / batchSize),
            size: batchSize,
            budget: total,
            ...(input.strategy === 'disagreement' ? { strategy: 'disagreement' as const } : {}),
          });
          items = [...items, ...next.items];
          released = items.length;
          // Fewer rows left than the budget: the campaign asks for what there is.
          if (next.items.length < batchSize) total = items.length;
          if (answers.size >= total) return true;
        } else released = Math.min(released + batchSize, total);
        const b = batchOf();
        await tell(
          'batch',
          allowed(),
          `batch ${b.current} of ${b.of} is out: ${released - (b.current - 1) * batchSize} items, by ${deadlineAt}`,
          `${b.current}`,
        );
        continue;
      }
      if (extensions === seen && Date.now() >= target()) return false;
    }
  }

  async function tell(
    kind: 'reminder' | 'escalation' | 'parked' | 'decision' | 'batch',
    recipients: string[],
    message: string,
    key = String(extensions),
  ) {
    await acts.notify({
      eventKey: `${input.campaignId}:${kind}:${key}`,
      campaignId: input.campaignId,
      kind,
      recipients,
      message,
    });
  }

  /** Parks the campaign for a person's decision and tells the deciders; returns when the decision is due. */
  async function park(
    why: 'labels' | 'agreement',
    message: (dueAt: string) => string,
    key?: string,
  ): Promise<number> {
    state = 'parked';
    parkedFor = why;
    wasParked = true;
    decision = null;
    const due = Date.now() + durationMs(input.decisionTimeout ?? '72h');
    decisionDueAt = new Date(due).toISOString();
    await tell('parked', input.deciders ?? [], message(decisionDueAt), key);
    return due;
  }

  /** Reviewers who agree too little make a dataset no one should train on: a person proceeds or aborts. */
  async function agreementGate(settledState: LabelingResult['state']): Promise<LabelingResult['state']> {
    const a = agreement();
    if (a.pairs < (input.minOverlapItems ?? 5) || a.kappa === null || a.kappa >= minKappa)
      return settledState;
    const kappa = a.kappa;
    const due = await park(
      'agreement',
      (by) =>
        `reviewers agree too little: kappa ${kappa.toFixed(2)} < ${minKappa} on ${a.pairs} items answered twice; proceed or abort by ${by}`,
      'agreement',
    );
    const decided = await condition(() => decision !== null, Math.max(due - Date.now(), 1), {
      summary: 'Parked on low agreement: wait for a decision (remedy labels decide proceed|abort)',
    });
    decisionDueAt = null;
    parkedFor = null;
    if (!decided) return 'deadline-insufficient';
    const d = decision;
    await acts.recordAudit({
      key: `${input.campaignId}:agreement-decision`,
      cycleId: input.cycleId,
      modelId: input.modelId,
      actor: d!.actor,
      action: `labeling.${d!.decision}`,
      details: { reason: d!.reason ?? null, agreement: a },
    });
    if (d!.decision === 'abort') return 'aborted';
    state = 'open';
    return settledState;
  }

  async function runSla(): Promise<LabelingResult['state']> {
    if (total === 0) return 'complete';
    const reminderAt = input.reminderAt ?? 0.5;
    if (reminderAt > 0) {
      if (await waitUntil(() => startedAt + reminderAt * (deadlineMs - startedAt))) return 'complete';
      remindedAt = new Date(Date.now()).toISOString();
      await tell(
        'reminder',
        input.reviewers,
        `${total - answers.size} of ${total} labels still wanted by ${deadlineAt}`,
      );
    }
    for (;;) {
      if (await waitUntil(() => deadlineMs)) return 'complete';
      if (!escalatedAt && escalationPool.length > 0) {
        escalatedAt = new Date(Date.now()).toISOString();
        extend(input.escalationGrace ?? '12h', true);
        await tell(
          'escalation',
          escalationPool,
          `deadline passed with ${answers.size} of ${total} labels: please help label by ${deadlineAt}`,
        );
        continue;
      }
      if (answers.size >= input.minLabels) return 'deadline-partial';
      // Too few labels: a person decides. Labels are still taken while parked.
      const due = await park(
        'labels',
        (by) => `${answers.size} of ${input.minLabels} needed labels: extend, proceed or abort by ${by}`,
      );
      const seen = extensions;
      // Labels that arrive while parked count: enough of them and the campaign goes on by itself.
      const decided = await condition(
        () => decision !== null || extensions !== seen || answers.size >= input.minLabels,
        Math.max(due - Date.now(), 1),
        { summary: 'Parked: wait for a decision (remedy labels decide extend|proceed|abort)' },
      );
      decisionDueAt = null;
      parkedFor = null;
      if (decision === null && extensions === seen && answers.size >= input.minLabels) {
        state = 'open';
        return answers.size >= total ? 'complete' : 'deadline-partial';
      }
      if (!decided) return 'deadline-insufficient';
      const d = decision;
      if (d === null) continue; // extended through extendDeadline: back to waiting
      await acts.recordAudit({
        key: `${input.campaignId}:decision:${extensions}`,
        cycleId: input.cycleId,
        modelId: input.modelId,
        actor: d.actor,
        action: `labeling.${d.decision}`,
        details: { by: d.by ?? null, reason: d.reason ?? null, answered: answers.size },
      });
      if (d.decision === 'abort') return 'aborted';
      if (d.decision === 'proceed') return 'deadline-partial';
      extend(d.by!);
      state = 'open';
    }
  }
}
