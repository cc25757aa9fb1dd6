import {
  ActivityFailure,
  TimeoutFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { Activities, PythonTrainingActivities, TrainingActivities } from '../activities/index.js';
import {
  approvalDeniedReason,
  diagnosisNote,
  driftNote,
  evaluationNote,
  labeledNote,
  labelingAbortedReason,
  labelingExpiredReason,
  labelingInputOf,
  rolloutNote,
  traceNote,
  trainedNote,
} from '../core/cycle-notes.js';
import { ApprovalInput, CycleInput, describeZodError } from '../core/inputs.js';
import type { CycleRequest } from '../core/inputs.js';
import { diagnose, type Diagnosis } from '../core/policy.js';
import type { Policy } from '../core/schemas.js';
import { labelingCampaign } from './labeling.js';
import {
  addEvidenceSignal,
  approveRolloutUpdate,
  cycleStatusQuery,
  type CycleSummary,
  type Outcome,
  type Stage,
} from './messages.js';
import { pythonTraining, quickIo, slowIo as slowIoOptions, training, summarized } from './presets.js';
import { stagedRollout } from './rollout.js';
import {
  CandidateVersionKey,
  DriftSeverityKey,
  OutcomeKey,
  RemediationStageKey,
} from './search-attributes.js';

const acts = summarized(proxyActivities<Activities>(quickIo));
/** Bookkeeping that must never hold a cycle up (failure traces): a few attempts, then the cycle goes on. */
const bestEffort = summarized(
  proxyActivities<Activities>({
    ...quickIo,
    retry: { ...quickIo.retry, maximumAttempts: 5 },
  }),
);

const slowIo = summarized(proxyActivities<Activities>(slowIoOptions));

export interface CycleOptions {
  trainingTaskQueue: string;
}

/** Child workflow IDs derive from the cycle's, so clients can address them without a lookup. */
export const labelingWorkflowId = (cycleId: string) => `${cycleId}-labeling`;
export const rolloutWorkflowId = (cycleId: string) => `${cycleId}-rollout`;

type CycleContext = Awaited<ReturnType<Activities['openCycle']>>;

/** One cycle's state: what its query shows, and what its handlers and stages share. */
interface Cycle {
  readonly cycleId: string;
  readonly input: CycleInput;
  readonly summary: CycleSummary;
  /** Who may approve the rollout (empty: anyone), and their answer once given. */
  approvers: string[];
  approval: ApprovalInput | null;
  /** Traffic may be split from here on: an abort rolls it back. */
  rolloutStarted: boolean;
  /** Search attributes set and not yet sent, until the next stage's upsert (null before the patch). */
  shown: Map<string, SearchAttributeUpdatePair> | null;
}

/** How a cycle ends before its rollout finishes. */
interface Ending {
  outcome: Outcome;
  reason: string;
}

/**
 * One remediation cycle for one model: confirm → diagnose → collect → label → retrain → evaluate →
 * (approval) → roll out → close. Every stage is a durable step; every wait has a timeout and a branch.
 */
export async function remediationCycle(rawInput: CycleRequest, options: CycleOptions): Promise<CycleSummary> {
  const cy = newCycle(workflowInfo().workflowId, parseInput(rawInput));
  if (patched('one-upsert-per-task')) cy.shown = new Map();
  const { cycleId, input, summary } = cy;
  handleMessages(cy);

  enter(cy, 'confirm');
  const ctx = await acts.openCycle({
    cycleId,
    modelId: input.modelId,
    window: input.window,
    trigger: input.trigger,
  });
  const policy = ctx.policy;
  cy.approvers = policy.rollout.approvers;
  summary.championVersion = ctx.championVersion;

  try {
    const drift = await acts.confirmDrift({
      cycleId,
      modelId: input.modelId,
      championVersion: ctx.championVersion,
      window: input.window,
      policy: policy.drift,
      maxRows: policy.collection.maxRows,
    });
    note(cy, driftNote(drift.reportId, drift.report));

    // Diagnosis runs in the same workflow task as the stage after it: its stage goes out with that one's.
    enter(cy, 'diagnose', { send: false });
    const diagnosis = diagnose(drift.report, policy.drift);
    const noRemedy = route(cy, diagnosis);
    if (noRemedy) return await close(cy, noRemedy);

    enter(cy, 'collect');
    const collected = await acts.collectDataset({
      cycleId,
      modelId: input.modelId,
      window: input.window,
      policy: policy.collection,
      driftReportId: drift.reportId,
      // An activity argument, not a command: replaying an older history schedules the same activity.
      holdout: policy.evaluation.holdout,
    });
    note(cy, collected);
    if (patched('failure-traces')) await recordTargets(cy, ctx);

    enter(cy, 'label');
    const labeled = await label(cy, ctx, collected.datasetId);
    if ('outcome' in labeled) return await close(cy, labeled);

    enter(cy, 'retrain');
    const trainedOrEnded = await retrain(cy, options, policy, {
      cycleId,
      modelId: input.modelId,
      datasetId: labeled.datasetId,
      championVersion: ctx.championVersion,
      severity: diagnosis.severity === 'severe' ? 'severe' : 'mild',
      config: policy.training,
    });
    if ('outcome' in trainedOrEnded) return await close(cy, trainedOrEnded);
    const trained = trainedOrEnded;
    summary.candidateVersion = trained.version;
    show(cy, [{ key: CandidateVersionKey, value: String(trained.version) }]);
    note(cy, trainedNote(trained));

    enter(cy, 'evaluate');
    const evaluation = await acts.evaluateCandidate({
      cycleId,
      modelId: input.modelId,
      datasetId: labeled.datasetId,
      candidateVersion: trained.version,
      championVersion: ctx.championVersion,
      policy: policy.evaluation,
      driftReportId: drift.reportId,
      campaignId: labeled.campaignId,
    });
    note(cy, evaluationNote(evaluation));
    if (!evaluation.go) {
      await reject(cy, trained.version, { gates: evaluation.gates, reason: evaluation.reason });
      return await close(cy, {
        outcome: 'rejected',
        reason: `evaluation gates failed: ${evaluation.reason}`,
      });
    }

    if (policy.rollout.requireApproval) {
      enter(cy, 'approval');
      const denied = await awaitApproval(cy, policy, trained.version);
      if (denied) return await close(cy, denied);
    }

    enter(cy, 'rollout');
    cy.rolloutStarted = true;
    const rollout = await executeChild(stagedRollout, {
      workflowId: rolloutWorkflowId(cycleId),
      staticSummary: `Staged rollout of ${input.modelId} v${trained.version} (${cycleId})`,
      args: [
        {
          cycleId,
          modelId: input.modelId,
          championVersion: ctx.championVersion,
          candidateVersion: trained.version,
          policy: policy.rollout,
        },
      ],
    });
    note(cy, rolloutNote(rollout));
    return await close(cy, rollout, { traceRemedy: true });
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => abort(cy));
      throw err;
    }
    const business = businessFailureOf(err);
    if (business)
      return await close(cy, { outcome: 'failed', reason: `${business.type}: ${business.message}` });
    throw err;
  }
}

