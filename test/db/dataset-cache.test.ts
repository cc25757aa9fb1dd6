/**
 * A worker reads a dataset version's rows from Postgres once: training, evaluation and the rollout read
 * the same versions, and a version never changes once written. Later reads send no statement, get the same
 * rows in an array of their own, and cannot change what the next reader gets. A version larger than the
 * cache's budget (50,000 rows) is read from Postgres every time, and holding it evicts nothing it should not.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { loadWeather, weatherModel } from '../../dev/weather.js';
import { registerModelWithChampion } from '../../ops/setup.js';
import { freshDatabase, recordingQueryable } from '../helpers.js';

let pool: pg.Pool;

beforeAll(async () => {
  ({ pool } = await freshDatabase('datasetcache'));
});
afterAll(async () => {
  await pool?.end();
});

const recording = () => recordingQueryable(pool);

const readsRows = (statements: string[]) => statements.some((s) => /FROM dataset_rows/.test(s));

async function insertVersion(key: string, n: number): Promise<number> {
  const rows = Array.from({ length: n }, (_, i) => ({
    recordKey: `${key}-${String(i).padStart(6, '0')}`,
    ts: new Date(Date.UTC(2024, 0, 1) + i * 1000),
    features: { x: i },
    label: i % 2 ? 'a' : 'b',
    labelSource: 'human' as const,
    split: 'train' as const,
  }));
  return withTransaction(pool, async (client) => {
    const { datasetId } = await db.insertDatasetVersion(client, {
      modelId: 'cache-data',
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

describe('dataset rows cached by version', () => {
  it('given a version read twice, then its rows move once, each reader gets its own array, and nobody can change a row', async () => {
    const weather = await loadWeather();
    const reference = weather
      .filter((r) => r.date < '2013-01-01')
      .map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label }));
    await registerModelWithChampion(pool, weatherModel('cache-data'), reference);
    const champion = await db.getModelVersion(pool, 'cache-data', 1);
    const datasetId = champion.datasetId!;

    const first = recording();
    const a = await db.getDatasetRows(first.q, datasetId);
    expect(readsRows(first.statements)).toBe(true);
    expect(a.length).toBe(reference.length);

    const second = recording();
    const b = await db.getDatasetRows(second.q, datasetId);
    expect(second.statements).toEqual([]);
    expect(b).toEqual(a);
    expect(b).not.toBe(a);

    // A reader that sorts or trims its array leaves the next reader's as it was.
    b.reverse();
    b.length = 10;
    const c = await db.getDatasetRows(pool, datasetId);
    expect(c.length).toBe(reference.length);
    expect(c[0]!.recordKey).toBe(a[0]!.recordKey);
    // A reader that changes a row would change every later reader's training set: it cannot.
    expect(() => {
      (c[0] as { label: string | null }).label = 'snow';
    }).toThrow(TypeError);
    expect(() => {
      (c[0]!.features as Record<string, unknown>).temp_max = 99;
    }).toThrow(TypeError);
    expect((await db.getDatasetRows(pool, datasetId))[0]).toEqual(a[0]);
  });

  it('given a version of more rows than the budget, then it is read whole every time and the cache stays within budget', async () => {
    const small = await insertVersion('cache-small', 100);
    await db.getDatasetRows(pool, small);
    const big = await insertVersion('cache-big', 50_001);

    const first = recording();
    const a = await db.getDatasetRows(first.q, big);
    expect(a.length).toBe(50_001);
    const second = recording();
    const b = await db.getDatasetRows(second.q, big);
    expect(readsRows(second.statements)).toBe(true);
    expect(b.length).toBe(50_001);
    expect(b[50_000]!.recordKey).toBe('cache-big-050000');

    expect(db.cachedDatasets().rows).toBeLessThanOrEqual(50_000);
    const again = recording();
    expect((await db.getDatasetRows(again.q, small)).length).toBe(100);
    expect(again.statements).toEqual([]);
  });

  it('given versions past the budget together, then the least recently read ones go and are read again when asked for', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await insertVersion(`cache-fill-${i}`, 10_000));
    for (const id of ids) await db.getDatasetRows(pool, id);
    expect(db.cachedDatasets().rows).toBeLessThanOrEqual(50_000);

    const oldest = recording();
    expect((await db.getDatasetRows(oldest.q, ids[0]!)).length).toBe(10_000);
    expect(readsRows(oldest.statements)).toBe(true);
    const newest = recording();
    expect((await db.getDatasetRows(newest.q, ids[5]!)).length).toBe(10_000);
    expect(newest.statements).toEqual([]);
  });
});
