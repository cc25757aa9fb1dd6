/**
 * Registry and production-log setup used by the demo, `npm run dev` and the tests.
 * These are administrative writes straight to Postgres; every one is safe to repeat.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { buildReferenceProfile, type Baseline, type ReferenceProfile } from '../core/drift.js';
import { measureBaseline, type Prediction } from '../core/reference.js';
import { macroAucOvr } from '../core/evaluation.js';
import { accuracy, logLoss, macroF1 } from '../core/metrics.js';
import { canonicalJson, predict, train, type ModelArtifact } from '../core/model.js';
import { adoptOnnx } from '../scoring/adopt.js';
import type { OnnxHints } from '../scoring/onnx.js';
import { isHoldout } from '../core/policy.js';
import { isRegression, type Features, type ModelDefinition } from '../core/schemas.js';
import { CODE_VERSION } from '../activities/training.js';
import { serveRecords } from '../gateway/routing.js';
import { hashRows } from '../activities/cycle.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { describeChanges } from '../core/policy-diff.js';
import { sha256Hex } from '../db/blobs.js';
import { UserError } from './user-error.js';

export interface LabeledExample {
  recordKey: string;
  ts: string;
  features: Features;
  label: string;
}

/**
 * Registers a model and trains its first champion on a reference dataset (a quarter held out for the
 * baseline accuracy), storing the reference profile drift checks compare against. With `onnx`, the
 * champion is the given file instead, and the reference is data it was not trained on: all of it
 * measures the baseline and makes the profile.
 */
/**
 * Refuses what registration cannot do for a regression model: the original model's class probabilities
 * (a regressor has none). Its champion is trained or adopted by `registerRegressionModel`.
 */
export function refuseUnsupportedTask(
  def: ModelDefinition,
  opts: { originalProbabilities?: string } = {},
): void {
  if (isRegression(def) && opts.originalProbabilities !== undefined)
    throw new UserError(
      `${def.modelId} is a regression model: --original-probabilities (${opts.originalProbabilities}) gives a classifier's class probabilities, and a regressor has none; register without it (the holdout errors are measured by Remedy's scorer on the reference holdout)`,
    );
}

