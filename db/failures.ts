/**
 * The failure catalog: flagged cases and the patterns they group into.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import type { FlaggedCase, Verdict } from '../core/catalog.js';
import type { Features } from '../core/schemas.js';
import { type Queryable } from './pool.js';

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

/** Labeled failures flagged since the model's last cycle closed: how many, and when the latest occurred. */
export async function labeledFailuresSinceLastCycle(
  q: Queryable,
  modelId: string,
): Promise<{ n: string; last: Date | null }[]> {
  const { rows } = await q.query<{ n: string; last: Date | null }>(
    `SELECT count(*) AS n, max(occurred_at) AS last FROM failure_cases
     WHERE model_id = $1 AND truth IS NOT NULL
       AND flagged_at > COALESCE((SELECT max(closed_at) FROM cycles WHERE model_id = $1), '-infinity')`,
    [modelId],
  );
  return rows;
}

/** Labeled failure cases per pattern in a window, most frequent first. */
export async function labeledPatternCounts(
  q: Queryable,
  modelId: string,
  start: Date | string,
  end: Date | string,
): Promise<{ pattern_key: string; cases: string }[]> {
  const { rows } = await q.query<{ pattern_key: string; cases: string }>(
    `SELECT pattern_key, count(*) AS cases FROM failure_cases
     WHERE model_id = $1 AND truth IS NOT NULL AND occurred_at >= $2 AND occurred_at < $3
     GROUP BY pattern_key ORDER BY count(*) DESC, pattern_key`,
    [modelId, start, end],
  );
  return rows;
}

/** The window's `limit` most frequent labeled model-error patterns. */
export async function topModelErrorPatterns(
  q: Queryable,
  modelId: string,
  start: string,
  end: string,
  limit: number,
): Promise<{ pattern_key: string; cases: string }[]> {
  const { rows } = await q.query<{ pattern_key: string; cases: string }>(
    `SELECT pattern_key, count(*) AS cases FROM failure_cases
     WHERE model_id = $1 AND taxonomy = 'model-error' AND truth IS NOT NULL AND occurred_at >= $2 AND occurred_at < $3
     GROUP BY pattern_key ORDER BY count(*) DESC, pattern_key LIMIT $4`,
    [modelId, start, end, limit],
  );
  return rows;
}

/** A pattern a cycle sets out to fix, with the champion's errors in its slice before (kept once). */
export async function insertCycleTarget(
  q: Queryable,
  t: { cycleId: string; modelId: string; patternKey: string; cases: number; rows: number; errors: number },
): Promise<void> {
  await q.query(
    `INSERT INTO cycle_targets (cycle_id, model_id, pattern_key, cases, before_rows, before_errors)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cycle_id, pattern_key) DO NOTHING`,
    [t.cycleId, t.modelId, t.patternKey, t.cases, t.rows, t.errors],
  );
}

/** Marks the cycle that last took a pattern on. */
export async function setPatternCycle(
  q: Queryable,
  modelId: string,
  patternKey: string,
  cycleId: string,
): Promise<void> {
  await q.query(
    'UPDATE failure_patterns SET last_cycle_id = $3, updated_at = now() WHERE model_id = $1 AND pattern_key = $2',
    [modelId, patternKey, cycleId],
  );
}

/** The candidate's errors in a targeted slice after it served, and the verdict. */
export async function setCycleTargetAfter(
  q: Queryable,
  t: { cycleId: string; patternKey: string; version: number; rows: number; errors: number; verdict: string },
): Promise<void> {
  await q.query(
    `UPDATE cycle_targets SET after_version = $3, after_rows = $4, after_errors = $5, verdict = $6, measured_at = now()
     WHERE cycle_id = $1 AND pattern_key = $2`,
    [t.cycleId, t.patternKey, t.version, t.rows, t.errors, t.verdict],
  );
}

/** A pattern's status after a cycle measured it. */
export async function setPatternVerdict(
  q: Queryable,
  modelId: string,
  patternKey: string,
  status: string,
  cycleId: string,
): Promise<void> {
  await q.query(
    `UPDATE failure_patterns SET status = $3, last_cycle_id = $4, updated_at = now() WHERE model_id = $1 AND pattern_key = $2`,
    [modelId, patternKey, status, cycleId],
  );
}

export interface CycleTargetRow {
  pattern_key: string;
  cases: number;
  before_rows: number;
  before_errors: number;
  after_version: number | null;
  after_rows: number | null;
  after_errors: number | null;
  verdict: Verdict | null;
}

/** A cycle's targeted patterns, most cases first. */
export async function cycleTargets(q: Queryable, cycleId: string): Promise<CycleTargetRow[]> {
  const { rows } = await q.query<CycleTargetRow>(
    'SELECT * FROM cycle_targets WHERE cycle_id = $1 ORDER BY cases DESC, pattern_key',
    [cycleId],
  );
  return rows;
}

/** Unlabeled flagged cases among `recordKeys`, with their highest severity as a rank (0 = high). */
export async function unlabeledFlagRanks(
  q: Queryable,
  modelId: string,
  recordKeys: readonly string[],
): Promise<{ record_key: string; rank: number }[]> {
  const { rows } = await q.query<{ record_key: string; rank: number }>(
    `SELECT record_key, min(CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END) AS rank
     FROM failure_cases WHERE model_id = $1 AND truth IS NULL AND record_key = ANY($2::text[])
     GROUP BY record_key`,
    [modelId, recordKeys],
  );
  return rows;
}

/**
 * The limit a regressor's large-error pattern was flagged by (its latest case's `detail.limit`), so the
 * remedy is traced against the same limit; null when no case of the pattern has one.
 */
export async function patternErrorLimit(
  q: Queryable,
  modelId: string,
  patternKey: string,
): Promise<number | null> {
  const { rows } = await q.query<{ limit: number | null }>(
    `SELECT (detail->>'limit')::float8 AS limit FROM failure_cases
     WHERE model_id = $1 AND pattern_key = $2 AND detail ? 'limit'
     ORDER BY occurred_at DESC, record_key LIMIT 1`,
    [modelId, patternKey],
  );
  return rows[0]?.limit ?? null;
}
