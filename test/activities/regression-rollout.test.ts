/**
 * A regressor's rollout step on real cars (vega-datasets) in Postgres: the champion is registered on the
 * 1970–74 cars, a candidate takes half the traffic of the 1975–82 cars through the same serving path as
 * `ingest --serve`, each car's true miles per gallon arrives as feedback, and the step's analysis
 * compares the two arms' absolute errors (Welch's t-test). A candidate trained with its target in the
 * wrong unit is rolled back with the numbers in the reason; one retrained on later cars continues; a step
 * with too few answers waits, inconclusive.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolloutActivities } from '../../activities/rollout.js';
import { canonicalJson } from '../../core/model.js';
import { trainRegressor } from '../../core/regression-forest.js';
import { ModelDefinition, Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { regressorConfig, registerRegressionModel } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import { freshDatabase, insertTestCandidate } from '../helpers.js';

let pool: pg.Pool;
let activities: ReturnType<typeof createRolloutActivities>;
const cars = labeledCars();
const early = cars.filter((c) => c.year <= 1974);
const later = cars.filter((c) => c.year >= 1975);
const policy = Policy.parse({}).rollout;

beforeAll(async () => {
  ({ pool } = await freshDatabase('regrollout'));
  activities = createRolloutActivities({ pool });
});
afterAll(async () => {
  await pool?.end();
});

const definition = (modelId: string) =>
  ModelDefinition.parse({
    modelId,
    task: 'regression',
    target: { min: 0, max: 80 },
    features: CAR_MEASUREMENTS,
  });
const asRecord = (c: (typeof cars)[number], feedback: boolean) => ({
  recordKey: c.recordKey,
  ts: `${c.year}-06-01T00:00:00.000Z`,
  features: c.features,
  feedback: feedback ? String(c.value) : null,
});

/**
 * A model `modelId` with its champion (1970–74) and a candidate forest trained on `train` (values as
 * given), serving `served` at a 50% split with feedback on the first `answered` of them.
 */
async function stepOf(
  modelId: string,
  train: { features: Record<string, number | string>; value: number }[],
  served: typeof cars,
  answered = served.length,
) {
  const def = definition(modelId);
  await registerRegressionModel(
    pool,
    def,
    early.map((c) => ({ ...asRecord(c, true), label: String(c.value) })),
  );
  const artifact = trainRegressor(def.features, train, regressorConfig(def));
  const candidateVersion = await insertTestCandidate(
    pool,
    modelId,
    `${modelId}:candidate`,
    canonicalJson(artifact),
  );
  const cycleId = `cycle-${modelId}`;
  const weight = { cycleId, modelId, championVersion: 1, candidateVersion, weight: 50 };
  const { since } = await activities.setTrafficWeight(weight);
  await ingestRecords(
    pool,
    modelId,
    served.map((c, i) => asRecord(c, i < answered)),
    '2100-01-01T00:00:00.000Z',
  );
  const analysis = await activities.analyzeRolloutStep({
    ...weight,
    stepIndex: 0,
    attempt: 0,
    stepSince: since,
    rolloutSince: since,
    policy,
  });
  return { analysis, cycleId, candidateVersion };
}

describe('a regressor’s rollout step on the prediction log', () => {
  it('given a candidate trained on kilometres per litre, then the step fails and the rollback says MAE and Welch p', async () => {
    const kmPerLitre = early.map((c) => ({ features: c.features, value: c.value * 0.425 }));
    const { analysis, cycleId, candidateVersion } = await stepOf('mpg-unit', kmPerLitre, later);
    expect(analysis.decision).toBe('fail');
    expect(analysis.candidate.n + analysis.champion.n).toBe(later.length);
    expect(analysis.candidate.n).toBeGreaterThanOrEqual(policy.minSamples);
    expect(analysis.champion.n).toBeGreaterThanOrEqual(policy.minSamples);
    expect(analysis.reason).toMatch(
      /^candidate MAE \d+\.\d+ \(n=\d+, bias -\d+\.\d+\) vs champion MAE \d\.\d+ \(n=\d+, bias -\d\.\d+\), Welch p=\d\.\de-\d+: significantly worse$/,
    );
    expect(analysis.pValue!).toBeLessThan(1e-6);
    // The champion (1970–74) under-predicts the later cars: its bias is negative, as reported.
    const champ = analysis.champion as unknown as { mae: number; meanError: number };
    expect(champ.meanError).toBeLessThan(0);

    await activities.rollback({
      cycleId,
      modelId: 'mpg-unit',
      championVersion: 1,
      candidateVersion,
      actor: 'remedy',
      evidence: analysis,
    });
    const events = await db.modelNotifications(pool, 'mpg-unit');
    const rollback = events.find((e) => e.kind === 'rollback')!;
    expect(rollback.message).toContain('mpg-unit rolled back to champion v1');
    expect(rollback.message).toMatch(/Welch p=\d\.\de-\d+: significantly worse/);
    expect(await db.getTraffic(pool, 'mpg-unit')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    const steps = await db.rolloutSteps(pool, cycleId);
    expect(steps.map((s) => s.decision)).toEqual(['fail']);
  });

  it('given a candidate retrained on 1975–78 cars, then on the 1979–82 cars the step continues', async () => {
    const retrain = later
      .filter((c) => c.year <= 1978)
      .map((c) => ({ features: c.features, value: c.value }));
    const served = later.filter((c) => c.year >= 1979);
    const { analysis } = await stepOf('mpg-retrained', retrain, served);
    expect(analysis.decision).toBe('pass');
    expect(analysis.reason).toMatch(/, Welch p=\d\.\d{4}: not worse beyond tolerance$/);
    const cand = analysis.candidate as unknown as { mae: number };
    const champ = analysis.champion as unknown as { mae: number };
    expect(cand.mae).toBeLessThan(champ.mae);
  });

  it('given feedback on only 20 cars of the step, then it is inconclusive and says how many it needs', async () => {
    const kmPerLitre = early.map((c) => ({ features: c.features, value: c.value * 0.425 }));
    const { analysis } = await stepOf('mpg-few', kmPerLitre, later, 20);
    expect(analysis.decision).toBe('inconclusive');
    expect(analysis.candidate.n + analysis.champion.n).toBe(20);
    expect(analysis.reason).toMatch(
      /^too few samples with feedback \(candidate \d+, champion \d+; need 15 each\)$/,
    );
  });
});
