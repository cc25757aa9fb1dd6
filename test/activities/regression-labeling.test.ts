/**
 * A regression model's labeling campaign on real cars (vega-datasets) in Postgres. The champion is
 * registered on the 1970–74 cars; a cycle collected the 1975–78 cars, a third of them with their true
 * miles per gallon as feedback. People are asked first about the cars a quick forest trained on those
 * labels is least sure of (its trees' spread), each shown the champion's predicted value rounded to
 * four significant digits; the champion's values are never taken as labels; the next batch learns from
 * the answers so far.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabelingActivities } from '../../activities/labeling.js';
import { isForestRegressor } from '../../core/model.js';
import { quickRegressorSpread, suggestedValue } from '../../core/regression-active-learning.js';
import { predictValue, type RegressionForestArtifact } from '../../core/regression-forest.js';
import { ModelDefinition } from '../../core/schemas.js';
import { withTransaction } from '../../db/pool.js';
import * as db from '../../db/index.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { registerRegressionModel } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let datasetId: number;
let champion: RegressionForestArtifact;
const cars = labeledCars();
const early = cars.filter((c) => c.year <= 1974);
const window = cars.filter((c) => c.year >= 1975 && c.year <= 1978);
const keyNumber = (c: (typeof cars)[number]) => Number(c.recordKey.slice('car-'.length));
const withFeedback = (c: (typeof cars)[number]) => keyNumber(c) % 3 === 0;
const def = ModelDefinition.parse({
  modelId: 'mpg',
  task: 'regression',
  target: { min: 0, max: 80 },
  features: CAR_MEASUREMENTS,
});
const ts = (c: (typeof cars)[number]) => `${c.year}-06-01T00:00:00.000Z`;
const inActivity = <R>(fn: () => Promise<R>): Promise<R> => new MockActivityEnvironment().run(fn);
const spreadOf = (examples: (typeof cars)[number][], rows: (typeof cars)[number][]) =>
  new Map(
    quickRegressorSpread(
      def.features,
      examples.map((c) => ({ features: c.features, value: c.value })),
      rows,
    )!.map((p, i) => [rows[i]!.recordKey, p.spread]),
  );

beforeAll(async () => {
  ({ pool } = await freshDatabase('reglabeling'));
  await registerRegressionModel(
    pool,
    def,
    early.map((c) => ({ recordKey: c.recordKey, ts: ts(c), features: c.features, label: String(c.value) })),
  );
  const rows = window.map((c) => ({
    recordKey: c.recordKey,
    ts: ts(c),
    features: c.features,
    feedback: withFeedback(c) ? String(c.value) : null,
  }));
  await ingestRecords(pool, 'mpg', rows);
  const version = await db.getModelVersion(pool, 'mpg', 1);
  if (!isForestRegressor(version.artifact)) throw new Error('the champion is not a regressor');
  champion = version.artifact;
  datasetId = await withTransaction(pool, async (client) => {
    const made = await db.insertDatasetVersion(client, {
      modelId: 'mpg',
      idempotencyKey: 'cycle-1:collected',
      parentId: null,
      kind: 'collected',
      cycleId: 'cycle-1',
      windowStart: '1975-01-01T00:00:00.000Z',
      windowEnd: '1979-01-01T00:00:00.000Z',
      samplingPlan: {},
      contentHash: 'cycle-1',
      rows: rows.map((r) => ({
        recordKey: r.recordKey,
        ts: r.ts,
        features: r.features,
        label: r.feedback,
        labelSource: r.feedback === null ? null : ('feedback' as const),
        split: 'train' as const,
      })),
    });
    return made.datasetId;
  });
});
afterAll(async () => {
  await pool?.end();
});

describe('a regressor’s labeling campaign', () => {
  it('given uncertainty sampling, then people get the cars of largest spread first, each with the champion’s rounded value, and nothing is auto-labeled', async () => {
    const acts = createLabelingActivities({ pool });
    const opened = await inActivity(() =>
      acts.openLabelTasks({
        campaignId: 'camp-uncertain',
        modelId: 'mpg',
        datasetId,
        championVersion: 1,
        budget: 15,
        strategy: 'uncertainty',
        autoLabelAbove: 0.9,
      }),
    );
    const unlabeled = window.filter((c) => !withFeedback(c));
    expect(opened).toMatchObject({ unlabeledRows: unlabeled.length, autoLabeled: 0, total: 15 });
    const spread = spreadOf(window.filter(withFeedback), unlabeled);
    const largest = [...unlabeled]
      .sort(
        (a, b) => spread.get(b.recordKey)! - spread.get(a.recordKey)! || (a.recordKey < b.recordKey ? -1 : 1),
      )
      .slice(0, 15);
    expect(opened.items.map((i) => i.recordKey)).toEqual(largest.map((c) => c.recordKey));
    for (const item of opened.items) {
      expect(item.guess).toBe(suggestedValue(predictValue(champion, item.features).value));
      expect(item.guess).toMatch(/^\d{1,2}(\.\d{1,3})?$/);
    }
  });

  it('given the candidate strategy, then after the first answers the next batch is a random share and the largest spread of a forest that learned them', async () => {
    const acts = createLabelingActivities({ pool });
    const campaign = { campaignId: 'camp-batches', modelId: 'mpg', datasetId, championVersion: 1 };
    const first = await inActivity(() =>
      acts.openLabelTasks({ ...campaign, budget: 30, strategy: 'candidate', firstBatch: 10 }),
    );
    expect(first.items).toHaveLength(10);
    const byKey = new Map(window.map((c) => [c.recordKey, c]));
    for (const item of first.items)
      await inActivity(() =>
        acts.recordLabel({
          campaignId: 'camp-batches',
          recordKey: item.recordKey,
          label: String(byKey.get(item.recordKey)!.value),
          reviewer: 'ann',
        }),
      );
    const next = await inActivity(() =>
      acts.nextLabelBatch({ ...campaign, index: 1, size: 10, budget: 30, strategy: 'candidate' }),
    );
    expect(next.items).toHaveLength(10);
    const asked = new Set(first.items.map((i) => i.recordKey));
    expect(next.items.filter((i) => asked.has(i.recordKey))).toEqual([]);
    // Seven of ten by the spread of a forest trained on the feedback and the ten answers.
    const learned = [...window.filter(withFeedback), ...first.items.map((i) => byKey.get(i.recordKey)!)];
    const rest = window.filter((c) => !withFeedback(c) && !asked.has(c.recordKey));
    const spread = spreadOf(learned, rest);
    const ranked = [...rest].sort((a, b) => spread.get(b.recordKey)! - spread.get(a.recordKey)!);
    const top = new Set(ranked.slice(0, 10).map((c) => c.recordKey));
    expect(next.items.filter((i) => top.has(i.recordKey)).length).toBeGreaterThanOrEqual(7);
    for (const item of next.items)
      expect(item.guess).toBe(suggestedValue(predictValue(champion, item.features).value));
    // A retry returns the same batch.
    const again = await inActivity(() =>
      acts.nextLabelBatch({ ...campaign, index: 1, size: 10, budget: 30, strategy: 'candidate' }),
    );
    expect(again.items.map((i) => i.recordKey)).toEqual(next.items.map((i) => i.recordKey));
  });
});
