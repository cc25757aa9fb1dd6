/**
 * What the efficacy benchmark reads back to check its own bookkeeping: a model's cycles, the label
 * requests and answers of their campaigns, and the records its replay served, as the database has them.
 */
import type { Queryable } from './pool.js';

/** A model's cycles counted by outcome ("open" for a cycle not closed yet). */
export async function modelCycleOutcomes(q: Queryable, modelId: string): Promise<Record<string, number>> {
  const { rows } = await q.query<{ outcome: string; n: string }>(
    `SELECT coalesce(outcome, 'open') AS outcome, count(*) AS n FROM cycles WHERE model_id = $1 GROUP BY 1`,
    [modelId],
  );
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
}

/** Label requests (tasks) and human answers of a model's campaigns (campaign ID: `<cycle>-labeling`). */
export async function countModelLabels(
  q: Queryable,
  modelId: string,
): Promise<{ requested: number; answered: number }> {
  const { rows } = await q.query<{ requested: string; answered: string }>(
    `SELECT count(*) AS requested, count(l.record_key) FILTER (WHERE l.source = 'human') AS answered
     FROM label_tasks t
     JOIN cycles c ON t.campaign_id = c.cycle_id || '-labeling'
     LEFT JOIN labels l ON l.campaign_id = t.campaign_id AND l.record_key = t.record_key
     WHERE c.model_id = $1`,
    [modelId],
  );
  return { requested: Number(rows[0]!.requested), answered: Number(rows[0]!.answered) };
}

/** The human answers of a model's campaigns: record key and label. */
export async function modelHumanLabels(
  q: Queryable,
  modelId: string,
): Promise<{ recordKey: string; label: string }[]> {
  const { rows } = await q.query<{ record_key: string; label: string }>(
    `SELECT l.record_key, l.label FROM labels l
     JOIN cycles c ON l.campaign_id = c.cycle_id || '-labeling'
     WHERE c.model_id = $1 AND l.source = 'human'`,
    [modelId],
  );
  return rows.map((r) => ({ recordKey: r.record_key, label: r.label }));
}

/** The record keys a model's predictions were logged for under batches starting with `batchPrefix`. */
export async function servedRecordKeys(
  q: Queryable,
  modelId: string,
  batchPrefix: string,
): Promise<string[]> {
  const { rows } = await q.query<{ record_key: string }>(
    `SELECT record_key FROM predictions
     WHERE model_id = $1 AND starts_with(batch_key, $2)
     ORDER BY record_key`,
    [modelId, batchPrefix],
  );
  return rows.map((r) => r.record_key);
}

/** What a model's replay served under batches starting with `batchPrefix`: record key and prediction. */
export async function servedPredictions(
  q: Queryable,
  modelId: string,
  batchPrefix: string,
): Promise<{ recordKey: string; predicted: string }[]> {
  const { rows } = await q.query<{ record_key: string; predicted: string }>(
    `SELECT record_key, predicted FROM predictions
     WHERE model_id = $1 AND starts_with(batch_key, $2)
     ORDER BY record_key`,
    [modelId, batchPrefix],
  );
  return rows.map((r) => ({ recordKey: r.record_key, predicted: r.predicted }));
}

/** How many of a model's logged records carry feedback (the ground truth the pipeline delivered). */
export async function countModelFeedback(q: Queryable, modelId: string): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    `SELECT count(*) AS n FROM records WHERE model_id = $1 AND feedback IS NOT NULL`,
    [modelId],
  );
  return Number(rows[0]!.n);
}
