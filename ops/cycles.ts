/**
 * What people do to cycles, as functions over a Temporal client. The CLI, the demo's scripted reviewer
 * and the tests all call these, so a script behaves exactly as a person at the terminal.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes, type UpdateDefinition } from '@temporalio/common';
import type { z } from 'zod';
import { parse } from 'csv-parse/sync';
import {
  ApprovalInput,
  CampaignDecision,
  CycleInput,
  describeZodError,
  ExtendDeadlineInput,
  LabelAnswer,
  RolloutCommand,
} from '../core/schemas.js';
import type { CycleRequest, VerifiedBy } from '../core/schemas.js';
import {
  decideCampaignUpdate,
  extendDeadlineUpdate,
  approveFullUpdate,
  approveRolloutUpdate,
  promoteUpdate,
  cycleStatusQuery,
  labelingStatusQuery,
  MOVING_TO_NEW_RUN,
  resolvePauseUpdate,
  rollbackUpdate,
  rolloutStatusQuery,
  submitLabelUpdate,
  type CycleSummary,
  type LabelingStatus,
  type RolloutStatus,
  type SubmitLabelResult,
} from '../workflows/messages.js';
import { labelingWorkflowId, rolloutWorkflowId } from '../workflows/cycle.js';
import { ModelIdKey } from '../workflows/search-attributes.js';
import { CycleClosedError, explainUnreachable, UserError } from './closed.js';

/** A refusal a person can act on: bad input, a refused update, a cycle that does not exist or has closed. */
export { CycleClosedError, CycleNotFoundError, UserError } from './closed.js';

export interface Queues {
  taskQueue: string;
  trainingTaskQueue: string;
}

export async function startCycle(
  client: Client,
  queues: Queues,
  raw: CycleRequest,
  opts: { reviewBase?: string } = {},
): Promise<{ cycleId: string; runId: string }> {
  const parsed = CycleInput.safeParse(raw);
  if (!parsed.success) throw new UserError(`cannot start a cycle: ${describeZodError(parsed.error)}`);
  const input = parsed.data;
  // remediation-<model>-<n>: readable in the Web UI; n counts this model's earlier cycles.
  let n =
    (await client.workflow.count(`ModelId = "${input.modelId}" AND WorkflowType = "remediationCycle"`))
      .count + 1;
  for (;;) {
    const cycleId = `remediation-${input.modelId}-${n}`;
    try {
      const handle = await client.workflow.start('remediationCycle', {
        workflowId: cycleId,
        taskQueue: queues.taskQueue,
        args: [input, { trainingTaskQueue: queues.trainingTaskQueue }],
        typedSearchAttributes: new TypedSearchAttributes([{ key: ModelIdKey, value: input.modelId }]),
        staticSummary: `Remediation of ${input.modelId} on ${input.window.start} .. ${input.window.end}`,
        staticDetails: [
          `Trigger: ${input.trigger}. Stages: confirm → diagnose → collect → label → retrain → evaluate → rollout → close.`,
          ...(opts.reviewBase ? [`Report: ${reportLink(opts.reviewBase, cycleId)}`] : []),
        ].join('\n\n'),
        ...(opts.reviewBase ? { memo: { report: reportLink(opts.reviewBase, cycleId) } } : {}),
      });
      return { cycleId, runId: handle.firstExecutionRunId };
    } catch (err) {
      // Visibility is eventually consistent: a just-started cycle may not be counted yet.
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        n++;
        continue;
      }
      throw err;
    }
  }
}

/** Where the review page (served at `reviewBase`, e.g. http://localhost:8090) serves a cycle's report. */
export function reportLink(reviewBase: string, cycleId: string): string {
  return `${reviewBase.replace(/\/+$/, '')}/reports/${encodeURIComponent(cycleId)}`;
}

export async function cycleStatus(client: Client, cycleId: string): Promise<CycleSummary> {
  return guard(client, cycleId, () => client.workflow.getHandle(cycleId).query(cycleStatusQuery));
}

/** The cycle ended without a summary: it was aborted, or failed before it could open. */
export class CycleEndedError extends UserError {
  override name = 'CycleEndedError';
}

export async function waitForCycle(client: Client, cycleId: string): Promise<CycleSummary> {
  try {
    return await guard(
      client,
      cycleId,
      () => client.workflow.getHandle(cycleId).result() as Promise<CycleSummary>,
    );
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new CycleEndedError(`cycle ${cycleId} ended without an outcome: ${rootCause(err)}`);
    throw err;
  }
}

function rootCause(err: Error): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

export async function pendingLabels(client: Client, cycleId: string): Promise<LabelingStatus> {
  return guard(client, labelingWorkflowId(cycleId), () =>
    client.workflow.getHandle(labelingWorkflowId(cycleId)).query(labelingStatusQuery),
  );
}

/**
 * Whether the cycle's labeling campaign has closed (a closed campaign still answers queries with its
 * final state): the message says how and when, and where the cycle stands; null while it runs.
 */