export async function registerModelWithChampion(
  pool: pg.Pool,
  def: ModelDefinition,
  reference: readonly LabeledExample[],
  opts: { author?: string; onnx?: OnnxChampion } = {},
): Promise<{
  version: number;
  baselineAccuracy: number;
  trainRows: number;
  holdoutRows: number;
  policy: PolicyVersionResult;
  /** A champion stored now, or the one the model already had (registering again keeps it). */
  champion: 'created' | 'kept';
}> {
  if (isRegression(def))
    throw new Error(
      `registerModelWithChampion: ${def.modelId} is a regression model; register it with registerRegressionModel (ops/register-regression.ts)`,
    );
  const rows = reference.map((r) => ({
    recordKey: r.recordKey,
    ts: r.ts,
    features: r.features,
    label: r.label,
    labelSource: 'reference' as const,
    // An adopted model was trained elsewhere: its reference is data it did not see, all of it holdout.
    split:
      opts.onnx || isHoldout(r.recordKey, def.policy.collection.holdoutShare)
        ? ('holdout' as const)
        : ('train' as const),
  }));
  const trainRows = rows.filter((r) => r.split === 'train');
  const holdoutRows = rows.filter((r) => r.split === 'holdout');
  // An adopted file is checked before anything is written: a refused file leaves the registry as it was.
  const existing = await db.getAlias(pool, def.modelId, 'champion');
  // Registering again never replaces a champion: a different file is refused before the policy is touched.
  if (existing !== null && opts.onnx) await sameFileAsChampion(pool, def.modelId, existing, opts.onnx);
  const champion = existing === null ? await championArtifact(def, trainRows, holdoutRows, opts.onnx) : null;
  const policy = await registerDefinition(pool, def, opts.author ?? 'remedy');
  if (existing !== null || champion === null) {
    const version = existing ?? 0;
    const v = await db.getModelVersion(pool, def.modelId, version);
    return {
      version,
      baselineAccuracy: Number(v.metrics.holdoutAccuracy),
      trainRows: trainRows.length,
      holdoutRows: holdoutRows.length,
      policy,
      champion: 'kept',
    };
  }
  const { artifact, holdoutPredictions, configHash, codeVersion, onnxBytes, adoption } = champion;
  const holdoutTruth = holdoutRows.map((r) => r.label);
  const baselineAccuracy = accuracy(
    holdoutTruth,
    holdoutPredictions.map((p) => p.label),
  );
  // The performance path compares each window with these (the policy picks the metric).
  const baseline: Baseline = { accuracy: baselineAccuracy };
  if (holdoutRows.length > 0) {
    baseline.macroF1 = macroF1(
      holdoutTruth,
      holdoutPredictions.map((p) => p.label),
    );
    baseline.logLoss = logLoss(
      holdoutTruth,
      holdoutPredictions.map((p) => p.probabilities),
    );
    const auc = macroAucOvr(
      holdoutTruth,
      holdoutPredictions.map((p) => p.probabilities),
    );
    if (auc !== null) baseline.auc = auc;
  }
  const artifactJson = canonicalJson(artifact);
  return withTransaction(pool, async (client) => {
    if (onnxBytes) await db.putBlob(client, onnxBytes, 'application/onnx');
    const datasetId = await insertReferenceDataset(client, def.modelId, rows);
    const version = await db.insertModelVersion(client, {
      modelId: def.modelId,
      idempotencyKey: `${def.modelId}:initial-champion`,
      status: 'champion',
      datasetId,
      cycleId: null,
      configHash,
      codeVersion,
      artifact: artifactJson,
      artifactSha256:
        artifact.kind === 'onnx' ? artifact.sha256 : createHash('sha256').update(artifactJson).digest('hex'),
      metrics: {
        holdoutAccuracy: baselineAccuracy,
        trainRows: trainRows.length,
        holdoutRows: holdoutRows.length,
        ...(adoption ?? {}),
      },
    });
    await db.setAlias(client, def.modelId, 'champion', version);
    await db.upsertReferenceProfile(client, def.modelId, version, {
      // The data the champion stands for: what it trained on, or all of an adopted model's reference.
      ...buildReferenceProfile(
        def.features,
        (opts.onnx ? rows : trainRows).map((r) => r.features),
        (opts.onnx ? rows : trainRows).map((r) => r.label),
        baseline,
      ),
      ...registrationEvidence(reference, holdoutTruth, holdoutPredictions),
    });
    await db.setTraffic(client, def.modelId, {
      championVersion: version,
      candidateVersion: null,
      candidateWeight: 0,
    });
    await db.audit(client, {
      key: `${def.modelId}:registered`,
      modelId: def.modelId,
      actor: 'remedy',
      action: 'model.registered',
      details: { version, baselineAccuracy, ...(adoption ?? {}) },
    });
    return {
      version,
      baselineAccuracy,
      trainRows: trainRows.length,
      holdoutRows: holdoutRows.length,
      policy,
      champion: 'created',
    };
  });
}

/**
 * `models register --artifact` on a model that has a champion: the same bytes keep it as it is; another
 * file is refused with the way to bring it in (a candidate version, then a cycle that rolls it out).
 */
export async function sameFileAsChampion(
  pool: pg.Pool,
  modelId: string,
  version: number,
  onnx: OnnxChampion,
): Promise<void> {
  const champion = await db.getModelVersion(pool, modelId, version);
  const sha256 = sha256Hex(onnx.bytes);
  if (champion.artifactSha256 === sha256) return;
  const file = onnx.file ?? onnx.producer;
  throw new UserError(
    `${modelId} already has champion v${version}, and ${file} is a different model (sha256 ${sha256.slice(0, 12)}, the champion's ${champion.artifactSha256.slice(0, 12)}): registering again does not replace a champion, nothing was written. ` +
      `Add the file as a candidate version with "remedy models add-version ${modelId} ${file}", then evaluate and roll it out with "remedy start ${modelId} --from <date> --to <date> --candidate <version>"`,
  );
}

/** A champion adopted as an ONNX file instead of trained: the file, how to feed it, the original's probabilities. */
export interface OnnxChampion {
  bytes: Uint8Array;
  hints?: OnnxHints;
  /** The original model's probabilities by record key, to measure the converter's gap on the holdout. */
  original?: ReadonlyMap<string, Record<string, number>>;
  /** Where the file came from, kept with the version (e.g. its file name). */
  producer: string;
  /** The file's path as the person gave it, for messages about it. */
  file?: string;
}

