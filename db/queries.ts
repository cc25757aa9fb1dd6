/**
 * One small function per SQL statement, each taking an injected queryable (pool or transaction client).
 * Parameters are always bound. Writes an activity retry could repeat are guarded by a key.
 */
import type pg from 'pg';
import { z } from 'zod';
import type { DriftReport, ReferenceProfile } from '../core/drift.js';
import type { FlaggedCase } from '../core/catalog.js';
import type { Diagnosis } from '../core/policy.js';
import { ArtifactSchema, type ModelArtifact } from '../core/model.js';
import { ModelDefinition } from '../core/schemas.js';
import type { Features } from '../core/schemas.js';
import { withTransaction, type Queryable } from './pool.js';

export async function upsertModel(q: Queryable, def: ModelDefinition): Promise<void> {
  await q.query(
    `INSERT INTO models (model_id, label_set, feature_spec, policy) VALUES ($1, $2, $3, $4)
     ON CONFLICT (model_id) DO UPDATE SET label_set = EXCLUDED.label_set, feature_spec = EXCLUDED.feature_spec,
       policy = EXCLUDED.policy`,
    [def.modelId, def.labelSet, JSON.stringify(def.features), JSON.stringify(def.policy)],
  );
}

export async function getModel(q: Queryable, modelId: string): Promise<ModelDefinition | null> {
  const { rows } = await q.query(
    'SELECT model_id, label_set, feature_spec, policy FROM models WHERE model_id = $1',
    [modelId],
  );
  const row = rows[0] as
    { model_id: string; label_set: string[]; feature_spec: unknown; policy: unknown } | undefined;
  if (!row) return null;
  return ModelDefinition.parse({
    modelId: row.model_id,
    labelSet: row.label_set,
    features: row.feature_spec,
    policy: row.policy,
  });
}

export interface RecordRow {
  recordKey: string;
  ts: Date;
  features: Features;
  feedback: string | null;
}

const RecordRowSchema = z.object({
  record_key: z.string(),
  ts: z.date(),
  features: z.record(z.string(), z.union([z.number(), z.string()])),
  feedback: z.string().nullable(),
});

function toRecord(row: unknown): RecordRow {
  const r = RecordRowSchema.parse(row);
  return { recordKey: r.record_key, ts: r.ts, features: r.features, feedback: r.feedback };
}

/** Items a labeling campaign asks for, in the order given by `priority`; a repeated item is kept as it was. */
export async function insertLabelTasks(
  q: Queryable,
  campaignId: string,
  datasetId: number,
  tasks: readonly { recordKey: string; priority: number; score: number }[],
): Promise<void> {
  if (tasks.length === 0) return;
  await q.query(
    `INSERT INTO label_tasks (campaign_id, record_key, dataset_id, priority, score)
     SELECT $1, k, $2, p, s FROM unnest($3::text[], $4::int[], $5::float8[]) AS u(k, p, s)
     ON CONFLICT (campaign_id, record_key) DO NOTHING`,
    [
      campaignId,
      datasetId,
      tasks.map((t) => t.recordKey),
      tasks.map((t) => t.priority),
      tasks.map((t) => t.score),
    ],
  );
}

/** Inserts production-log rows; a row already present (same key) is left as it is. Returns rows added. */
export async function insertRecords(
  q: Queryable,
  modelId: string,
  records: readonly { recordKey: string; ts: string | Date; features: Features; feedback?: string | null }[],
): Promise<number> {
  let added = 0;
  for (let i = 0; i < records.length; i += 1000) {
    const chunk = records.slice(i, i + 1000);
    const res = await q.query(
      `INSERT INTO records (model_id, record_key, ts, features, feedback, feedback_at)
       SELECT $1, k, t, f, fb, CASE WHEN fb IS NULL THEN NULL ELSE now() END
       FROM unnest($2::text[], $3::timestamptz[], $4::jsonb[], $5::text[]) AS u(k, t, f, fb)
       ON CONFLICT (model_id, record_key) DO NOTHING`,
      [
        modelId,
        chunk.map((r) => r.recordKey),
        chunk.map((r) => (r.ts instanceof Date ? r.ts.toISOString() : r.ts)),
        chunk.map((r) => JSON.stringify(r.features)),
        chunk.map((r) => r.feedback ?? null),
      ],
    );
    added += res.rowCount ?? 0;
  }
  return added;
}

