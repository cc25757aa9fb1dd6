/**
 * The SQL behind a promoted champion's reference: the production rows of a span (the log, and before the
 * log began, the rows the model was registered with), sampled uniformly and deterministically so a
 * retried promotion profiles the same rows, and the windows of the data a version was trained on.
 */
import type { Features } from '../core/schemas.js';
import type { Queryable } from './pool.js';

export interface SpanRow {
  recordKey: string;
  ts: Date;
  features: Features;
  /** Ground truth where it is known (feedback in the log, or the registration's label). */
  label: string | null;
  /** True when one of the given datasets trained on this row: it cannot measure the baseline. */
  trained: boolean;
}

/**
 * The production rows of [start, end): the log's, plus the registration's reference rows the log does
 * not hold. At most `limit` rows, a uniform sample chosen by a hash of the record key (the same rows on
 * every call), and the span's full count, so a caller can say how many were profiled out of how many.
 */
export async function sampleSpanRows(
  q: Queryable,
  input: { modelId: string; start: string; end: string; limit: number; trainedDatasetIds: number[] },
): Promise<{ rows: SpanRow[]; total: number }> {
  const { rows } = await q.query<{
    record_key: string;
    ts: Date;
    features: Features;
    label: string | null;
    trained: boolean;
    total: string;
  }>(
    `WITH span AS (
       SELECT r.record_key, r.ts, r.features, r.feedback AS label FROM records r
       WHERE r.model_id = $1 AND r.ts >= $2 AND r.ts < $3
       UNION ALL
       SELECT d.record_key, d.ts, d.features, d.label FROM dataset_rows d
       JOIN dataset_versions v ON v.dataset_id = d.dataset_id
       WHERE v.model_id = $1 AND v.kind = 'reference' AND d.ts >= $2 AND d.ts < $3
         AND NOT EXISTS (SELECT 1 FROM records r WHERE r.model_id = $1 AND r.record_key = d.record_key)
     )
     SELECT s.record_key, s.ts, s.features, s.label,
       EXISTS (SELECT 1 FROM dataset_rows t WHERE t.dataset_id = ANY($5::bigint[]) AND t.split = 'train'
               AND t.record_key = s.record_key) AS trained,
       count(*) OVER () AS total
     FROM span s ORDER BY md5(s.record_key), s.record_key LIMIT $4`,
    [input.modelId, input.start, input.end, input.limit, input.trainedDatasetIds],
  );
  return {
    rows: rows.map((r) => ({
      recordKey: r.record_key,
      ts: r.ts,
      features: r.features,
      label: r.label,
      trained: r.trained,
    })),
    total: rows.length === 0 ? 0 : Number(rows[0]!.total),
  };
}

/**
 * The time window of the data a dataset version comes from: its own, or its nearest ancestor's (a labeled
 * dataset has none; the collected one it was frozen from does). Null when no ancestor has one.
 */
export async function datasetWindow(
  q: Queryable,
  datasetId: number,
): Promise<{ start: Date; end: Date; kind: string } | null> {
  const { rows } = await q.query<{ window_start: Date; window_end: Date; kind: string }>(
    `WITH RECURSIVE chain AS (
       SELECT dataset_id, parent_id, kind, window_start, window_end, 0 AS depth FROM dataset_versions
       WHERE dataset_id = $1
       UNION ALL
       SELECT p.dataset_id, p.parent_id, p.kind, p.window_start, p.window_end, c.depth + 1
       FROM dataset_versions p JOIN chain c ON p.dataset_id = c.parent_id
       WHERE c.window_start IS NULL AND c.depth < 20
     )
     SELECT window_start, window_end, kind FROM chain
     WHERE window_start IS NOT NULL AND window_end IS NOT NULL ORDER BY depth LIMIT 1`,
    [datasetId],
  );
  const r = rows[0];
  return r ? { start: r.window_start, end: r.window_end, kind: r.kind } : null;
}

/** The earliest production row known for a model: in the log or among its registration's rows. */
export async function earliestRow(q: Queryable, modelId: string): Promise<Date | null> {
  const { rows } = await q.query<{ ts: Date | null }>(
    `SELECT least(
       (SELECT min(ts) FROM records WHERE model_id = $1),
       (SELECT min(d.ts) FROM dataset_rows d JOIN dataset_versions v ON v.dataset_id = d.dataset_id
        WHERE v.model_id = $1 AND v.kind = 'reference')) AS ts`,
    [modelId],
  );
  return rows[0]?.ts ?? null;
}

/** A dataset's labeled holdout rows (the candidate's own holdout). */
export async function labeledHoldout(
  q: Queryable,
  datasetId: number,
): Promise<{ recordKey: string; features: Features; label: string }[]> {
  const { rows } = await q.query<{ record_key: string; features: Features; label: string }>(
    `SELECT record_key, features, label FROM dataset_rows
     WHERE dataset_id = $1 AND split = 'holdout' AND label IS NOT NULL ORDER BY record_key`,
    [datasetId],
  );
  return rows.map((r) => ({ recordKey: r.record_key, features: r.features, label: r.label }));
}

/** The earliest row of a model's registration data (null when it was registered without rows). */
export async function earliestRegistrationRow(q: Queryable, modelId: string): Promise<Date | null> {
  const { rows } = await q.query<{ ts: Date | null }>(
    `SELECT min(d.ts) AS ts FROM dataset_rows d JOIN dataset_versions v ON v.dataset_id = d.dataset_id
     WHERE v.model_id = $1 AND v.kind = 'reference'`,
    [modelId],
  );
  return rows[0]?.ts ?? null;
}

/**
 * The registration's rows of [start, end) that lie before `before` (when the team's log began; null: the
 * whole span), the first `limit` by a hash of the record key (the order `sampleSpanRows` draws by), with
 * their full count.
 */
export async function registrationSpanRows(
  q: Queryable,
  input: { modelId: string; start: string; end: string; before: string | null; limit: number },
): Promise<{ rows: Omit<SpanRow, 'trained'>[]; total: number }> {
  const { rows } = await q.query<{
    record_key: string;
    ts: Date;
    features: Features;
    label: string | null;
    total: string;
  }>(
    `SELECT d.record_key, d.ts, d.features, d.label, count(*) OVER () AS total FROM dataset_rows d
     JOIN dataset_versions v ON v.dataset_id = d.dataset_id
     WHERE v.model_id = $1 AND v.kind = 'reference' AND d.ts >= $2 AND d.ts < $3
       AND ($4::timestamptz IS NULL OR d.ts < $4::timestamptz)
     ORDER BY md5(d.record_key), d.record_key LIMIT $5`,
    [input.modelId, input.start, input.end, input.before, input.limit],
  );
  return {
    rows: rows.map((r) => ({ recordKey: r.record_key, ts: r.ts, features: r.features, label: r.label })),
    total: rows.length === 0 ? 0 : Number(rows[0]!.total),
  };
}

/** Which of `keys` are in the train split of one of the datasets: rows those versions were trained on. */
export async function trainedKeys(q: Queryable, datasetIds: number[], keys: string[]): Promise<Set<string>> {
  if (datasetIds.length === 0 || keys.length === 0) return new Set();
  const { rows } = await q.query<{ record_key: string }>(
    `SELECT DISTINCT record_key FROM dataset_rows
     WHERE dataset_id = ANY($1::bigint[]) AND split = 'train' AND record_key = ANY($2::text[])`,
    [datasetIds, keys],
  );
  return new Set(rows.map((r) => r.record_key));
}