/** The first champion: trained on the reference's train split, or the adopted ONNX file checked on it all. */
async function championArtifact(
  def: ModelDefinition,
  trainRows: readonly { features: Features; label: string }[],
  holdoutRows: readonly { recordKey: string; features: Features; label: string }[],
  onnx: OnnxChampion | undefined,
): Promise<{
  artifact: ModelArtifact;
  holdoutPredictions: Prediction[];
  configHash: string;
  codeVersion: string;
  onnxBytes: Uint8Array | null;
  adoption: { producer: string; converterGap: number | null } | null;
}> {
  if (onnx) {
    const { artifact, predictions } = await adoptOnnx(
      onnx.bytes,
      def.features,
      def.labelSet,
      [...holdoutRows, ...trainRows].map((r) => r.features),
      {
        ...(onnx.hints ? { hints: onnx.hints } : {}),
        producer: onnx.producer,
        ...(onnx.original
          ? { original: holdoutRows.map((r) => onnx.original!.get(r.recordKey) ?? null) }
          : {}),
      },
    );
    return {
      artifact,
      holdoutPredictions: predictions.slice(0, holdoutRows.length),
      configHash: createHash('sha256')
        .update(canonicalJson(onnx.hints ?? {}))
        .digest('hex'),
      codeVersion: 'adopted-onnx',
      onnxBytes: onnx.bytes,
      adoption: { producer: artifact.source.producer, converterGap: artifact.source.converterGap },
    };
  }
  const config = {
    epochs: def.policy.training.epochs,
    learningRate: def.policy.training.learningRate,
    l2: def.policy.training.l2,
  };
  const artifact = train(
    def.features,
    trainRows.map((r) => ({ features: r.features, label: r.label })),
    config,
  );
  return {
    artifact,
    holdoutPredictions: holdoutRows.map((r) => predict(artifact, r.features)),
    configHash: createHash('sha256').update(canonicalJson(config)).digest('hex'),
    codeVersion: CODE_VERSION,
    onnxBytes: null,
    adoption: null,
  };
}

/** The policy version a registration produced: a new one with its changes, or the unchanged latest. */
export interface PolicyVersionResult {
  version: number;
  created: boolean;
  changes: string[];
}

/**
 * Writes the model's definition and keeps it as a policy version (author, diff, audit event) in one
 * transaction. Registering the same definition again makes no new version.
 */
export async function registerDefinition(
  pool: pg.Pool,
  def: ModelDefinition,
  author: string,
): Promise<PolicyVersionResult> {
  return withTransaction(pool, async (client) => {
    await db.upsertModel(client, def);
    const r = await db.recordPolicyVersion(client, {
      modelId: def.modelId,
      definition: db.versionedDefinition(def),
      author,
    });
    return { version: r.version, created: r.created, changes: describeChanges(r.diff) };
  });
}

/** The span the registration's data covers, and how many holdout rows its baseline rests on. */
function registrationEvidence(
  reference: readonly LabeledExample[],
  truth: readonly string[],
  predictions: readonly Prediction[],
): Pick<ReferenceProfile, 'span' | 'baselineEvidence'> {
  let first = Infinity;
  let last = -Infinity;
  for (const r of reference) {
    const t = Date.parse(r.ts);
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return {
    ...(first <= last
      ? {
          span: {
            start: new Date(first).toISOString(),
            // The last row's time is included: the span's end is exclusive.
            end: new Date(last + 1).toISOString(),
            rule: "the registration's reference data",
          },
        }
      : {}),
    ...(truth.length > 0
      ? { baselineEvidence: measureBaseline(truth, predictions, "the registration's holdout").evidence }
      : {}),
  };
}

/**
 * Adds requests to the production log. With `serveThrough`, requests up to that time are also served
 * through the gateway (the champion's predictions logged), as production would have.
 */
export async function ingestRecords(
  pool: pg.Pool,
  modelId: string,
  records: readonly { recordKey: string; ts: string; features: Features; feedback: string | null }[],
  serveThrough?: string,
): Promise<{ added: number; served: number }> {
  const added = await db.insertRecords(pool, modelId, records);
  let served = 0;
  if (serveThrough) {
    const toServe = records.filter((r) => r.ts < serveThrough);
    for (let i = 0; i < toServe.length; i += 1000) {
      const chunk = toServe.slice(i, i + 1000).map((r) => ({ ...r, ts: new Date(r.ts) }));
      served += (await serveRecords(pool, modelId, `ingest:${chunk[0]!.recordKey}`, chunk)).served;
    }
  }
  return { added, served };
}

/** A model's registration data as its reference dataset version (once: keyed by the model). */
export async function insertReferenceDataset(
  client: pg.PoolClient,
  modelId: string,
  rows: (db.DatasetRowInput & { ts: string })[],
): Promise<number> {
  const { datasetId } = await db.insertDatasetVersion(client, {
    modelId,
    idempotencyKey: `${modelId}:reference`,
    parentId: null,
    kind: 'reference',
    cycleId: null,
    windowStart: rows[0]?.ts ?? null,
    windowEnd: rows[rows.length - 1]?.ts ?? null,
    samplingPlan: { strategy: 'reference' },
    contentHash: hashRows(rows),
    rows,
  });
  return datasetId;
}
