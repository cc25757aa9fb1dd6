/**
 * The notification outbox's delivery loop, run by the worker process beside its Temporal workers
 * (workers/main.ts). It claims due deliveries (db.claimDueDeliveries: FOR UPDATE SKIP LOCKED, the
 * attempt counted and the row leased before sending), sends each with a timeout, and records the
 * result: delivered; due again after an exponential backoff; or, after `maxAttempts` or a refusal that
 * no retry can change, failed with the error kept in `last_error`.
 *
 * At least once, never silently lost: a worker that dies between sending and recording leaves the row
 * to be claimed again when its lease ends, and the resend carries the same `Idempotency-Key`
 * (`<notification id>:<channel>`, PagerDuty's `dedup_key` too), so the receiver can drop the repeat.
 * Several workers may run the loop against one database: SKIP LOCKED and the lease keep them apart.
 */
import type pg from 'pg';
import {
  idempotencyKey,
  type NotificationEvent,
  type NotificationKind,
  reportUrl,
  retryDelayMs,
} from '../core/notifications.js';
import * as db from '../db/index.js';
import { sendToChannel } from '../activities/notifications.js';

export interface DeliveryOptions {
  /** Attempts per delivery before it is marked failed. */
  maxAttempts: number;
  /** How long one request may take. */
  timeoutMs: number;
  /** How long a claimed delivery stays with its worker before another may claim it again. */
  leaseMs: number;
  /** Deliveries claimed per pass. */
  batch: number;
  /** The wait before the next attempt, given the attempts made. */
  retryDelayMs: (attempts: number) => number;
  /** The review server's root, for report links (REMEDY_REVIEW_URL). */
  reviewUrl?: string;
  /** Where secrets are read (the worker's environment). */
  env: NodeJS.ProcessEnv;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  maxAttempts: 8,
  timeoutMs: 10_000,
  leaseMs: 60_000,
  batch: 20,
  retryDelayMs: (attempts) => retryDelayMs(attempts),
  env: process.env,
};

export interface PassResult {
  delivered: number;
  retrying: number;
  failed: number;
}

/** The event as its channel sees it, from a claimed delivery. */
export function eventOf(d: db.ClaimedDelivery, reviewBase?: string): NotificationEvent {
  const link = reportUrl(reviewBase, d.cycleId);
  return {
    idempotencyKey: idempotencyKey(d.notificationId, d.channel),
    kind: d.kind as NotificationKind,
    modelId: d.modelId,
    cycleId: d.cycleId,
    campaignId: d.campaignId,
    recipients: d.recipients,
    message: d.message,
    details: d.details,
    createdAt: d.createdAt.toISOString(),
    ...(link ? { reportUrl: link } : {}),
  };
}

/** Sends a claimed delivery and records the outcome. */
export async function deliverClaimed(
  pool: pg.Pool,
  d: db.ClaimedDelivery,
  o: DeliveryOptions,
): Promise<keyof PassResult> {
  const result = await sendToChannel(d.target, eventOf(d, o.reviewUrl), o);
  if (result.ok) {
    await db.markDeliveryDelivered(pool, d.notificationId, d.channel);
    return 'delivered';
  }
  const last = result.permanent || d.attempts >= o.maxAttempts;
  const error =
    last && !result.permanent ? `${result.error} (gave up after ${d.attempts} attempts)` : result.error;
  await db.markDeliveryAttemptFailed(pool, d, error, last ? null : o.retryDelayMs(d.attempts));
  return last ? 'failed' : 'retrying';
}

/** One pass: claims what is due and delivers it, concurrently. */
export async function deliverDue(pool: pg.Pool, options: Partial<DeliveryOptions> = {}): Promise<PassResult> {
  const o = { ...DEFAULT_DELIVERY, ...options };
  const claimed = await db.claimDueDeliveries(pool, { limit: o.batch, leaseMs: o.leaseMs });
  const outcomes = await Promise.all(claimed.map((d) => deliverClaimed(pool, d, o)));
  const result: PassResult = { delivered: 0, retrying: 0, failed: 0 };
  for (const k of outcomes) result[k]++;
  return result;
}

export interface DeliveryLoop {
  /** Stops claiming; resolves when the pass under way has finished. */
  stop(): Promise<void>;
}

/**
 * Runs passes until stopped: at once again after a pass that claimed a full batch, otherwise after
 * `intervalMs`. A pass that fails (the database away) is logged and tried again after the interval.
 */
export function startDeliveryLoop(
  pool: pg.Pool,
  options: Partial<DeliveryOptions> & {
    intervalMs?: number;
    log?: (entry: Record<string, unknown>) => void;
  } = {},
): DeliveryLoop {
  const { intervalMs = 2_000, log = () => undefined, ...rest } = options;
  const o = { ...DEFAULT_DELIVERY, ...rest };
  // A lease shorter than a request would let a second worker resend while the first still waits.
  if (o.leaseMs <= o.timeoutMs)
    throw new Error(
      `the delivery lease (${o.leaseMs} ms) must outlast a request's timeout (${o.timeoutMs} ms)`,
    );
  const stopping = new AbortController();
  const sleep = () =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, intervalMs);
      stopping.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  const running = (async () => {
    while (!stopping.signal.aborted) {
      let full = false;
      try {
        const r = await deliverDue(pool, o);
        full = r.delivered + r.retrying + r.failed >= o.batch;
        if (r.delivered + r.retrying + r.failed > 0) log({ msg: 'notification deliveries', ...r });
      } catch (err) {
        log({ msg: 'notification delivery pass failed', error: String(err) });
      }
      if (!full) await sleep();
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await running;
    },
  };
}