export async function recordsInWindow(
  q: Queryable,
  modelId: string,
  start: string,
  end: string,
  limit: number,
): Promise<RecordRow[]> {
  const { rows } = await q.query(
    `SELECT record_key, ts, features, feedback FROM records
     WHERE model_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, record_key LIMIT $4`,
    [modelId, start, end, limit],
  );
  return rows.map(toRecord);
}

/** The next requests after a cursor: the traffic a rollout step replays through the gateway. */
export async function recordsAfter(
  q: Queryable,
  modelId: string,
  cursor: { ts: string; recordKey: string },
  limit: number,
): Promise<RecordRow[]> {
  const { rows } = await q.query(
    `SELECT record_key, ts, features, feedback FROM records
     WHERE model_id = $1 AND (ts, record_key) > ($2::timestamptz, $3) ORDER BY ts, record_key LIMIT $4`,
    [modelId, cursor.ts, cursor.recordKey, limit],
  );
  return rows.map(toRecord);
}

/** Champion predictions in a window joined with the feedback that has arrived for them. */
export async function outcomesInWindow(
  q: Queryable,
  modelId: string,
  version: number,
  start: string,
  end: string,
): Promise<{ truth: string; predicted: string }[]> {
  const { rows } = await q.query<{ truth: string; predicted: string }>(
    `SELECT DISTINCT ON (r.record_key) r.feedback AS truth, p.predicted
     FROM records r JOIN predictions p ON p.model_id = r.model_id AND p.record_key = r.record_key
     WHERE r.model_id = $1 AND p.version = $2 AND r.ts >= $3 AND r.ts < $4 AND r.feedback IS NOT NULL
     ORDER BY r.record_key, p.prediction_id`,
    [modelId, version, start, end],
  );
  return rows;
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

export async function getModelVersion(
  q: Queryable,
  modelId: string,
  version: number,
): Promise<ModelVersionRow> {
  const { rows } = await q.query(
    `SELECT model_id, version, status, dataset_id, artifact, artifact_sha256, config_hash, metrics, cycle_id
     FROM model_versions WHERE model_id = $1 AND version = $2`,
    [modelId, version],
  );
  if (!rows[0]) throw new Error(`model ${modelId} has no version ${version}`);
  const r = ModelVersionSchema.parse(rows[0]);
  return {
    modelId: r.model_id,
    version: r.version,
    status: r.status,
    datasetId: r.dataset_id === null ? null : Number(r.dataset_id),
    artifact: r.artifact,
    artifactSha256: r.artifact_sha256,
    configHash: r.config_hash,
    metrics: r.metrics,
    cycleId: r.cycle_id,
  };
}

export async function setVersionStatus(
  q: Queryable,
  modelId: string,
  version: number,
  status: 'champion' | 'candidate' | 'retired' | 'rejected' | 'rolled_back',
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

export interface TrafficRow {
  championVersion: number;
  candidateVersion: number | null;
  candidateWeight: number;
}

export async function setTraffic(q: Queryable, modelId: string, t: TrafficRow): Promise<void> {
  await q.query(
    `INSERT INTO traffic_weights (model_id, champion_version, candidate_version, candidate_weight) VALUES ($1, $2, $3, $4)
     ON CONFLICT (model_id) DO UPDATE SET champion_version = EXCLUDED.champion_version,
       candidate_version = EXCLUDED.candidate_version, candidate_weight = EXCLUDED.candidate_weight, updated_at = now()`,
    [modelId, t.championVersion, t.candidateVersion, t.candidateWeight],
  );
}

export async function getTraffic(q: Queryable, modelId: string): Promise<TrafficRow | null> {
  const { rows } = await q.query<{
    champion_version: number;
    candidate_version: number | null;
    candidate_weight: number;
  }>(
    'SELECT champion_version, candidate_version, candidate_weight FROM traffic_weights WHERE model_id = $1',
    [modelId],
  );
  const r = rows[0];
  return r
    ? {
        championVersion: r.champion_version,
        candidateVersion: r.candidate_version,
        candidateWeight: r.candidate_weight,
      }
    : null;
}

export async function insertPredictions(
  q: Queryable,
  modelId: string,
  batchKey: string,
  preds: readonly {
    recordKey: string;
    version: number;
    predicted: string;
    confidence: number;
    latencyUs: number;
  }[],
): Promise<number> {
  if (preds.length === 0) return 0;
  const res = await q.query(
    `INSERT INTO predictions (model_id, record_key, batch_key, version, predicted, confidence, latency_us)
     SELECT $1, k, $2, v, p, c, l FROM unnest($3::text[], $4::int[], $5::text[], $6::float8[], $7::int[]) AS u(k, v, p, c, l)
     ON CONFLICT (model_id, batch_key, record_key) DO NOTHING`,
    [
      modelId,
      batchKey,
      preds.map((p) => p.recordKey),
      preds.map((p) => p.version),
      preds.map((p) => p.predicted),
      preds.map((p) => p.confidence),
      preds.map((p) => p.latencyUs),
    ],
  );
  return res.rowCount ?? 0;
}

export async function audit(
  q: Queryable,
  e: {
    key: string;
    cycleId?: string | null;
    modelId?: string | null;
    actor: string;
    action: string;
    details?: unknown;
  },
): Promise<void> {
  await q.query(
    `INSERT INTO audit_events (idempotency_key, cycle_id, model_id, actor, action, details) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [e.key, e.cycleId ?? null, e.modelId ?? null, e.actor, e.action, JSON.stringify(e.details ?? {})],
  );
}

export interface DatasetRowInput {
  recordKey: string;
  ts: Date | string;
  features: Features;
  label: string | null;
  labelSource: 'feedback' | 'human' | 'auto' | 'reference' | null;
  split: 'train' | 'holdout';
}

/**
 * Writes a dataset version and its rows once per idempotency key; a repeat returns the first version.
 * Runs inside the caller's transaction so a version never exists without its rows.
 */
export async function insertDatasetVersion(
  q: Queryable,
  d: {
    modelId: string;
    idempotencyKey: string;
    parentId: number | null;
    kind: 'reference' | 'collected' | 'labeled';
    cycleId: string | null;
    windowStart: string | null;
    windowEnd: string | null;
    samplingPlan: unknown;
    contentHash: string;
    rows: readonly DatasetRowInput[];
  },
): Promise<{ datasetId: number; created: boolean }> {
  const labeled = d.rows.filter((r) => r.label !== null).length;
  const ins = await q.query<{ dataset_id: string }>(
    `INSERT INTO dataset_versions (model_id, idempotency_key, parent_id, kind, cycle_id, window_start, window_end,
       sampling_plan, content_hash, row_count, labeled_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING dataset_id`,
    [
      d.modelId,
      d.idempotencyKey,
      d.parentId,
      d.kind,
      d.cycleId,
      d.windowStart,
      d.windowEnd,
      JSON.stringify(d.samplingPlan),
      d.contentHash,
      d.rows.length,
      labeled,
    ],
  );
  if (!ins.rows[0]) {
    const existing = await q.query<{ dataset_id: string }>(
      'SELECT dataset_id FROM dataset_versions WHERE idempotency_key = $1',
      [d.idempotencyKey],
    );
    return { datasetId: Number(existing.rows[0]!.dataset_id), created: false };
  }
  const datasetId = Number(ins.rows[0].dataset_id);
  for (let i = 0; i < d.rows.length; i += 1000) {
    const chunk = d.rows.slice(i, i + 1000);
    await q.query(
      `INSERT INTO dataset_rows (dataset_id, record_key, ts, features, label, label_source, split)
       SELECT $1, k, t, f, l, s, sp FROM unnest($2::text[], $3::timestamptz[], $4::jsonb[], $5::text[], $6::text[], $7::text[])
         AS u(k, t, f, l, s, sp)`,
      [
        datasetId,
        chunk.map((r) => r.recordKey),
        chunk.map((r) => (r.ts instanceof Date ? r.ts.toISOString() : r.ts)),
        chunk.map((r) => JSON.stringify(r.features)),
        chunk.map((r) => r.label),
        chunk.map((r) => r.labelSource),
        chunk.map((r) => r.split),
      ],
    );
  }
  return { datasetId, created: true };
}

export interface DatasetRow {
  recordKey: string;
  ts: Date;
  features: Features;
  label: string | null;
  labelSource: string | null;
  split: 'train' | 'holdout';
}

export async function getDatasetRows(q: Queryable, datasetId: number): Promise<DatasetRow[]> {
  const { rows } = await q.query<{
    record_key: string;
    ts: Date;
    features: Features;
    label: string | null;
    label_source: string | null;
    split: 'train' | 'holdout';
  }>(
    `SELECT record_key, ts, features, label, label_source, split FROM dataset_rows WHERE dataset_id = $1 ORDER BY record_key`,
    [datasetId],
  );
  return rows.map((r) => ({
    recordKey: r.record_key,
    ts: r.ts,
    features: r.features,
    label: r.label,
    labelSource: r.label_source,
    split: r.split,
  }));
}

export async function getDatasetVersion(
  q: Queryable,
  datasetId: number,
): Promise<{
  datasetId: number;
  kind: string;
  contentHash: string;
  rowCount: number;
  labeledCount: number;
  parentId: number | null;
}> {
  const { rows } = await q.query<{
    dataset_id: string;
    kind: string;
    content_hash: string;
    row_count: number;
    labeled_count: number;
    parent_id: string | null;
  }>(
    'SELECT dataset_id, kind, content_hash, row_count, labeled_count, parent_id FROM dataset_versions WHERE dataset_id = $1',
    [datasetId],
  );
  const r = rows[0];
  if (!r) throw new Error(`dataset version ${datasetId} does not exist`);
  return {
    datasetId: Number(r.dataset_id),
    kind: r.kind,
    contentHash: r.content_hash,
    rowCount: r.row_count,
    labeledCount: r.labeled_count,
    parentId: r.parent_id === null ? null : Number(r.parent_id),
  };
}

/** Feedback for one request: the first answer is kept. Null when the request is unknown. */
export async function recordFeedback(
  q: Queryable,
  modelId: string,
  recordKey: string,
  label: string,
): Promise<{ label: string; duplicate: boolean } | null> {
  const updated = await q.query<{ feedback: string }>(
    `UPDATE records SET feedback = $3, feedback_at = now() WHERE model_id = $1 AND record_key = $2 AND feedback IS NULL
     RETURNING feedback`,
    [modelId, recordKey, label],
  );
  if (updated.rows[0]) return { label: updated.rows[0].feedback, duplicate: false };
  const existing = await q.query<{ feedback: string | null }>(
    'SELECT feedback FROM records WHERE model_id = $1 AND record_key = $2',
    [modelId, recordKey],
  );
  const row = existing.rows[0];
  return row ? { label: row.feedback ?? label, duplicate: true } : null;
}

export interface ArmStats {
  served: number;
  n: number;
  correct: number;
  meanConfidence: number | null;
  p95LatencyMs: number | null;
}

/** Per-version serving and feedback statistics for predictions served since `since`. */
export async function armStatsSince(
  q: Queryable,
  modelId: string,
  since: string,
  versions: readonly number[],
): Promise<Map<number, ArmStats>> {
  const { rows } = await q.query<{
    version: number;
    served: string;
    n: string;
    correct: string;
    mean_conf: number | null;
    p95_us: number | null;
  }>(
    `SELECT p.version, COUNT(*) AS served,
            COUNT(*) FILTER (WHERE r.feedback IS NOT NULL) AS n,
            COUNT(*) FILTER (WHERE r.feedback = p.predicted) AS correct,
            AVG(p.confidence) FILTER (WHERE r.feedback IS NOT NULL) AS mean_conf,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY p.latency_us) AS p95_us
     FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
     WHERE p.model_id = $1 AND p.served_at >= $2 AND p.version = ANY($3::int[])
     GROUP BY p.version`,
    [modelId, since, versions],
  );
  return new Map(
    rows.map((r) => [
      r.version,
      {
        served: Number(r.served),
        n: Number(r.n),
        correct: Number(r.correct),
        meanConfidence: r.mean_conf === null ? null : Number(r.mean_conf),
        p95LatencyMs: r.p95_us === null ? null : Number(r.p95_us) / 1000,
      },
    ]),
  );
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

// ---------------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------------

export interface MonitorRow {
  modelId: string;
  mode: 'clock' | 'cursor';
  windowMs: number;
  nextStart: string | null;
}

export async function upsertMonitor(
  q: Queryable,
  m: { modelId: string; mode: 'clock' | 'cursor'; windowMs: number; start: string | null },
): Promise<void> {
  await q.query(
    `INSERT INTO monitors (model_id, mode, window_ms, next_start) VALUES ($1, $2, $3, $4)
     ON CONFLICT (model_id) DO UPDATE SET mode = EXCLUDED.mode, window_ms = EXCLUDED.window_ms,
       next_start = COALESCE(EXCLUDED.next_start, monitors.next_start), updated_at = now()`,
    [m.modelId, m.mode, m.windowMs, m.start],
  );
}

export async function getMonitor(q: Queryable, modelId: string): Promise<MonitorRow | null> {
  const { rows } = await q.query<{
    model_id: string;
    mode: 'clock' | 'cursor';
    window_ms: string;
    next_start: Date | null;
  }>('SELECT model_id, mode, window_ms, next_start FROM monitors WHERE model_id = $1', [modelId]);
  const r = rows[0];
  return r
    ? {
        modelId: r.model_id,
        mode: r.mode,
        windowMs: Number(r.window_ms),
        nextStart: r.next_start?.toISOString() ?? null,
      }
    : null;
}

export async function deleteMonitor(q: Queryable, modelId: string): Promise<void> {
  await q.query('DELETE FROM monitors WHERE model_id = $1', [modelId]);
}

/** Moves a cursor monitor past a checked window (never backwards). */
export async function advanceMonitor(q: Queryable, modelId: string, end: string): Promise<void> {
  await q.query(
    `UPDATE monitors SET next_start = $2, updated_at = now()
     WHERE model_id = $1 AND mode = 'cursor' AND (next_start IS NULL OR next_start < $2)`,
    [modelId, end],
  );
}

export async function firstRecordTs(q: Queryable, modelId: string): Promise<string | null> {
  const { rows } = await q.query<{ ts: Date | null }>(
    'SELECT min(ts) AS ts FROM records WHERE model_id = $1',
    [modelId],
  );
  return rows[0]?.ts?.toISOString() ?? null;
}

export async function lastRecordTs(q: Queryable, modelId: string): Promise<string | null> {
  const { rows } = await q.query<{ ts: Date | null }>(
    'SELECT max(ts) AS ts FROM records WHERE model_id = $1',
    [modelId],
  );
  return rows[0]?.ts?.toISOString() ?? null;
}

export interface DriftCheckRow {
  checkId: number;
  window: { start: string; end: string };
  referenceVersion: number;
  route: Diagnosis['route'];
  severity: Diagnosis['severity'];
  signals: Diagnosis['signals'];
  reason: string;
  streak: number;
  persistent: boolean;
  runWindow: { start: string; end: string };
  driftedShare: number;
  labeledRows: number;
  currentAccuracy: number | null;
  cycleId: string | null;
}

export async function insertDriftCheck(
  q: Queryable,
  c: {
    checkKey: string;
    modelId: string;
    referenceVersion: number;
    window: { start: string; end: string };
    report: DriftReport;
    diagnosis: Diagnosis;
    actionable: boolean;
    persistence: number;
  },
): Promise<void> {
  // Serialise checks of one model so two concurrent checks cannot both read the same previous streak.
  await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`drift-check:${c.modelId}`]);
  const { rows } = await q.query<{ actionable: boolean; streak: number }>(
    `SELECT actionable, streak FROM drift_checks
     WHERE model_id = $1 AND reference_version = $2 AND window_end < $3
     ORDER BY window_end DESC, check_id DESC LIMIT 1`,
    [c.modelId, c.referenceVersion, c.window.end],
  );
  const prev = rows[0];
  const streak = c.actionable ? (prev?.actionable ? prev.streak + 1 : 1) : 0;
  await q.query(
    `INSERT INTO drift_checks (check_key, model_id, reference_version, window_start, window_end, report, diagnosis,
       route, actionable, streak, persistent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (check_key) DO NOTHING`,
    [
      c.checkKey,
      c.modelId,
      c.referenceVersion,
      c.window.start,
      c.window.end,
      JSON.stringify(c.report),
      JSON.stringify(c.diagnosis),
      c.diagnosis.route,
      c.actionable,
      streak,
      streak >= c.persistence,
    ],
  );
}

/** The ways drift checks are selected: constant WHERE clauses on `c`, values always as parameters. */
const DRIFT_CHECK_FILTERS = {
  byKey: 'c.check_key = $1',
  latest: 'c.model_id = $1 ORDER BY c.window_end DESC, c.check_id DESC LIMIT $2',
} as const;

/** Checks with the start of the persistent run each ends. */
async function selectDriftChecks(
  q: Queryable,
  filter: keyof typeof DRIFT_CHECK_FILTERS,
  params: unknown[],
): Promise<(DriftCheckRow & { checkKey: string })[]> {
  const { rows } = await q.query<{
    check_id: string;
    check_key: string;
    reference_version: number;
    window_start: Date;
    window_end: Date;
    diagnosis: Diagnosis;
    report: DriftReport;
    route: Diagnosis['route'];
    streak: number;
    persistent: boolean;
    cycle_id: string | null;
    run_start: Date;
  }>(
    `SELECT c.*, (SELECT min(p.window_start) FROM (
         SELECT window_start FROM drift_checks p
         WHERE p.model_id = c.model_id AND p.reference_version = c.reference_version AND p.window_end <= c.window_end
         ORDER BY p.window_end DESC, p.check_id DESC LIMIT greatest(c.streak, 1)) p) AS run_start
     FROM drift_checks c WHERE ${DRIFT_CHECK_FILTERS[filter]}`,
    params,
  );
  return rows.map((r) => ({
    checkKey: r.check_key,
    checkId: Number(r.check_id),
    window: { start: r.window_start.toISOString(), end: r.window_end.toISOString() },
    referenceVersion: r.reference_version,
    route: r.route,
    severity: r.diagnosis.severity,
    signals: r.diagnosis.signals,
    reason: r.diagnosis.reason,
    streak: r.streak,
    persistent: r.persistent,
    runWindow: { start: r.run_start.toISOString(), end: r.window_end.toISOString() },
    driftedShare: r.report.driftedShare,
    labeledRows: r.report.performance.labeledRows,
    currentAccuracy: r.report.performance.currentAccuracy,
    cycleId: r.cycle_id,
  }));
}

export async function getDriftCheck(q: Queryable, checkKey: string): Promise<DriftCheckRow | null> {
  const [row] = await selectDriftChecks(q, 'byKey', [checkKey]);
  if (!row) return null;
  const { checkKey: _key, ...check } = row;
  return check;
}

export function listDriftChecks(
  q: Queryable,
  modelId: string,
  limit = 50,
): Promise<(DriftCheckRow & { checkKey: string })[]> {
  return selectDriftChecks(q, 'latest', [modelId, limit]);
}

/**
 * Starts a cycle for a trigger or attaches the trigger to the model's open cycle. Cycle IDs are
 * remediation-<model>-<n>, n one past the model's highest; the one-open-cycle-per-model index decides
 * races. A retried call with the same trigger key returns what the first one decided.
 */
export async function reserveCycle(
  pool: pg.Pool,
  t: { triggerKey: string; modelId: string; kind: string; evidence: Record<string, unknown> },
): Promise<{ cycleId: string; started: boolean }> {
  return withTransaction(pool, async (client) => {
    const seen = await client.query<{ cycle_id: string; started: boolean }>(
      'SELECT cycle_id, started FROM cycle_triggers WHERE trigger_key = $1',
      [t.triggerKey],
    );
    if (seen.rows[0]) return { cycleId: seen.rows[0].cycle_id, started: seen.rows[0].started };
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cycle-reservation:${t.modelId}`]);
    const prefix = `remediation-${t.modelId}-`;
    const inserted = await client.query<{ cycle_id: string }>(
      `INSERT INTO cycles (cycle_id, model_id, stage, summary)
       SELECT $2 || (COALESCE(max(substring(cycle_id FROM length($2) + 1)::int), 0) + 1), $1, 'pending', $3
       FROM cycles WHERE model_id = $1 AND starts_with(cycle_id, $2) AND substring(cycle_id FROM length($2) + 1) ~ '^[0-9]{1,9}$'
       ON CONFLICT DO NOTHING RETURNING cycle_id`,
      [t.modelId, prefix, JSON.stringify({ trigger: { kind: t.kind, key: t.triggerKey } })],
    );
    let cycleId = inserted.rows[0]?.cycle_id;
    const started = cycleId !== undefined;
    if (!cycleId) {
      const open = await client.query<{ cycle_id: string }>(
        'SELECT cycle_id FROM cycles WHERE model_id = $1 AND closed_at IS NULL',
        [t.modelId],
      );
      cycleId = open.rows[0]?.cycle_id;
      if (!cycleId)
        throw new Error(`could not reserve a cycle for ${t.modelId}: no open cycle and no free ID`);
    }
    await client.query(
      `INSERT INTO cycle_triggers (trigger_key, model_id, cycle_id, kind, started, evidence)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (trigger_key) DO NOTHING`,
      [t.triggerKey, t.modelId, cycleId, t.kind, started, JSON.stringify(t.evidence)],
    );
    return { cycleId, started };
  });
}

