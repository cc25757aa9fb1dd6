/**
 * POST /label-studio/webhook: where Label Studio sends each annotation (a project webhook with
 * send_payload on and the shared secret in the X-Remedy-Secret header; Remedy registers it when the
 * policy's `labeling.labelStudio.webhook` is set). The secret is checked before the body is read; the
 * annotation becomes the same `submitLabel` Update the review page sends (ops/label-studio.ts).
 *
 *   200 { outcome: { result: labeled | duplicate, … } } or { ignored: why }
 *   401 wrong or missing secret · 422 { error, outcome } a refused label · 410 the campaign has closed
 */
import type http from 'node:http';
import type { Client } from '@temporalio/client';
import { WEBHOOK_SECRET_HEADER } from '../core/label-studio.js';
import { HttpError, readJsonBody, sendJson } from '../infra/http.js';
import {
  handleLabelStudioWebhook,
  LabelStudioError,
  webhookSecretMatches,
  type EmailCache,
  type LabelStudioApi,
} from '../ops/label-studio.js';

/** Label Studio's webhook bodies carry the whole project (its labeling config): allow for a large one. */
const MAX_BODY = 1024 * 1024;

export interface LabelStudioWebhookConfig {
  /** Label Studio's API, to read an annotator's email (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY). */
  api: LabelStudioApi;
  /** The shared secret the webhook sends (REMEDY_LABEL_STUDIO_SECRET). */
  secret: string;
}

export function labelStudioWebhook(client: Client, cfg: LabelStudioWebhookConfig | undefined) {
  const emails: EmailCache = new Map();
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (!cfg)
      throw new HttpError(
        404,
        'the Label Studio webhook is off: start the review page with REMEDY_LABEL_STUDIO_SECRET, LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY set',
      );
    if (req.method !== 'POST')
      throw new HttpError(405, `${req.method} is not allowed on /label-studio/webhook`);
    const given = req.headers[WEBHOOK_SECRET_HEADER.toLowerCase()];
    if (!webhookSecretMatches(Array.isArray(given) ? given[0] : given, cfg.secret))
      throw new HttpError(
        401,
        `wrong or missing ${WEBHOOK_SECRET_HEADER}: set the webhook's header to the shared secret`,
      );
    const body = await readJsonBody(req, MAX_BODY);
    let r;
    try {
      r = await handleLabelStudioWebhook(client, cfg.api, body, emails);
    } catch (err) {
      // Label Studio could not say who annotated: its own answer, for the webhook's log there.
      if (err instanceof LabelStudioError) throw new HttpError(502, err.message);
      throw err;
    }
    if ('ignored' in r) return sendJson(res, 200, r);
    const { outcome } = r;
    if (outcome.result === 'refused') return sendJson(res, 422, { error: outcome.message, outcome });
    if (outcome.result === 'closed') return sendJson(res, 410, { error: outcome.message, outcome });
    return sendJson(res, 200, r);
  };
}
