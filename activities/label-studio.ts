/**
 * Label Studio over its HTTP API (legacy `Authorization: Token` tokens): the project a campaign's items
 * go to, the tasks (Remedy's ids in their data, the champion's guess as a prediction), the webhook that
 * sends annotations back, and the reads the polling and the webhook need (annotated tasks, annotators).
 * The activity `publishLabelStudioTasks` is safe to run twice: it reuses the project and imports only
 * the items the project does not hold yet.
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import {
  labelConfig,
  LsAnnotation,
  LsTask,
  projectTitle,
  remedyIdsOf,
  taskOf,
  WEBHOOK_SECRET_HEADER,
  type LabelStudioItem,
  type LabelStudioSettings,
} from '../core/label-studio.js';
import type { NumericLabelRange } from '../core/regression-labels.js';

/** A request Label Studio refused, or could not be reached for; `permanent` when retrying cannot help. */
export class LabelStudioError extends Error {
  override name = 'LabelStudioError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface LabelStudioApi {
  url: string;
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

const PAGE = 100;
const TIMEOUT_MS = 30_000;

/** A client for one Label Studio; `tokenHint` says where the token came from, for the 401 message. */
export function labelStudioApi(url: string, token: string, tokenHint = 'the API token'): LabelStudioApi {
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Token ${token}`,
            accept: 'application/json',
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw new LabelStudioError(
          `Label Studio at ${base} did not answer ${method} ${path}: ${(err as Error).message}`,
          false,
        );
      }
      const text = await res.text();
      if (res.status === 401 || res.status === 403)
        throw new LabelStudioError(
          `Label Studio at ${base} refused ${tokenHint} (${res.status} on ${method} ${path}): check that it is a legacy API token of a user of the project's organization, and that legacy tokens are enabled`,
          true,
        );
      if (!res.ok)
        throw new LabelStudioError(
          `Label Studio at ${base} answered ${res.status} to ${method} ${path}: ${brief(text)}`,
          res.status < 500 && res.status !== 429,
        );
      try {
        return (text ? JSON.parse(text) : null) as T;
      } catch {
        throw new LabelStudioError(
          `Label Studio at ${base} answered ${method} ${path} with something that is not JSON: ${brief(text)}`,
          true,
        );
      }
    },
  };
}

function brief(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.startsWith('<')) return '(an HTML page: is the URL Label Studio’s?)';
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

interface Project {
  id: number;
  title: string;
  label_config?: string;
}

/** The project the campaign's tasks go to: the policy's, or one titled after the campaign (created once). */
export async function campaignProject(
  api: LabelStudioApi,
  settings: Pick<LabelStudioSettings, 'project'>,
  campaignId: string,
  labelSet: readonly string[],
  numeric?: NumericLabelRange,
): Promise<Project> {
  const config = labelConfig(labelSet, numeric);
  if (settings.project !== undefined) {
    const p = await api.call<Project>('GET', `/api/projects/${settings.project}`);
    if (p.label_config !== config)
      return api.call<Project>('PATCH', `/api/projects/${p.id}`, { label_config: config });
    return p;
  }
  const found = await findProject(api, campaignId);
  if (found) return found;
  return api.call<Project>('POST', '/api/projects', {
    title: projectTitle(campaignId),
    description: `Labels for Remedy's campaign ${campaignId}: each task is one item; the model's guess is pre-selected.`,
    label_config: config,
    show_skip_button: false,
    maximum_annotations: 1,
  });
}

/** The project titled after the campaign, if Remedy created it before. */
export async function findProject(api: LabelStudioApi, campaignId: string): Promise<Project | null> {
  const title = projectTitle(campaignId);
  const page = await api.call<{ results: Project[] }>(
    'GET',
    `/api/projects?title=${encodeURIComponent(title)}&page_size=${PAGE}`,
  );
  return page.results.find((p) => p.title === title) ?? null;
}

/** Every task of a project (page by page). */
export async function projectTasks(api: LabelStudioApi, projectId: number): Promise<LsTask[]> {
  const out: LsTask[] = [];
  for (let page = 1; ; page++) {
    const r = await api.call<{ tasks: unknown[]; total: number }>(
      'GET',
      `/api/tasks?project=${projectId}&page=${page}&page_size=${PAGE}`,
    );
    for (const t of r.tasks) out.push(LsTask.parse(t));
    if (r.tasks.length < PAGE || out.length >= r.total) return out;
  }
}