function parseInput(rawInput: CycleRequest): CycleInput {
  const parsed = CycleInput.safeParse(rawInput);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid cycle input: ${describeZodError(parsed.error)}`,
      'InvalidInput',
    );
  }
  return parsed.data;
}

function newCycle(cycleId: string, input: CycleInput): Cycle {
  return {
    cycleId,
    input,
    summary: {
      cycleId,
      modelId: input.modelId,
      window: input.window,
      stage: 'confirm',
      outcome: null,
      reason: null,
      severity: null,
      championVersion: null,
      candidateVersion: null,
      awaitingApproval: false,
      stages: [],
    },
    approvers: [],
    approval: null,
    rolloutStarted: false,
    shown: null,
  };
}

type TrainInput = Parameters<TrainingActivities['trainCandidate']>[0];
type Trained = Awaited<ReturnType<TrainingActivities['trainCandidate']>>;

/** The Python worker's queue: the training queue's name with `-python` (REMEDY_PYTHON_TASK_QUEUE's default). */
export const pythonTaskQueue = (trainingTaskQueue: string) => `${trainingTaskQueue}-python`;

/**
 * retrain: a candidate from the built-in trainers, from the Python worker (an ONNX model), or the
 * version added from outside that the cycle was started with. The last two only run for cycles that
 * ask for them, so histories recorded before they existed replay unchanged.
 */
async function retrain(
  cy: Cycle,
  options: CycleOptions,
  policy: Policy,
  input: TrainInput,
): Promise<Trained | Ending> {
  if (cy.input.candidateVersion !== undefined) {
    patched('external-candidate');
    return acts.useExternalCandidate({
      cycleId: input.cycleId,
      modelId: input.modelId,
      version: cy.input.candidateVersion,
    });
  }
  if (policy.training.trainer !== 'python')
    return trainingActivities(options.trainingTaskQueue, policy).trainCandidate(input);
  patched('python-trainer');
  const trainingSet = await slowIo.exportTrainingSet(input);
  const python = policy.training.python;
  const worker = proxyActivities<PythonTrainingActivities>(
    pythonTraining(pythonTaskQueue(options.trainingTaskQueue), policy.training.heartbeatTimeout, python),
  );
  let trained;
  try {
    trained = await worker.trainPythonCandidate({
      cycleId: input.cycleId,
      modelId: input.modelId,
      trainingSet: { sha256: trainingSet.sha256, rows: trainingSet.rows },
      featureSpec: trainingSet.featureSpec,
      labelSet: trainingSet.labelSet,
      seed: policy.training.seed,
      config: {
        estimators: python.estimators,
        learningRate: python.learningRate,
        maxDepth: python.maxDepth,
        stageSize: python.stageSize,
      },
      // A regression model's worker trains a regressor; a classifier's input is as it always was.
      ...(trainingSet.task === 'regression' ? { task: 'regression' as const } : {}),
    });
  } catch (err) {
    // Refusals (bad data, a model that does not convert) close the cycle with their own message; a
    // trainer that crashed, hung or timed out on every attempt closes it with this one.
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    if (err.cause instanceof ApplicationFailure && err.cause.nonRetryable) throw err;
    const why = err.cause instanceof TimeoutFailure ? `timed out (${err.cause.message})` : err.cause?.message;
    return {
      outcome: 'failed',
      reason: `the Python trainer failed on all ${python.maxAttempts} attempts (at most ${python.timeout} each): ${why ?? err.message}. Is a Python worker polling ${pythonTaskQueue(options.trainingTaskQueue)}?`,
    };
  }
  return slowIo.registerPythonCandidate({
    cycleId: input.cycleId,
    modelId: input.modelId,
    datasetId: input.datasetId,
    trainingSet,
    trained,
    config: policy.training,
  });
}

function trainingActivities(taskQueue: string, policy: Policy) {
  return summarized(
    proxyActivities<TrainingActivities>(training(taskQueue, policy.training.heartbeatTimeout)),
  );
}

/** The cycle's query, the evidence signal and the approval Update. */
function handleMessages(cy: Cycle): void {
  const { cycleId, summary } = cy;
  setHandler(cycleStatusQuery, () => summary);
  setHandler(addEvidenceSignal, (evidence) => {
    summary.evidence = [...(summary.evidence ?? []), evidence];
    log.info('evidence attached', { cycleId, kind: evidence.kind, key: evidence.key });
  });
  setHandler(
    approveRolloutUpdate,
    (decision) => {
      cy.approval = decision;
      return { approved: decision.approve };
    },
    {
      validator: (raw) => {
        const p = ApprovalInput.safeParse(raw);
        if (!p.success) throw new Error(`approval refused: ${describeZodError(p.error)}`);
        if (!summary.awaitingApproval)
          throw new Error(
            `approval refused: cycle ${cycleId} is not waiting for approval (stage ${summary.stage})`,
          );
        if (cy.approvers.length > 0 && !cy.approvers.includes(p.data.approver)) {
          throw new Error(
            `approval refused: "${p.data.approver}" is not an approver for model ${cy.input.modelId}`,
          );
        }
      },
    },
  );
}

/**
 * Starts a stage: ends the last one, and shows the new one in the cycle's search attributes, together
 * with whatever else was set since the last stage began (one upsert; `send: false` keeps it for the next).
 */
function enter(cy: Cycle, stage: Stage, o: { send?: boolean } = {}): void {
  const { summary } = cy;
  const now = new Date(Date.now()).toISOString();
  const last = summary.stages.at(-1);
  if (last && !last.endedAt) last.endedAt = now;
  summary.stage = stage;
  summary.stages.push({ stage, startedAt: now });
  show(cy, [{ key: RemediationStageKey, value: stage }]);
  if (o.send !== false) sendShown(cy);
}

/**
 * Sets search attributes: at once in histories from before the patch; otherwise kept until the next
 * stage begins (`enter` sends them), so a stage's attributes and the ones set just before it go out in
 * one upsert, in the same place among the task's commands as the stage's own always went.
 */
function show(cy: Cycle, pairs: SearchAttributeUpdatePair[]): void {
  if (!cy.shown) upsertSearchAttributes(pairs);
  else for (const pair of pairs) cy.shown.set(pair.key.name, pair);
}

function sendShown(cy: Cycle): void {
  if (!cy.shown || cy.shown.size === 0) return;
  const all = [...cy.shown.values()];
  cy.shown.clear();
  upsertSearchAttributes(all);
}

/** Adds to the current stage's summary. */
function note(cy: Cycle, values: Record<string, unknown>): void {
  const last = cy.summary.stages.at(-1);
  if (last) last.summary = { ...last.summary, ...values };
}

/** diagnose: how severe, and whether the cycle remedies at all (broken data or no drift: it does not). */
function route(cy: Cycle, diagnosis: Diagnosis): Ending | null {
  cy.summary.severity = diagnosis.severity;
  show(cy, [{ key: DriftSeverityKey, value: diagnosis.severity }]);
  note(cy, diagnosisNote(diagnosis));
  if (patched('drift-routing')) {
    note(cy, { route: diagnosis.route });
    if (diagnosis.route === 'data-quality')
      return {
        outcome: 'data-quality-incident',
        reason: `not retraining on broken data: ${diagnosis.reason}`,
      };
    if (diagnosis.route === 'none') return { outcome: 'no-action', reason: `no action: ${diagnosis.reason}` };
  } else if (diagnosis.severity === 'none') {
    return { outcome: 'no-action', reason: `no drift: ${diagnosis.reason}` };
  }
  return null;
}

/** collect: the champion's most frequent error patterns, the ones this remedy targets (best effort). */
async function recordTargets(cy: Cycle, ctx: CycleContext): Promise<void> {
  try {
    cy.summary.targets = await bestEffort.targetPatterns({
      cycleId: cy.cycleId,
      modelId: cy.input.modelId,
      championVersion: ctx.championVersion,
      window: cy.input.window,
      maxRows: ctx.policy.collection.maxRows,
    });
    note(cy, { targets: cy.summary.targets.map(traceNote) });
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('target patterns could not be recorded', { cycleId: cy.cycleId, error: String(err) });
    note(cy, { targets: `not recorded: ${String(err)}` });
  }
}

/**
 * A policy with no label budget and no auto-labeling asks nobody anything: the cycle trains on the labels
 * its collected rows already have, and starts no campaign (a child that would open no task and close at
 * once). Cycles started before this replay with the child they had.
 */
function asksForNothing(settings: Policy['labeling']): boolean {
  return settings.budget === 0 && settings.autoLabelAbove === undefined && patched('no-empty-campaign');
}

/** What the label stage says when no campaign was started: nothing asked, nothing to wait for. */
const noCampaign = {
  state: 'complete',
  requested: 0,
  answered: 0,
  campaign: 'none: the policy asks for no labels (labeling.budget 0)',
} as const;

/** label: the campaign as a child workflow, then the labeled dataset frozen; or how it ended without one. */
async function label(
  cy: Cycle,
  ctx: CycleContext,
  datasetId: number,
): Promise<{ datasetId: number; campaignId: string } | Ending> {
  const { cycleId, input } = cy;
  const settings = ctx.policy.labeling;
  const campaignId = labelingWorkflowId(cycleId);
  const identity = {
    campaignId,
    cycleId,
    modelId: input.modelId,
    datasetId,
    championVersion: ctx.championVersion,
    labelSet: ctx.labelSet,
    // Only a regression model's context has a range: a classifier's campaign input is as it always was.
    ...(ctx.numeric ? { numeric: ctx.numeric } : {}),
  };
  const labeling = asksForNothing(settings)
    ? noCampaign
    : await executeChild(labelingCampaign, {
        workflowId: campaignId,
        staticSummary: `Labeling campaign of ${cycleId}`,
        args: [labelingInputOf(identity, settings)],
      });
  note(cy, { ...labeling });
  if (labeling.state === 'aborted') return { outcome: 'aborted', reason: labelingAbortedReason(labeling) };
  if (labeling.state === 'deadline-insufficient')
    return { outcome: 'labeling-expired', reason: labelingExpiredReason(labeling, settings) };
  const labeled = await acts.freezeLabeledDataset({
    cycleId,
    modelId: input.modelId,
    parentId: datasetId,
    campaignId,
  });
  note(cy, labeledNote(labeled));
  return { datasetId: labeled.datasetId, campaignId };
}

/** approval: waits for a person; a denial or no answer in time rejects the candidate. */
async function awaitApproval(cy: Cycle, policy: Policy, candidateVersion: number): Promise<Ending | null> {
  const { cycleId, input, summary } = cy;
  summary.awaitingApproval = true;
  const answered = await condition(() => cy.approval !== null, policy.rollout.approvalTimeout, {
    summary: 'Wait for a person to approve the rollout (remedy approve)',
  });
  summary.awaitingApproval = false;
  const decision = cy.approval;
  if (!answered || !decision) {
    await reject(cy, candidateVersion, { approval: 'timed out' });
    return { outcome: 'approval-denied', reason: `no approval within ${policy.rollout.approvalTimeout}` };
  }
  await acts.recordAudit({
    key: `${cycleId}:approval`,
    cycleId,
    modelId: input.modelId,
    actor: decision.approver,
    action: decision.approve ? 'rollout.approved' : 'rollout.denied',
    // How the approver was identified; an approval sent without saying is recorded as typed.
    details: { reason: decision.reason ?? null, verifiedBy: decision.verifiedBy ?? 'unverified' },
  });
  note(cy, { approver: decision.approver, approved: decision.approve });
  if (decision.approve) return null;
  await reject(cy, candidateVersion, { approval: decision });
  return { outcome: 'approval-denied', reason: approvalDeniedReason(decision) };
}

async function reject(cy: Cycle, candidateVersion: number, evidence: Record<string, unknown>): Promise<void> {
  await acts.rejectCandidate({ cycleId: cy.cycleId, modelId: cy.input.modelId, candidateVersion, evidence });
}

/**
 * The remedy's trace, after a finished rollout: did the candidate fix the patterns it targeted? Its
 * error rates on the traffic it served (best effort: a failure is noted, the cycle still closes).
 */
async function traceRemedy(cy: Cycle, outcome: Outcome): Promise<void> {
  const { cycleId, summary } = cy;
  if (outcome !== 'promoted' && outcome !== 'rolled-back') return;
  if (summary.candidateVersion === null || (summary.targets ?? []).length === 0) return;
  try {
    summary.targets = await bestEffort.traceRemedy({
      cycleId,
      modelId: cy.input.modelId,
      candidateVersion: summary.candidateVersion,
    });
    note(cy, { traces: summary.targets.map(traceNote) });
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('remediation traces could not be measured', { cycleId, error: String(err) });
    note(cy, { traces: `not measured: ${String(err)}` });
  }
}

/**
 * close: every ending goes through here, with its outcome and reason; after a rollout, the remedy's
 * trace first. The patch check comes before it for every ending, where it always was in histories.
 */
async function close(cy: Cycle, ending: Ending, o: { traceRemedy?: boolean } = {}): Promise<CycleSummary> {
  const { cycleId, summary } = cy;
  const { outcome, reason } = ending;
  // With the patch, the outcome goes out with the close stage; before it, after the remedy's trace.
  if (cy.shown) show(cy, [{ key: OutcomeKey, value: outcome }]);
  enter(cy, 'close');
  summary.outcome = outcome;
  summary.reason = reason;
  note(cy, { outcome, reason });
  if (patched('failure-traces') && o.traceRemedy) await traceRemedy(cy, outcome);
  const last = summary.stages.at(-1);
  if (last) last.endedAt = new Date(Date.now()).toISOString();
  if (!cy.shown) upsertSearchAttributes([{ key: OutcomeKey, value: outcome }]);
  await acts.closeCycle({ cycleId, modelId: cy.input.modelId, outcome, summary });
  await condition(allHandlersFinished);
  log.info('cycle closed', { cycleId, outcome, reason });
  return summary;
}

/**
 * A cancelled cycle: the rollout child compensates itself when cancelled; this covers a cancel that
 * lands between the child's last step and its start, so traffic never stays split after an abort.
 */
async function abort(cy: Cycle): Promise<void> {
  const { summary } = cy;
  if (cy.rolloutStarted && summary.candidateVersion !== null && summary.championVersion !== null) {
    await acts.rollback({
      cycleId: cy.cycleId,
      modelId: cy.input.modelId,
      championVersion: summary.championVersion,
      candidateVersion: summary.candidateVersion,
      actor: 'abort',
      evidence: { aborted: true },
    });
  }
  await close(cy, { outcome: 'aborted', reason: `aborted during ${summary.stage}` });
}

function businessFailureOf(err: unknown): ApplicationFailure | null {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) cause = cause.cause;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? cause : null;
}
