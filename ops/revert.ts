/**
 * `remedy revert`: starts the revert workflow for a model and a former champion, or attaches to the one
 * already running for the same pair, and waits for its answer. A refusal becomes a UserError that says
 * what to do; a no-op (the version is already champion) is an answer, not an error.
 */
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { describeZodError } from '../core/inputs.js';
import { RevertRequest } from '../core/revert.js';
import { revertWorkflowId, type RevertResult } from '../workflows/revert.js';
import { ModelIdKey } from '../workflows/search-attributes.js';
import { UserError } from './user-error.js';

export type { RevertResult };

export async function revertModel(
  client: Client,
  queues: { taskQueue: string },
  raw: unknown,
): Promise<RevertResult & { attached: boolean }> {
  const parsed = RevertRequest.safeParse(raw);
  if (!parsed.success) throw new UserError(`cannot revert: ${describeZodError(parsed.error)}`);
  const input = parsed.data;
  const workflowId = revertWorkflowId(input.modelId, input.toVersion);
  let attached = false;
  try {
    await client.workflow.start('revertChampion', {
      workflowId,
      taskQueue: queues.taskQueue,
      args: [input],
      typedSearchAttributes: new TypedSearchAttributes([{ key: ModelIdKey, value: input.modelId }]),
      staticSummary: `Revert ${input.modelId} to v${input.toVersion} (${input.actor})`,
      staticDetails: `Reason: ${input.reason}`,
    });
  } catch (err) {
    // The same revert is already running (a second terminal, a retried script): wait for its answer.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    attached = true;
  }
  let result: RevertResult;
  try {
    result = (await client.workflow.getHandle(workflowId).result()) as RevertResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new UserError(`revert of ${input.modelId} to v${input.toVersion} failed: ${rootCause(err)}`);
    throw err;
  }
  if (result.outcome === 'refused') throw new UserError(`revert refused: ${result.message}`);
  return { ...result, attached };
}

function rootCause(err: Error): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** What `remedy revert` prints: the outcome, the traffic and the reference now in force. */
export function renderRevert(r: RevertResult & { attached?: boolean }): string {
  if (r.outcome !== 'reverted') return `${r.message}\n`;
  const ref = r.reference!;
  const span = ref.span ? `${ref.span.start.slice(0, 10)} .. ${ref.span.end.slice(0, 10)}, ` : '';
  return [
    `${r.message}${r.attached ? ' (the same revert was already running: its answer)' : ''}`,
    `  traffic: 100% to v${r.toVersion} through the ${r.router}`,
    `  aliases: champion v${r.toVersion}; v${r.fromVersion} marked reverted`,
    `  drift reference: v${ref.version}'s profile (${span}${ref.rows} rows, baseline accuracy ${(ref.baselineAccuracy * 100).toFixed(1)}%)`,
    `  recorded: audit event model.reverted at ${r.revertedAt}`,
    '',
  ].join('\n');
}
