/**
 * Candidates trained outside this worker. The Python worker: the training set handed over as a
 * content-addressed blob, and its ONNX model checked and registered as the cycle's candidate (the Python
 * half, workers/python, trains between the two on its own task queue). A version added by hand
 * (`remedy models add-version`): taken as the cycle's candidate.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { accuracy } from '../core/metrics.js';
import { canonicalJson } from '../core/model.js';
import { isRegression, type FeatureSpec, type Features, type Policy } from '../core/schemas.js';
import type { TrainingSetSummary } from '../core/training-scope.js';
import * as db from '../db/index.js';
import { adoptOnnx } from '../scoring/adopt.js';
import { OnnxModelError } from '../scoring/index.js';
import { businessFailure } from './failures.js';
import { registerPythonRegressor } from './python-regression.js';
import { registerCandidate, trainingRows, type TrainResult } from './training.js';

export interface TrainingSetRef {
  sha256: string;
  rows: number;
  historyRows: number;
  /** Which rows the set holds and what each weighs (core/training-scope.ts). */
  trainingSet?: TrainingSetSummary;
  /** The model's features and labels, as the Python worker needs them. */
  featureSpec: FeatureSpec;
  labelSet: string[];
  /** A regression model's set (numeric labels, an empty labelSet); absent for a classifier. */
  task?: 'regression';
}

/** What the workflow sends the Python worker's `trainPythonCandidate`. */
export interface PythonTrainInput {
  cycleId: string;
  modelId: string;
  trainingSet: { sha256: string; rows: number };
  featureSpec: FeatureSpec;
  labelSet: string[];
  seed: number;
  config: { estimators: number; learningRate: number; maxDepth: number; stageSize: number };
  /** A regression model: the worker trains a regressor on the numeric labels (absent for a classifier). */
  task?: 'regression';
}

/** The Python worker's activity (workers/python), as the workflow sees it. */
export interface PythonTrainingActivities {
  trainPythonCandidate(input: PythonTrainInput): Promise<PythonTrainResult>;
}

/** What the Python worker's `trainPythonCandidate` returns (workers/python/remedy_worker/activities.py). */
export interface PythonTrainResult {
  artifactSha256: string;
  /** "regression" when the file is a regressor (its classes are then empty). */
  task?: 'regression';
  classes: string[];
  trainer: string;
  resumedFrom: number;
  details: Record<string, unknown>;
}

export const PYTHON_CODE_VERSION = 'remedy-python-trainer-1';

interface TrainingLine {
  features: Features;
  label: string;
  weight: number;
}

/** The Python worker's ONNX file, checked on the training rows it was trained on. */
async function checkTrained(
  pool: pg.Pool,
  model: { features: FeatureSpec; labelSet: string[] },
  trainingSet: TrainingSetRef,
  trained: PythonTrainResult,
) {
  const input = { trained, trainingSet };
  const bytes = await db.getBlob(pool, input.trained.artifactSha256);
  if (!bytes)
    throw businessFailure(
      'InvalidModel',
      `the Python trainer returned ONNX file ${input.trained.artifactSha256}, which is not in model_blobs: it must store the file before returning`,
    );
  const setBytes = await db.getBlob(pool, input.trainingSet.sha256);
  if (!setBytes) throw new Error(`training set ${input.trainingSet.sha256} is missing from model_blobs`);
  const lines = setBytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TrainingLine);
  let adopted;
  try {
    adopted = await adoptOnnx(
      bytes,
      model.features,
      model.labelSet,
      lines.map((l) => l.features),
      {
        producer: `python worker (${typeof input.trained.details['estimator'] === 'string' ? input.trained.details['estimator'] : input.trained.trainer})`,
      },
    );
  } catch (err) {
    if (err instanceof OnnxModelError)
      throw businessFailure('InvalidModel', `the Python trainer's model was refused: ${err.message}`);
    throw err;
  }
  const { artifact, predictions } = adopted;
  if (canonicalJson([...artifact.classes].sort()) !== canonicalJson([...input.trained.classes].sort()))
    throw businessFailure(
      'InvalidModel',
      `the Python trainer says its classes are ${input.trained.classes.join(', ')}, the ONNX file's are ${artifact.classes.join(', ')}`,
    );
  return { artifact, predictions, lines };
}

