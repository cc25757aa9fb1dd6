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
