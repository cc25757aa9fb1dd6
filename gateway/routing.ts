/**
 * The serving gateway's core: route each request by the model's current traffic split (sticky per
 * routing key), score it with the chosen version, and log the prediction. The HTTP server and
 * `ingest --serve` both go through here.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { predict, type ModelArtifact, type Prediction } from '../core/model.js';
import { routesToCandidate } from '../core/policy.js';
import type { Features } from '../core/schemas.js';
import type { Queryable } from '../db/pool.js';
import * as db from '../db/queries.js';

export interface ServeRequest {
  /** Unique per request; the key feedback is posted under. */
  recordKey: string;
  /** What routing sticks to (a user, a session); defaults to the record key. */
  routingKey?: string;
  features: Features;
}

export interface Served extends Prediction {
  recordKey: string;
  version: number;
  latencyUs: number;
}

export class NoTrafficSplitError extends Error {
  override name = 'NoTrafficSplitError';
}

/** Versions are immutable, so their artifacts are cached for the life of the process. */
export class ModelCache {
  private readonly artifacts = new Map<string, Promise<ModelArtifact>>();
  constructor(private readonly pool: pg.Pool) {}

  get(modelId: string, version: number): Promise<ModelArtifact> {
    const key = `${modelId}@${version}`;
    let artifact = this.artifacts.get(key);
    if (!artifact) {
      artifact = db.getModelVersion(this.pool, modelId, version).then((v) => v.artifact);
      artifact.catch(() => this.artifacts.delete(key));
      this.artifacts.set(key, artifact);
    }
    return artifact;
  }
}

/**
 * Scores requests under the split read now (one row, so a weight change applies to the next request)
 * and logs them under `batchKey`. Logging is keyed by (model, batch, record): a retry logs nothing twice.
 */
export async function serve(
  q: Queryable,
  cache: ModelCache,
  modelId: string,
  batchKey: string,
  requests: readonly ServeRequest[],
): Promise<Served[]> {
  const traffic = await db.getTraffic(q, modelId);
  if (!traffic)
    throw new NoTrafficSplitError(
      `model "${modelId}" has no traffic split: register it and its champion first`,
    );
  const served: Served[] = [];
  for (const r of requests) {
    const version =
      traffic.candidateVersion !== null &&
      routesToCandidate(r.routingKey ?? r.recordKey, traffic.candidateWeight)
        ? traffic.candidateVersion
        : traffic.championVersion;
    const model = await cache.get(modelId, version);
    const t0 = performance.now();
    const p = predict(model, r.features);
    served.push({
      ...p,
      recordKey: r.recordKey,
      version,
      latencyUs: Math.round((performance.now() - t0) * 1000),
    });
  }
  await db.insertPredictions(
    q,
    modelId,
    batchKey,
    served.map((s) => ({
      recordKey: s.recordKey,
      version: s.version,
      predicted: s.label,
      confidence: s.confidence,
      latencyUs: s.latencyUs,
    })),
  );
  return served;
}

/** Serves records already in the production log (used by `ingest --serve`), counting by version. */
export async function serveRecords(
  pool: pg.Pool,
  modelId: string,
  batchKey: string,
  records: readonly db.RecordRow[],
  cache = new ModelCache(pool),
): Promise<{ served: number; byVersion: Record<string, number> }> {
  const served = await serve(pool, cache, modelId, batchKey, records);
  const byVersion: Record<string, number> = {};
  for (const s of served) byVersion[`v${s.version}`] = (byVersion[`v${s.version}`] ?? 0) + 1;
  return { served: served.length, byVersion };
}
