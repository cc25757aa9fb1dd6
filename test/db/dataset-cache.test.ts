/**
 * A worker reads a dataset version's rows from Postgres once: training, evaluation and the rollout read
 * the same versions, and a version never changes once written. Later reads through the same pool send
 * no statement, get the same rows in an array of their own, and cannot change what the next reader gets.
 * Another database's version with the same id is its own; a read on a transaction's client always goes
 * to Postgres. A version larger than the cache's budget (50,000 rows) is read from Postgres every time,
 * and holding it evicts nothing it should not.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { loadWeather, weatherModel } from '../../dev/weather.js';
import { registerModelWithChampion } from '../../ops/setup.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let other: pg.Pool;

beforeAll(async () => {
  ({ pool } = await freshDatabase('datasetcache'));
  ({ pool: other } = await freshDatabase('datasetcache_other'));
});
afterAll(async () => {
  await pool?.end();
  await other?.end();
});

/** The rows `getDatasetRows` gives through `on`, and the statements `on` sent meanwhile. */
async function read(
  on: pg.Pool,
  datasetId: number,
): Promise<{ rows: db.DatasetRow[]; statements: string[] }> {
  const statements: string[] = [];
  const call = on.query.bind(on) as (...a: unknown[]) => unknown;
  // An own property over the prototype's method for this read only; deleting it puts the method back.
  (on as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
    statements.push(typeof text === 'string' ? text : ((text as { text?: string }).text ?? ''));
    return call(text, ...rest);
  };
  try {
    return { rows: await db.getDatasetRows(on, datasetId), statements };
  } finally {
    delete (on as { query?: unknown }).query;
  }
}

const readsRows = (statements: string[]) => statements.some((s) => /FROM dataset_rows/.test(s));

async function insertVersion(on: pg.Pool, model: string, key: string, n: number): Promise<number> {
  const rows = Array.from({ length: n }, (_, i) => ({
    recordKey: `${key}-${String(i).padStart(6, '0')}`,
    ts: new Date(Date.UTC(2024, 0, 1) + i * 1000),
    features: { x: i },
    label: i % 2 ? 'a' : 'b',
    labelSource: 'human' as const,
    split: 'train' as const,
  }));
  return withTransaction(on, async (client) => {
    const { datasetId } = await db.insertDatasetVersion(client, {
      modelId: model,
      idempotencyKey: key,
      parentId: null,
      kind: 'collected',
      cycleId: null,
      windowStart: null,
      windowEnd: null,
      samplingPlan: {},
      contentHash: key,
      rows,
    });
    return datasetId;
  });
}

let referenceId: number;
let referenceRows: number;

describe('dataset rows cached by version', () => {
  it('given a version read twice, then its rows move once, each reader gets its own array, and nobody can change a row', async () => {
    const weather = await loadWeather();
    const reference = weather
      .filter((r) => r.date < '2013-01-01')
      .map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label }));
    await registerModelWithChampion(pool, weatherModel('cache-data'), reference);
    referenceId = (await db.getModelVersion(pool, 'cache-data', 1)).datasetId!;
    referenceRows = reference.length;

    const first = await read(pool, referenceId);
    expect(readsRows(first.statements)).toBe(true);
    expect(first.rows.length).toBe(reference.length);

    const second = await read(pool, referenceId);
    expect(second.statements).toEqual([]);
    expect(second.rows).toEqual(first.rows);
    expect(second.rows).not.toBe(first.rows);

    // A reader that sorts or trims its array leaves the next reader's as it was.
    second.rows.reverse();
    second.rows.length = 10;
    const third = await read(pool, referenceId);
    expect(third.rows.length).toBe(reference.length);
    expect(third.rows[0]!.recordKey).toBe(first.rows[0]!.recordKey);
    // A reader that changes a row would change every later reader's training set: it cannot.
    const row = third.rows[0]!;
    expect(() => {
      (row as { label: string | null }).label = 'snow';
    }).toThrow(TypeError);
    expect(() => {
      (row.features as Record<string, unknown>).temp_max = 99;
    }).toThrow(TypeError);
    expect((await read(pool, referenceId)).rows[0]).toEqual(first.rows[0]);
  });

  it("given another database's version with the same id, then each pool gets its own database's rows", async () => {
    await db.upsertModel(other, weatherModel('cache-data'));
    let elsewhere = 0;
    for (let i = 0; elsewhere < referenceId; i++)
      elsewhere = await insertVersion(other, 'cache-data', `elsewhere-${i}`, 3);
    expect(elsewhere).toBe(referenceId);
    const there = await read(other, elsewhere);
    expect(readsRows(there.statements)).toBe(true);
    expect(there.rows.map((r) => r.recordKey)).toEqual(
      [0, 1, 2].map((i) => `elsewhere-${elsewhere - 1}-00000${i}`),
    );
    expect((await read(pool, referenceId)).rows.length).toBe(referenceRows);
  });

  it("given a read on a transaction's client, then it goes to Postgres", async () => {
    const statements: string[] = [];
    await withTransaction(pool, async (client) => {
      const spied = {
        query: (text: string, values?: unknown[]) => {
          statements.push(text);
          return client.query(text, values);
        },
      } as unknown as pg.PoolClient;
      expect((await db.getDatasetRows(spied, referenceId)).length).toBe(referenceRows);
    });
    expect(readsRows(statements)).toBe(true);
  });

  it('given a version of more rows than the budget, then it is read whole every time and the cache stays within budget', async () => {
    const small = await insertVersion(pool, 'cache-data', 'cache-small', 100);
    await read(pool, small);
    const big = await insertVersion(pool, 'cache-data', 'cache-big', 50_001);

    expect((await read(pool, big)).rows.length).toBe(50_001);
    const again = await read(pool, big);
    expect(readsRows(again.statements)).toBe(true);
    expect(again.rows.length).toBe(50_001);
    expect(again.rows[50_000]!.recordKey).toBe('cache-big-050000');

    expect(db.cachedDatasets().rows).toBeLessThanOrEqual(50_000);
    const smallAgain = await read(pool, small);
    expect(smallAgain.rows.length).toBe(100);
    expect(smallAgain.statements).toEqual([]);
  });

  it('given versions past the budget together, then the least recently read ones go and are read again when asked for', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await insertVersion(pool, 'cache-data', `cache-fill-${i}`, 10_000));
    for (const id of ids) await read(pool, id);
    expect(db.cachedDatasets().rows).toBeLessThanOrEqual(50_000);

    const oldest = await read(pool, ids[0]!);
    expect(oldest.rows.length).toBe(10_000);
    expect(readsRows(oldest.statements)).toBe(true);
    const newest = await read(pool, ids[5]!);
    expect(newest.rows.length).toBe(10_000);
    expect(newest.statements).toEqual([]);
  });
});
