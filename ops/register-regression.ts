/**
 * Registering a regression model (`"task": "regression"`): its first champion is the built-in forest
 * regressor trained on the reference's train split, or an ONNX regressor given as a file (`--artifact`),
 * judged on the holdout by Remedy's own scorer (MAE, RMSE, R², MAPE), and
 * stored with a reference profile of the features plus the target's range and the holdout errors. The
 * whole registration is one transaction after the definition: a failure writes no version.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { buildReferenceProfile, buildTargetProfile } from '../core/drift.js';
import { canonicalJson, type OnnxRegressorArtifact } from '../core/model.js';
import { isHoldout } from '../core/policy.js';
import type { ForestConfig } from '../core/forest.js';
import {
  predictValue,
  regressorForestConfig,
  trainRegressor,
  type RegressionForestArtifact,
} from '../core/regression-forest.js';
import { readNumericLabel } from '../core/regression-labels.js';
import {
  calibrateInterval,
  intervalLevel,
  storedInterval,
  type StoredInterval,
} from '../core/regression-interval.js';
import { regressionErrors, type RegressionErrors } from '../core/regression-metrics.js';
import { isRegression, type Features, type ModelDefinition } from '../core/schemas.js';
import { CODE_VERSION } from '../activities/training.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { adoptOnnxRegressor } from '../scoring/onnx-regressor.js';
import { UserError } from './user-error.js';
import {
  insertReferenceDataset,
  registerDefinition,
  sameFileAsChampion,
  type OnnxChampion,
  type LabeledExample,
  type PolicyVersionResult,
} from './setup.js';

/** What registering a regression model did. */
export interface RegressionRegistration {
  version: number;
  trainRows: number;
  holdoutRows: number;
  /** The champion's errors on the reference holdout (null with no holdout rows). */
  holdoutErrors: RegressionErrors | null;
  /** Its prediction interval calibrated on that holdout (null: too few rows for the level, or kept without one). */
  interval: StoredInterval | null;
  target: { min: number; max: number };
  policy: PolicyVersionResult;
  champion: 'created' | 'kept';
}

/** The forest a regression champion is trained with: the policy's trees, depth, leaf size and seed. */
export function regressorConfig(def: ModelDefinition): ForestConfig {
  return regressorForestConfig(def.policy.training);
}

/** The reference's labels as numbers; a label that is not one is a mistake in the caller (rows are checked first). */
function numericRows(
  modelId: string,
  reference: readonly LabeledExample[],
): (LabeledExample & { value: number })[] {
  return reference.map((r) => {
    const read = readNumericLabel(r.label);
    if ('problem' in read)
      throw new UserError(
        `${modelId}: reference row ${r.recordKey}: ${read.problem}; nothing was registered`,
      );
    return { ...r, value: read.value };
  });
}

/**
 * Registers a regression model and trains its champion (v1) on the reference's train split. Registering
 * again keeps the champion and only records a changed policy.
 */
