/**
 * Annotations made in Label Studio, back into Remedy: each becomes the same `submitLabel` Update the
 * review page and the CLI send, answered in the annotator's name (their Label Studio email, recorded
 * as verified by `label-studio`, via `label-studio`). Two ways in: the webhook Label Studio calls on
 * each annotation (the review page serves it: review/server.ts), and polling the project's annotations
 * since a cursor (`remedy labels sync-label-studio`), the fallback when no webhook can reach Remedy.
 * The campaign keeps the first answer per item, so an annotation seen by both, or twice, counts once.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Client } from '@temporalio/client';
import {
  annotatedTasks,
  findProject,
  LabelStudioError,
  labelStudioApi,
  userEmail,
  type LabelStudioApi,
} from '../activities/label-studio.js';
import {
  annotatorIdOf,
  chosenLabel,
  LsWebhookBody,
  remedyIdsOf,
  type LsAnnotation,
  type LsTask,
} from '../core/label-studio.js';
import { labelingWorkflowId } from '../workflows/cycle.js';
import { CycleClosedError, CycleNotFoundError, submitLabel, UserError } from './cycles.js';

export { LabelStudioError, type LabelStudioApi };

/** What became of one annotation. */
export interface AnnotationOutcome {
  annotationId: number;
  cycleId: string;
  recordKey: string;
  reviewer: string | null;
  label: string | null;
  result: 'labeled' | 'duplicate' | 'refused' | 'closed';
  message?: string;
}

/** Where Label Studio is, for the webhook and the polling: LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY by default. */
export function labelStudioFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  names: { url?: string; tokenEnv?: string } = {},
): LabelStudioApi | null {
  const url = names.url ?? env['LABEL_STUDIO_URL']?.trim();
  const tokenEnv = names.tokenEnv ?? 'LABEL_STUDIO_API_KEY';
  const token = env[tokenEnv]?.trim();
  if (!url && !token) return null;
  if (!url) throw new UserError('LABEL_STUDIO_URL is not set: set it to Label Studio’s base URL');
  if (!token)
    throw new UserError(`${tokenEnv} is not set: set it to a Label Studio API token (legacy token)`);
  return labelStudioApi(url, token, tokenEnv);
}

/** Annotators' emails by Label Studio user id, read once per process. */
export type EmailCache = Map<number, string>;

/**
 * One annotation of one of Remedy's tasks as a `submitLabel` answer. A refusal (a label outside the
 * set, an item not asked, a reviewer not allowed) comes back with the campaign's message.
 */
export async function submitAnnotation(
  client: Client,
  api: LabelStudioApi,
  task: LsTask,
  annotation: LsAnnotation,
  emails: EmailCache = new Map(),
): Promise<AnnotationOutcome | null> {
  const ids = remedyIdsOf(task);
  if (!ids) return null;
  const base = { annotationId: annotation.id, cycleId: ids.cycleId, recordKey: ids.recordKey };
  const userId = annotatorIdOf(annotation);
  let reviewer = emails.get(userId) ?? null;
  if (reviewer === null) {
    reviewer =
      typeof annotation.completed_by === 'object' && annotation.completed_by.email
        ? annotation.completed_by.email
        : await userEmail(api, userId);
    emails.set(userId, reviewer);
  }
  const chosen = chosenLabel(annotation);
  if ('error' in chosen)
    return { ...base, reviewer, label: null, result: 'refused', message: `label refused: ${chosen.error}` };
  if (ids.campaignId !== labelingWorkflowId(ids.cycleId))
    return {
      ...base,
      reviewer,
      label: chosen.label,
      result: 'refused',
      message: `label refused: task ${task.id} names campaign ${ids.campaignId}, which is not cycle ${ids.cycleId}'s`,
    };
  try {
    const r = await submitLabel(client, ids.cycleId, {
      recordKey: ids.recordKey,
      label: chosen.label,
      reviewer,
      via: 'label-studio',
      verifiedBy: 'label-studio',
    });
    return { ...base, reviewer, label: r.label, result: r.duplicate ? 'duplicate' : 'labeled' };
  } catch (err) {
    if (err instanceof CycleClosedError || err instanceof CycleNotFoundError)
      return { ...base, reviewer, label: chosen.label, result: 'closed', message: err.message };
    if (err instanceof UserError)
      return { ...base, reviewer, label: chosen.label, result: 'refused', message: err.message };
    throw err;
  }
}

