/**
 * The Node half of a regression model's Python training, on the cars and a real Postgres: the training
 * set handed to the worker (numeric labels, `task: regression`), and the worker's ONNX regressor
 * registered as the cycle's candidate when Remedy's scoring of it on the training rows gives the errors the
 * worker measured; a file read otherwise (a different MAE) or a classifier's result is refused, nothing
 * registered. The worker's file here is a scikit-learn forest exported with skl2onnx
 * (test/fixtures/onnx_regressors.py), its MAE the one onnxruntime gives in Python.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPythonTrainingActivities,
  type PythonTrainResult,
  type TrainingSetRef,
} from '../../activities/outside-training.js';
import { canonicalJson, isOnnxRegressor } from '../../core/model.js';
import { readNumericLabel } from '../../core/regression-labels.js';
import type { Features } from '../../core/schemas.js';
import { CARS_SCENARIO, carRows, carsModel } from '../../dev/cars-scenario.js';
import * as db from '../../db/index.js';
import { registerRegressionModel } from '../../ops/register-regression.js';
import { freshDatabase } from '../helpers.js';
import { buildRegressorFixtures, type RegressorFixtures } from './onnx-regressor-fixtures.js';

let pool: pg.Pool;
let fx: RegressorFixtures;
let acts: ReturnType<typeof createPythonTrainingActivities>;
const modelId = 'cars-py';
const def = carsModel(modelId, { training: { trainer: 'python' } });
let datasetId = 0;
let trainingSet: TrainingSetRef;

beforeAll(async () => {
  fx = await buildRegressorFixtures();
  ({ pool } = await freshDatabase('pyregister'));
  acts = createPythonTrainingActivities({ pool });
  const reference = carRows().filter((r) => r.ts < CARS_SCENARIO.referenceEnd);
  await registerRegressionModel(pool, def, reference);
  datasetId = (await db.getModelVersion(pool, modelId, 1)).datasetId!;
  trainingSet = await acts.exportTrainingSet({
    cycleId: 'cycle-export',
    modelId,
    datasetId,
    championVersion: 1,
    severity: 'severe',
    config: def.policy.training,
  });
}, 600_000);
afterAll(async () => {
  await pool?.end();
  await fx?.remove();
});

/** The training set's rows as the worker reads them. */
async function trainingLines(): Promise<{ features: Features; label: string }[]> {
  const bytes = (await db.getBlob(pool, trainingSet.sha256))!;
  return bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { features: Features; label: string });
}

/** What the worker would return for the forest fixture, with the MAE onnxruntime gives on the rows. */
async function forestResult(): Promise<PythonTrainResult> {
  const bytes = await fx.bytes('rf_reg');
  const sha256 = await db.putBlob(pool, bytes, 'application/onnx');
  const doc = await fx.doc('rf_reg');
  const byFeatures = new Map(doc.rows.map((r, i) => [canonicalJson(r), doc.onnxruntime[i]!]));
  const lines = await trainingLines();
  const errors = lines.map((l) => {
    const value = byFeatures.get(canonicalJson(l.features));
    if (value === undefined) throw new Error(`no onnxruntime value for ${JSON.stringify(l.features)}`);
    return Math.abs(value - Number(l.label));
  });
  return {
    artifactSha256: sha256,
    task: 'regression',
    classes: [],
    trainer: 'python',
    resumedFrom: 0,
    details: {
      estimator: 'RandomForestRegressor',
      task: 'regression',
      trainMae: errors.reduce((a, b) => a + b, 0) / errors.length,
    },
  };
}

const register = (cycleId: string, trained: PythonTrainResult) =>
  acts.registerPythonCandidate({
    cycleId,
    modelId,
    datasetId,
    trainingSet,
    trained,
    config: def.policy.training,
  });

describe("a regression model's Python training, the Node half", () => {
  it('given a regression model, when its training set is exported, then it says task regression and every label is a number', async () => {
    expect(trainingSet).toMatchObject({ task: 'regression', labelSet: [], featureSpec: def.features });
    const lines = await trainingLines();
    expect(lines).toHaveLength(trainingSet.rows);
    expect(trainingSet.rows).toBeGreaterThan(100);
    for (const l of lines) expect(readNumericLabel(l.label)).toHaveProperty('value');
  });

  it("given the worker's ONNX regressor, when registered, then it is an ONNX regressor candidate with the errors Remedy measures, once", async () => {
    const trained = await forestResult();
    const result = await register('cycle-good', trained);
    expect(result).toMatchObject({ trainer: 'python', trainRows: trainingSet.rows, resumedFrom: 0 });
    expect(result.trainErrors!.mae).toBeCloseTo(trained.details['trainMae'] as number, 5);
    const version = await db.getModelVersion(pool, modelId, result.version);
    expect(isOnnxRegressor(version.artifact)).toBe(true);
    expect(version.artifact).toMatchObject({
      task: 'regression',
      outputs: { value: 'variable' },
      source: { producer: 'python worker (RandomForestRegressor)' },
    });
    expect(await db.getAlias(pool, modelId, 'candidate')).toBe(result.version);
    expect((await register('cycle-good', trained)).version).toBe(result.version);
  });

  it('given a file whose MAE in Remedy is not the one the worker measured, then it is refused and nothing is registered', async () => {
    const trained = await forestResult();
    const claimed = (trained.details['trainMae'] as number) * 0.8;
    await expect(
      register('cycle-mismatch', { ...trained, details: { ...trained.details, trainMae: claimed } }),
    ).rejects.toThrow(
      /the Python trainer's model has MAE [\d.]+ on its training rows in the worker but [\d.]+ as Remedy scores it: the file's inputs or output are read differently than they were trained; nothing was registered/,
    );
    expect(await db.getVersionByKey(pool, 'cycle-mismatch:candidate')).toBeNull();
  });

  it("given a classifier's result for a regression model, then it is refused saying which worker to run", async () => {
    const { task: _task, ...classifier } = await forestResult();
    await expect(register('cycle-classifier', { ...classifier, classes: ['low', 'high'] })).rejects.toThrow(
      'cars-py is a regression model but the Python trainer returned a classifier (classes low, high): run a Python worker that trains regressors',
    );
    expect(await db.getVersionByKey(pool, 'cycle-classifier:candidate')).toBeNull();
  });
});
