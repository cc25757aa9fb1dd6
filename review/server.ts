/**
 * The review page: where a reviewer sees the open labeling campaigns, a campaign's queue with each item's
 * features and the model's guess, and answers. An answer is the same `submitLabel` Update the CLI sends;
 * a refusal shows the workflow validator's message, and the campaign stays as it was.
 *
 *   GET  /healthz
 *   GET  /review                          open campaigns
 *   GET  /review/:cycleId                 the campaign's queue, one item at a time (HTML; label-page.ts)
 *   POST /review/:cycleId/label           { recordKey, label } → { recordKey, label, duplicate, remaining } | 422 { error }
 *   (a closed cycle or campaign: 410 with its outcome and when; a cycle never started: 404)
 *   GET  /reports/:cycleId                the cycle's report (HTML; with a database)
 *   GET  /reports/:cycleId.md             the same as Markdown
 *   POST /label-studio/webhook            annotations from Label Studio (review/label-studio-webhook.ts)
 *
 * Who is reviewing (infra/identity.ts, REMEDY_AUTH): a verified OIDC token (`jwt`), the
 * `X-Remedy-Reviewer` header from a configured proxy (`proxy`), or, by default on a trusted network, the
 * header or the `reviewer` query parameter as given (`open`). The workflow decides whether that reviewer
 * may label; each answer is stored with how the reviewer was identified (`jwt`, `trusted-proxy`,
 * `unverified`).
 */
import type http from 'node:http';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { describeZodError } from '../core/schemas.js';
import {
  campaignClosed,
  CycleClosedError,
  CycleNotFoundError,
  pendingLabels,
  submitLabel,
  UserError,
} from '../ops/cycles.js';
import { createIdentify, IdentityError, type Identify, type Identity } from '../infra/identity.js';
import { HttpError, listen, readJsonBody, sendJson, type Listening } from '../infra/http.js';
import { loadCycleReport, renderReport } from '../ops/report.js';
import { campaignPage } from './label-page.js';
import { LABEL_SCRIPT_HASH } from './label-script.js';
import { labelStudioWebhook, type LabelStudioWebhookConfig } from './label-studio-webhook.js';
import { errorPage, indexPage } from './pages.js';

const MAX_BODY = 16 * 1024;
const CYCLE_ID = /^[a-z0-9][a-z0-9_-]{0,200}$/;
const ReviewerName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\w.@+-]+$/, 'use letters, digits and . _ @ + -');
const AnswerBody = z.object({ recordKey: z.string().min(1).max(200), label: z.string().min(1).max(100) });

export type ReviewServer = Listening;

export interface ReviewOptions {
  /** Remedy's database: enables the cycle reports under /reports. */
  pool?: pg.Pool;
  /** The Temporal Web UI's base URL, linked from the reports. */
  webUiBase?: string;
  namespace?: string;
  /** Who is calling; default: the header or ?reviewer= as given (REMEDY_AUTH=open). */
  identify?: Identify;
  /** Label Studio's webhook (POST /label-studio/webhook): its API and the shared secret; unset, it is off. */
  labelStudio?: LabelStudioWebhookConfig;
}