export async function campaignClosed(client: Client, cycleId: string): Promise<CycleClosedError | null> {
  const why = await explainUnreachable(client, labelingWorkflowId(cycleId));
  return why instanceof CycleClosedError ? why : null;
}

export async function submitLabel(
  client: Client,
  cycleId: string,
  answer: unknown,
): Promise<SubmitLabelResult> {
  return validatedUpdate(
    client,
    labelingWorkflowId(cycleId),
    submitLabelUpdate,
    LabelAnswer,
    answer,
    'label',
  );
}

/** Moves a labeling campaign's deadline later; unparks a parked campaign. */
export async function extendDeadline(
  client: Client,
  cycleId: string,
  input: unknown,
): Promise<{ deadlineAt: string }> {
  return validatedUpdate(
    client,
    labelingWorkflowId(cycleId),
    extendDeadlineUpdate,
    ExtendDeadlineInput,
    input,
    'extension',
  );
}

/** Decides a parked campaign: extend (with "by"), proceed with what is labeled, or abort the cycle. */
export async function decideCampaign(
  client: Client,
  cycleId: string,
  input: unknown,
): Promise<{ state: string }> {
  return validatedUpdate(
    client,
    labelingWorkflowId(cycleId),
    decideCampaignUpdate,
    CampaignDecision as unknown as z.ZodType<CampaignDecision>,
    input,
    'decision',
  );
}

export interface ImportedLabel {
  line: number;
  recordKey: string;
  label: string;
  result: 'labeled' | 'duplicate' | 'refused';
  message?: string;
}

/**
 * Answers label requests from CSV text with the columns recordKey and label (and optionally reviewer).
 * Each row is its own Update: good rows are kept when others are refused, and every refusal says why.
 * `who` answers the rows without a reviewer; a verified `who` may not answer in another reviewer's name.
 */
export async function importLabels(
  client: Client,
  cycleId: string,
  csv: string,
  who: { name: string; verifiedBy: VerifiedBy },
): Promise<ImportedLabel[]> {
  let records: Record<string, string>[];
  try {
    records = parse(csv, { columns: true, skip_empty_lines: true, bom: true, trim: true });
  } catch (err) {
    throw new UserError(
      `the labels file is not valid CSV: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const first = records[0];
  if (!first)
    throw new UserError(
      'the labels file has no rows: it needs a header "recordKey,label" and one row per answer',
    );
  for (const column of ['recordKey', 'label'])
    if (!(column in first))
      throw new UserError(
        `the labels file has no "${column}" column: the header must name recordKey and label`,
      );
  const out: ImportedLabel[] = [];
  for (const [i, r] of records.entries()) {
    const row = { line: i + 2, recordKey: r.recordKey ?? '', label: r.label ?? '' };
    try {
      // A verified person answers for themselves only; a typed name may name others per row.
      if (r.reviewer && r.reviewer !== who.name && who.verifiedBy !== 'unverified')
        throw new UserError(
          `reviewer "${r.reviewer}" is not you ("${who.name}", verified by ${who.verifiedBy}): import only your own answers`,
        );
      const res = await submitLabel(client, cycleId, {
        recordKey: row.recordKey,
        label: row.label,
        reviewer: r.reviewer || who.name,
        via: 'cli',
        verifiedBy: who.verifiedBy,
      });
      out.push({ ...row, result: res.duplicate ? 'duplicate' : 'labeled' });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      out.push({ ...row, result: 'refused', message: err.message });
    }
  }
  return out;
}

export async function approveRollout(
  client: Client,
  cycleId: string,
  input: unknown,
): Promise<{ approved: boolean }> {
  return validatedUpdate(client, cycleId, approveRolloutUpdate, ApprovalInput, input, 'approval');
}

export async function forceRollback(
  client: Client,
  cycleId: string,
  input: unknown,
): Promise<{ accepted: boolean }> {
  return validatedUpdate(
    client,
    rolloutWorkflowId(cycleId),
    rollbackUpdate,
    RolloutCommand,
    input,
    'rollback',
  );
}

export async function promoteNow(
  client: Client,
  cycleId: string,
  input: unknown,
): Promise<{ accepted: boolean }> {
  return validatedUpdate(
    client,
    rolloutWorkflowId(cycleId),
    promoteUpdate,
    RolloutCommand,
    input,
    'promotion',
  );
}

/** The approval before the last (100%) step, when the policy asks for one. */
export async function approveFull(
  client: Client,
  cycleId: string,
  input: unknown,
): Promise<{ approved: boolean }> {
  return validatedUpdate(
    client,
    rolloutWorkflowId(cycleId),
    approveFullUpdate,
    ApprovalInput,
    input,
    'approval',
  );
}

/**
 * Checks the input with the same schema the workflow's validator uses, so a person learns what is
 * wrong without a round trip, then sends the Update; a refusal by the workflow becomes a UserError.
 */
async function validatedUpdate<Ret, Arg>(
  client: Client,
  workflowId: string,
  definition: UpdateDefinition<Ret, [Arg]>,
  schema: z.ZodType<Arg>,
  input: unknown,
  what: string,
): Promise<Ret> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new UserError(`${what} refused: ${describeZodError(parsed.error)}`);
  return update(client, workflowId, () =>
    followingNewRuns(client, workflowId, () =>
      client.workflow.getHandle(workflowId).executeUpdate(definition, { args: [parsed.data] }),
    ),
  );
}

export async function resolvePause(
  client: Client,
  cycleId: string,
  input: {
    actor: string;
    decision: 'continue' | 'rollback';
    reason?: string;
    verifiedBy?: VerifiedBy;
  },
): Promise<{ accepted: boolean }> {
  return update(client, rolloutWorkflowId(cycleId), () =>
    client.workflow
      .getHandle(rolloutWorkflowId(cycleId))
      .executeUpdate(resolvePauseUpdate, { args: [input] }),
  );
}

export async function rolloutStatus(client: Client, cycleId: string): Promise<RolloutStatus> {
  return guard(client, rolloutWorkflowId(cycleId), () =>
    client.workflow.getHandle(rolloutWorkflowId(cycleId)).query(rolloutStatusQuery),
  );
}

/** Abort: cancels the cycle; it rolls traffic back to the champion (if a rollout began) and closes as aborted. */
export async function abortCycle(client: Client, cycleId: string): Promise<void> {
  await guard(client, cycleId, () => client.workflow.getHandle(cycleId).cancel());
}

export interface CycleListing {
  cycleId: string;
  status: string;
  modelId: string | null;
  stage: string | null;
  outcome: string | null;
  startTime: string;
}

export async function listCycles(
  client: Client,
  filter: { modelId?: string; running?: boolean; stage?: string; outcome?: string },
): Promise<CycleListing[]> {
  const clauses = ['WorkflowType = "remediationCycle"'];
  const quoted = (v: string) => `"${v.replace(/["\\]/g, '')}"`;
  if (filter.modelId) clauses.push(`ModelId = ${quoted(filter.modelId)}`);
  if (filter.running) clauses.push('ExecutionStatus = "Running"');
  if (filter.stage) clauses.push(`RemediationStage = ${quoted(filter.stage)}`);
  if (filter.outcome) clauses.push(`Outcome = ${quoted(filter.outcome)}`);
  const out: CycleListing[] = [];
  for await (const wf of client.workflow.list({ query: clauses.join(' AND ') })) {
    const sa = wf.searchAttributes;
    const first = (name: string) => {
      const v = sa[name];
      return Array.isArray(v) && v.length > 0 ? String(v[0]) : null;
    };
    out.push({
      cycleId: wf.workflowId,
      status: wf.status.name,
      modelId: first('ModelId'),
      stage: first('RemediationStage'),
      outcome: first('Outcome'),
      startTime: wf.startTime.toISOString(),
    });
  }
  return out;
}