/** Whether the webhook's shared-secret header matches (constant time). */
export function webhookSecretMatches(given: string | undefined, secret: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * One webhook call: ANNOTATION_CREATED or ANNOTATION_UPDATED of one of Remedy's tasks becomes an
 * answer; other actions and other tasks are acknowledged and ignored (`ignored` says why).
 */
export async function handleLabelStudioWebhook(
  client: Client,
  api: LabelStudioApi,
  raw: unknown,
  emails: EmailCache = new Map(),
): Promise<{ outcome: AnnotationOutcome } | { ignored: string }> {
  const body = LsWebhookBody.safeParse(raw);
  if (!body.success)
    throw new UserError(
      'not a Label Studio webhook body: expected { action, annotation, task } (send_payload must be on)',
    );
  const { action, annotation, task } = body.data;
  if (action !== 'ANNOTATION_CREATED' && action !== 'ANNOTATION_UPDATED')
    return { ignored: `action ${action}` };
  if (!annotation || !task)
    throw new UserError(
      `Label Studio's ${action} webhook came without its annotation and task: turn send_payload on`,
    );
  const outcome = await submitAnnotation(client, api, task, annotation, emails);
  if (!outcome) return { ignored: `task ${task.id} is not one of Remedy's (no remedy_cycle in its data)` };
  return { outcome };
}

/**
 * The project a cycle's campaign labels in: the one given, or the one Remedy titled after the campaign.
 */
export async function projectOfCycle(
  api: LabelStudioApi,
  cycleId: string,
  project?: number,
): Promise<number> {
  if (project !== undefined) return project;
  const found = await findProject(api, labelingWorkflowId(cycleId));
  if (!found)
    throw new UserError(
      `Label Studio at ${api.url} has no project for cycle ${cycleId} ("Remedy ${labelingWorkflowId(cycleId)}"): give --project when the policy names one, or check that the campaign opened with tool label-studio`,
    );
  return found.id;
}

/**
 * The polling fallback, once: every annotation of Remedy's tasks in the project with an id above
 * `since` (Label Studio's ids only grow), oldest first, submitted as answers. Returns the outcomes and
 * the cursor for the next call. With `cycleId`, only that cycle's tasks.
 */
export async function syncLabelStudio(
  client: Client,
  api: LabelStudioApi,
  opts: { projectId: number; since?: number; cycleId?: string; emails?: EmailCache },
): Promise<{ cursor: number; outcomes: AnnotationOutcome[] }> {
  const since = opts.since ?? 0;
  const emails = opts.emails ?? new Map<number, string>();
  const fresh: { task: LsTask; annotation: LsAnnotation }[] = [];
  for (const { task, annotations } of await annotatedTasks(api, opts.projectId)) {
    const ids = remedyIdsOf(task);
    if (!ids || (opts.cycleId !== undefined && ids.cycleId !== opts.cycleId)) continue;
    for (const annotation of annotations) if (annotation.id > since) fresh.push({ task, annotation });
  }
  fresh.sort((a, b) => a.annotation.id - b.annotation.id);
  const outcomes: AnnotationOutcome[] = [];
  let cursor = since;
  for (const { task, annotation } of fresh) {
    const o = await submitAnnotation(client, api, task, annotation, emails);
    if (o) outcomes.push(o);
    cursor = annotation.id;
  }
  return { cursor, outcomes };
}

/**
 * Polls until `signal` aborts: a sync every `intervalMs`, each from the last cursor. A Label Studio
 * that does not answer is reported through `onError` and tried again at the next interval.
 */
export async function pollLabelStudio(
  client: Client,
  api: LabelStudioApi,
  opts: {
    projectId: number;
    since?: number;
    cycleId?: string;
    intervalMs: number;
    signal: AbortSignal;
    onOutcome?: (o: AnnotationOutcome) => void;
    onError?: (err: Error) => void;
  },
): Promise<number> {
  let cursor = opts.since ?? 0;
  const emails: EmailCache = new Map();
  while (!opts.signal.aborted) {
    try {
      const r = await syncLabelStudio(client, api, {
        projectId: opts.projectId,
        since: cursor,
        emails,
        ...(opts.cycleId !== undefined ? { cycleId: opts.cycleId } : {}),
      });
      cursor = r.cursor;
      for (const o of r.outcomes) opts.onOutcome?.(o);
    } catch (err) {
      if (!(err instanceof LabelStudioError)) throw err;
      opts.onError?.(err);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
  return cursor;
}
