/**
 * Models and their versions, aliases and reference profiles, and a version's lineage.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import { z } from 'zod';
import type { ReferenceProfile } from '../core/drift.js';
import { ArtifactSchema, type ModelArtifact } from '../core/model.js';
import { ModelDefinition } from '../core/schemas.js';
import { type Queryable } from './pool.js';

export async function upsertModel(q: Queryable, def: ModelDefinition): Promise<void> {
  await q.query(
    `INSERT INTO models (model_id, label_set, feature_spec, policy, task, target) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (model_id) DO UPDATE SET label_set = EXCLUDED.label_set, feature_spec = EXCLUDED.feature_spec,
       policy = EXCLUDED.policy, task = EXCLUDED.task, target = EXCLUDED.target`,
    [
      def.modelId,
      def.labelSet,
      JSON.stringify(def.features),
      JSON.stringify(def.policy),
      def.task,
      def.target === undefined ? null : JSON.stringify(def.target),
    ],
  );
}

export async function getModel(q: Queryable, modelId: string): Promise<ModelDefinition | null> {
  const { rows } = await q.query(
    'SELECT model_id, label_set, feature_spec, policy, task, target FROM models WHERE model_id = $1',
    [modelId],
  );
  const row = rows[0] as
    | {
        model_id: string;
        label_set: string[];
        feature_spec: unknown;
        policy: unknown;
        task: string;
        target: unknown;
      }
    | undefined;
  if (!row) return null;
  const regression = row.task === 'regression';
  return ModelDefinition.parse({
    modelId: row.model_id,
    task: row.task,
    ...(regression ? {} : { labelSet: row.label_set }),
    ...(regression && row.target !== null ? { target: row.target } : {}),
    features: row.feature_spec,
    policy: regression ? withoutClassifierMetric(row.policy) : row.policy,
  });
}

/**
 * A regression model registered before regression models had error metrics stored the Policy's default,
 * accuracy, which judges a classifier: read it as unset, so the model judges on its default, MAE.
 */
function withoutClassifierMetric(policy: unknown): unknown {
  const drift = (policy as { drift?: { performanceMetric?: unknown } } | null)?.drift;
  if (drift?.performanceMetric !== 'accuracy') return policy;
  const { performanceMetric: _stored, ...rest } = drift;
  return { ...(policy as object), drift: rest };
}

export interface ModelVersionRow {
  modelId: string;
  version: number;
  status: string;
  datasetId: number | null;
  artifact: ModelArtifact;
  artifactSha256: string;
  configHash: string;
  metrics: Record<string, unknown>;
  cycleId: string | null;
}

const ModelVersionSchema = z.object({
  model_id: z.string(),
  version: z.number().int(),
  status: z.string(),
  dataset_id: z.union([z.string(), z.number()]).nullable(),
  artifact: ArtifactSchema,
  artifact_sha256: z.string(),
  config_hash: z.string(),
  metrics: z.record(z.string(), z.unknown()),
  cycle_id: z.string().nullable(),
});

export async function insertModelVersion(
  q: Queryable,
  v: {
    modelId: string;
    idempotencyKey: string;
    status: 'champion' | 'candidate';
    datasetId: number | null;
    cycleId: string | null;
    configHash: string;
    codeVersion: string;
    artifact: string;
    artifactSha256: string;
    metrics: Record<string, unknown>;
  },
): Promise<number> {
  const inserted = await q.query<{ version: number }>(
    `INSERT INTO model_versions (model_id, version, idempotency_key, status, dataset_id, cycle_id, config_hash,
       code_version, artifact, artifact_sha256, metrics)
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10
     FROM model_versions WHERE model_id = $1
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING version`,
    [
      v.modelId,
      v.idempotencyKey,
      v.status,
      v.datasetId,
      v.cycleId,
      v.configHash,
      v.codeVersion,
      v.artifact,
      v.artifactSha256,
      JSON.stringify(v.metrics),
    ],
  );
  if (inserted.rows[0]) return inserted.rows[0].version;
  const existing = await q.query<{ version: number }>(
    'SELECT version FROM model_versions WHERE idempotency_key = $1',
    [v.idempotencyKey],
  );
  return existing.rows[0]!.version;
}

/** The version an activity registered under this idempotency key, if any. */
export async function getVersionByKey(q: Queryable, idempotencyKey: string): Promise<ModelVersionRow | null> {
  const { rows } = await q.query<{ model_id: string; version: number }>(
    'SELECT model_id, version FROM model_versions WHERE idempotency_key = $1',
    [idempotencyKey],
  );
  return rows[0] ? getModelVersion(q, rows[0].model_id, rows[0].version) : null;
}

/**
 * Artifacts already read and checked, by content hash (artifact_sha256), most recently used last: a worker
 * parses and checks a model once however many activities of however many cycles read it (a forest's JSON
 * is megabytes, and the schema checks every node). Frozen, so no reader can change what the next one gets.
 */
