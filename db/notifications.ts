/**
 * Notifications and their outbox: one row per event (unique event key), one delivery per channel.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import { type Queryable } from './pool.js';

export interface NotificationInput {
  eventKey: string;
  kind: string;
  modelId: string | null;
  cycleId: string | null;
  campaignId: string | null;
  recipients: readonly string[];
  message: string;
  details: Record<string, unknown>;
}

/**
 * Stores an event once per event key together with one pending delivery per channel, in one statement
 * (so both or neither). Returns the new notification's ID; null when the key was already stored (a
 * retried activity), which adds nothing.
 */
export async function insertNotificationWithDeliveries(
  q: Queryable,
  n: NotificationInput,
  channels: readonly { name: string; target: unknown }[],
): Promise<number | null> {
  const { rows } = await q.query<{ notification_id: string }>(
    `WITH ins AS (
       INSERT INTO notifications (event_key, campaign_id, kind, recipients, message, model_id, cycle_id, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (event_key) DO NOTHING
       RETURNING notification_id
     ), deliveries AS (
       INSERT INTO notification_deliveries (notification_id, channel, target)
       SELECT ins.notification_id, c.name, c.target FROM ins, unnest($9::text[], $10::jsonb[]) AS c(name, target)
       RETURNING 1
     )
     SELECT notification_id FROM ins`,
    [
      n.eventKey,
      n.campaignId,
      n.kind,
      JSON.stringify(n.recipients),
      n.message,
      n.modelId,
      n.cycleId,
      JSON.stringify(n.details),
      channels.map((c) => c.name),
      channels.map((c) => JSON.stringify(c.target)),
    ],
  );
  return rows[0] ? Number(rows[0].notification_id) : null;
}

/** The model a labeling campaign labels for: through its items' dataset, else through its cycle. */
export async function campaignModelId(
  q: Queryable,
  campaignId: string,
  cycleId: string | null,
): Promise<string | null> {
  const { rows } = await q.query<{ model_id: string | null }>(
    `SELECT coalesce(
       (SELECT d.model_id FROM label_tasks t JOIN dataset_versions d USING (dataset_id)
        WHERE t.campaign_id = $1 LIMIT 1),
       (SELECT model_id FROM cycles WHERE cycle_id = $2)) AS model_id`,
    [campaignId, cycleId],
  );
  return rows[0]?.model_id ?? null;
}

/** A delivery claimed for one attempt, with its event. */
export interface ClaimedDelivery {
  notificationId: number;
  channel: string;
  target: unknown;
  /** Counting this one. */
  attempts: number;
  kind: string;
  modelId: string | null;
  cycleId: string | null;
  campaignId: string | null;
  recipients: string[];
  message: string;
  details: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Claims up to `limit` due deliveries for one attempt each: the attempt is counted and the row leased
 * (next_attempt_at moved `leaseMs` ahead) before anything is sent, so a second worker skips it (SKIP
 * LOCKED while this runs, the lease after) and a worker that dies mid-send leaves it due again later.
 */
export async function claimDueDeliveries(
  q: Queryable,
  o: { limit: number; leaseMs: number },
): Promise<ClaimedDelivery[]> {
  const { rows } = await q.query<{
    notification_id: string;
    channel: string;
    target: unknown;
    attempts: number;
    kind: string;
    model_id: string | null;
    cycle_id: string | null;
    campaign_id: string | null;
    recipients: string[];
    message: string;
    details: Record<string, unknown>;
    created_at: Date;
  }>(
    `WITH due AS (
       SELECT notification_id, channel FROM notification_deliveries
       WHERE status = 'pending' AND next_attempt_at <= now()
       ORDER BY next_attempt_at LIMIT $1
       FOR UPDATE SKIP LOCKED
     )
     UPDATE notification_deliveries d
     SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
     FROM due, notifications n
     WHERE d.notification_id = due.notification_id AND d.channel = due.channel
       AND n.notification_id = d.notification_id
     RETURNING d.notification_id, d.channel, d.target, d.attempts, n.kind, n.model_id, n.cycle_id,
       n.campaign_id, n.recipients, n.message, n.details, n.created_at`,
    [o.limit, o.leaseMs],
  );
  return rows.map((r) => ({
    notificationId: Number(r.notification_id),
    channel: r.channel,
    target: r.target,
    attempts: r.attempts,
    kind: r.kind,
    modelId: r.model_id,
    cycleId: r.cycle_id,
    campaignId: r.campaign_id,
    recipients: r.recipients,
    message: r.message,
    details: r.details,
    createdAt: r.created_at,
  }));
}

/** The channel accepted the event. Whoever sent it last, it is delivered (the first time is kept). */
export async function markDeliveryDelivered(
  q: Queryable,
  notificationId: number,
  channel: string,
): Promise<void> {
  await q.query(
    `UPDATE notification_deliveries
     SET status = 'delivered', delivered_at = coalesce(delivered_at, now()), last_error = NULL
     WHERE notification_id = $1 AND channel = $2`,
    [notificationId, channel],
  );
}

/**
 * An attempt failed: due again in `retryInMs`, or failed for good when null. Only the claim that made
 * this attempt may record it (a stale worker whose lease ran out changes nothing).
 */
export async function markDeliveryAttemptFailed(
  q: Queryable,
  d: { notificationId: number; channel: string; attempts: number },
  error: string,
  retryInMs: number | null,
): Promise<void> {
  await q.query(
    `UPDATE notification_deliveries
     SET status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'pending' END,
         last_error = $4,
         next_attempt_at = CASE WHEN $5::float8 IS NULL THEN next_attempt_at
                                ELSE now() + make_interval(secs => $5::float8 / 1000) END
     WHERE notification_id = $1 AND channel = $2 AND attempts = $3 AND status = 'pending'`,
    [d.notificationId, d.channel, d.attempts, error, retryInMs],
  );
}

export interface DeliveryRow {
  notificationId: number;
  eventKey: string;
  kind: string;
  channel: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  deliveredAt: Date | null;
}

/** A model's deliveries, oldest event first (for people and tests: what went where). */
export async function modelDeliveries(q: Queryable, modelId: string): Promise<DeliveryRow[]> {
  const { rows } = await q.query<{
    notification_id: string;
    event_key: string;
    kind: string;
    channel: string;
    status: DeliveryRow['status'];
    attempts: number;
    last_error: string | null;
    delivered_at: Date | null;
  }>(
    `SELECT d.notification_id, n.event_key, n.kind, d.channel, d.status, d.attempts, d.last_error, d.delivered_at
     FROM notification_deliveries d JOIN notifications n USING (notification_id)
     WHERE n.model_id = $1 ORDER BY n.created_at, d.notification_id, d.channel`,
    [modelId],
  );
  return rows.map((r) => ({
    notificationId: Number(r.notification_id),
    eventKey: r.event_key,
    kind: r.kind,
    channel: r.channel,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
  }));
}

/** A model's notifications (every kind), oldest first. */
export async function modelNotifications(
  q: Queryable,
  modelId: string,
): Promise<
  { event_key: string; kind: string; cycle_id: string | null; message: string; details: unknown }[]
> {
  const { rows } = await q.query<{
    event_key: string;
    kind: string;
    cycle_id: string | null;
    message: string;
    details: unknown;
  }>(
    `SELECT event_key, kind, cycle_id, message, details FROM notifications
     WHERE model_id = $1 ORDER BY created_at, notification_id`,
    [modelId],
  );
  return rows;
}
