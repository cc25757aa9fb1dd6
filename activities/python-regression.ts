/**
 * A regression model's candidate from the Python worker: its ONNX regressor (one float output) read and
 * scored by Remedy on the rows it was trained on, its errors there compared with the ones the worker
 * measured (the same file read the same way gives the same errors), and registered as the cycle's
 * candidate, an ONNX regressor version.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { canonicalJson } from '../core/model.js';
import { readNumericLabel } from '../core/regression-labels.js';
import { regressionErrors, type RegressionErrors } from '../core/regression-metrics.js';
import type { Features, ModelDefinition, Policy } from '../core/schemas.js';
import * as db from '../db/index.js';
import { OnnxModelError } from '../scoring/onnx.js';
import { adoptOnnxRegressor } from '../scoring/onnx-regressor.js';
import { businessFailure } from './failures.js';
import type { PythonTrainResult, TrainingSetRef } from './outside-training.js';
import { registerCandidate, type TrainResult } from './training.js';

/** How far Remedy's training MAE may be from the worker's, relative to it: float32 sums in either scorer. */
const PARITY_TOLERANCE = 1e-4;

interface TrainingLine {
  features: Features;
  label: unknown;
}

/** The training set's rows, their labels read as numbers; a label that is not one names its row. */
async function trainingValues(
  pool: pg.Pool,
  modelId: string,
  trainingSet: TrainingSetRef,
): Promise<{ features: Features[]; values: number[] }> {
  const bytes = await db.getBlob(pool, trainingSet.sha256);
  if (!bytes) throw new Error(`training set ${trainingSet.sha256} is missing from model_blobs`);
  const lines = bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TrainingLine);
  const values = lines.map((l, i) => {
    const read = readNumericLabel(l.label);
    if ('problem' in read)
      throw businessFailure(
        'TrainingDataError',
        `${modelId}: training row ${i + 1} has a label that is not a number (${read.problem}); correct the label and run the cycle again`,
      );
    return read.value;
  });
  return { features: lines.map((l) => l.features), values };
}

/** The worker's file, checked as a regressor on its training rows, and its errors there. */
async function checkTrainedRegressor(
  pool: pg.Pool,
  model: ModelDefinition,
  trainingSet: TrainingSetRef,
  trained: PythonTrainResult,
) {
  if (trained.task !== 'regression')
    throw businessFailure(
      'InvalidModel',
      `${model.modelId} is a regression model but the Python trainer returned a classifier (classes ${trained.classes.join(', ')}): run a Python worker that trains regressors (workers/python, "task": "regression")`,
    );
  const bytes = await db.getBlob(pool, trained.artifactSha256);
  if (!bytes)
    throw businessFailure(
      'InvalidModel',
      `the Python trainer returned ONNX file ${trained.artifactSha256}, which is not in model_blobs: it must store the file before returning`,
    );
  const { features, values } = await trainingValues(pool, model.modelId, trainingSet);
  const estimator = trained.details['estimator'];
  let adopted;
  try {
    adopted = await adoptOnnxRegressor(bytes, model.features, features, {
      producer: `python worker (${typeof estimator === 'string' ? estimator : trained.trainer})`,
    });
  } catch (err) {
    if (err instanceof OnnxModelError)
      throw businessFailure('InvalidModel', `the Python trainer's model was refused: ${err.message}`);
    throw err;
  }
  const trainErrors = regressionErrors(
    values,
    adopted.predictions.map((p) => p.value!),
  );
  requireParity(trainErrors, trained.details['trainMae']);
  return { artifact: adopted.artifact, trainErrors };
}

/** Refuses a file whose training MAE in Remedy differs from the worker's: it is read otherwise than trained. */
function requireParity(ours: RegressionErrors, theirs: unknown): void {
  if (typeof theirs !== 'number') return;
  const gap = Math.abs(ours.mae - theirs);
  if (gap > PARITY_TOLERANCE * Math.max(1, Math.abs(theirs)))
    throw businessFailure(
      'InvalidModel',
      `the Python trainer's model has MAE ${theirs.toPrecision(6)} on its training rows in the worker but ${ours.mae.toPrecision(6)} as Remedy scores it: the file's inputs or output are read differently than they were trained; nothing was registered`,
    );
}

/** Registers the worker's checked regressor as the cycle's candidate (an ONNX regressor version). */
export async function registerPythonRegressor(
  pool: pg.Pool,
  model: ModelDefinition,
  input: {
    cycleId: string;
    datasetId: number;
    trainingSet: TrainingSetRef;
    trained: PythonTrainResult;
    config: Policy['training'];
  },
  codeVersion: string,
): Promise<TrainResult> {
  const { artifact, trainErrors } = await checkTrainedRegressor(
    pool,
    model,
    input.trainingSet,
    input.trained,
  );
  const configHash = createHash('sha256')
    .update(
      canonicalJson({
        task: 'regression',
        python: input.config.python,
        seed: input.config.seed,
        trainingSet: input.trainingSet.sha256,
        code: codeVersion,
      }),
    )
    .digest('hex');
  const { trainingSet } = input.trainingSet;
  const result = (version: number): TrainResult => ({
    version,
    trainer: 'python',
    trainRows: input.trainingSet.rows,
    historyRows: input.trainingSet.historyRows,
    resumedFrom: input.trained.resumedFrom,
    trainAccuracy: NaN,
    artifactSha256: artifact.sha256,
    configHash,
    details: input.trained.details,
    ...(trainingSet ? { trainingSet } : {}),
    trainErrors,
  });
  return registerCandidate(pool, {
    modelId: model.modelId,
    cycleId: input.cycleId,
    datasetId: input.datasetId,
    configHash,
    codeVersion,
    artifactJson: canonicalJson(artifact),
    artifactSha256: artifact.sha256,
    metrics: {
      trainer: 'python',
      config: input.config.python,
      trainErrors,
      trainRows: input.trainingSet.rows,
      historyRows: input.trainingSet.historyRows,
      ...(trainingSet ? { trainingSet } : {}),
      resumedFrom: input.trained.resumedFrom,
      ...input.trained.details,
    },
    result,
  });
}
