/**
 * The embedded serving gateway's core: route each request by the current traffic split (sticky per
 * request key), score it with the chosen version, and log the prediction. Used by the rollout to
 * replay production requests and by `remedy ingest --serve` to log the champion's predictions.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { predict, type ModelArtifact } from '../core/model.js';
import { routesToCandidate } from '../core/policy.js';
import * as db from '../db/queries.js';

export interface ServeResult {
  served: number;
  byVersion: Record<string, number>;
  /** Where the next batch starts: the last request served. */
  cursor: { ts: string; recordKey: string };
}

export async function serveRecords(
  pool: pg.Pool,
  modelId: string,
  batchKey: string,
  records: readonly db.RecordRow[],
): Promise<Omit<ServeResult, 'cursor'>> {
  const traffic = await db.getTraffic(pool, modelId);
  if (!traffic) throw new Error(`model ${modelId} has no traffic split: register a champion first`);
  const artifacts = new Map<number, ModelArtifact>();
  const load = async (version: number) => {
    if (!artifacts.has(version))
      artifacts.set(version, (await db.getModelVersion(pool, modelId, version)).artifact);
    return artifacts.get(version)!;
  };
  const preds = [];
  const byVersion: Record<string, number> = {};
  for (const r of records) {
    const version =
      traffic.candidateVersion !== null && routesToCandidate(r.recordKey, traffic.candidateWeight)
        ? traffic.candidateVersion
        : traffic.championVersion;
    const model = await load(version);
    const t0 = performance.now();
    const p = predict(model, r.features);
    const latencyUs = Math.round((performance.now() - t0) * 1000);
    preds.push({ recordKey: r.recordKey, version, predicted: p.label, confidence: p.confidence, latencyUs });
    byVersion[`v${version}`] = (byVersion[`v${version}`] ?? 0) + 1;
  }
  await db.insertPredictions(pool, modelId, batchKey, preds);
  return { served: records.length, byVersion };
}
