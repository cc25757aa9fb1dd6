/**
 * Labeling campaigns: their tasks, labels, reviewers' votes and notifications.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import { type Queryable } from './pool.js';

/** Items a labeling campaign asks for, in the order given by `priority`; a repeated item is kept as it was. */
export async function insertLabelTasks(
  q: Queryable,
  campaignId: string,
  datasetId: number,
  tasks: readonly { recordKey: string; priority: number; score: number }[],
): Promise<void> {
  if (tasks.length === 0) return;
  await q.query(
    `INSERT INTO label_tasks (campaign_id, record_key, dataset_id, priority, score)
     SELECT $1, k, $2, p, s FROM unnest($3::text[], $4::int[], $5::float8[]) AS u(k, p, s)
     ON CONFLICT (campaign_id, record_key) DO NOTHING`,
    [
      campaignId,
      datasetId,
      tasks.map((t) => t.recordKey),
      tasks.map((t) => t.priority),
      tasks.map((t) => t.score),
    ],
  );
}

/** A campaign's tasks in priority order, each marked when the champion answered it itself. */
export async function labelTasksWithAuto(
  q: Queryable,
  campaignId: string,
): Promise<{ record_key: string; auto: boolean }[]> {
  const { rows } = await q.query<{ record_key: string; auto: boolean }>(
    `SELECT t.record_key, (l.source = 'auto') IS TRUE AS auto FROM label_tasks t
     LEFT JOIN labels l ON l.campaign_id = t.campaign_id AND l.record_key = t.record_key
     WHERE t.campaign_id = $1 ORDER BY t.priority`,
    [campaignId],
  );
  return rows;
}

/** A campaign's tasks with their priorities, in priority order. */
export async function labelTasks(
  q: Queryable,
  campaignId: string,
): Promise<{ record_key: string; priority: number }[]> {
  const { rows } = await q.query<{ record_key: string; priority: number }>(
    'SELECT record_key, priority FROM label_tasks WHERE campaign_id = $1 ORDER BY priority',
    [campaignId],
  );
  return rows;
}

/** The champion's own answers for the items it is sure of; an item already answered is kept. */
export async function insertAutoLabels(
  q: Queryable,
  campaignId: string,
  labels: readonly { recordKey: string; label: string }[],
): Promise<void> {
  await q.query(
    `INSERT INTO labels (campaign_id, record_key, label, reviewer, source, via, verified_by)
     SELECT $1, k, l, 'remedy:champion', 'auto', 'auto', 'system' FROM unnest($2::text[], $3::text[]) AS u(k, l)
     ON CONFLICT (campaign_id, record_key) DO NOTHING`,
    [campaignId, labels.map((a) => a.recordKey), labels.map((a) => a.label)],
  );
}

/** Every answer a campaign has, from people and from the champion. */
export async function campaignLabels(
  q: Queryable,
  campaignId: string,
): Promise<{ record_key: string; label: string; source: 'human' | 'auto' }[]> {
  const { rows } = await q.query<{ record_key: string; label: string; source: 'human' | 'auto' }>(
    'SELECT record_key, label, source FROM labels WHERE campaign_id = $1',
    [campaignId],
  );
  return rows;
}

/** Stores a notification once per event key; true when this call stored it. */
export async function insertNotification(
  q: Queryable,
  n: { eventKey: string; campaignId: string; kind: string; recipients: readonly string[]; message: string },
): Promise<boolean> {
  const inserted = await q.query(
    `INSERT INTO notifications (event_key, campaign_id, kind, recipients, message) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (event_key) DO NOTHING`,
    [n.eventKey, n.campaignId, n.kind, JSON.stringify(n.recipients), n.message],
  );
  return Boolean(inserted.rowCount);
}

/** A person's answer for an item; null when the item already has one (the first answer wins). */
export async function insertHumanLabel(
  q: Queryable,
  l: {
    campaignId: string;
    recordKey: string;
    label: string;
    reviewer: string;
    via: string;
    verifiedBy: string;
  },
): Promise<{ label: string; reviewer: string } | null> {
  const { rows } = await q.query<{ label: string; reviewer: string }>(
    `INSERT INTO labels (campaign_id, record_key, label, reviewer, source, via, verified_by)
     VALUES ($1, $2, $3, $4, 'human', $5, $6)
     ON CONFLICT (campaign_id, record_key) DO NOTHING RETURNING label, reviewer`,
    [l.campaignId, l.recordKey, l.label, l.reviewer, l.via, l.verifiedBy],
  );
  return rows[0] ?? null;
}

