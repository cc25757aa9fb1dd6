import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ActiveReference } from '../activities/revert.js';
import type { RevertRequest } from '../core/revert.js';
import { quickIo, summarized } from './presets.js';

const acts = summarized(proxyActivities<Activities>(quickIo));

export interface RevertResult {
  outcome: 'reverted' | 'no-op' | 'refused';
  /** What the person is told, in one sentence. */
  message: string;
  modelId: string;
  toVersion: number;
  fromVersion?: number;
  revertedAt?: string;
  /** The router that moved the traffic. */
  router?: string;
  /** The reference profile that judges the model from now on: the former champion's own. */
  reference?: ActiveReference;
}

/** One workflow per model and target version: starting the same revert twice attaches to the first. */
export const revertWorkflowId = (modelId: string, toVersion: number) => `revert-${modelId}-v${toVersion}`;

/**
 * A model goes back to a former champion: checked against the registry (an unknown version, one that never
 * served as champion, or an open cycle are refused with what to do; the current champion is a no-op), then
 * traffic, aliases, statuses, the audit trail and a notification in one durable step.
 */
export async function revertChampion(input: RevertRequest): Promise<RevertResult> {
  const base = { modelId: input.modelId, toVersion: input.toVersion };
  const decision = await acts.checkRevert(base);
  if (decision.kind !== 'revert')
    return { ...base, outcome: decision.kind === 'no-op' ? 'no-op' : 'refused', message: decision.message };
  const { workflowId, runId } = workflowInfo();
  const applied = await acts.applyRevert({
    ...input,
    revertId: `${workflowId}@${runId}`,
    fromVersion: decision.fromVersion,
  });
  return {
    ...base,
    outcome: 'reverted',
    message: `${input.modelId} reverted from v${decision.fromVersion} to v${input.toVersion} by ${input.actor}: ${input.reason}`,
    fromVersion: decision.fromVersion,
    ...applied,
  };
}
