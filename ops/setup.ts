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
import { canonicalJson, predict, train } from '../core/model.js';
import { isHoldout } from '../core/policy.js';
import type { Features, ModelDefinition } from '../core/schemas.js';
import { CODE_VERSION } from '../activities/training.js';
import { serveRecords } from '../gateway/routing.js';
import { hashRows } from '../activities/cycle.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { describeChanges } from '../core/policy-diff.js';

export interface LabeledExample {
  recordKey: string;
  ts: string;
  features: Features;
  label: string;
}

/**
 * Registers a model and trains its first champion on a reference dataset (a quarter held out for the
 * baseline accuracy), storing the reference profile drift checks compare against.
 */
export async function registerModelWithChampion(
  pool: pg.Pool,
  def: ModelDefinition,
  reference: readonly LabeledExample[],
  opts: { author?: string } = {},
): Promise<{
  version: number;
  baselineAccuracy: number;
  trainRows: number;
  holdoutRows: number;
  policy: PolicyVersionResult;
}> {
  const policy = await registerDefinition(pool, def, opts.author ?? 'remedy');
  const existing = await db.getAlias(pool, def.modelId, 'champion');
  const rows = reference.map((r) => ({
    recordKey: r.recordKey,
    ts: r.ts,
    features: r.features,
    label: r.label,
    labelSource: 'reference' as const,
    split: isHoldout(r.recordKey, def.policy.collection.holdoutShare)
      ? ('holdout' as const)
      : ('train' as const),
  }));
  const trainRows = rows.filter((r) => r.split === 'train');
  const holdoutRows = rows.filter((r) => r.split === 'holdout');
  if (existing !== null) {
    const v = await db.getModelVersion(pool, def.modelId, existing);
    return {
      version: existing,
      baselineAccuracy: Number(v.metrics.holdoutAccuracy),
      trainRows: trainRows.length,
      holdoutRows: holdoutRows.length,
      policy,
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
  const holdoutTruth = holdoutRows.map((r) => r.label);
  const holdoutPredictions = holdoutRows.map((r) => predict(artifact, r.features));
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
    const { datasetId } = await db.insertDatasetVersion(client, {
      modelId: def.modelId,
      idempotencyKey: `${def.modelId}:reference`,
      parentId: null,
      kind: 'reference',
      cycleId: null,
      windowStart: reference[0]?.ts ?? null,
      windowEnd: reference[reference.length - 1]?.ts ?? null,
      samplingPlan: { strategy: 'reference' },
      contentHash: hashRows(rows),
      rows,
    });
    const version = await db.insertModelVersion(client, {
      modelId: def.modelId,
      idempotencyKey: `${def.modelId}:initial-champion`,
      status: 'champion',
      datasetId,
      cycleId: null,
      configHash: createHash('sha256').update(canonicalJson(config)).digest('hex'),
      codeVersion: CODE_VERSION,
      artifact: artifactJson,
      artifactSha256: createHash('sha256').update(artifactJson).digest('hex'),
      metrics: {
        holdoutAccuracy: baselineAccuracy,
        trainRows: trainRows.length,
        holdoutRows: holdoutRows.length,
      },
    });
    await db.setAlias(client, def.modelId, 'champion', version);
    await db.upsertReferenceProfile(client, def.modelId, version, {
      ...buildReferenceProfile(
        def.features,
        trainRows.map((r) => r.features),
        trainRows.map((r) => r.label),
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
      details: { version, baselineAccuracy },
    });
    return {
      version,
      baselineAccuracy,
      trainRows: trainRows.length,
      holdoutRows: holdoutRows.length,
      policy,
    };
  });
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
      definition: { labelSet: def.labelSet, features: def.features, policy: def.policy },
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