/** The stored answer for an item and who gave it. */
export async function getLabel(
  q: Queryable,
  campaignId: string,
  recordKey: string,
): Promise<{ label: string; reviewer: string } | undefined> {
  const { rows } = await q.query<{ label: string; reviewer: string }>(
    'SELECT label, reviewer FROM labels WHERE campaign_id = $1 AND record_key = $2',
    [campaignId, recordKey],
  );
  return rows[0];
}

/** One reviewer's vote on an overlapped item; null when that reviewer already voted on it. */
export async function insertVote(
  q: Queryable,
  v: {
    campaignId: string;
    recordKey: string;
    reviewer: string;
    label: string;
    via: string;
    verifiedBy: string;
  },
): Promise<{ label: string } | null> {
  const { rows } = await q.query<{ label: string }>(
    `INSERT INTO label_votes (campaign_id, record_key, reviewer, label, via, verified_by)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (campaign_id, record_key, reviewer) DO NOTHING RETURNING label`,
    [v.campaignId, v.recordKey, v.reviewer, v.label, v.via, v.verifiedBy],
  );
  return rows[0] ?? null;
}

/** A reviewer's stored vote on an item. */
export async function getVote(
  q: Queryable,
  campaignId: string,
  recordKey: string,
  reviewer: string,
): Promise<{ label: string } | undefined> {
  const { rows } = await q.query<{ label: string }>(
    'SELECT label FROM label_votes WHERE campaign_id = $1 AND record_key = $2 AND reviewer = $3',
    [campaignId, recordKey, reviewer],
  );
  return rows[0];
}

/** Who answered a campaign's items, how they were identified, through what and when, in answer order. */
export async function campaignAnswers(
  q: Queryable,
  campaignId: string,
): Promise<{ reviewer: string; via: string; verified_by: string; source: string; answered_at: Date }[]> {
  const { rows } = await q.query<{
    reviewer: string;
    via: string;
    verified_by: string;
    source: string;
    answered_at: Date;
  }>(
    'SELECT reviewer, via, verified_by, source, answered_at FROM labels WHERE campaign_id = $1 ORDER BY answered_at',
    [campaignId],
  );
  return rows;
}

/** A campaign's answers by item: the label, who gave it, how they were identified and through what. */
export async function campaignAnswersByItem(
  q: Queryable,
  campaignId: string,
): Promise<{ record_key: string; label: string; reviewer: string; via: string; verified_by: string }[]> {
  const { rows } = await q.query<{
    record_key: string;
    label: string;
    reviewer: string;
    via: string;
    verified_by: string;
  }>(
    'SELECT record_key, label, reviewer, via, verified_by FROM labels WHERE campaign_id = $1 ORDER BY record_key',
    [campaignId],
  );
  return rows;
}

/** How many items a campaign asked for. */
export async function labelTaskCount(q: Queryable, campaignId: string): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    'SELECT count(*) AS n FROM label_tasks WHERE campaign_id = $1',
    [campaignId],
  );
  return Number(rows[0]?.n ?? 0);
}

/** A campaign's notifications, oldest first. */
export async function campaignNotifications(
  q: Queryable,
  campaignId: string,
): Promise<{ kind: string; created_at: Date; message: string }[]> {
  const { rows } = await q.query<{ kind: string; created_at: Date; message: string }>(
    'SELECT kind, created_at, message FROM notifications WHERE campaign_id = $1 ORDER BY created_at, notification_id',
    [campaignId],
  );
  return rows;
}

/** How many campaigns with IDs starting with `prefix` have tasks. */
export async function countCampaignsWithPrefix(q: Queryable, prefix: string): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    'SELECT count(DISTINCT campaign_id) AS n FROM label_tasks WHERE starts_with(campaign_id, $1)',
    [prefix],
  );
  return Number(rows[0]!.n);
}