export async function cycleTriggers(
  q: Queryable,
  cycleId: string,
): Promise<{ triggerKey: string; kind: string; started: boolean; evidence: Record<string, unknown> }[]> {
  const { rows } = await q.query<{
    trigger_key: string;
    kind: string;
    started: boolean;
    evidence: Record<string, unknown>;
  }>(
    'SELECT trigger_key, kind, started, evidence FROM cycle_triggers WHERE cycle_id = $1 ORDER BY trigger_id',
    [cycleId],
  );
  return rows.map((r) => ({
    triggerKey: r.trigger_key,
    kind: r.kind,
    started: r.started,
    evidence: r.evidence,
  }));
}

// ---------------------------------------------------------------------------------------------------
// Failure catalog
// ---------------------------------------------------------------------------------------------------

export interface FailureCaseInput {
  recordKey: string;
  version: number;
  features: Features;
  predicted: string;
  confidence: number;
  occurredAt: Date | string;
  flagged: FlaggedCase;
}

/** Stores flagged cases (one per request and kind) and registers their patterns; returns how many were new. */
export async function insertFailureCases(
  q: Queryable,
  modelId: string,
  cases: readonly FailureCaseInput[],
): Promise<number> {
  if (cases.length === 0) return 0;
  const res = await q.query(
    `INSERT INTO failure_cases (model_id, record_key, kind, taxonomy, severity, pattern_key, version, features, predicted,
       confidence, truth, detail, occurred_at)
     SELECT $1, k, kind, tax, sev, pat, v, f::jsonb, p, c, t, d::jsonb, o
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[],
                 $10::float8[], $11::text[], $12::text[], $13::timestamptz[])
       AS u(k, kind, tax, sev, pat, v, f, p, c, t, d, o)
     ON CONFLICT (model_id, record_key, kind) DO NOTHING`,
    [
      modelId,
      cases.map((c) => c.recordKey),
      cases.map((c) => c.flagged.kind),
      cases.map((c) => c.flagged.taxonomy),
      cases.map((c) => c.flagged.severity),
      cases.map((c) => c.flagged.patternKey),
      cases.map((c) => c.version),
      cases.map((c) => JSON.stringify(c.features)),
      cases.map((c) => c.predicted),
      cases.map((c) => c.confidence),
      cases.map((c) => c.flagged.truth),
      cases.map((c) => JSON.stringify(c.flagged.detail)),
      cases.map((c) => (c.occurredAt instanceof Date ? c.occurredAt.toISOString() : c.occurredAt)),
    ],
  );
  const patterns = new Map(cases.map((c) => [c.flagged.patternKey, c.flagged]));
  await q.query(
    `INSERT INTO failure_patterns (model_id, pattern_key, taxonomy, description)
     SELECT $1, k, t, d FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, t, d)
     ON CONFLICT (model_id, pattern_key) DO NOTHING`,
    [
      modelId,
      [...patterns.keys()],
      [...patterns.values()].map((p) => p.taxonomy),
      [...patterns.values()].map((p) => p.description),
    ],
  );
  return res.rowCount ?? 0;
}

