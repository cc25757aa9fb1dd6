/**
 * Notifications: what Remedy tells people, and where (the policy's `notifications.channels`). Pure: the
 * channel schemas, which channel wants which event, and each channel's request body. Sending lives in
 * activities/notifications.ts, the outbox loop in workers/deliveries.ts.
 *
 * Delivery contract: every request carries `Idempotency-Key: <notification id>:<channel>` (PagerDuty's
 * `dedup_key` is the same string). A worker that dies after sending and before recording the result
 * sends again with the same key, so a receiver that remembers the keys it has seen drops the repeat.
 */
import { z } from 'zod';

/** Every kind of event a notification row can carry. */
export const NOTIFICATION_KINDS = [
  'cycle-started',
  'cycle-closed',
  'data-quality',
  'rollback',
  'paused',
  'approval-waiting',
  'reminder',
  'escalation',
  'parked',
  'batch',
  'decision',
  'extended',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

const KIND_TITLES: Record<NotificationKind | 'test', string> = {
  'cycle-started': 'Cycle started',
  'cycle-closed': 'Cycle closed',
  'data-quality': 'Data-quality incident',
  rollback: 'Rolled back',
  paused: 'Rollout paused',
  'approval-waiting': 'Approval waiting',
  reminder: 'Labeling reminder',
  escalation: 'Labeling escalation',
  parked: 'Labeling campaign parked',
  batch: 'New labeling batch',
  decision: 'Labeling decision',
  extended: 'Labeling deadline extended',
  test: 'Test notification',
};

const ChannelName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'a channel name: lower-case letters, digits, "-" and "_", e.g. "oncall"',
  );
export const EnvName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'the NAME of an environment variable holding the secret, e.g. "REMEDY_WEBHOOK_SECRET" (never the secret itself)',
  );
export const HttpUrl = z
  .string()
  .url('an http(s) URL')
  .refine((u) => /^https?:\/\//.test(u), { message: 'an http:// or https:// URL' });
const Events = z
  .array(z.enum(NOTIFICATION_KINDS))
  .min(1, 'list at least one event kind, or leave "events" out for all of them')
  .optional();

export const WebhookChannel = z.object({
  type: z.literal('webhook'),
  name: ChannelName,
  url: HttpUrl,
  /** The variable holding the HMAC secret; the body is signed in `X-Remedy-Signature: sha256=<hex>`. */
  secretEnv: EnvName,
  events: Events,
});
export const SlackChannel = z
  .object({
    type: z.literal('slack'),
    name: ChannelName,
    /** Slack's incoming-webhook URL is itself a secret: prefer `urlEnv`, the variable holding it. */
    url: HttpUrl.optional(),
    urlEnv: EnvName.optional(),
    events: Events,
  })
  .refine((c) => (c.url === undefined) !== (c.urlEnv === undefined), {
    message: 'a slack channel needs exactly one of "urlEnv" (the variable holding the webhook URL) or "url"',
  });
export const PagerDutyChannel = z.object({
  type: z.literal('pagerduty'),
  name: ChannelName,
  /** The variable holding the Events API v2 integration (routing) key. */
  routingKeyEnv: EnvName,
  url: HttpUrl.default('https://events.pagerduty.com/v2/enqueue'),
  /** The `payload.source` PagerDuty shows. */
  source: z.string().min(1).max(255).default('remedy'),
  events: Events,
});
export const Channel = z.discriminatedUnion('type', [WebhookChannel, SlackChannel, PagerDutyChannel]);
export type Channel = z.infer<typeof Channel>;

export const NotificationSettings = z.object({
  channels: z
    .array(Channel)
    .max(20)
    .default([])
    .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, {
      message: 'channel names must be unique: each names its deliveries',
    }),
});
export type NotificationSettings = z.infer<typeof NotificationSettings>;

/** The channels that want an event of this kind (all of them when a channel lists no events). */
export function channelsFor(channels: readonly Channel[], kind: NotificationKind): Channel[] {
  return channels.filter((c) => c.events === undefined || c.events.includes(kind));
}

