/**
 * Retraining a regression model: the built-in forest regressor (core/regression-forest.ts, the same
 * configuration its champion was registered with) on the labeled dataset's numbers plus the champion's
 * rows as trainingRows chooses them. Trees are saved to Postgres as they grow and the heartbeat says how
 * many, so a retry resumes where the last attempt stopped; tree i depends only on (seed, i), so a resumed
 * forest equals an uninterrupted one and training twice gives the same artifact.
 */
import { createHash } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import type pg from 'pg';
import { canonicalJson, encode, fitEncoder } from '../core/model.js';
import {
  predictValue,
  regressorForestConfig,
  trainRegressionForest,
  type RegressionForestArtifact,
} from '../core/regression-forest.js';
import { readNumericLabel } from '../core/regression-labels.js';
import { regressionErrors, type RegressionErrors } from '../core/regression-metrics.js';
import type { Tree } from '../core/forest.js';
import type { ModelDefinition, Policy } from '../core/schemas.js';
import * as db from '../db/index.js';
import { businessFailure } from './failures.js';
import type { TrainingRow } from './trainers.js';

/** What the training activity hands over: the cycle's input and the rows trainingRows chose. */
export interface RegressionTrainingInput {
  cycleId: string;
  modelId: string;
  datasetId: number;
  severity: 'mild' | 'severe';
  config: Policy['training'];
  rows: readonly TrainingRow[];
}

/** What a regression training attempt heartbeats: how many trees of this configuration are saved. */
interface RegressionProgress {
  configHash: string;
  kind: 'regression-forest';
  trees: number;
}

/** Progress is saved at most this often: each save costs a write and a heartbeat. */
const SAVE_EVERY_MS = 500;

/** The trained forest, ready to register, with what the result and the registry record about it. */
export interface TrainedRegressor {
  artifact: RegressionForestArtifact;
  artifactJson: string;
  artifactSha256: string;
  configHash: string;
  resumedFrom: number;
  trainErrors: RegressionErrors;
  details: Record<string, unknown>;
}

/**
 * Refuses a trainer other than the built-in forest in this activity: the command trainer's contract (a
 * labelSet, class labels) and softmax regression are written for classes, so a regression model cannot
 * use them yet, and the Python worker trains on its own queue (the cycle sends it there). The model
 * definition refuses softmax and command too; this covers a policy stored before that check.
 */
export function requireBuiltInRegressionTrainer(modelId: string, config: Policy['training']): void {
  if (config.trainer === 'python')
    throw businessFailure(
      'TrainingDataError',
      `${modelId}'s policy names training.trainer "python": the Python worker trains it (the cycle's retrain stage sends it there), not the built-in trainers`,
    );
  if (config.trainer !== 'forest')
    throw businessFailure(
      'TrainingDataError',
      `${modelId} is a regression model and its policy names training.trainer "${config.trainer}", which cannot train a regression model yet; set training.trainer to "forest" (the built-in forest regressor) or "python" (the Python worker)`,
    );
}

/** The labels as numbers; a label that is not one stops the training and names its row. */
function numericValues(modelId: string, rows: readonly TrainingRow[]): number[] {
  return rows.map((r, i) => {
    const read = readNumericLabel(r.label);
    if ('problem' in read)
      throw businessFailure(
        'TrainingDataError',
        `${modelId}: training row ${i} has a label that is not a number (${read.problem}); correct the label and run the cycle again`,
      );
    return read.value;
  });
}

async function resumedTrees(
  pool: pg.Pool,
  key: string,
  configHash: string,
  previous: unknown,
): Promise<Tree[]> {
  const p = previous as Partial<RegressionProgress> | undefined;
  if (p?.kind !== 'regression-forest' || p.configHash !== configHash || typeof p.trees !== 'number') {
    if (previous !== undefined) log.warn('heartbeat details not usable: training starts over');
    return [];
  }
  const trees = await db.checkpointTrees(pool, key, p.trees);
  // A gap (rows lost) means starting over: a forest must not silently miss trees.
  return trees.length === p.trees ? trees : [];
}

/**
 * Trains the candidate forest regressor on the rows (heartbeating and saving trees as it goes); stops
 * with the cancellation's reason when the activity is cancelled.
 */
export async function trainRegressionCandidate(
  pool: pg.Pool,
  model: ModelDefinition,
  input: RegressionTrainingInput,
  codeVersion: string,
): Promise<TrainedRegressor> {
  const ctx = Context.current();
  if (input.rows.length === 0)
    throw businessFailure(
      'TrainingDataError',
      `${input.modelId}: the labeled dataset ${input.datasetId} has no labeled training rows; label more rows of the window (labeling.budget)`,
    );
  const values = numericValues(input.modelId, input.rows);
  const config = regressorForestConfig(input.config);
  const configHash = createHash('sha256')
    .update(
      canonicalJson({
        task: 'regression',
        forest: config,
        features: model.features,
        datasetId: input.datasetId,
        severity: input.severity,
        code: codeVersion,
      }),
    )
    .digest('hex');
  const checkpointKey = `${input.cycleId}:${configHash}`;
  const encoder = fitEncoder(
    model.features,
    input.rows.map((r) => r.features),
  );
  const x = input.rows.map((r) => encode(encoder, r.features));
  const weights = input.rows.map((r) => r.weight);
  const done = await resumedTrees(pool, checkpointKey, configHash, ctx.info.heartbeatDetails);
  let trees: Tree[] = done;
  let stored = done.length;
  let saved = Date.now();
  // One tree at a time, so progress is saved (and cancellation seen) between trees.
  while (trees.length < config.trees) {
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason as Error;
    trees = trainRegressionForest(
      x,
      values,
      weights,
      { ...config, trees: trees.length + 1 },
      { done: trees },
    );
    if (Date.now() - saved >= SAVE_EVERY_MS || trees.length === config.trees) {
      await db.insertCheckpointTrees(pool, checkpointKey, stored, trees.slice(stored));
      stored = trees.length;
      ctx.heartbeat({ configHash, kind: 'regression-forest', trees: stored } satisfies RegressionProgress);
      saved = Date.now();
    }
  }
  const artifact: RegressionForestArtifact = {
    kind: 'random-forest-regressor',
    encoder,
    config,
    trees,
    trainedRange: rangeOf(values),
  };
  const artifactJson = canonicalJson(artifact);
  const trainErrors = regressionErrors(
    values,
    input.rows.map((r) => predictValue(artifact, r.features).value),
  );
  return {
    artifact,
    artifactJson,
    artifactSha256: createHash('sha256').update(artifactJson).digest('hex'),
    configHash,
    resumedFrom: done.length,
    trainErrors,
    details: {
      task: 'regression',
      trees: trees.length,
      forest: { maxDepth: config.maxDepth, minSamplesLeaf: config.minSamplesLeaf, maxFeatures: 'all' },
      trainMae: trainErrors.mae,
      trainRmse: trainErrors.rmse,
      trainR2: trainErrors.r2,
    },
  };
}

/** The smallest and largest of the values (a loop: a spread of a large array overflows the stack). */
function rangeOf(values: readonly number[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
