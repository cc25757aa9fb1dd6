/**
 * The failure catalog of a regression model on real cars (vega-datasets) in Postgres. The champion is
 * registered on the 1970–74 cars; the 1975–80 cars are served with their true miles per gallon, so every
 * prediction that misses by more than twice the champion's holdout MAE is a case, grouped by origin and
 * by the error's sign. The cycle targets the champion's largest patterns (under-prediction: later cars go
 * further), and a candidate retrained on half of those cars serves the other half as new requests: the remedy is
 * traced on the same slices and the same limit.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogActivities } from '../../activities/catalog.js';
import { canonicalJson, isForestRegressor } from '../../core/model.js';
import { predictValue, trainRegressor } from '../../core/regression-forest.js';
import { ModelDefinition } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { regressorConfig, registerRegressionModel } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import { freshDatabase, insertTestCandidate } from '../helpers.js';

let pool: pg.Pool;
const cars = labeledCars();
const early = cars.filter((c) => c.year <= 1974);
const window = cars.filter((c) => c.year >= 1975 && c.year <= 1980);
const keyNumber = (c: (typeof cars)[number]) => Number(c.recordKey.slice('car-'.length));
/** The window's other half of the cars, asked about again after the cycle (new requests, 1981). */
const after = window.filter((c) => keyNumber(c) % 2 === 1);
const asLaterRequest = (c: (typeof cars)[number]) => ({
  ...asRecord(c),
  recordKey: `${c.recordKey}:again`,
  ts: '1981-06-01T00:00:00.000Z',
});
const def = ModelDefinition.parse({
  modelId: 'mpg',
  task: 'regression',
  target: { min: 0, max: 80 },
  features: CAR_MEASUREMENTS,
});
const asRecord = (c: (typeof cars)[number]) => ({
  recordKey: c.recordKey,
  ts: `${c.year}-06-01T00:00:00.000Z`,
  features: c.features,
  feedback: String(c.value),
});
let limit: number;

beforeAll(async () => {
  ({ pool } = await freshDatabase('regcatalog'));
  await registerRegressionModel(
    pool,
    def,
    early.map((c) => ({ ...asRecord(c), label: String(c.value) })),
  );
  const profile = await db.getReferenceProfile(pool, 'mpg', 1);
  limit = 2 * profile!.target!.holdout!.mae;
  await ingestRecords(pool, 'mpg', window.map(asRecord), '2100-01-01T00:00:00.000Z');
});
afterAll(async () => {
  await pool?.end();
});

describe('failure catalog of a regressor', () => {
  it('given the 1975–80 cars with their true values, then each miss beyond twice the holdout MAE is a case, by origin and sign', async () => {
    const champion = await db.getModelVersion(pool, 'mpg', 1);
    if (!isForestRegressor(champion.artifact)) throw new Error('the champion is not a regressor');
    const misses = window.filter(
      (c) => Math.abs(predictValue(champion.artifact as never, c.features).value - c.value) > limit,
    );
    const cases = await db.failureCases(pool, 'mpg', { kind: 'wrong-prediction', limit: 1000 });
    expect(cases.map((c) => c.recordKey).sort()).toEqual(misses.map((c) => c.recordKey).sort());
    for (const c of cases) {
      expect(c.kind).toBe('wrong-prediction');
      const error = Number(c.predicted) - Number(c.truth);
      expect(Math.abs(error)).toBeGreaterThan(limit);
      expect(c.patternKey).toBe(
        `model-error/Origin=${c.features.Origin}/error=${error > 0 ? 'over' : 'under'}`,
      );
    }
    const patterns = (await db.failurePatterns(pool, 'mpg')).filter((p) => p.taxonomy === 'model-error');
    const under = patterns.filter((p) => p.patternKey.endsWith('/error=under'));
    const over = patterns.filter((p) => p.patternKey.endsWith('/error=over'));
    const count = (ps: typeof patterns) => ps.reduce((a, p) => a + p.cases, 0);
    // The champion under-predicts the later cars: most large errors are under-predictions.
    expect(count(under)).toBeGreaterThan(3 * count(over));
    expect(patterns[0]!.patternKey).toMatch(/\/error=under$/);
    expect(patterns[0]!.description).toBe(
      `${patterns[0]!.patternKey.split('/')[1]}: under-predicted by more than ${Number(limit.toPrecision(4))}`,
    );
  });

  it('given a cycle over the window, then it targets the largest patterns with the champion’s rate of those errors in their slice', async () => {
    const catalog = createCatalogActivities({ pool });
    const targets = await catalog.targetPatterns({
      cycleId: 'cycle-1',
      modelId: 'mpg',
      championVersion: 1,
      window: { start: '1975-01-01T00:00:00.000Z', end: '1981-01-01T00:00:00.000Z' },
    });
    const patterns = (await db.failurePatterns(pool, 'mpg')).filter((p) => p.taxonomy === 'model-error');
    expect(targets.map((t) => t.patternKey)).toEqual(patterns.slice(0, 3).map((p) => p.patternKey));
    for (const t of targets) {
      const origin = /Origin=([^/]*)/.exec(t.patternKey)![1];
      // The champion flagged each of the pattern's cases with the same limit: its errors are the cases.
      expect(t.before.rows).toBe(window.filter((c) => c.features.Origin === origin).length);
      expect(t.before.errors).toBe(t.cases);
    }
  });

  it('given a candidate retrained on half the 1975–80 cars serving the other half, then the largest under-prediction it targeted is traced as fixed', async () => {
    const artifact = trainRegressor(
      def.features,
      window.filter((c) => keyNumber(c) % 2 === 0).map((c) => ({ features: c.features, value: c.value })),
      regressorConfig(def),
    );
    const candidate = await insertTestCandidate(pool, 'mpg', 'mpg:retrained', canonicalJson(artifact));
    await db.setTraffic(pool, 'mpg', {
      championVersion: 1,
      candidateVersion: candidate,
      candidateWeight: 100,
    });
    await ingestRecords(pool, 'mpg', after.map(asLaterRequest), '2100-01-01T00:00:00.000Z');
    const catalog = createCatalogActivities({ pool });
    const traced = await catalog.traceRemedy({
      cycleId: 'cycle-1',
      modelId: 'mpg',
      candidateVersion: candidate,
    });
    expect(traced.map((t) => t.after!.version)).toEqual(traced.map(() => candidate));
    for (const t of traced) {
      const origin = /Origin=([^/]*)/.exec(t.patternKey)![1];
      expect(t.after!.rows).toBe(after.filter((c) => c.features.Origin === origin).length);
    }
    // The American cars' under-prediction, the largest pattern: the retrained candidate makes far fewer.
    const top = traced[0]!;
    expect(top.patternKey).toBe('model-error/Origin=USA/error=under');
    expect(top.after!.rate!).toBeLessThan(top.before.rate! / 2);
    expect(top.verdict).toBe('fixed');
    expect(top.reason).toMatch(/^error rate \d+\.\d% on \d+ before, \d+\.\d% on \d+ after \(p /);
    const pattern = (await db.failurePatterns(pool, 'mpg')).find((p) => p.patternKey === top.patternKey)!;
    expect(pattern.status).toBe('fixed');
  });
});