export async function registerRegressionModel(
  pool: pg.Pool,
  def: ModelDefinition,
  reference: readonly LabeledExample[],
  opts: { author?: string; onnx?: OnnxChampion } = {},
): Promise<RegressionRegistration> {
  if (!isRegression(def))
    throw new Error(`registerRegressionModel: ${def.modelId} is not a regression model`);
  const rows = numericRows(def.modelId, reference).map((r) => ({
    ...r,
    split: isHoldout(r.recordKey, def.policy.collection.holdoutShare)
      ? ('holdout' as const)
      : ('train' as const),
  }));
  const train = rows.filter((r) => r.split === 'train');
  const holdout = rows.filter((r) => r.split === 'holdout');
  if (train.length === 0)
    throw new UserError(
      `${def.modelId}: none of the ${rows.length} reference rows fell in the train split (collection.holdoutShare ${def.policy.collection.holdoutShare}); give more rows or a smaller holdoutShare`,
    );
  const values = train.map((r) => r.value);
  const target = rangeOf(values);
  const existing = await db.getAlias(pool, def.modelId, 'champion');
  const counts = { trainRows: train.length, holdoutRows: holdout.length, target };
  if (existing !== null) {
    if (opts.onnx) await sameFileAsChampion(pool, def.modelId, existing, opts.onnx);
    const policy = await registerDefinition(pool, def, opts.author ?? 'remedy');
    const v = await db.getModelVersion(pool, def.modelId, existing);
    const kept = v.metrics['holdoutErrors'];
    return {
      version: existing,
      ...counts,
      policy,
      holdoutErrors: kept && typeof kept === 'object' ? (kept as RegressionErrors) : null,
      interval: storedInterval(v.metrics),
      champion: 'kept',
    };
  }
  // Trained or adopted before anything is written: a file Remedy refuses leaves the registry unchanged.
  const champion = await championOf(def, train, holdout, opts.onnx);
  const policy = await registerDefinition(pool, def, opts.author ?? 'remedy');
  const summary = { ...counts, policy };
  const holdoutErrors =
    holdout.length > 0
      ? regressionErrors(
          holdout.map((r) => r.value),
          champion.holdoutValues,
        )
      : null;
  // The interval the gateway answers with: split conformal on the holdout the champion did not train on.
  const interval =
    holdout.length > 0
      ? calibrateInterval(
          holdout.map((r) => r.value),
          champion.holdoutValues,
          intervalLevel(def.policy.evaluation),
          "the registration's reference holdout",
        )
      : null;
  const profile = {
    ...buildReferenceProfile(
      def.features,
      train.map((r) => r.features),
      [],
      {},
    ),
    target: buildTargetProfile(values, holdoutErrors),
    ...spanOf(reference),
  };
  const { artifact } = champion;
  const artifactJson = canonicalJson(artifact);
  const datasetRows = rows.map((r) => ({
    recordKey: r.recordKey,
    ts: r.ts,
    features: r.features,
    label: r.label,
    labelSource: 'reference' as const,
    split: r.split,
  }));
  const version = await withTransaction(pool, async (client) => {
    if (opts.onnx) await db.putBlob(client, opts.onnx.bytes, 'application/onnx');
    const datasetId = await insertReferenceDataset(client, def.modelId, datasetRows);
    const v = await db.insertModelVersion(client, {
      modelId: def.modelId,
      idempotencyKey: `${def.modelId}:initial-champion`,
      status: 'champion',
      datasetId,
      cycleId: null,
      configHash: champion.configHash,
      codeVersion: champion.codeVersion,
      artifact: artifactJson,
      artifactSha256:
        artifact.kind === 'onnx' ? artifact.sha256 : createHash('sha256').update(artifactJson).digest('hex'),
      metrics: {
        holdoutErrors,
        ...(interval ? { interval } : {}),
        trainRows: train.length,
        holdoutRows: holdout.length,
        ...(artifact.kind === 'onnx' ? { producer: artifact.source.producer } : {}),
      },
    });
    await db.setAlias(client, def.modelId, 'champion', v);
    await db.upsertReferenceProfile(client, def.modelId, v, profile);
    await db.setTraffic(client, def.modelId, {
      championVersion: v,
      candidateVersion: null,
      candidateWeight: 0,
    });
    await db.audit(client, {
      key: `${def.modelId}:registered`,
      modelId: def.modelId,
      actor: 'remedy',
      action: 'model.registered',
      details: {
        version: v,
        task: 'regression',
        holdoutErrors,
        ...(artifact.kind === 'onnx' ? { adopted: artifact.source.producer } : {}),
      },
    });
    return v;
  });
  return { version, ...summary, holdoutErrors, interval, champion: 'created' };
}

/**
 * The first champion: the built-in forest trained on the train split, or the given ONNX regressor checked
 * on every reference row (a file that cannot score them is refused) and scored by Remedy on the holdout.
 */
async function championOf(
  def: ModelDefinition,
  train: readonly { features: Features; value: number }[],
  holdout: readonly { features: Features }[],
  onnx: OnnxChampion | undefined,
): Promise<{
  artifact: RegressionForestArtifact | OnnxRegressorArtifact;
  holdoutValues: number[];
  configHash: string;
  codeVersion: string;
}> {
  if (onnx) {
    const { artifact, predictions } = await adoptOnnxRegressor(
      onnx.bytes,
      def.features,
      [...holdout, ...train].map((r) => r.features),
      { producer: onnx.producer, ...(onnx.hints ? { hints: onnx.hints } : {}) },
    );
    return {
      artifact,
      holdoutValues: predictions.slice(0, holdout.length).map((p) => p.value!),
      configHash: createHash('sha256')
        .update(canonicalJson(onnx.hints ?? {}))
        .digest('hex'),
      codeVersion: 'adopted-onnx',
    };
  }
  const config = regressorConfig(def);
  const artifact = trainRegressor(
    def.features,
    train.map((r) => ({ features: r.features, value: r.value })),
    config,
  );
  return {
    artifact,
    holdoutValues: holdout.map((r) => predictValue(artifact, r.features).value),
    configHash: createHash('sha256').update(canonicalJson(config)).digest('hex'),
    codeVersion: CODE_VERSION,
  };
}

/** The span the reference covers (its last row's time included: the end is exclusive). */
function spanOf(reference: readonly LabeledExample[]): {
  span?: { start: string; end: string; rule: string };
} {
  const times = reference.map((r) => Date.parse(r.ts)).filter((t) => Number.isFinite(t));
  if (times.length === 0) return {};
  const { min: first, max: last } = rangeOf(times);
  return {
    span: {
      start: new Date(first).toISOString(),
      end: new Date(last + 1).toISOString(),
      rule: "the registration's reference data",
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
