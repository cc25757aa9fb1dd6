/**
 * The reference a promoted regressor gets, on real cars (vega-datasets) in Postgres. The champion is
 * registered on the 1970–74 cars; the 1975–78 cars are served with their true miles per gallon; a cycle
 * over 1975–78 trains a candidate on half of them. Promoted, the candidate's reference keeps a `target`
 * profile whose holdout errors are its own, measured on the window's labeled cars it did not train on,
 * so the next window is judged against the new champion and not the old one.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolloutActivities } from '../../activities/rollout.js';
import { canonicalJson } from '../../core/model.js';
import { predictValue, trainRegressor } from '../../core/regression-forest.js';
import { regressionErrors } from '../../core/regression-metrics.js';
import { ModelDefinition } from '../../core/schemas.js';
import { withTransaction } from '../../db/pool.js';
import * as db from '../../db/index.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { regressorConfig, registerRegressionModel } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
const cars = labeledCars();
const early = cars.filter((c) => c.year <= 1974);
const window = cars.filter((c) => c.year >= 1975 && c.year <= 1978);
const keyNumber = (c: (typeof cars)[number]) => Number(c.recordKey.slice('car-'.length));
const trainHalf = window.filter((c) => keyNumber(c) % 2 === 0);
const otherHalf = window.filter((c) => keyNumber(c) % 2 === 1);
const def = ModelDefinition.parse({
  modelId: 'mpg',
  task: 'regression',
  target: { min: 0, max: 80 },
  features: CAR_MEASUREMENTS,
});
const ts = (c: (typeof cars)[number]) => `${c.year}-06-01T00:00:00.000Z`;

beforeAll(async () => {
  ({ pool } = await freshDatabase('regreference'));
  await registerRegressionModel(
    pool,
    def,
    early.map((c) => ({ recordKey: c.recordKey, ts: ts(c), features: c.features, label: String(c.value) })),
  );
  await ingestRecords(
    pool,
    'mpg',
    window.map((c) => ({
      recordKey: c.recordKey,
      ts: ts(c),
      features: c.features,
      feedback: String(c.value),
    })),
    '2100-01-01T00:00:00.000Z',
  );
});
afterAll(async () => {
  await pool?.end();
});

describe('the reference of a promoted regressor', () => {
  it('given a candidate trained on half the window, then its reference’s target holds its own errors on the other half', async () => {
    const artifact = trainRegressor(
      def.features,
      trainHalf.map((c) => ({ features: c.features, value: c.value })),
      regressorConfig(def),
    );
    const json = canonicalJson(artifact);
    const candidate = await withTransaction(pool, async (client) => {
      const { datasetId } = await db.insertDatasetVersion(client, {
        modelId: 'mpg',
        idempotencyKey: 'cycle-1:labeled',
        parentId: null,
        kind: 'labeled',
        cycleId: 'cycle-1',
        windowStart: '1975-01-01T00:00:00.000Z',
        windowEnd: '1979-01-01T00:00:00.000Z',
        samplingPlan: {},
        contentHash: 'cycle-1',
        rows: trainHalf.map((c) => ({
          recordKey: c.recordKey,
          ts: ts(c),
          features: c.features,
          label: String(c.value),
          labelSource: 'human' as const,
          split: 'train' as const,
        })),
      });
      return db.insertModelVersion(client, {
        modelId: 'mpg',
        idempotencyKey: 'cycle-1:candidate',
        status: 'candidate',
        datasetId,
        cycleId: 'cycle-1',
        configHash: 'test',
        codeVersion: 'test',
        artifact: json,
        artifactSha256: 'test',
        metrics: {},
      });
    });
    const before = (await db.getReferenceProfile(pool, 'mpg', 1))!.target!;
    await createRolloutActivities({ pool }).promote({
      cycleId: 'cycle-1',
      modelId: 'mpg',
      championVersion: 1,
      candidateVersion: candidate,
      actor: 'remedy',
    });
    const profile = (await db.getReferenceProfile(pool, 'mpg', candidate))!;
    const expected = regressionErrors(
      otherHalf.map((c) => c.value),
      otherHalf.map((c) => predictValue(artifact, c.features).value),
    );
    // The same errors, summed in another row order.
    const holdout = profile.target!.holdout!;
    expect(holdout.rows).toBe(otherHalf.length);
    for (const k of ['mae', 'rmse', 'r2', 'mape'] as const) expect(holdout[k]!).toBeCloseTo(expected[k]!, 12);
    // The target spans the labeled cars of the reference's span: the registration's and the window's.
    const spanned = [...early, ...window].map((c) => c.value);
    expect(profile.target).toMatchObject({
      rows: spanned.length,
      min: Math.min(...spanned),
      max: Math.max(...spanned),
    });
    expect(profile.target!.mean).toBeCloseTo(spanned.reduce((a, b) => a + b, 0) / spanned.length, 10);
    expect(profile.span).toMatchObject({ end: '1979-01-01T00:00:00.000Z' });
    // No class labels: a regressor's profile carries no label distribution.
    expect(profile.labels).toEqual({});
    expect(profile.target!.holdout!.mae).not.toBe(before.holdout!.mae);
    const version = await db.getModelVersion(pool, 'mpg', candidate);
    expect(version.status).toBe('champion');
    expect((version.metrics.reference as { holdoutSource: string }).holdoutSource).toBe(
      "labeled rows from the cycle's window on that the champion was not trained on",
    );
  });
});