/** The project's tasks that have annotations, each with them (Label Studio's JSON export). */
export async function annotatedTasks(
  api: LabelStudioApi,
  projectId: number,
): Promise<{ task: LsTask; annotations: LsAnnotation[] }[]> {
  const rows = await api.call<unknown[]>('GET', `/api/projects/${projectId}/export?exportType=JSON`);
  return rows.map((r) => {
    const task = LsTask.parse(r);
    const raw = (r as { annotations?: unknown[] }).annotations ?? [];
    return { task, annotations: raw.map((a) => LsAnnotation.parse(a)) };
  });
}

/** A Label Studio user's email, by id (what the answer is recorded under). */
export async function userEmail(api: LabelStudioApi, userId: number): Promise<string> {
  const u = await api.call<{ email?: string }>('GET', `/api/users/${userId}`);
  if (!u.email) throw new LabelStudioError(`Label Studio user ${userId} has no email to record`, true);
  return u.email;
}

/** The project's webhook to Remedy for annotations, created once (kept when it is already there). */
export async function ensureWebhook(
  api: LabelStudioApi,
  projectId: number,
  url: string,
  secret: string,
): Promise<void> {
  const hooks = await api.call<{ id: number; url: string; project: number | null }[]>(
    'GET',
    `/api/webhooks?project=${projectId}`,
  );
  const body = {
    project: projectId,
    url,
    send_payload: true,
    send_for_all_actions: false,
    actions: ['ANNOTATION_CREATED', 'ANNOTATION_UPDATED'],
    headers: { [WEBHOOK_SECRET_HEADER]: secret },
    is_active: true,
  };
  const existing = hooks.find((h) => h.url === url && h.project === projectId);
  // Patched each time: a rotated secret reaches the webhook on the campaign's next publish.
  if (existing) await api.call('PATCH', `/api/webhooks/${existing.id}`, body);
  else await api.call('POST', '/api/webhooks', body);
}

function secretFrom(name: string, what: string): string {
  const v = process.env[name]?.trim();
  if (!v)
    throw ApplicationFailure.nonRetryable(
      `labeling.labelStudio: ${name} is not set in the worker's environment: set it to ${what} (the policy names the variable, never the value)`,
      'LabelStudioFailed',
    );
  return v;
}

export interface PublishInput {
  campaignId: string;
  cycleId: string;
  championVersion: number;
  labelSet: string[];
  /** A regression model's campaign: answers are numbers in this range. */
  numeric?: NumericLabelRange;
  labelStudio: LabelStudioSettings;
  items: LabelStudioItem[];
}

export function createLabelStudioActivities() {
  return {
    /**
     * Puts the campaign's items into Label Studio as tasks (the champion's guess as a pre-annotation),
     * in the policy's project or one made for the campaign, and registers the webhook that sends the
     * annotations back. Imports only the items the project does not hold yet, so a retry adds nothing.
     */
    async publishLabelStudioTasks(
      input: PublishInput,
    ): Promise<{ projectId: number; imported: number; alreadyThere: number }> {
      const s = input.labelStudio;
      const api = labelStudioApi(s.url, secretFrom(s.tokenEnv, 'a Label Studio API token'), s.tokenEnv);
      try {
        const project = await campaignProject(api, s, input.campaignId, input.labelSet, input.numeric);
        if (s.webhook)
          await ensureWebhook(
            api,
            project.id,
            s.webhook.url,
            secretFrom(s.webhook.secretEnv, 'the webhook secret'),
          );
        const there = new Set(
          (await projectTasks(api, project.id))
            .map(remedyIdsOf)
            .filter((ids) => ids?.campaignId === input.campaignId)
            .map((ids) => ids!.recordKey),
        );
        const fresh = input.items.filter((i) => !there.has(i.recordKey));
        for (let i = 0; i < fresh.length; i += PAGE)
          await api.call(
            'POST',
            `/api/projects/${project.id}/import`,
            fresh.slice(i, i + PAGE).map((item) => taskOf(input, item)),
          );
        log.info('label studio tasks', {
          campaignId: input.campaignId,
          projectId: project.id,
          imported: fresh.length,
        });
        return {
          projectId: project.id,
          imported: fresh.length,
          alreadyThere: input.items.length - fresh.length,
        };
      } catch (err) {
        if (err instanceof LabelStudioError && err.permanent)
          throw ApplicationFailure.nonRetryable(err.message, 'LabelStudioFailed');
        throw err;
      }
    },
  };
}
