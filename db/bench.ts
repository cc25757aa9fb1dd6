/**
 * Statements only the benchmarks run: bulk-loading generated records, swapping a version's artifact,
 * and the plain cursor read that `bench:window` measures Remedy's check against.
 */
import type pg from 'pg';
import type { Queryable } from './pool.js';

export async function countRecords(q: Queryable, modelId: string): Promise<number> {
  const { rows } = await q.query<{ n: string }>('SELECT count(*) AS n FROM records WHERE model_id = $1', [
    modelId,
  ]);
  return Number(rows[0]!.n);
}

/** Replaces a version's artifact in place (a benchmark's own champion; never done by the product). */
export async function replaceArtifact(
  q: Queryable,
  modelId: string,
  version: number,
  json: string,
  sha256: string,
): Promise<void> {
  await q.query(
    'UPDATE model_versions SET artifact = $3, artifact_sha256 = $4 WHERE model_id = $1 AND version = $2',
    [modelId, version, json, sha256],
  );
}

export async function deleteRecords(q: Queryable, modelId: string): Promise<void> {
  await q.query('DELETE FROM records WHERE model_id = $1', [modelId]);
}

/** Inserts generated records in one statement (feedback arrives at the record's own time). */
export async function insertGeneratedRecords(
  q: Queryable,
  modelId: string,
  rows: { keys: string[]; ts: string[]; features: string[]; feedback: (string | null)[] },
): Promise<void> {
  await q.query(
    `INSERT INTO records (model_id, record_key, ts, features, feedback, feedback_at)
     SELECT $1, k, t, f, fb, CASE WHEN fb IS NULL THEN NULL ELSE t END
     FROM unnest($2::text[], $3::timestamptz[], $4::jsonb[], $5::text[]) AS u(k, t, f, fb)`,
    [modelId, rows.keys, rows.ts, rows.features, rows.feedback],
  );
}

export async function vacuumRecords(q: Queryable): Promise<void> {
  await q.query('VACUUM ANALYZE records');
}

/** The backends of this database: their CPU is read from /proc by the benchmark. */
export async function backendPids(q: Queryable): Promise<number[]> {
  const { rows } = await q.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  return rows.map((r) => r.pid);
}

/** Every record of a window through a server-side cursor, 5,000 a fetch, parsed by `pg` and dropped. */
export async function plainWindowRead(
  pool: pg.Pool,
  modelId: string,
  start: string,
  end: string,
): Promise<{ held: number; labeled: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(
      `DECLARE plain NO SCROLL CURSOR FOR SELECT record_key, ts, features, feedback FROM records
       WHERE model_id = $1 AND ts >= $2 AND ts < $3`,
      [modelId, start, end],
    );
    let held = 0;
    let labeled = 0;
    for (;;) {
      const { rows } = await client.query<{ feedback: string | null }>('FETCH FORWARD 5000 FROM plain');
      held += rows.length;
      for (const r of rows) if (r.feedback !== null) labeled++;
      if (rows.length < 5000) break;
    }
    await client.query('COMMIT');
    return { held, labeled };
  } finally {
    client.release();
  }
}
