/**
 * Every SQL statement Remedy sends, one small function each over an injected queryable (pool or
 * transaction client), grouped by table family. Call sites read `db.getModel(pool, id)`.
 */
export * from './admin.js';
export * from './blobs.js';
export * from './clients.js';
export * from './cycle-guard.js';
export * from './cycles.js';
export * from './datasets.js';
export * from './drift.js';
export * from './effect-counts.js';
export * from './failures.js';
export * from './ingest.js';
export * from './labeling.js';
export * from './metrics.js';
export * from './models.js';
export * from './notifications.js';
export * from './policy-versions.js';
export * from './records.js';
export * from './rollout.js';
export * from './training.js';
