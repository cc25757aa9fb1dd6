/**
 * The reference a promotion writes, against a real Postgres: the span's rows come from the log and,
 * before the log began, from the registration's data; beyond the row limit a uniform, repeatable sample
 * with the count stated, never the first rows of the span.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servingReference } from '../../activities/reference.js';
import { prepareWeatherModel, type PreparedModel } from '../../dev/scenario.js';
import { withTransaction } from '../../db/pool.js';
import * as db from '../../db/index.js';
import { sampleSpanRows } from '../../db/reference.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let prepared: PreparedModel;
const modelId = 'weather-ref';

beforeAll(async () => {
  ({ pool } = await freshDatabase('reference'));
  prepared = await prepareWeatherModel(pool, modelId);
});
afterAll(async () => {
  await pool?.end();
});

const span = { start: '2012-01-01T00:00:00Z', end: '2015-01-01T00:00:00Z' };
const days = (from: string, to: string) => prepared.rows.filter((r) => r.date >= from && r.date < to).length;

describe('the production rows of a span', () => {
  it('given a limit below the span’s rows, then a uniform sample of the whole span, the same on every call, with the full count', async () => {
    const input = { modelId, ...span, limit: 300, trainedDatasetIds: [] };
    const a = await sampleSpanRows(pool, input);
    const b = await sampleSpanRows(pool, input);
    expect(a.total).toBe(days('2012-01-01', '2015-01-01'));
    expect(a.rows).toHaveLength(300);
    expect(b.rows.map((r) => r.recordKey)).toEqual(a.rows.map((r) => r.recordKey));
    // Every year and every quarter drawn about in proportion: not the first 300 rows of the span.
    for (const year of ['2012', '2013', '2014']) {
      const share = a.rows.filter((r) => r.ts.toISOString().startsWith(year)).length / 300;
      expect({ year, share: share > 0.25 && share < 0.42 }).toEqual({ year, share: true });
    }
    for (const q of [0, 3, 6, 9]) {
      const share = a.rows.filter((r) => Math.floor(r.ts.getUTCMonth() / 3) * 3 === q).length / 300;
      expect({ q, share: share > 0.17 && share < 0.33 }).toEqual({ q, share: true });
    }
  });

  it('given a span reaching before the log, then the registration’s rows fill it, labeled, and none twice', async () => {
    const all = await sampleSpanRows(pool, { modelId, ...span, limit: 10_000, trainedDatasetIds: [] });
    const keys = all.rows.map((r) => r.recordKey);
    expect(new Set(keys).size).toBe(keys.length);
    const of2012 = all.rows.filter((r) => r.ts.getUTCFullYear() === 2012);
    expect(of2012).toHaveLength(days('2012-01-01', '2013-01-01'));
    expect(of2012.every((r) => r.label !== null)).toBe(true);
    // The registration trained on its train split: those rows are marked, the holdout is not.
    const champion = await db.getModelVersion(pool, modelId, prepared.champion.version);
    const marked = await sampleSpanRows(pool, {
      modelId,
      ...span,
      limit: 10_000,
      trainedDatasetIds: [champion.datasetId!],
    });
    const trained = marked.rows.filter((r) => r.trained).length;
    expect(trained).toBe(Number(champion.metrics.trainRows));
  });
});

describe('the reference of a promoted candidate', () => {
  it('given more production than the row limit, then the profile says it is a sample of so many rows, and the span it covers', async () => {
    // A candidate whose data comes from a cycle over April–June 2013 (the champion's artifact will do).
    const champion = await db.getModelVersion(pool, modelId, prepared.champion.version);
    const candidate = await withTransaction(pool, async (client) => {
      const { datasetId } = await db.insertDatasetVersion(client, {
        modelId,
        idempotencyKey: 'ref-test:collected',
        parentId: champion.datasetId,
        kind: 'collected',
        cycleId: 'ref-test',
        windowStart: '2013-04-01T00:00:00Z',
        windowEnd: '2013-07-01T00:00:00Z',
        samplingPlan: {},
        contentHash: 'ref-test',
        rows: [],
      });
      return db.insertModelVersion(client, {
        modelId,
        idempotencyKey: 'ref-test:candidate',
        status: 'candidate',
        datasetId,
        cycleId: 'ref-test',
        configHash: champion.configHash,
        codeVersion: 'test',
        artifact: JSON.stringify(champion.artifact),
        artifactSha256: champion.artifactSha256,
        metrics: {},
      });
    });
    const model = (await db.getModel(pool, modelId))!;
    const input = { model, championVersion: champion.version, candidateVersion: candidate, maxRows: 400 };
    const built = (await servingReference(pool, input))!;
    const inSpan = days('2012-01-01', '2013-07-01');
    expect(built.profile.span).toEqual({
      start: '2012-01-01T12:00:00.000Z',
      end: '2013-07-01T00:00:00.000Z',
      rule: "the previous reference's span combined with the cycle's window",
    });
    expect(built.profile.sample).toEqual({
      rows: 400,
      of: inSpan,
      method: 'uniform sample by a hash of the record key',
    });
    expect(built.profile.rows).toBe(400);
    expect(built.profile.baselineEvidence!.source).toBe(
      "labeled rows from the cycle's window on that the champion was not trained on (within the sample)",
    );
    // The same rows and numbers when promotion is retried.
    expect((await servingReference(pool, input))!.profile).toEqual(built.profile);
    // With drift.referenceSpan the span is the last year up to the window's end.
    const yearly = (await servingReference(pool, {
      ...input,
      model: {
        ...model,
        policy: { ...model.policy, drift: { ...model.policy.drift, referenceSpan: '365d' } },
      },
    }))!;
    expect(yearly.profile.span).toMatchObject({
      start: '2012-07-01T00:00:00.000Z',
      end: '2013-07-01T00:00:00.000Z',
    });
  });
});
