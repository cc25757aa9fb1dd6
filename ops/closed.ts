/**
 * Errors that tell the truth about a cycle that is not there to answer: closed (with its outcome and
 * when), never started, or a part of it (its labeling campaign, its rollout) that has closed or not
 * begun. Read from the workflows' own descriptions, so the CLI, the review page and scripts say the same.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { OutcomeKey, RemediationStageKey } from '../core/search-attributes.js';
import { UserError } from './user-error.js';

// A refusal a person can act on (ops/cycles.ts re-exports it too).
export { UserError };

/** The cycle (or the part of it a command acts on) has closed: its outcome and when are in the message. */
export class CycleClosedError extends UserError {
  override name = 'CycleClosedError';
}

/** No such cycle was ever started (or its history is gone past the namespace's retention). */
export class CycleNotFoundError extends UserError {
  override name = 'CycleNotFoundError';
}

const PARTS = [
  { suffix: '-labeling', name: 'labeling campaign' },
  { suffix: '-rollout', name: 'rollout' },
] as const;

async function describeOrNull(
  client: Client,
  workflowId: string,
): Promise<WorkflowExecutionDescription | null> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof Error && err.name === 'WorkflowNotFoundError') return null;
    throw err;
  }
}

const running = (d: WorkflowExecutionDescription) => d.status.name === 'RUNNING';

/** "closed as promoted at 2026-…" from the cycle's Outcome search attribute, or how its execution ended. */
function closedPhrase(d: WorkflowExecutionDescription): string {
  const outcome = d.typedSearchAttributes.get(OutcomeKey);
  const how = outcome ?? d.status.name.toLowerCase().replace(/_/g, '-');
  return `closed as ${how} at ${d.closeTime?.toISOString() ?? 'an unknown time'}`;
}

/**
 * Why `workflowId` (a cycle or one of its parts) could not be reached, as an error a person can act on;
 * null when it is running after all (the caller keeps its own error).
 */
export async function explainUnreachable(client: Client, workflowId: string): Promise<UserError | null> {
  const part = PARTS.find((p) => workflowId.endsWith(p.suffix));
  const cycleId = part ? workflowId.slice(0, -part.suffix.length) : workflowId;
  const cycle = await describeOrNull(client, cycleId);
  if (!cycle)
    return new CycleNotFoundError(
      `no cycle "${cycleId}" was ever started (or its history is past the namespace's retention): check the cycle ID with "remedy list"`,
    );
  if (!part)
    return running(cycle) ? null : new CycleClosedError(`cycle ${cycleId} is ${closedPhrase(cycle)}`);
  const child = await describeOrNull(client, workflowId);
  if (child && running(child)) return null;
  const cycleState = running(cycle)
    ? `the cycle is running, at stage ${cycle.typedSearchAttributes.get(RemediationStageKey) ?? 'unknown'}`
    : `the cycle is ${closedPhrase(cycle)}`;
  if (child)
    return new CycleClosedError(
      `the ${part.name} of cycle ${cycleId} closed (${child.status.name.toLowerCase().replace(/_/g, '-')}) at ${child.closeTime?.toISOString() ?? 'an unknown time'}; ${cycleState}`,
    );
  return running(cycle)
    ? new UserError(`cycle ${cycleId} has no ${part.name} (yet): ${cycleState}`)
    : new CycleClosedError(`cycle ${cycleId} is ${closedPhrase(cycle)}, without a ${part.name}`);
}
