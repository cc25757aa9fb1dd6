/**
 * Streaming a file into the production log, inside the caller's transaction, one of two ways. Straight:
 * rows are copied (COPY … FROM STDIN, CSV format) into records itself, which fails on the first key the
 * log already holds or the file repeats. Merged: rows are copied into ingest_staging, checked for keys
 * repeated within the file, and added to records in one statement that leaves keys already logged as
 * they are; the staging rows are deleted before the transaction commits. Every function here runs on the
 * one client holding that transaction.
 */
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type Queryable } from './pool.js';

const COPY_STAGING = 'COPY ingest_staging (line, record_key, ts, features, feedback) FROM STDIN (FORMAT csv)';
const COPY_LOG =
  'COPY records (model_id, record_key, ts, features, feedback, feedback_at) FROM STDIN (FORMAT csv)';

/** Memory Postgres may use for the duplicate check and the final insert of this transaction only. */
export async function prepareIngestTransaction(q: Queryable): Promise<void> {
  await q.query("SET LOCAL work_mem = '128MB'");
}

/**
 * A writable stream of CSV lines (line, record_key, ts, features JSON, feedback) into the staging table.
 * It finishes once Postgres has taken every row; destroying it with an error aborts the COPY.
 */
export function openStagingCopy(client: pg.PoolClient): Writable {
  const copyQuery = copyFrom(COPY_STAGING);
  return client.query(copyQuery);
}

/**
 * A writable stream of CSV lines (model_id, record_key, ts, features JSON, feedback, feedback_at) straight
 * into the log. Postgres refuses it whole (SQLSTATE 23505, `isLoggedKeyConflict`) at the first key the log
 * already holds or an earlier line repeats.
 */
export function openLogCopy(client: pg.PoolClient): Writable {
  const copyQuery = copyFrom(COPY_LOG);
  return client.query(copyQuery);
}

/**
 * The transaction's `now()` in ISO 8601 (microseconds and offset kept): the feedback time of the
 * rows copied straight into the log, the same value the merged insert's `now()` gives them.
 */
export async function transactionTime(q: Queryable): Promise<string> {
  // JSON's form of a time is ISO 8601 with a numeric offset, whatever the session's DateStyle and zone.
  const { rows } = await q.query<{ now: string }>("SELECT to_json(now()) #>> '{}' AS now");
  return rows[0]!.now;
}

/** Whether an error is Postgres refusing a row whose model and key the log already holds. */
export function isLoggedKeyConflict(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e !== null && typeof e === 'object' && e.code === '23505' && e.constraint === 'records_pkey';
}

export interface RepeatedKey {
  line: number;
  recordKey: string;
  firstLine: number;
}

/** Lines whose key an earlier line of the file already has: how many, and the first `limit` of them. */
export async function repeatedStagingKeys(
  q: Queryable,
  limit: number,
): Promise<{ count: number; first: RepeatedKey[] }> {
  const counted = await q.query<{ n: string }>(
    `SELECT coalesce(sum(n - 1), 0) AS n
     FROM (SELECT count(*) AS n FROM ingest_staging GROUP BY record_key HAVING count(*) > 1) d`,
  );
  const count = Number(counted.rows[0]?.n ?? 0);
  if (count === 0) return { count, first: [] };
  const { rows } = await q.query<{ line: number; record_key: string; first_line: number }>(
    `SELECT line, record_key, first_line
     FROM (SELECT line, record_key, min(line) OVER (PARTITION BY record_key) AS first_line FROM ingest_staging) d
     WHERE line > first_line ORDER BY line LIMIT $1`,
    [limit],
  );
  return {
    count,
    first: rows.map((r) => ({ line: r.line, recordKey: r.record_key, firstLine: r.first_line })),
  };
}

/**
 * Adds the staged rows to a model's log; a key already logged is left as it is, and of a key the file
 * repeats only its first line is taken (`firstOfRepeats`, needed only when the file repeats keys).
 * Returns the rows added.
 */
export async function insertStagedRecords(
  q: Queryable,
  modelId: string,
  firstOfRepeats: boolean,
): Promise<number> {
  const res = firstOfRepeats
    ? await q.query(
        `INSERT INTO records (model_id, record_key, ts, features, feedback, feedback_at)
         SELECT $1, record_key, ts, features, feedback, CASE WHEN feedback IS NULL THEN NULL ELSE now() END
         FROM (SELECT DISTINCT ON (record_key) * FROM ingest_staging ORDER BY record_key, line) s
         ON CONFLICT (model_id, record_key) DO NOTHING`,
        [modelId],
      )
    : await q.query(
        `INSERT INTO records (model_id, record_key, ts, features, feedback, feedback_at)
         SELECT $1, record_key, ts, features, feedback, CASE WHEN feedback IS NULL THEN NULL ELSE now() END
         FROM ingest_staging
         ON CONFLICT (model_id, record_key) DO NOTHING`,
        [modelId],
      );
  return res.rowCount ?? 0;
}

/** Empties the staging table of this transaction's rows before it commits. */
export async function clearStaging(q: Queryable): Promise<void> {
  await q.query('DELETE FROM ingest_staging');
}