/** The latest prediction logged for a request, with the request's features and time. */
export async function servedRequest(
  q: Queryable,
  modelId: string,
  recordKey: string,
): Promise<{ version: number; predicted: string; confidence: number; features: Features; ts: Date } | null> {
  const { rows } = await q.query<{
    version: number;
    predicted: string;
    confidence: number;
    features: Features;
    ts: Date;
  }>(
    `SELECT p.version, p.predicted, p.confidence, r.features, r.ts
     FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
     WHERE p.model_id = $1 AND p.record_key = $2 ORDER BY p.prediction_id DESC LIMIT 1`,
    [modelId, recordKey],
  );
  return rows[0] ?? null;
}

export interface PatternRow {
  patternKey: string;
  taxonomy: string;
  description: string;
  status: string;
  lastCycleId: string | null;
  cases: number;
  labeled: number;
  /** Cases per period, oldest first (the trend). */
  trend: { period: string; cases: number }[];
  firstSeen: string;
  lastSeen: string;
}

/** Patterns with their case counts and a trend in `bucket` periods (by the requests' times). */
export async function failurePatterns(
  q: Queryable,
  modelId: string,
  opts: { since?: string; bucket?: 'week' | 'month'; limit?: number } = {},
): Promise<PatternRow[]> {
  const { rows } = await q.query<{
    pattern_key: string;
    taxonomy: string;
    description: string;
    status: string;
    last_cycle_id: string | null;
    cases: string;
    labeled: string;
    first_seen: Date;
    last_seen: Date;
    trend: { period: string; cases: number }[];
  }>(
    `SELECT fp.pattern_key, fp.taxonomy, fp.description, fp.status, fp.last_cycle_id,
            count(*) AS cases, count(fc.truth) AS labeled, min(fc.occurred_at) AS first_seen, max(fc.occurred_at) AS last_seen,
            (SELECT json_agg(json_build_object('period', to_char(b.period, 'YYYY-MM-DD'), 'cases', b.n) ORDER BY b.period)
               FROM (SELECT date_trunc($3, c.occurred_at) AS period, count(*)::int AS n FROM failure_cases c
                     WHERE c.model_id = fp.model_id AND c.pattern_key = fp.pattern_key AND ($2::timestamptz IS NULL OR c.occurred_at >= $2)
                     GROUP BY 1) b) AS trend
     FROM failure_patterns fp JOIN failure_cases fc ON fc.model_id = fp.model_id AND fc.pattern_key = fp.pattern_key
     WHERE fp.model_id = $1 AND ($2::timestamptz IS NULL OR fc.occurred_at >= $2)
     GROUP BY fp.model_id, fp.pattern_key ORDER BY count(*) DESC, fp.pattern_key LIMIT $4`,
    [modelId, opts.since ?? null, opts.bucket ?? 'month', opts.limit ?? 50],
  );
  return rows.map((r) => ({
    patternKey: r.pattern_key,
    taxonomy: r.taxonomy,
    description: r.description,
    status: r.status,
    lastCycleId: r.last_cycle_id,
    cases: Number(r.cases),
    labeled: Number(r.labeled),
    trend: r.trend ?? [],
    firstSeen: r.first_seen.toISOString(),
    lastSeen: r.last_seen.toISOString(),
  }));
}

