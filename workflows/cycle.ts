import {
  ActivityFailure,
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
import type { TargetTrace } from '../activities/catalog.js';
import type { Activities, TrainingActivities } from '../activities/index.js';
import { diagnose } from '../core/policy.js';
import { ApprovalInput, CycleInput, describeZodError } from '../core/inputs.js';
import type { CycleRequest } from '../core/inputs.js';
import { labelingCampaign } from './labeling.js';
import {
  addEvidenceSignal,
  approveRolloutUpdate,
  cycleStatusQuery,
  type CycleSummary,
  type Outcome,
  type Stage,
} from './messages.js';
import { quickIo, training, summarized } from './presets.js';
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

export interface CycleOptions {
  trainingTaskQueue: string;
}

/** Child workflow IDs derive from the cycle's, so clients can address them without a lookup. */
export const labelingWorkflowId = (cycleId: string) => `${cycleId}-labeling`;
export const rolloutWorkflowId = (cycleId: string) => `${cycleId}-rollout`;

/**
 * One remediation cycle for one model: confirm → diagnose → collect → label → retrain → evaluate →
 * (approval) → roll out → close. Every stage is a durable step; every wait has a timeout and a branch.
 */
export async function remediationCycle(rawInput: CycleRequest, options: CycleOptions): Promise<CycleSummary> {
  const parsed = CycleInput.safeParse(rawInput);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid cycle input: ${describeZodError(parsed.error)}`,
      'InvalidInput',
    );
  }
  const input = parsed.data;
  const cycleId = workflowInfo().workflowId;
  const summary: CycleSummary = {
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
  };
  let approval: ApprovalInput | null = null;
  let approvers: string[] = [];

  setHandler(cycleStatusQuery, () => summary);
  setHandler(addEvidenceSignal, (evidence) => {
    summary.evidence = [...(summary.evidence ?? []), evidence];
    log.info('evidence attached', { cycleId, kind: evidence.kind, key: evidence.key });
  });
  setHandler(
    approveRolloutUpdate,
    (decision) => {
      approval = decision;
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
        if (approvers.length > 0 && !approvers.includes(p.data.approver)) {
          throw new Error(
            `approval refused: "${p.data.approver}" is not an approver for model ${input.modelId}`,
          );
        }
      },
    },
  );

  const enter = (stage: Stage) => {
    const now = new Date(Date.now()).toISOString();
    const last = summary.stages[summary.stages.length - 1];
    if (last && !last.endedAt) last.endedAt = now;
    summary.stage = stage;
    summary.stages.push({ stage, startedAt: now });
    upsertSearchAttributes([{ key: RemediationStageKey, value: stage }]);
  };
  const note = (values: Record<string, unknown>) => {
    const last = summary.stages[summary.stages.length - 1]!;
    last.summary = { ...last.summary, ...values };
  };
  const close = async (outcome: Outcome, reason: string): Promise<CycleSummary> => {
    enter('close');
    summary.outcome = outcome;
    summary.reason = reason;
    note({ outcome, reason });
    if (
      patched('failure-traces') &&
      (outcome === 'promoted' || outcome === 'rolled-back') &&
      summary.candidateVersion !== null &&
      (summary.targets ?? []).length > 0
    ) {
      // Did the remedy fix what it targeted? The candidate's error rates on the traffic it served.
      try {
        summary.targets = await bestEffort.traceRemedy({
          cycleId,
          modelId: input.modelId,
          candidateVersion: summary.candidateVersion,
        });
        note({ traces: summary.targets.map(traceNote) });
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.warn('remediation traces could not be measured', { cycleId, error: String(err) });
        note({ traces: `not measured: ${String(err)}` });
      }
    }
    summary.stages[summary.stages.length - 1]!.endedAt = new Date(Date.now()).toISOString();
    upsertSearchAttributes([{ key: OutcomeKey, value: outcome }]);
    await acts.closeCycle({ cycleId, modelId: input.modelId, outcome, summary });
    await condition(allHandlersFinished);
    log.info('cycle closed', { cycleId, outcome, reason });
    return summary;
  };

  enter('confirm');
  const ctx = await acts.openCycle({
    cycleId,
    modelId: input.modelId,
    window: input.window,
    trigger: input.trigger,
  });
  const policy = ctx.policy;
  const train = summarized(
    proxyActivities<TrainingActivities>(
      training(options.trainingTaskQueue, policy.training.heartbeatTimeout),
    ),
  );
  approvers = policy.rollout.approvers;
  summary.championVersion = ctx.championVersion;
  let rolloutStarted = false;

  try {
    const { reportId, report } = await acts.confirmDrift({
      cycleId,
      modelId: input.modelId,
      championVersion: ctx.championVersion,
      window: input.window,
      policy: policy.drift,
      maxRows: policy.collection.maxRows,
    });
    note({
      reportId,
      windowRows: report.windowRows,
      driftedShare: report.driftedShare,
      topFeatures: report.features
        .slice(0, 3)
        .map((f) => ({ feature: f.feature, psi: round(f.psi), ksPValue: f.ksPValue })),
      labeledRows: report.performance.labeledRows,
      baselineAccuracy: round(report.performance.baselineAccuracy),
      currentAccuracy:
        report.performance.currentAccuracy === null ? null : round(report.performance.currentAccuracy),
      labelShiftPsi: report.labelShiftPsi === null ? null : round(report.labelShiftPsi),
    });

    enter('diagnose');
    const diagnosis = diagnose(report, policy.drift);
    summary.severity = diagnosis.severity;
    upsertSearchAttributes([{ key: DriftSeverityKey, value: diagnosis.severity }]);
    note({
      severity: diagnosis.severity,
      signals: diagnosis.signals,
      reason: diagnosis.reason,
      drifted: diagnosis.rankedFeatures,
    });
    if (patched('drift-routing')) {
      note({ route: diagnosis.route });
      if (diagnosis.route === 'data-quality')
        return await close('data-quality-incident', `not retraining on broken data: ${diagnosis.reason}`);
      if (diagnosis.route === 'none') return await close('no-action', `no action: ${diagnosis.reason}`);
    } else if (diagnosis.severity === 'none') {
      return await close('no-action', `no drift: ${diagnosis.reason}`);
    }

    enter('collect');
    const collected = await acts.collectDataset({
      cycleId,
      modelId: input.modelId,
      window: input.window,
      policy: policy.collection,
      driftReportId: reportId,
    });
    note(collected);
    if (patched('failure-traces')) {
      try {
        summary.targets = await bestEffort.targetPatterns({
          cycleId,
          modelId: input.modelId,
          championVersion: ctx.championVersion,
          window: input.window,
          maxRows: policy.collection.maxRows,
        });
        note({ targets: summary.targets.map(traceNote) });
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.warn('target patterns could not be recorded', { cycleId, error: String(err) });
        note({ targets: `not recorded: ${String(err)}` });
      }
    }

    enter('label');
    const campaignId = labelingWorkflowId(cycleId);
    const labeling = await executeChild(labelingCampaign, {
      workflowId: campaignId,
      staticSummary: `Labeling campaign of ${cycleId}`,
      args: [
        {
          campaignId,
          cycleId,
          modelId: input.modelId,
          datasetId: collected.datasetId,
          championVersion: ctx.championVersion,
          labelSet: ctx.labelSet,
          budget: policy.labeling.budget,
          minLabels: policy.labeling.minLabels,
          deadline: policy.labeling.deadline,
          reviewers: policy.labeling.reviewers,
          strategy: policy.labeling.strategy,
          ...(policy.labeling.autoLabelAbove !== undefined
            ? { autoLabelAbove: policy.labeling.autoLabelAbove }
            : {}),
          reminderAt: policy.labeling.reminderAt,
          escalationReviewers: policy.labeling.escalationReviewers,
          escalationGrace: policy.labeling.escalationGrace,
          decisionTimeout: policy.labeling.decisionTimeout,
          deciders: policy.labeling.deciders,
          // Only when used, so campaigns of cycles that started before these options start the same.
          ...(policy.labeling.overlap > 0
            ? {
                overlap: policy.labeling.overlap,
                minKappa: policy.labeling.minKappa,
                minOverlapItems: policy.labeling.minOverlapItems,
              }
            : {}),
          ...(policy.labeling.batchSize > 0 ? { batchSize: policy.labeling.batchSize } : {}),
        },
      ],
    });
    note({ ...labeling });
    if (labeling.state === 'aborted') {
      return await close(
        'aborted',
        `labeling aborted by a person's decision with ${labeling.answered} of ${labeling.requested} labels`,
      );
    }
    if (labeling.state === 'deadline-insufficient') {
      return await close(
        'labeling-expired',
        `labeling deadline (${policy.labeling.deadline}) passed with ${labeling.answered} of ${labeling.requested} labels; at least ${policy.labeling.minLabels} needed${labeling.parked ? `, and nobody decided within ${policy.labeling.decisionTimeout}` : ''}`,
      );
    }
    const labeled = await acts.freezeLabeledDataset({
      cycleId,
      modelId: input.modelId,
      parentId: collected.datasetId,
      campaignId,
    });
    note({
      labeledDatasetId: labeled.datasetId,
      labeledRows: labeled.rowCount,
      humanLabels: labeled.humanLabels,
    });

    enter('retrain');
    const trained = await train.trainCandidate({
      cycleId,
      modelId: input.modelId,
      datasetId: labeled.datasetId,
      championVersion: ctx.championVersion,
      severity: diagnosis.severity === 'severe' ? 'severe' : 'mild',
      config: policy.training,
    });
    summary.candidateVersion = trained.version;
    upsertSearchAttributes([{ key: CandidateVersionKey, value: String(trained.version) }]);
    note({
      version: trained.version,
      trainer: trained.trainer,
      trainRows: trained.trainRows,
      historyRows: trained.historyRows,
      resumedFrom: trained.resumedFrom,
      trainAccuracy: round(trained.trainAccuracy),
      artifactSha256: trained.artifactSha256,
      configHash: trained.configHash,
      ...trained.details,
    });

    enter('evaluate');
    const evaluation = await acts.evaluateCandidate({
      cycleId,
      modelId: input.modelId,
      datasetId: labeled.datasetId,
      candidateVersion: trained.version,
      championVersion: ctx.championVersion,
      policy: policy.evaluation,
      driftReportId: reportId,
      campaignId,
    });
    note({
      holdoutRows: evaluation.holdoutRows,
      candidateAccuracy: round(evaluation.candidate.accuracy),
      championAccuracy: round(evaluation.champion.accuracy),
      candidateMacroF1: round(evaluation.candidate.macroF1),
      candidateEce: round(evaluation.candidate.ece),
      championEce: round(evaluation.champion.ece),
      candidateLogLoss: round(evaluation.candidate.logLoss),
      championLogLoss: round(evaluation.champion.logLoss),
      slices: evaluation.slices,
      gates: evaluation.gates.map((g) => ({
        gate: g.name,
        passed: g.passed,
        measured: g.measured,
        limit: g.limit,
      })),
      gate: evaluation.go ? 'go' : 'no-go',
      reason: evaluation.reason,
    });
    if (!evaluation.go) {
      await acts.rejectCandidate({
        cycleId,
        modelId: input.modelId,
        candidateVersion: trained.version,
        evidence: { gates: evaluation.gates, reason: evaluation.reason },
      });
      return await close('rejected', `evaluation gates failed: ${evaluation.reason}`);
    }

    if (policy.rollout.requireApproval) {
      enter('approval');
      summary.awaitingApproval = true;
      const answered = await condition(() => approval !== null, policy.rollout.approvalTimeout, {
        summary: 'Wait for a person to approve the rollout (remedy approve)',
      });
      summary.awaitingApproval = false;
      const decision = approval as ApprovalInput | null;
      if (!answered || !decision) {
        await acts.rejectCandidate({
          cycleId,
          modelId: input.modelId,
          candidateVersion: trained.version,
          evidence: { approval: 'timed out' },
        });
        return await close('approval-denied', `no approval within ${policy.rollout.approvalTimeout}`);
      }
      await acts.recordAudit({
        key: `${cycleId}:approval`,
        cycleId,
        modelId: input.modelId,
        actor: decision.approver,
        action: decision.approve ? 'rollout.approved' : 'rollout.denied',
        details: { reason: decision.reason ?? null },
      });
      note({ approver: decision.approver, approved: decision.approve });
      if (!decision.approve) {
        await acts.rejectCandidate({
          cycleId,
          modelId: input.modelId,
          candidateVersion: trained.version,
          evidence: { approval: decision },
        });
        return await close(
          'approval-denied',
          `rollout denied by ${decision.approver}${decision.reason ? `: ${decision.reason}` : ''}`,
        );
      }
    }

    enter('rollout');
    rolloutStarted = true;
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
    note({
      outcome: rollout.outcome,
      reason: rollout.reason,
      steps: rollout.steps.map((s) => ({
        weight: s.weight,
        decision: s.analysis.decision,
        candidateAccuracy:
          s.analysis.candidate.accuracy === null ? null : round(s.analysis.candidate.accuracy),
        championAccuracy: s.analysis.champion.accuracy === null ? null : round(s.analysis.champion.accuracy),
        candidateN: s.analysis.candidate.n,
        championN: s.analysis.champion.n,
      })),
    });
    return await close(rollout.outcome, rollout.reason);
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        // The rollout child compensates itself when cancelled; this covers a cancel that lands between
        // the child's last step and its start, so traffic never stays split after an abort.
        if (rolloutStarted && summary.candidateVersion !== null && summary.championVersion !== null) {
          await acts.rollback({
            cycleId,
            modelId: input.modelId,
            championVersion: summary.championVersion,
            candidateVersion: summary.candidateVersion,
            actor: 'abort',
            evidence: { aborted: true },
          });
        }
        await close('aborted', `aborted during ${summary.stage}`);
      });
      throw err;
    }
    const business = businessFailureOf(err);
    if (business) return await close('failed', `${business.type}: ${business.message}`);
    throw err;
  }
}

function businessFailureOf(err: unknown): ApplicationFailure | null {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) cause = cause.cause;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? cause : null;
}

function traceNote(t: TargetTrace) {
  const pct = (r: number | null) => (r === null ? null : round(r));
  return {
    pattern: t.patternKey,
    cases: t.cases,
    before: pct(t.before.rate),
    after: t.after ? pct(t.after.rate) : null,
    verdict: t.verdict,
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
