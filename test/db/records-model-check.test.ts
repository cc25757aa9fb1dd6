/**
 * The production log's rows name registered models, checked once a statement (migration 021) instead of
 * by a foreign key a row at a time: a statement naming an unknown model is refused whole with the key's
 * SQLSTATE (23503), by INSERT, INSERT … ON CONFLICT and COPY alike; a model with logged rows cannot be
 * deleted, renamed or truncated away; and the two meeting in concurrent transactions end as they would
 * with the key, whichever takes the model's row first.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import type { Features } from '../../core/schemas.js';
import { writeTextLog } from '../../dev/weather-log.js';
import { loadWeather, weatherModel } from '../../dev/weather.js';
import { openRowSource } from '../../ops/ingest-readers.js';
import { ingestFile } from '../../ops/ingest-stream.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;

beforeAll(async () => {
  ({ pool } = await freshDatabase('modelcheck'));
});
afterAll(async () => {
  await pool?.end();
});

const COLUMNS = { key: 'record_key', time: 'ts', label: 'feedback' };
const FEATURES = JSON.stringify({
  location: 'Seattle',
  precipitation: 0,
  temp_max: 10,
  temp_min: 2,
  wind: 3,
});

async function logged(model: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM records WHERE model_id = $1', [
    model,
  ]);
  return Number(rows[0]!.n);
}

async function refusal(work: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  if (!err) throw new Error('expected Postgres to refuse');
  return err;
}

/**
 * Until `pid` waits for a lock (pg_stat_activity), polling: the condition, not a guess at its time. A
 * statement that never waits fails the test here rather than hanging it.
 */
async function waitsForLock(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`backend ${pid} never waited for a lock`);
    const { rows } = await pool.query<{ w: string | null }>(
      'SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1',
      [pid],
    );
    if (rows[0]?.w === 'Lock') return;
    await new Promise((r) => setImmediate(r));
  }
}