export function createReviewHandler(client: Client, opts: ReviewOptions = {}) {
  const identify = opts.identify ?? createIdentify({ mode: 'open', header: 'X-Remedy-Reviewer' });
  const reviewerOf = async (req: http.IncomingMessage, url: URL): Promise<Identity | null> => {
    let who;
    try {
      who = await identify(req, url.searchParams.get('reviewer') || null);
    } catch (err) {
      if (err instanceof IdentityError) throw new HttpError(err.status, err.message);
      throw err;
    }
    if (who === null) return null;
    const r = ReviewerName.safeParse(who.name);
    if (!r.success) throw new HttpError(400, `reviewer: ${r.error.issues.map((i) => i.message).join('; ')}`);
    return { ...who, name: r.data };
  };

  const campaigns = async (): Promise<{ cycleId: string; startTime: string }[]> => {
    const out: { cycleId: string; startTime: string }[] = [];
    for await (const wf of client.workflow.list({
      query: "WorkflowType = 'labelingCampaign' AND ExecutionStatus = 'Running'",
    })) {
      out.push({ cycleId: wf.workflowId.replace(/-labeling$/, ''), startTime: wf.startTime.toISOString() });
      if (out.length >= 200) break;
    }
    return out;
  };

  const fromLabelStudio = labelStudioWebhook(client, opts.labelStudio);

  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://review');
      if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
      // Label Studio identifies itself by the shared secret, and the annotator by their account there.
      if (url.pathname === '/label-studio/webhook') return await fromLabelStudio(req, res);
      const who = await reviewerOf(req, url);
      const reviewer = who?.name ?? null;
      if (req.method === 'GET' && (url.pathname === '/review' || url.pathname === '/review/')) {
        return html(res, 200, indexPage(await campaigns(), reviewer));
      }
      const r = /^\/reports\/([^/]+?)(\.md)?$/.exec(url.pathname);
      if (r && req.method === 'GET') {
        const cycleId = decodePath(r[1]!);
        if (!CYCLE_ID.test(cycleId)) throw new HttpError(404, `"${cycleId}" is not a cycle ID`);
        if (!opts.pool)
          throw new HttpError(404, 'reports need the database: start the review page with DATABASE_URL set');
        const input = await loadCycleReport(opts.pool, cycleId, {
          client,
          ...(opts.webUiBase ? { webUiBase: opts.webUiBase } : {}),
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
        });
        if (r[2]) {
          const body = renderReport(input, 'md');
          res.writeHead(200, {
            'content-type': 'text/markdown; charset=utf-8',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
          return;
        }
        return html(res, 200, renderReport(input, 'html'), REPORT_CSP);
      }
      const m = /^\/review\/([^/]+)(\/label)?$/.exec(url.pathname);
      if (!m) throw new HttpError(404, `no page ${url.pathname}: open /review`);
      const cycleId = decodePath(m[1]!);
      if (!CYCLE_ID.test(cycleId)) throw new HttpError(404, `"${cycleId}" is not a cycle ID`);
      if (!m[2] && req.method === 'GET') {
        const status = await pendingLabels(client, cycleId);
        const closed = await campaignClosed(client, cycleId);
        if (closed) throw closed;
        // The deadline is told in words from this server's clock, not the browser's.
        return html(res, 200, campaignPage(cycleId, status, reviewer, Date.now()));
      }
      if (m[2] && req.method === 'POST') {
        if (!who) throw new HttpError(401, 'who is reviewing? Send X-Remedy-Reviewer or ?reviewer=');
        const body = AnswerBody.safeParse(await readJsonBody(req, MAX_BODY));
        if (!body.success) throw new HttpError(422, `label refused: ${describeZodError(body.error)}`);
        const result = await submitLabel(client, cycleId, {
          ...body.data,
          reviewer: who.name,
          via: 'review-page',
          verifiedBy: who.verifiedBy,
        });
        return sendJson(res, 200, result);
      }
      throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`);
    } catch (err) {
      if (err instanceof HttpError) return reply(req, res, err.status, err.message);
      // Refusals from the workflow (validator messages) and unknown cycles are the reviewer's to read.
      if (err instanceof CycleClosedError) return reply(req, res, 410, err.message);
      if (err instanceof CycleNotFoundError) return reply(req, res, 404, err.message);
      if (err instanceof UserError) return reply(req, res, 422, err.message);
      return reply(req, res, 500, 'internal error');
    }
  };
}

/** A path segment, decoded; a malformed escape is a page that does not exist, not a server error. */
function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(404, `"${segment}" is not a valid path segment`);
  }
}

export function startReviewServer(
  client: Client,
  opts: { port?: number; host?: string } & ReviewOptions = {},
): Promise<ReviewServer> {
  const { port, host, ...review } = opts;
  return listen(createReviewHandler(client, review), {
    ...(port !== undefined ? { port } : {}),
    ...(host !== undefined ? { host } : {}),
  });
}

// The review page runs only its own script (allowed by its hash, so no other inline script runs) and talks
// only to this server.
const PAGE_CSP = `default-src 'none'; script-src ${LABEL_SCRIPT_HASH}; style-src 'unsafe-inline'; connect-src 'self'`;
// A report runs no script at all: styles and inline SVG only.
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'";

function html(res: http.ServerResponse, status: number, body: string, csp = PAGE_CSP): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'content-security-policy': csp,
  });
  res.end(body);
}

function reply(req: http.IncomingMessage, res: http.ServerResponse, status: number, message: string): void {
  if (req.method === 'POST') return sendJson(res, status, { error: message });
  html(res, status, errorPage(message));
}
