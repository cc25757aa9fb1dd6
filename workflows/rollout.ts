import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { Policy } from '../core/schemas.js';
import { describeZodError, RolloutCommand } from '../core/schemas.js';
import {
  resolvePauseUpdate,
  rollbackUpdate,
  rolloutStatusQuery,
  type RolloutStatus,
  type RolloutStepRecord,
} from './messages.js';
import { quickIo } from './presets.js';

const acts = proxyActivities<Activities>(quickIo);

type PauseCommand = RolloutCommand & { decision: 'continue' | 'rollback' };

export interface RolloutInput {
  cycleId: string;
  modelId: string;
  championVersion: number;
  candidateVersion: number;
  policy: Policy['rollout'];
  /** Production requests after this point are the traffic the steps serve. */
  trafficCursor: { ts: string; recordKey: string };
}

export interface RolloutResult {
  outcome: 'promoted' | 'rolled-back';
  reason: string;
  steps: RolloutStepRecord[];
}

/**
 * Staged rollout: raise the candidate's share step by step, analyse each step against the champion,
 * roll back on a breach, pause for a person when the evidence is inconclusive, promote at the end.
 */
export async function stagedRollout(input: RolloutInput): Promise<RolloutResult> {
  const status: RolloutStatus = { state: 'running', currentWeight: 0, steps: [], reason: null };
  let manualRollback: RolloutCommand | null = null;
  let pauseDecision: PauseCommand | null = null;

  setHandler(rolloutStatusQuery, () => status);
  setHandler(
    rollbackUpdate,
    (cmd) => {
      manualRollback = cmd;
      return { accepted: true };
    },
    { validator: (cmd) => validateCommand(cmd, input.policy, status) },
  );
  setHandler(
    resolvePauseUpdate,
    (cmd) => {
      pauseDecision = cmd;
      return { accepted: true };
    },
    {
      validator: (cmd: PauseCommand) => {
        validateCommand(cmd, input.policy, status);
        if (cmd.decision !== 'continue' && cmd.decision !== 'rollback') {
          throw new Error('decision must be "continue" or "rollback"');
        }
        if (status.state !== 'paused') throw new Error('the rollout is not paused: nothing to resolve');
      },
    },
  );

  const versions = { championVersion: input.championVersion, candidateVersion: input.candidateVersion };
  const rollback = async (actor: string, reason: string, evidence: unknown): Promise<RolloutResult> => {
    await acts.rollback({ cycleId: input.cycleId, modelId: input.modelId, ...versions, actor, evidence });
    status.state = 'rolled-back';
    status.currentWeight = 0;
    status.reason = reason;
    await condition(allHandlersFinished);
    return { outcome: 'rolled-back', reason, steps: status.steps };
  };

  try {
    let cursor = input.trafficCursor;
    const batchKeys: string[] = [];
    for (const [index, weight] of input.policy.steps.entries()) {
      if (manualRollback) break;
      await acts.setTrafficWeight({ cycleId: input.cycleId, modelId: input.modelId, ...versions, weight });
      status.currentWeight = weight;
      const batchKey = `${input.cycleId}:step:${index}`;
      batchKeys.push(batchKey);
      const served = await acts.serveTraffic({
        modelId: input.modelId,
        batchKey,
        cursor,
        limit: input.policy.requestsPerStep,
      });
      cursor = served.cursor;
      // Dwell at this weight; a forced rollback cuts the dwell short.
      await condition(() => manualRollback !== null, input.policy.dwell);
      if (manualRollback) break;
      const analysis = await acts.analyzeRolloutStep({
        cycleId: input.cycleId,
        modelId: input.modelId,
        stepIndex: index,
        weight,
        batchKeys: [...batchKeys],
        ...versions,
        policy: input.policy,
      });
      status.steps.push({ index, weight, served: served.byVersion, analysis });
      log.info('rollout step analysed', { cycleId: input.cycleId, weight, decision: analysis.decision });
      if (analysis.decision === 'fail') {
        return await rollback(
          'remedy',
          `step ${index + 1} (${weight}%) breached: ${analysis.reason}`,
          analysis,
        );
      }
      if (analysis.decision === 'inconclusive') {
        status.state = 'paused';
        status.reason = `paused at ${weight}%: ${analysis.reason}; resolve with "remedy resolve" (continue or rollback)`;
        const decided = await condition(
          () => pauseDecision !== null || manualRollback !== null,
          input.policy.decisionTimeout,
        );
        // Set by the update handler while we waited; the cast undoes TypeScript's narrowing to null.
        const decision = pauseDecision as PauseCommand | null;
        pauseDecision = null;
        if (!decided) {
          return await rollback(
            'remedy',
            `paused at ${weight}% with no decision within ${input.policy.decisionTimeout}`,
            analysis,
          );
        }
        if (manualRollback) break;
        if (decision?.decision === 'rollback') {
          return await rollback(
            decision.actor,
            `rolled back at the pause by ${decision.actor}${decision.reason ? `: ${decision.reason}` : ''}`,
            analysis,
          );
        }
        status.state = 'running';
        status.reason = null;
      }
    }
    if (manualRollback) {
      const cmd: RolloutCommand = manualRollback;
      return await rollback(cmd.actor, `rolled back by ${cmd.actor}${cmd.reason ? `: ${cmd.reason}` : ''}`, {
        manual: cmd,
      });
    }
    await acts.promote({ cycleId: input.cycleId, modelId: input.modelId, ...versions, actor: 'remedy' });
    status.state = 'promoted';
    status.currentWeight = 100;
    status.reason = 'every step passed its analysis';
    await condition(allHandlersFinished);
    return { outcome: 'promoted', reason: status.reason, steps: status.steps };
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