export interface CaseRow {
  caseId: number;
  recordKey: string;
  kind: string;
  taxonomy: string;
  severity: string;
  patternKey: string;
  version: number;
  predicted: string;
  confidence: number;
  truth: string | null;
  occurredAt: string;
  features: Features;
}

export async function failureCases(
  q: Queryable,
  modelId: string,
  opts: { pattern?: string; kind?: string; limit?: number } = {},
): Promise<CaseRow[]> {
  const { rows } = await q.query<{
    case_id: string;
    record_key: string;
    kind: string;
    taxonomy: string;
    severity: string;
    pattern_key: string;
    version: number;
    predicted: string;
    confidence: number;
    truth: string | null;
    occurred_at: Date;
    features: Features;
  }>(
    `SELECT * FROM failure_cases WHERE model_id = $1 AND ($2::text IS NULL OR pattern_key = $2) AND ($3::text IS NULL OR kind = $3)
     ORDER BY occurred_at DESC, case_id DESC LIMIT $4`,
    [modelId, opts.pattern ?? null, opts.kind ?? null, opts.limit ?? 50],
  );
  return rows.map((r) => ({
    caseId: Number(r.case_id),
    recordKey: r.record_key,
    kind: r.kind,
    taxonomy: r.taxonomy,
    severity: r.severity,
    patternKey: r.pattern_key,
    version: r.version,
    predicted: r.predicted,
    confidence: r.confidence,
    truth: r.truth,
    occurredAt: r.occurred_at.toISOString(),
    features: r.features,
  }));
}