const artifacts = new Map<string, ModelArtifact>();
const ARTIFACTS_KEPT = 16;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** How many artifacts this process holds parsed (for tests and diagnostics). */
export const cachedArtifacts = (): number => artifacts.size;

/**
 * One version of a model. Its artifact comes from this process's cache when another read already parsed
 * the same content (by artifact_sha256), otherwise from Postgres, checked and then cached; it is frozen.
 */
export async function getModelVersion(
  q: Queryable,
  modelId: string,
  version: number,
): Promise<ModelVersionRow> {
  const { rows } = await q.query(
    `SELECT model_id, version, status, dataset_id, artifact_sha256, config_hash, metrics, cycle_id
     FROM model_versions WHERE model_id = $1 AND version = $2`,
    [modelId, version],
  );
  if (!rows[0]) throw new Error(`model ${modelId} has no version ${version}`);
  const r = ModelVersionSchema.omit({ artifact: true }).parse(rows[0]);
  let artifact = artifacts.get(r.artifact_sha256);
  if (artifact) {
    artifacts.delete(r.artifact_sha256);
  } else {
    const read = await q.query<{ artifact: unknown; artifact_sha256: string }>(
      'SELECT artifact, artifact_sha256 FROM model_versions WHERE model_id = $1 AND version = $2',
      [modelId, version],
    );
    if (!read.rows[0]) throw new Error(`model ${modelId} has no version ${version}`);
    artifact = deepFreeze(ArtifactSchema.parse(read.rows[0].artifact) as ModelArtifact);
    // Cached under the hash read with it: what was just read is what that hash names.
    if (read.rows[0].artifact_sha256 !== r.artifact_sha256) return getModelVersion(q, modelId, version); // replaced in between (benchmarks only): read again
  }
  artifacts.set(r.artifact_sha256, artifact);
  if (artifacts.size > ARTIFACTS_KEPT) artifacts.delete(artifacts.keys().next().value!);
  return {
    modelId: r.model_id,
    version: r.version,
    status: r.status,
    datasetId: r.dataset_id === null ? null : Number(r.dataset_id),
    artifact,
    artifactSha256: r.artifact_sha256,
    configHash: r.config_hash,
    metrics: r.metrics,
    cycleId: r.cycle_id,
  };
}

/** One entry of a version's metrics (e.g. its stored interval) without reading its artifact; null when absent. */
export async function getVersionMetric(
  q: Queryable,
  modelId: string,
  version: number,
  key: string,
): Promise<unknown> {
  const { rows } = await q.query<{ value: unknown }>(
    'SELECT metrics -> $3 AS value FROM model_versions WHERE model_id = $1 AND version = $2',
    [modelId, version, key],
  );
  if (!rows[0]) throw new Error(`model ${modelId} has no version ${version}`);
  return rows[0].value ?? null;
}

export async function setVersionStatus(
  q: Queryable,
  modelId: string,
  version: number,
  status: 'champion' | 'candidate' | 'retired' | 'rejected' | 'rolled_back' | 'reverted',
  evidence?: unknown,
): Promise<void> {
  await q.query(
    'UPDATE model_versions SET status = $3, evidence = COALESCE($4::jsonb, evidence) WHERE model_id = $1 AND version = $2',
    [modelId, version, status, evidence === undefined ? null : JSON.stringify(evidence)],
  );
}

export async function mergeVersionMetrics(
  q: Queryable,
  modelId: string,
  version: number,
  metrics: Record<string, unknown>,
): Promise<void> {
  await q.query(
    'UPDATE model_versions SET metrics = metrics || $3::jsonb WHERE model_id = $1 AND version = $2',
    [modelId, version, JSON.stringify(metrics)],
  );
}