async function pidOf(c: pg.PoolClient): Promise<number> {
  return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

describe('records name registered models', () => {
  it('given a statement with one row of an unknown model among known ones, then it is refused whole with 23503', async () => {
    await db.upsertModel(pool, weatherModel('mc-known'));
    const err = await refusal(
      pool.query(
        `INSERT INTO records (model_id, record_key, ts, features)
         SELECT CASE WHEN i = 500 THEN 'mc-nobody' ELSE 'mc-known' END, 'k' || i, now(), $1::jsonb
         FROM generate_series(1, 1000) i`,
        [FEATURES],
      ),
    );
    expect(err.code).toBe('23503');
    expect(err.message).toContain('no model "mc-nobody"');
    expect(await logged('mc-known')).toBe(0);
    // Moving a logged row to an unknown model is refused the same way; other updates pass.
    await pool.query(
      "INSERT INTO records (model_id, record_key, ts, features) VALUES ('mc-known', 'k1', now(), $1::jsonb)",
      [FEATURES],
    );
    expect(
      (await refusal(pool.query("UPDATE records SET model_id = 'mc-nobody' WHERE model_id = 'mc-known'")))
        .code,
    ).toBe('23503');
    await pool.query("UPDATE records SET feedback = 'rain', feedback_at = now() WHERE model_id = 'mc-known'");
    expect(await logged('mc-known')).toBe(1);
  });

  it("given an unknown model, then the gateway's INSERT … ON CONFLICT and ingest's COPY are refused too", async () => {
    const inserted = await refusal(
      db.insertRecords(pool, 'mc-nobody', [
        { recordKey: 'k1', ts: '2013-04-01T00:00:00Z', features: JSON.parse(FEATURES) as Features },
      ]),
    );
    expect(inserted.code).toBe('23503');
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-modelcheck-'));
    const file = path.join(dir, 'log.csv');
    await writeTextLog(file, 'csv', await loadWeather(), 6_000);
    const copied = await refusal(
      ingestFile(pool, 'mc-nobody', weatherModel('mc-nobody'), () => openRowSource(file), COLUMNS, {
        skipInvalid: false,
      }),
    );
    expect(copied.code).toBe('23503');
    expect(copied.message).toContain('no model "mc-nobody"');
    expect(await logged('mc-nobody')).toBe(0);
  });

  it('given logged rows, then TRUNCATE models … CASCADE is refused, and deleting a model outside READ COMMITTED too', async () => {
    await db.upsertModel(pool, weatherModel('mc-truncate'));
    await pool.query(
      "INSERT INTO records (model_id, record_key, ts, features) VALUES ('mc-truncate', 'k1', now(), $1::jsonb)",
      [FEATURES],
    );
    expect((await refusal(pool.query('TRUNCATE models CASCADE'))).code).toBe('23503');
    expect(await db.getModel(pool, 'mc-truncate')).not.toBeNull();
    await db.upsertModel(pool, weatherModel('mc-rr'));
    const c = await pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const err = await refusal(c.query("DELETE FROM models WHERE model_id = 'mc-rr'"));
      expect(err.code).toBe('55000');
      expect(err.message).toContain('only in a READ COMMITTED transaction');
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
    expect(await db.getModel(pool, 'mc-rr')).not.toBeNull();
  });

  it('given a model with logged rows, then it cannot be deleted or renamed; without rows it can', async () => {
    await db.upsertModel(pool, weatherModel('mc-logged'));
    await pool.query(
      "INSERT INTO records (model_id, record_key, ts, features) VALUES ('mc-logged', 'k1', now(), $1::jsonb)",
      [FEATURES],
    );
    const deleted = await refusal(pool.query("DELETE FROM models WHERE model_id = 'mc-logged'"));
    expect(deleted.code).toBe('23503');
    expect(deleted.message).toContain('"mc-logged" still has rows in the production log');
    expect(
      (await refusal(pool.query("UPDATE models SET model_id = 'mc-renamed' WHERE model_id = 'mc-logged'")))
        .code,
    ).toBe('23503');
    expect(await db.getModel(pool, 'mc-logged')).not.toBeNull();
    await db.upsertModel(pool, weatherModel('mc-empty'));
    await pool.query("DELETE FROM models WHERE model_id = 'mc-empty'");
    expect(await db.getModel(pool, 'mc-empty')).toBeNull();
  });

  it('given rows being added, when the model is deleted meanwhile, then the delete waits and is refused', async () => {
    await db.upsertModel(pool, weatherModel('mc-race1'));
    const adder = await pool.connect();
    const deleter = await pool.connect();
    try {
      const deleterPid = await pidOf(deleter);
      await adder.query('BEGIN');
      await adder.query(
        "INSERT INTO records (model_id, record_key, ts, features) VALUES ('mc-race1', 'k1', now(), $1::jsonb)",
        [FEATURES],
      );
      const deleting = refusal(deleter.query("DELETE FROM models WHERE model_id = 'mc-race1'"));
      await waitsForLock(deleterPid);
      await adder.query('COMMIT');
      expect((await deleting).code).toBe('23503');
    } finally {
      adder.release();
      deleter.release();
    }
    expect(await logged('mc-race1')).toBe(1);
    expect(await db.getModel(pool, 'mc-race1')).not.toBeNull();
  });

  it('given a model being deleted, when rows for it are added meanwhile, then they wait and are refused', async () => {
    await db.upsertModel(pool, weatherModel('mc-race2'));
    const adder = await pool.connect();
    const deleter = await pool.connect();
    try {
      const adderPid = await pidOf(adder);
      await deleter.query('BEGIN');
      await deleter.query("DELETE FROM models WHERE model_id = 'mc-race2'");
      const adding = refusal(
        adder.query(
          "INSERT INTO records (model_id, record_key, ts, features) VALUES ('mc-race2', 'k1', now(), $1::jsonb)",
          [FEATURES],
        ),
      );
      await waitsForLock(adderPid);
      await deleter.query('COMMIT');
      const err = await adding;
      expect(err.code).toBe('23503');
      expect(err.message).toContain('no model "mc-race2"');
    } finally {
      adder.release();
      deleter.release();
    }
    expect(await logged('mc-race2')).toBe(0);
  });
});