export function createPythonTrainingActivities({ pool }: { pool: pg.Pool }) {
  return {
    /** The cycle's training rows (the same scope as the built-in trainers) as an NDJSON blob. */
    async exportTrainingSet(input: {
      cycleId: string;
      modelId: string;
      datasetId: number;
      championVersion: number;
      severity: 'mild' | 'severe';
      config: Policy['training'];
    }): Promise<TrainingSetRef> {
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw businessFailure('ModelNotFound', `model ${input.modelId} is not registered`);
      const regression = isRegression(model);
      const { rows, historyRows, trainingSet } = await trainingRows(
        pool,
        regression ? { ...input, regression } : input,
      );
      if (rows.length === 0)
        throw businessFailure('TrainingDataError', `dataset ${input.datasetId} has no labeled training rows`);
      const lines = rows.map((r) =>
        JSON.stringify({ features: r.features, label: r.label, weight: r.weight }),
      );
      const sha256 = await db.putBlob(pool, Buffer.from(lines.join('\n') + '\n'), 'application/x-ndjson');
      return {
        sha256,
        rows: rows.length,
        historyRows,
        trainingSet,
        featureSpec: model.features,
        labelSet: model.labelSet,
        ...(regression ? { task: 'regression' as const } : {}),
      };
    },

    /**
     * Checks the worker's ONNX file on the training rows (inputs, probabilities, NaN, class order; a
     * regressor's: one finite value per row, its errors as the worker measured them) and registers it as
     * the cycle's candidate; a second call returns the same version.
     */
    async registerPythonCandidate(input: {
      cycleId: string;
      modelId: string;
      datasetId: number;
      trainingSet: TrainingSetRef;
      trained: PythonTrainResult;
      config: Policy['training'];
    }): Promise<TrainResult> {
      const done = await db.getVersionByKey(pool, `${input.cycleId}:candidate`);
      if (done) return done.metrics.result as TrainResult;
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw businessFailure('ModelNotFound', `model ${input.modelId} is not registered`);
      if (isRegression(model)) return registerPythonRegressor(pool, model, input, PYTHON_CODE_VERSION);
      const { artifact, predictions, lines } = await checkTrained(
        pool,
        model,
        input.trainingSet,
        input.trained,
      );
      const trainAccuracy = accuracy(
        lines.map((l) => l.label),
        predictions.map((p) => p.label),
      );
      const configHash = createHash('sha256')
        .update(
          canonicalJson({
            python: input.config.python,
            seed: input.config.seed,
            trainingSet: input.trainingSet.sha256,
            code: PYTHON_CODE_VERSION,
          }),
        )
        .digest('hex');
      const result = (version: number): TrainResult => ({
        version,
        trainer: 'python',
        trainRows: input.trainingSet.rows,
        historyRows: input.trainingSet.historyRows,
        resumedFrom: input.trained.resumedFrom,
        trainAccuracy,
        artifactSha256: artifact.sha256,
        configHash,
        details: input.trained.details,
        ...(input.trainingSet.trainingSet ? { trainingSet: input.trainingSet.trainingSet } : {}),
      });
      return registerCandidate(pool, {
        modelId: input.modelId,
        cycleId: input.cycleId,
        datasetId: input.datasetId,
        configHash,
        codeVersion: PYTHON_CODE_VERSION,
        artifactJson: canonicalJson(artifact),
        artifactSha256: artifact.sha256,
        metrics: {
          trainer: 'python',
          config: input.config.python,
          trainAccuracy,
          trainRows: input.trainingSet.rows,
          historyRows: input.trainingSet.historyRows,
          ...(input.trainingSet.trainingSet ? { trainingSet: input.trainingSet.trainingSet } : {}),
          resumedFrom: input.trained.resumedFrom,
          ...input.trained.details,
        },
        result,
      });
    },

    /** A version added from outside (`models add-version`) becomes this cycle's candidate. */
    async useExternalCandidate(input: {
      cycleId: string;
      modelId: string;
      version: number;
    }): Promise<TrainResult> {
      const claimed = await db.claimCandidateForCycle(pool, input.modelId, input.version, input.cycleId);
      if (!claimed)
        throw businessFailure(
          'ModelNotFound',
          `${input.modelId} v${input.version} is not a candidate free for this cycle (see "remedy models show ${input.modelId}"): add one with "remedy models add-version"`,
        );
      const v = await db.getModelVersion(pool, input.modelId, input.version);
      await db.setAlias(pool, input.modelId, 'candidate', input.version);
      const num = (x: unknown) => (typeof x === 'number' ? x : NaN);
      return {
        version: input.version,
        trainer: 'external',
        trainRows: 0,
        historyRows: 0,
        resumedFrom: 0,
        trainAccuracy: num(v.metrics['holdoutAccuracy']),
        artifactSha256: v.artifactSha256,
        configHash: v.configHash,
        details: { producer: v.artifact.kind === 'onnx' ? v.artifact.source.producer : v.artifact.kind },
      };
    },
  };
}