async function guard<T>(client: Client, workflowId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    // Not found, or closed (an Update or a cancel sent to a closed workflow): say which, with the outcome and when.
    if (err.name === 'WorkflowNotFoundError' || /not found|already completed/i.test(err.message)) {
      const explained = await explainUnreachable(client, workflowId);
      if (explained) throw explained;
    }
    if (/not found|already completed|QueryNotRegistered|unknown queryType/i.test(err.message))
      throw new UserError(`"${workflowId}" cannot answer that now (${err.message}); check "remedy status"`);
    throw err;
  }
}

/**
 * An Update that its run could not take because the run was closing: a labeling campaign continues as
 * new when its history grows long. While it hands over, it refuses new labels with a message naming
 * the move; an Update accepted just before a run closed fails with Temporal's "completed before the
 * Update completed" (the server's own "workflow is closing" is retried by the client's connection).
 */
function closedUnderUpdate(err: unknown): boolean {
  if (!(err instanceof WorkflowUpdateFailedError)) return false;
  const cause = err.cause;
  return (
    cause instanceof ApplicationFailure &&
    (cause.type === 'AcceptedUpdateCompletedWorkflow' ||
      /completed before the Update completed/i.test(cause.message) ||
      cause.message.includes(MOVING_TO_NEW_RUN))
  );
}

/**
 * Sends an Update to the workflow's current run; when that run closed under it and the workflow ID goes
 * on in a new run (continued as new), sends it again there, for up to a minute. Every Update Remedy
 * sends may be sent twice.
 */
async function followingNewRuns<T>(client: Client, workflowId: string, fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until || !closedUnderUpdate(err)) throw err;
      const now = await client.workflow.getHandle(workflowId).describe();
      if (now.status.name !== 'RUNNING') throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function update<T>(client: Client, workflowId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await guard(client, workflowId, fn);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause instanceof Error ? err.cause.message : err.message;
      throw new UserError(cause);
    }
    throw err;
  }
}
