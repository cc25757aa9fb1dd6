/**
 * The production log: records, the predictions served for them and the feedback that arrives.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import { z } from 'zod';
import type { Features } from '../core/schemas.js';
import { type Queryable } from './pool.js';

export interface RecordRow {
  recordKey: string;
  ts: Date;
  features: Features;
  feedback: string | null;
}

const RecordRowSchema = z.object({
  record_key: z.string(),
  ts: z.date(),
  features: z.record(z.string(), z.union([z.number(), z.string()])),
  feedback: z.string().nullable(),
});

function toRecord(row: unknown): RecordRow {
  const r = RecordRowSchema.parse(row);
  return { recordKey: r.record_key, ts: r.ts, features: r.features, feedback: r.feedback };
}

/** Inserts production-log rows; a row already present (same key) is left as it is. Returns rows added. */
export async function insertRecords(
  q: Queryable,
  modelId: string,
  records: readonly { recordKey: string; ts: string | Date; features: Features; feedback?: string | null }[],
): Promise<number> {
  let added = 0;
  for (let i = 0; i < records.length; i += 1000) {
    const chunk = records.slice(i, i + 1000);
    const res = await q.query(
      `INSERT INTO records (model_id, record_key, ts, features, feedback, feedback_at)
       SELECT $1, k, t, f, fb, CASE WHEN fb IS NULL THEN NULL ELSE now() END
       FROM unnest($2::text[], $3::timestamptz[], $4::jsonb[], $5::text[]) AS u(k, t, f, fb)
       ON CONFLICT (model_id, record_key) DO NOTHING`,
      [
        modelId,
        chunk.map((r) => r.recordKey),
        chunk.map((r) => (r.ts instanceof Date ? r.ts.toISOString() : r.ts)),
        chunk.map((r) => JSON.stringify(r.features)),
        chunk.map((r) => r.feedback ?? null),
      ],
    );
    added += res.rowCount ?? 0;
  }
  return added;
}

export async function recordsInWindow(
  q: Queryable,
  modelId: string,
  start: string,
  end: string,
  limit: number,
): Promise<RecordRow[]> {
  const { rows } = await q.query(
    `SELECT record_key, ts, features, feedback FROM records
     WHERE model_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, record_key LIMIT $4`,
    [modelId, start, end, limit],
  );
  return rows.map(toRecord);
}

/** The next requests after a cursor: the traffic a rollout step replays through the gateway. */
export async function recordsAfter(
  q: Queryable,
  modelId: string,
  cursor: { ts: string; recordKey: string },
  limit: number,
): Promise<RecordRow[]> {
  const { rows } = await q.query(
    `SELECT record_key, ts, features, feedback FROM records
     WHERE model_id = $1 AND (ts, record_key) > ($2::timestamptz, $3) ORDER BY ts, record_key LIMIT $4`,
    [modelId, cursor.ts, cursor.recordKey, limit],
  );
  return rows.map(toRecord);
}

/** Champion predictions in a window joined with the feedback that has arrived for them. */
export async function outcomesInWindow(
  q: Queryable,
  modelId: string,
  version: number,
  start: string,
  end: string,
): Promise<{ truth: string; predicted: string }[]> {
  const { rows } = await q.query<{ truth: string; predicted: string }>(
    `SELECT DISTINCT ON (r.record_key) r.feedback AS truth, p.predicted
     FROM records r JOIN predictions p ON p.model_id = r.model_id AND p.record_key = r.record_key
     WHERE r.model_id = $1 AND p.version = $2 AND r.ts >= $3 AND r.ts < $4 AND r.feedback IS NOT NULL
     ORDER BY r.record_key, p.prediction_id`,
    [modelId, version, start, end],
  );
  return rows;
}

