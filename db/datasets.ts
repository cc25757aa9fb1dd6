/**
 * Dataset versions (collected and labeled) and their rows.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import pg from 'pg';
import type { Features } from '../core/schemas.js';
import { type Queryable } from './pool.js';

export interface DatasetRowInput {
  recordKey: string;
  ts: Date | string;
  features: Features;
  label: string | null;
  labelSource: 'feedback' | 'human' | 'auto' | 'reference' | null;
  split: 'train' | 'holdout';
}

/**
 * Writes a dataset version and its rows once per idempotency key; a repeat returns the first version.
 * Runs inside the caller's transaction so a version never exists without its rows.
 */
export async function insertDatasetVersion(
  q: Queryable,
  d: {
    modelId: string;
    idempotencyKey: string;
    parentId: number | null;
    kind: 'reference' | 'collected' | 'labeled';
    cycleId: string | null;
    windowStart: string | null;
    windowEnd: string | null;
    samplingPlan: unknown;
    contentHash: string;
    rows: readonly DatasetRowInput[];
  },
): Promise<{ datasetId: number; created: boolean }> {
  const labeled = d.rows.filter((r) => r.label !== null).length;
  const ins = await q.query<{ dataset_id: string }>(
    `INSERT INTO dataset_versions (model_id, idempotency_key, parent_id, kind, cycle_id, window_start, window_end,
       sampling_plan, content_hash, row_count, labeled_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING dataset_id`,
    [
      d.modelId,
      d.idempotencyKey,
      d.parentId,
      d.kind,
      d.cycleId,
      d.windowStart,
      d.windowEnd,
      JSON.stringify(d.samplingPlan),
      d.contentHash,
      d.rows.length,
      labeled,
    ],
  );
  if (!ins.rows[0]) {
    const existing = await q.query<{ dataset_id: string }>(
      'SELECT dataset_id FROM dataset_versions WHERE idempotency_key = $1',
      [d.idempotencyKey],
    );
    return { datasetId: Number(existing.rows[0]!.dataset_id), created: false };
  }
  const datasetId = Number(ins.rows[0].dataset_id);
  for (let i = 0; i < d.rows.length; i += 1000) {
    const chunk = d.rows.slice(i, i + 1000);
    await q.query(
      `INSERT INTO dataset_rows (dataset_id, record_key, ts, features, label, label_source, split)
       SELECT $1, k, t, f, l, s, sp FROM unnest($2::text[], $3::timestamptz[], $4::jsonb[], $5::text[], $6::text[], $7::text[])
         AS u(k, t, f, l, s, sp)`,
      [
        datasetId,
        chunk.map((r) => r.recordKey),
        chunk.map((r) => (r.ts instanceof Date ? r.ts.toISOString() : r.ts)),
        chunk.map((r) => JSON.stringify(r.features)),
        chunk.map((r) => r.label),
        chunk.map((r) => r.labelSource),
        chunk.map((r) => r.split),
      ],
    );
  }
  return { datasetId, created: true };
}

export interface DatasetRow {
  recordKey: string;
  ts: Date;
  features: Features;
  label: string | null;
  labelSource: string | null;
  split: 'train' | 'holdout';
}

/**
 * Dataset versions already read, per pool (one database) and by id, most recently used last. A version's
 * rows never change once its transaction commits (they are written with it and never updated; an id a
 * rolled-back transaction took is never handed out again), so a worker reads each version once however
 * many activities of a cycle read it (training, evaluation, the labeled dataset, the rollout read the same
 * versions). Reads through a pool are cached; a read on a transaction's client always goes to Postgres.
 * The rows are frozen and each caller gets its own array. Bounded by rows, across pools: a version
 * larger than the budget is not kept.
 */
interface Kept {
  pool: pg.Pool;
  datasetId: number;
  rows: readonly DatasetRow[];
}
const byPool = new WeakMap<pg.Pool, Map<number, Kept>>();
/** Every kept version, least recently read first, to evict across pools. */
const recency = new Set<Kept>();
const ROWS_KEPT = 50_000;
let rowsKept = 0;

/** How many dataset versions and rows this process holds (for tests and diagnostics). */
export const cachedDatasets = (): { versions: number; rows: number } => ({
  versions: recency.size,
  rows: rowsKept,
});

function keep(pool: pg.Pool, datasetId: number, rows: readonly DatasetRow[]): void {
  if (rows.length > ROWS_KEPT) return;
  let versions = byPool.get(pool);
  if (!versions) byPool.set(pool, (versions = new Map<number, Kept>()));
  const kept: Kept = { pool, datasetId, rows };
  versions.set(datasetId, kept);
  recency.add(kept);
  rowsKept += rows.length;
  for (const old of recency) {
    if (rowsKept <= ROWS_KEPT) break;
    recency.delete(old);
    byPool.get(old.pool)?.delete(old.datasetId);
    rowsKept -= old.rows.length;
  }
}

function cachedRows(pool: pg.Pool, datasetId: number): readonly DatasetRow[] | undefined {
  const kept = byPool.get(pool)?.get(datasetId);
  if (!kept) return undefined;
  recency.delete(kept); // most recently read last
  recency.add(kept);
  return kept.rows;
}

export async function getDatasetRows(q: Queryable, datasetId: number): Promise<DatasetRow[]> {
  const pool = q instanceof pg.Pool ? q : null;
  const cached = pool ? cachedRows(pool, datasetId) : undefined;
  if (cached) return cached.slice();
  const { rows } = await q.query<{
    record_key: string;
    ts: Date;
    features: Features;
    label: string | null;
    label_source: string | null;
    split: 'train' | 'holdout';
  }>(
    `SELECT record_key, ts, features, label, label_source, split FROM dataset_rows WHERE dataset_id = $1 ORDER BY record_key`,
    [datasetId],
  );
  const read = rows.map((r) =>
    Object.freeze({
      recordKey: r.record_key,
      ts: r.ts,
      features: Object.freeze(r.features),
      label: r.label,
      labelSource: r.label_source,
      split: r.split,
    }),
  );
  // A version with no rows may be one whose transaction has not committed yet: read it again next time.
  if (pool && read.length > 0 && !byPool.get(pool)?.has(datasetId)) keep(pool, datasetId, read);
  return read.slice();
}

export async function getDatasetVersion(
  q: Queryable,
  datasetId: number,
): Promise<{
  datasetId: number;
  kind: string;
  contentHash: string;
  rowCount: number;
  labeledCount: number;
  parentId: number | null;
}> {
  const { rows } = await q.query<{
    dataset_id: string;
    kind: string;
    content_hash: string;
    row_count: number;
    labeled_count: number;
    parent_id: string | null;
  }>(
    'SELECT dataset_id, kind, content_hash, row_count, labeled_count, parent_id FROM dataset_versions WHERE dataset_id = $1',
    [datasetId],
  );
  const r = rows[0];
  if (!r) throw new Error(`dataset version ${datasetId} does not exist`);
  return {
    datasetId: Number(r.dataset_id),
    kind: r.kind,
    contentHash: r.content_hash,
    rowCount: r.row_count,
    labeledCount: r.labeled_count,
    parentId: r.parent_id === null ? null : Number(r.parent_id),
  };
}
