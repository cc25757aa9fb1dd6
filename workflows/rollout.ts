import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  type TimerOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { StepAnalysis } from '../core/policy.js';
import type { Policy } from '../core/schemas.js';
import { ApprovalInput, describeZodError, durationMs, RolloutCommand } from '../core/inputs.js';
import {
  approveFullUpdate,
  promoteUpdate,
  resolvePauseUpdate,
  rollbackUpdate,
  rolloutStatusQuery,
  type RolloutStatus,
  type RolloutStepRecord,
} from './messages.js';
import { quickIo, summarized } from './presets.js';

const acts = summarized(proxyActivities<Activities>(quickIo));

/**
 * `condition(fn, timeout)`, except that a zero timeout ("0ms": no dwell, no pause) checks `fn` once and
 * starts no timer. A server timer fires no sooner than the server's timer granularity (about a second on
 * the dev server, whatever its duration), so a policy that asks for no wait should not get one. Other
 * timeouts are unchanged and add no patch marker.
 */
async function waitFor(fn: () => boolean, timeout: string, opts: TimerOptions): Promise<boolean> {
  if (durationMs(timeout) === 0 && patched('zero-waits')) return fn();
  return condition(fn, timeout, opts);
}

type PauseCommand = RolloutCommand & { decision: 'continue' | 'rollback' };

export interface RolloutInput {
  cycleId: string;
  modelId: string;
  championVersion: number;
  candidateVersion: number;
  policy: Policy['rollout'];
}

export interface RolloutResult {
  outcome: 'promoted' | 'rolled-back';
  reason: string;
  steps: RolloutStepRecord[];
  /** When a breached analysis was decided and when traffic was back on the champion (database clock). */
  breach?: { decidedAt: string; restoredAt: string };
}

/**
 * Staged rollout through the serving gateway: raise the candidate's share step by step, dwell while
 * real traffic and feedback arrive, analyse, and then advance, roll back (more failures in a row
 * than the failure limit), or pause for a person when the evidence is inconclusive. Promotes at the end.
 */