export async function insertPredictions(
  q: Queryable,
  modelId: string,
  batchKey: string,
  preds: readonly {
    recordKey: string;
    version: number;
    predicted: string;
    confidence: number;
    latencyUs: number;
    /** When it was served; a batched writer passes the request's time (default: now). */
    servedAt?: Date;
  }[],
): Promise<number> {
  if (preds.length === 0) return 0;
  const res = await q.query(
    `INSERT INTO predictions (model_id, record_key, batch_key, version, predicted, confidence, latency_us, served_at)
     SELECT $1, k, $2, v, p, c, l, coalesce(s, now())
     FROM unnest($3::text[], $4::int[], $5::text[], $6::float8[], $7::int[], $8::timestamptz[]) AS u(k, v, p, c, l, s)
     ON CONFLICT (model_id, batch_key, record_key) DO NOTHING`,
    [
      modelId,
      batchKey,
      preds.map((p) => p.recordKey),
      preds.map((p) => p.version),
      preds.map((p) => p.predicted),
      preds.map((p) => p.confidence),
      preds.map((p) => p.latencyUs),
      preds.map((p) => (p.servedAt ? p.servedAt.toISOString() : null)),
    ],
  );
  return res.rowCount ?? 0;
}

/**
 * Feedback for one request: the first answer is kept, with the API client that sent it (null when the
 * gateway runs without credentials). Null when the request is unknown.
 */
export async function recordFeedback(
  q: Queryable,
  modelId: string,
  recordKey: string,
  label: string,
  client: string | null = null,
): Promise<{ label: string; duplicate: boolean } | null> {
  const updated = await q.query<{ feedback: string }>(
    `UPDATE records SET feedback = $3, feedback_at = now(), feedback_client = $4
     WHERE model_id = $1 AND record_key = $2 AND feedback IS NULL
     RETURNING feedback`,
    [modelId, recordKey, label, client],
  );
  if (updated.rows[0]) return { label: updated.rows[0].feedback, duplicate: false };
  const existing = await q.query<{ feedback: string | null }>(
    'SELECT feedback FROM records WHERE model_id = $1 AND record_key = $2',
    [modelId, recordKey],
  );
  const row = existing.rows[0];
  return row ? { label: row.feedback ?? label, duplicate: true } : null;
}

export async function firstRecordTs(q: Queryable, modelId: string): Promise<string | null> {
  const { rows } = await q.query<{ ts: Date | null }>(
    'SELECT min(ts) AS ts FROM records WHERE model_id = $1',
    [modelId],
  );
  return rows[0]?.ts?.toISOString() ?? null;
}

export async function lastRecordTs(q: Queryable, modelId: string): Promise<string | null> {
  const { rows } = await q.query<{ ts: Date | null }>(
    'SELECT max(ts) AS ts FROM records WHERE model_id = $1',
    [modelId],
  );
  return rows[0]?.ts?.toISOString() ?? null;
}

/** The latest prediction logged for a request, with the request's features and time. */
export async function servedRequest(
  q: Queryable,
  modelId: string,
  recordKey: string,
): Promise<{ version: number; predicted: string; confidence: number; features: Features; ts: Date } | null> {
  const { rows } = await q.query<{
    version: number;
    predicted: string;
    confidence: number;
    features: Features;
    ts: Date;
  }>(
    `SELECT p.version, p.predicted, p.confidence, r.features, r.ts
     FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
     WHERE p.model_id = $1 AND p.record_key = $2 ORDER BY p.prediction_id DESC LIMIT 1`,
    [modelId, recordKey],
  );
  return rows[0] ?? null;
}

/** Labeled requests a version served (one per request, its first prediction) with what it said. */
export async function labeledServedBy(
  q: Queryable,
  modelId: string,
  version: number,
): Promise<{ features: Record<string, string | number>; feedback: string; predicted: string }[]> {
  const { rows } = await q.query<{
    features: Record<string, string | number>;
    feedback: string;
    predicted: string;
  }>(
    `SELECT DISTINCT ON (r.record_key) r.features, r.feedback, p.predicted
     FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
     WHERE p.model_id = $1 AND p.version = $2 AND r.feedback IS NOT NULL
     ORDER BY r.record_key, p.prediction_id`,
    [modelId, version],
  );
  return rows;
}

/** Predictions the HTTP gateway logged for a model (its batch key is "gateway"): what the benchmark counts. */
export async function countGatewayPredictions(q: Queryable, modelId: string): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    "SELECT count(*) AS n FROM predictions WHERE model_id = $1 AND batch_key = 'gateway'",
    [modelId],
  );
  return Number(rows[0]!.n);
}
