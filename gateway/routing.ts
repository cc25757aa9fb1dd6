/**
 * The serving gateway's core: route each request by the model's current traffic split (sticky per
 * routing key), score it with the chosen version, and log the prediction. The HTTP server and
 * `ingest --serve` both go through here.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { flagContext, flagOutcome, flagServed, type FlagContext } from '../core/catalog.js';
import { upgradeProfile } from '../core/drift.js';
import { flagLargeError, largeErrorLimit } from '../core/regression-catalog.js';
import { storedInterval, type StoredInterval } from '../core/regression-interval.js';
import type { Prediction } from '../core/model.js';
import { blobsIn, scorerFor, type Scorer } from '../scoring/index.js';
import { routesToCandidate } from '../core/policy.js';
import { isRegression, type Features } from '../core/schemas.js';
import type { Queryable } from '../db/pool.js';
import * as db from '../db/index.js';

export interface ServeRequest {
  /** Unique per request; the key feedback is posted under. */
  recordKey: string;
  /** When the request happened (default now); failure cases are dated by it. */
  ts?: Date | string;
  /** Ground truth already known (replayed traffic): a wrong prediction is flagged at once. */
  feedback?: string | null;
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

/** Versions are immutable, so their artifacts (and what flagging needs) are cached for the life of the process. */
export class ModelCache {
  private readonly scorers = new Map<string, Promise<Scorer>>();
  private readonly contexts = new Map<string, { ctx: Promise<FlagContext>; expires: number }>();
  private readonly intervals = new Map<
    string,
    { interval: Promise<StoredInterval | null>; expires: number }
  >();
  constructor(private readonly pool: pg.Pool) {}

  /**
   * A regressor version's stored prediction interval (null: none stored). Re-read after a minute: a
   * candidate's is calibrated by its evaluation, and again if a later cycle evaluates it again.
   */
  interval(modelId: string, version: number): Promise<StoredInterval | null> {
    const key = `${modelId}@${version}`;
    const cached = this.intervals.get(key);
    if (cached && cached.expires > Date.now()) return cached.interval;
    const entry = {
      // Only the metrics' interval: the artifact, large for a forest, is the scorer's and read once.
      interval: db
        .getVersionMetric(this.pool, modelId, version, 'interval')
        .then((interval) => storedInterval({ interval })),
      expires: Date.now() + 60_000,
    };
    this.intervals.set(key, entry);
    entry.interval.catch(() => {
      if (this.intervals.get(key) === entry) this.intervals.delete(key);
    });
    return entry.interval;
  }

  /** The version's flagging context: its reference profile (if it has one yet) and the model's policy. */
  flagContext(modelId: string, version: number): Promise<FlagContext> {
    const key = `${modelId}@${version}`;
    const cached = this.contexts.get(key);
    if (cached && cached.expires > Date.now()) return cached.ctx;
    const entry = { ctx: this.loadContext(modelId, version), expires: Infinity };
    this.contexts.set(key, entry);
    entry.ctx.then(
      // A candidate gets its profile when promoted: a context without one is re-read after a while.
      (c) => {
        if (Object.keys(c.bounds).length === 0 && Object.keys(c.categories).length === 0)
          entry.expires = Date.now() + 30_000;
      },
      () => this.contexts.delete(key),
    );
    return entry.ctx;
  }

  private async loadContext(modelId: string, version: number): Promise<FlagContext> {
    const def = await db.getModel(this.pool, modelId);
    if (!def) throw new Error(`model ${modelId} is not registered`);
    const stored = await db.getReferenceProfile(this.pool, modelId, version);
    const profile = stored ? upgradeProfile(stored) : null;
    const ctx = flagContext(def.features, profile, def.policy.failures);
    if (!isRegression(def)) return ctx;
    return { ...ctx, regression: { largeErrorLimit: largeErrorLimit(profile, def.policy.failures) } };
  }

  /** The version's scorer (an ONNX version's session is opened once). */
  get(modelId: string, version: number): Promise<Scorer> {
    const key = `${modelId}@${version}`;
    let scorer = this.scorers.get(key);
    if (!scorer) {
      scorer = db
        .getModelVersion(this.pool, modelId, version)
        .then((v) => scorerFor(v.artifact, blobsIn(this.pool)));
      scorer.catch(() => this.scorers.delete(key));
      this.scorers.set(key, scorer);
    }
    return scorer;
  }
}

/** The version a request goes to under `traffic`: sticky per routing key. */
export function chooseVersion(traffic: db.TrafficRow, routingKey: string): number {
  return traffic.candidateVersion !== null && routesToCandidate(routingKey, traffic.candidateWeight)
    ? traffic.candidateVersion
    : traffic.championVersion;
}

/**
 * Scores one request with `version` and finds its failure cases: unsure, out-of-distribution or slow
 * predictions; a wrong one when the truth is known already.
 */
export async function scoreOne(
  cache: ModelCache,
  modelId: string,
  version: number,
  r: ServeRequest,
): Promise<{ served: Served; cases: db.FailureCaseInput[] }> {
  const scorer = await cache.get(modelId, version);
  const t0 = performance.now();
  const [p] = (await scorer.score([r.features])) as [Prediction];
  const latencyUs = Math.round((performance.now() - t0) * 1000);
  const served: Served = { ...p, recordKey: r.recordKey, version, latencyUs };
  const ctx = await cache.flagContext(modelId, version);
  const base = {
    recordKey: r.recordKey,
    version,
    features: r.features,
    predicted: p.label,
    confidence: p.confidence,
    occurredAt: r.ts ?? new Date(),
  };
  const flags = flagServed(ctx, { ...base, latencyMs: latencyUs / 1000 });
  // A regression model's answer is rarely exactly right: only its large errors are cases.
  if (r.feedback) {
    const wrong =
      p.value === undefined
        ? flagOutcome(ctx.sliceBy, { ...base, truth: r.feedback, correction: false })
        : flagLargeError(ctx, { ...base, truth: r.feedback });
    if (wrong) flags.push(wrong);
  }
  return { served, cases: flags.map((flagged) => ({ ...base, flagged })) };
}

/**
 * Scores requests under the split read now (one row, so a weight change applies to the next request)
 * and logs them under `batchKey` before returning. Logging is keyed by (model, batch, record): a retry
 * logs nothing twice. The HTTP gateway scores with `scoreOne` and logs in batches instead (server.ts).
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
  const cases: db.FailureCaseInput[] = [];
  for (const r of requests) {
    const scored = await scoreOne(cache, modelId, chooseVersion(traffic, r.routingKey ?? r.recordKey), r);
    served.push(scored.served);
    cases.push(...scored.cases);
  }
  await db.insertPredictions(q, modelId, batchKey, served.map(predictionRow));
  await db.insertFailureCases(q, modelId, cases);
  return served;
}

/** A served prediction as the prediction log stores it. */
export const predictionRow = (s: Served) => ({
  recordKey: s.recordKey,
  version: s.version,
  predicted: s.label,
  confidence: s.confidence,
  latencyUs: s.latencyUs,
});

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