/** One event as a channel sees it. */
export interface NotificationEvent {
  /** `<notification id>:<channel>`; also PagerDuty's dedup_key. */
  idempotencyKey: string;
  kind: NotificationKind | 'test';
  modelId: string | null;
  cycleId: string | null;
  campaignId: string | null;
  recipients: readonly string[];
  message: string;
  details: Record<string, unknown>;
  createdAt: string;
  /** The cycle's report on the review page, when the worker knows the page's URL. */
  reportUrl?: string;
}

export const idempotencyKey = (notificationId: number | string, channel: string) =>
  `${notificationId}:${channel}`;

/** The cycle's report page under the review server's root (REMEDY_REVIEW_URL), or none. */
export function reportUrl(reviewBase: string | undefined, cycleId: string | null): string | undefined {
  if (!reviewBase || !cycleId) return undefined;
  return `${reviewBase.replace(/\/+$/, '')}/reports/${encodeURIComponent(cycleId)}`;
}

export function title(e: Pick<NotificationEvent, 'kind' | 'modelId'>): string {
  return `${KIND_TITLES[e.kind]}${e.modelId ? ` · ${e.modelId}` : ''}`;
}

/** The generic webhook's JSON body. */
export function webhookBody(e: NotificationEvent): Record<string, unknown> {
  return {
    idempotencyKey: e.idempotencyKey,
    kind: e.kind,
    title: title(e),
    message: e.message,
    modelId: e.modelId,
    cycleId: e.cycleId,
    campaignId: e.campaignId,
    recipients: e.recipients,
    details: e.details,
    reportUrl: e.reportUrl ?? null,
    createdAt: e.createdAt,
  };
}

/** Slack's incoming-webhook body: `text` (the fallback and the notification) and blocks. */
export function slackBody(e: NotificationEvent): { text: string; blocks: unknown[] } {
  const context = [
    e.cycleId ? `cycle \`${e.cycleId}\`` : null,
    e.campaignId ? `campaign \`${e.campaignId}\`` : null,
    e.recipients.length > 0 ? `for ${e.recipients.join(', ')}` : null,
  ].filter((s): s is string => s !== null);
  return {
    text: `${title(e)}: ${e.message}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title(e).slice(0, 150) } },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `${slackEscape(e.message)}${e.reportUrl ? `\n<${e.reportUrl}|Cycle report>` : ''}`.slice(
            0,
            3000,
          ),
        },
      },
      ...(context.length > 0
        ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] }]
        : []),
    ],
  };
}

function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

/** How urgent an event is for a pager: failures and rollbacks are errors, waits for people warnings. */
export function severityOf(e: Pick<NotificationEvent, 'kind' | 'details'>): PagerDutySeverity {
  switch (e.kind) {
    case 'data-quality':
    case 'rollback':
      return 'error';
    case 'paused':
    case 'escalation':
    case 'parked':
    case 'approval-waiting':
      return 'warning';
    case 'cycle-closed':
      return e.details.outcome === 'failed' ? 'error' : 'info';
    default:
      return 'info';
  }
}

/** PagerDuty Events API v2: a trigger event, deduplicated on the notification and channel. */
export function pagerDutyBody(
  e: NotificationEvent,
  routingKey: string,
  source: string,
): Record<string, unknown> {
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: e.idempotencyKey,
    payload: {
      summary: `${title(e)}: ${e.message}`.slice(0, 1024),
      source,
      severity: severityOf(e),
      class: e.kind,
      ...(e.modelId ? { component: e.modelId } : {}),
      ...(e.cycleId ? { group: e.cycleId } : {}),
      custom_details: { ...e.details, ...(e.campaignId ? { campaignId: e.campaignId } : {}) },
    },
    ...(e.reportUrl ? { links: [{ href: e.reportUrl, text: 'Cycle report' }] } : {}),
  };
}

/** Delivery retries: exponential from `baseMs`, capped at `maxMs`. */
export function retryDelayMs(attempts: number, baseMs = 5_000, maxMs = 600_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}