export async function setAlias(
  q: Queryable,
  modelId: string,
  alias: 'champion' | 'candidate',
  version: number,
): Promise<void> {
  await q.query(
    `INSERT INTO model_aliases (model_id, alias, version) VALUES ($1, $2, $3)
     ON CONFLICT (model_id, alias) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
    [modelId, alias, version],
  );
}

export async function clearAlias(q: Queryable, modelId: string, alias: 'candidate'): Promise<void> {
  await q.query('DELETE FROM model_aliases WHERE model_id = $1 AND alias = $2', [modelId, alias]);
}

export async function getAlias(
  q: Queryable,
  modelId: string,
  alias: 'champion' | 'candidate',
): Promise<number | null> {
  const { rows } = await q.query<{ version: number }>(
    'SELECT version FROM model_aliases WHERE model_id = $1 AND alias = $2',
    [modelId, alias],
  );
  return rows[0]?.version ?? null;
}

export async function upsertReferenceProfile(
  q: Queryable,
  modelId: string,
  version: number,
  profile: ReferenceProfile,
): Promise<void> {
  await q.query(
    `INSERT INTO reference_profiles (model_id, version, profile) VALUES ($1, $2, $3)
     ON CONFLICT (model_id, version) DO NOTHING`,
    [modelId, version, JSON.stringify(profile)],
  );
}

export async function getReferenceProfile(
  q: Queryable,
  modelId: string,
  version: number,
): Promise<ReferenceProfile | null> {
  const { rows } = await q.query<{ profile: ReferenceProfile }>(
    'SELECT profile FROM reference_profiles WHERE model_id = $1 AND version = $2',
    [modelId, version],
  );
  return rows[0]?.profile ?? null;
}

export interface Lineage {
  modelId: string;
  version: number;
  cycleId: string | null;
  trainedOn: { datasetId: number; kind: string; contentHash: string } | null;
  collected: {
    datasetId: number;
    contentHash: string;
    windowStart: Date | null;
    windowEnd: Date | null;
  } | null;
  driftReportId: number | null;
  campaignId: string | null;
}

/** Where a model version came from: drift report → collected dataset → labeling campaign → labeled dataset → version. */
export async function lineage(q: Queryable, modelId: string, version: number): Promise<Lineage> {
  const { rows } = await q.query<{
    cycle_id: string | null;
    dataset_id: string | null;
    kind: string | null;
    content_hash: string | null;
    campaign_id: string | null;
    parent_id: string | null;
    parent_hash: string | null;
    window_start: Date | null;
    window_end: Date | null;
    drift_report_id: string | null;
  }>(
    `SELECT v.cycle_id, d.dataset_id, d.kind, d.content_hash, d.sampling_plan->>'campaignId' AS campaign_id,
            p.dataset_id AS parent_id, p.content_hash AS parent_hash, p.window_start, p.window_end,
            p.sampling_plan->>'driftReportId' AS drift_report_id
     FROM model_versions v
     LEFT JOIN dataset_versions d ON d.dataset_id = v.dataset_id
     LEFT JOIN dataset_versions p ON p.dataset_id = d.parent_id
     WHERE v.model_id = $1 AND v.version = $2`,
    [modelId, version],
  );
  const r = rows[0];
  if (!r) throw new Error(`model ${modelId} has no version ${version}`);
  return {
    modelId,
    version,
    cycleId: r.cycle_id,
    trainedOn:
      r.dataset_id === null
        ? null
        : { datasetId: Number(r.dataset_id), kind: r.kind!, contentHash: r.content_hash! },
    collected:
      r.parent_id === null
        ? null
        : {
            datasetId: Number(r.parent_id),
            contentHash: r.parent_hash!,
            windowStart: r.window_start,
            windowEnd: r.window_end,
          },
    driftReportId: r.drift_report_id === null ? null : Number(r.drift_report_id),
    campaignId: r.campaign_id,
  };
}

/** A model's versions, oldest first, as the CLI lists them. */
export async function listModelVersions(
  q: Queryable,
  modelId: string,
): Promise<
  {
    version: number;
    status: string;
    cycle_id: string | null;
    created_at: Date;
    metrics: Record<string, unknown>;
  }[]
> {
  const { rows } = await q.query<{
    version: number;
    status: string;
    cycle_id: string | null;
    created_at: Date;
    metrics: Record<string, unknown>;
  }>(
    'SELECT version, status, cycle_id, created_at, metrics FROM model_versions WHERE model_id = $1 ORDER BY version',
    [modelId],
  );
  return rows;
}

/** Every registered model with its champion version and open cycle, by model ID. */
export async function listModels(
  q: Queryable,
): Promise<{ model_id: string; champion: number | null; open_cycle: string | null }[]> {
  const { rows } = await q.query<{ model_id: string; champion: number | null; open_cycle: string | null }>(
    `SELECT m.model_id,
            (SELECT version FROM model_aliases a WHERE a.model_id = m.model_id AND a.alias = 'champion') AS champion,
            (SELECT cycle_id FROM cycles c WHERE c.model_id = m.model_id AND c.closed_at IS NULL) AS open_cycle
       FROM models m ORDER BY m.model_id`,
  );
  return rows;
}

/** How many registered models have IDs starting with `prefix`. */
export async function countModelsWithPrefix(q: Queryable, prefix: string): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    'SELECT count(*) AS n FROM models WHERE starts_with(model_id, $1)',
    [prefix],
  );
  return Number(rows[0]!.n);
}

/**
 * Gives a version added from outside to the cycle that evaluates it: only a candidate no other cycle
 * has taken. Returns false when it is not one (any more); true again for the same cycle.
 */
export async function claimCandidateForCycle(
  q: Queryable,
  modelId: string,
  version: number,
  cycleId: string,
): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE model_versions SET cycle_id = $3
     WHERE model_id = $1 AND version = $2 AND status = 'candidate' AND (cycle_id IS NULL OR cycle_id = $3)`,
    [modelId, version, cycleId],
  );
  return (rowCount ?? 0) > 0;
}
