/**
 * Notifications from activities, and sending one to a channel.
 *
 * `recordEvent` is what an activity calls at the moment something happens (a cycle opened or closed, a
 * rollback, a pause, an approval waiting, a labeling reminder): it stores the event once per event key
 * with one pending delivery per channel of the model's policy that wants it. Nothing is sent there, so
 * a slow or dead receiver never holds a cycle up; workers/deliveries.ts sends from the outbox.
 *
 * `sendToChannel` makes one HTTP request for one event: the generic webhook (JSON, HMAC-signed), Slack's
 * incoming webhook, or PagerDuty's Events API v2. Secrets come from the environment variables the
 * policy names; a missing one is an error that says which variable to set.
 */
import { createHmac } from 'node:crypto';
import {
  Channel,
  channelsFor,
  type NotificationEvent,
  type NotificationKind,
  pagerDutyBody,
  slackBody,
  webhookBody,
} from '../core/notifications.js';
import type { Queryable } from '../db/pool.js';
import * as db from '../db/index.js';

export interface EventInput {
  eventKey: string;
  kind: NotificationKind;
  modelId: string | null;
  cycleId?: string | null;
  campaignId?: string | null;
  recipients?: readonly string[];
  message: string;
  details?: Record<string, unknown>;
}

/** Stores the event once (per event key) with a delivery for each channel that wants it; true when stored now. */
export async function recordEvent(q: Queryable, e: EventInput): Promise<boolean> {
  const model = e.modelId === null ? null : await db.getModel(q, e.modelId);
  const channels = model ? channelsFor(model.policy.notifications.channels, e.kind) : [];
  const id = await db.insertNotificationWithDeliveries(
    q,
    {
      eventKey: e.eventKey,
      kind: e.kind,
      modelId: e.modelId,
      cycleId: e.cycleId ?? null,
      campaignId: e.campaignId ?? null,
      recipients: e.recipients ?? [],
      message: e.message,
      details: e.details ?? {},
    },
    channels.map((c) => ({ name: c.name, target: c })),
  );
  return id !== null;
}

export type SendResult =
  { ok: true; status: number } | { ok: false; status: number | null; error: string; permanent: boolean };

export interface SendOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

/** The HMAC the generic webhook carries: `sha256=<hex of HMAC-SHA256(secret, raw body)>`. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

class MissingSecret extends Error {}

function secretFrom(env: NodeJS.ProcessEnv, name: string, what: string, channel: string): string {
  const value = env[name];
  if (!value)
    throw new MissingSecret(
      `${name} is not set in this process's environment: set it to ${what} (channel "${channel}" names it in the policy)`,
    );
  return value;
}

/** The request for one event on one channel: where, the body and its headers. */
export function requestFor(
  channel: Channel,
  event: NotificationEvent,
  env: NodeJS.ProcessEnv,
): { url: string; body: string; headers: Record<string, string> } {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'remedy-notifications',
    'idempotency-key': event.idempotencyKey,
    'x-remedy-event': event.kind,
  };
  switch (channel.type) {
    case 'webhook': {
      const body = JSON.stringify(webhookBody(event));
      const secret = secretFrom(env, channel.secretEnv, "the webhook's shared secret", channel.name);
      return {
        url: channel.url,
        body,
        headers: { ...headers, 'x-remedy-signature': signature(secret, body) },
      };
    }
    case 'slack': {
      const url =
        channel.url ?? secretFrom(env, channel.urlEnv!, 'the Slack incoming-webhook URL', channel.name);
      return { url, body: JSON.stringify(slackBody(event)), headers };
    }
    case 'pagerduty': {
      const key = secretFrom(env, channel.routingKeyEnv, 'the PagerDuty integration key', channel.name);
      return { url: channel.url, body: JSON.stringify(pagerDutyBody(event, key, channel.source)), headers };
    }
  }
}

/**
 * Sends one event to one channel. A 2xx is delivered; a timeout, a network error, 408, 429 or 5xx may
 * pass on a retry; any other 4xx (the receiver refused the request itself) and a missing secret will not,
 * and say so (`permanent`).
 */
export async function sendToChannel(
  rawChannel: unknown,
  event: NotificationEvent,
  o: SendOptions,
): Promise<SendResult> {
  const parsed = Channel.safeParse(rawChannel);
  if (!parsed.success)
    return {
      ok: false,
      status: null,
      error: `the channel is not valid: ${parsed.error.message}`,
      permanent: true,
    };
  let request;
  try {
    request = requestFor(parsed.data, event, o.env);
  } catch (err) {
    if (err instanceof MissingSecret) return { ok: false, status: null, error: err.message, permanent: true };
    throw err;
  }
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'error',
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    return { ok: false, status: null, error: networkError(err, request.url, o.timeoutMs), permanent: false };
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return { ok: true, status: response.status };
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  return {
    ok: false,
    status: response.status,
    error: `${new URL(request.url).host} answered HTTP ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`,
    permanent: !retryable,
  };
}

function networkError(err: unknown, url: string, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const host = new URL(url).host;
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return `${host} did not answer within ${timeoutMs} ms`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `${host} unreachable: ${e.message}${cause ? ` (${cause})` : ''}`;
}