export async function stagedRollout(input: RolloutInput): Promise<RolloutResult> {
  const { policy } = input;
  const status: RolloutStatus = { state: 'running', currentWeight: 0, steps: [], reason: null };
  let manualRollback: RolloutCommand | null = null;
  let manualPromote: RolloutCommand | null = null;
  let pauseDecision: PauseCommand | null = null;
  let fullApproval: ApprovalInput | null = null;
  const interrupted = () => manualRollback !== null || manualPromote !== null;

  setHandler(rolloutStatusQuery, () => status);
  setHandler(
    rollbackUpdate,
    (cmd) => {
      manualRollback = cmd;
      return { accepted: true };
    },
    { validator: (cmd) => validateCommand(cmd, policy, status) },
  );
  setHandler(
    promoteUpdate,
    (cmd) => {
      manualPromote = cmd;
      return { accepted: true };
    },
    { validator: (cmd) => validateCommand(cmd, policy, status) },
  );
  setHandler(
    resolvePauseUpdate,
    (cmd) => {
      pauseDecision = cmd;
      return { accepted: true };
    },
    {
      validator: (cmd: PauseCommand) => {
        validateCommand(cmd, policy, status);
        if (cmd.decision !== 'continue' && cmd.decision !== 'rollback')
          throw new Error('decision must be "continue" or "rollback"');
        if (status.state !== 'paused') throw new Error('the rollout is not paused: nothing to resolve');
      },
    },
  );
  setHandler(
    approveFullUpdate,
    (approval) => {
      fullApproval = approval;
      return { approved: approval.approve };
    },
    {
      validator: (raw) => {
        const p = ApprovalInput.safeParse(raw);
        if (!p.success) throw new Error(`approval refused: ${describeZodError(p.error)}`);
        if (policy.approvers.length > 0 && !policy.approvers.includes(p.data.approver)) {
          throw new Error(`approval refused: "${p.data.approver}" is not an approver for this model`);
        }
        if (status.state !== 'awaiting-approval')
          throw new Error('approval refused: the rollout is not waiting for approval');
      },
    },
  );

  const versions = { championVersion: input.championVersion, candidateVersion: input.candidateVersion };
  const rollback = async (
    actor: string,
    reason: string,
    evidence: unknown,
    decidedAt?: string,
  ): Promise<RolloutResult> => {
    const { restoredAt } = await acts.rollback({
      cycleId: input.cycleId,
      modelId: input.modelId,
      ...versions,
      actor,
      evidence,
    });
    status.state = 'rolled-back';
    status.currentWeight = 0;
    status.reason = reason;
    await condition(allHandlersFinished);
    return {
      outcome: 'rolled-back',
      reason,
      steps: status.steps,
      ...(decidedAt ? { breach: { decidedAt, restoredAt } } : {}),
    };
  };
  const promote = async (actor: string, reason: string): Promise<RolloutResult> => {
    await acts.promote({ cycleId: input.cycleId, modelId: input.modelId, ...versions, actor });
    status.state = 'promoted';
    status.currentWeight = 100;
    status.reason = reason;
    await condition(allHandlersFinished);
    return { outcome: 'promoted', reason, steps: status.steps };
  };
  const manual = async (): Promise<RolloutResult> => {
    if (manualRollback) {
      const cmd: RolloutCommand = manualRollback;
      return rollback(cmd.actor, `rolled back by ${cmd.actor}${cmd.reason ? `: ${cmd.reason}` : ''}`, {
        manual: cmd,
      });
    }
    const cmd: RolloutCommand = manualPromote!;
    return promote(cmd.actor, `promoted by ${cmd.actor}${cmd.reason ? `: ${cmd.reason}` : ''}`);
  };

  try {
    let rolloutSince: string | null = null;
    for (const [index, weight] of policy.steps.entries()) {
      if (interrupted()) return await manual();
      if (weight === 100 && policy.approveBeforeFull) {
        status.state = 'awaiting-approval';
        status.reason = `waiting for approval before 100% ("remedy approve-full"), up to ${policy.approvalTimeout}`;
        const answered = await waitFor(() => fullApproval !== null || interrupted(), policy.approvalTimeout, {
          summary: 'Wait for approval before 100% (remedy approve-full)',
        });
        if (interrupted()) return await manual();
        const approval = fullApproval as ApprovalInput | null;
        if (!answered || !approval)
          return await rollback('remedy', `no approval before 100% within ${policy.approvalTimeout}`, {});
        if (!approval.approve) {
          return await rollback(
            approval.approver,
            `100% denied by ${approval.approver}${approval.reason ? `: ${approval.reason}` : ''}`,
            { approval },
          );
        }
        status.state = 'running';
        status.reason = null;
      }
      const { since } = await acts.setTrafficWeight({
        cycleId: input.cycleId,
        modelId: input.modelId,
        ...versions,
        weight,
      });
      rolloutSince ??= since;
      status.currentWeight = weight;
      const stepStarted = Date.now();
      let failures = 0;
      for (let attempt = 0; ; attempt++) {
        // Dwell at this weight while traffic and feedback arrive; a manual rollback or promote cuts it short.
        await waitFor(interrupted, policy.dwell, { summary: `Dwell at ${weight}% while feedback arrives` });
        if (interrupted()) return await manual();
        const analysis = await acts.analyzeRolloutStep({
          cycleId: input.cycleId,
          modelId: input.modelId,
          stepIndex: index,
          attempt,
          weight,
          stepSince: since,
          rolloutSince,
          ...versions,
          policy,
        });
        record(status, index, weight, attempt, analysis);
        log.info('rollout step analysed', {
          cycleId: input.cycleId,
          weight,
          attempt,
          decision: analysis.decision,
        });
        if (analysis.decision === 'pass') break;
        if (analysis.decision === 'fail') {
          failures++;
          if (failures > policy.failureLimit) {
            return await rollback(
              'remedy',
              `step ${index + 1} (${weight}%) breached: ${analysis.reason}`,
              analysis,
              analysis.decidedAt,
            );
          }
          continue;
        }
        // Too few samples: keep dwelling while the step's sample wait lasts, then ask a person.
        if (Date.now() - stepStarted < durationMs(policy.sampleWait)) continue;
        status.state = 'paused';
        status.reason = `paused at ${weight}%: ${analysis.reason}; resolve with "remedy resolve" (continue or rollback)`;
        const decided = await waitFor(() => pauseDecision !== null || interrupted(), policy.decisionTimeout, {
          summary: 'Paused on an inconclusive analysis: wait for remedy resolve',
        });
        // Set by the update handler while we waited; the cast undoes TypeScript's narrowing to null.
        const decision = pauseDecision as PauseCommand | null;
        pauseDecision = null;
        if (interrupted()) return await manual();
        if (!decided || !decision) {
          return await rollback(
            'remedy',
            `paused at ${weight}% with no decision within ${policy.decisionTimeout}`,
            analysis,
          );
        }
        if (decision.decision === 'rollback') {
          return await rollback(
            decision.actor,
            `rolled back at the pause by ${decision.actor}${decision.reason ? `: ${decision.reason}` : ''}`,
            analysis,
          );
        }
        status.state = 'running';
        status.reason = null;
        // "continue": the person accepts this step as it is and the rollout advances.
        break;
      }
    }
    return await promote('remedy', 'every step passed its analysis');
  } catch (err) {
    if (isCancellation(err)) {
      // Compensation must run even though this scope was cancelled: give production back to the champion.
      await CancellationScope.nonCancellable(() =>
        acts.rollback({
          cycleId: input.cycleId,
          modelId: input.modelId,
          ...versions,
          actor: 'abort',
          evidence: { aborted: true },
        }),
      );
    }
    throw err;
  }
}

function record(
  status: RolloutStatus,
  index: number,
  weight: number,
  attempt: number,
  analysis: StepAnalysis,
): void {
  status.steps.push({ index, weight, attempt, analysis });
}

function validateCommand(cmd: unknown, policy: Policy['rollout'], status: RolloutStatus): void {
  const parsed = RolloutCommand.safeParse(cmd);
  if (!parsed.success) throw new Error(`refused: ${describeZodError(parsed.error)}`);
  if (policy.approvers.length > 0 && !policy.approvers.includes(parsed.data.actor)) {
    throw new Error(`refused: "${parsed.data.actor}" is not an approver for this model`);
  }
  if (status.state === 'promoted' || status.state === 'rolled-back') {
    throw new Error(`refused: the rollout already ended (${status.state})`);
  }
}
