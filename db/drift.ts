/**
 * Drift monitoring: monitors and their cursors, and the drift checks they record.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import type { DriftReport } from '../core/drift.js';
import type { Diagnosis } from '../core/policy.js';
import { type Queryable } from './pool.js';

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
): Promise<(DriftCheckRow & { checkKey: string; suppressed: string | null })[]> {
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
    suppressed: string | null;
  }>(
    `SELECT c.*, (SELECT min(p.window_start) FROM (
         SELECT window_start FROM drift_checks p
         WHERE p.model_id = c.model_id AND p.reference_version = c.reference_version AND p.window_end <= c.window_end
         ORDER BY p.window_end DESC, p.check_id DESC LIMIT greatest(c.streak, 1)) p) AS run_start,
       (SELECT t.suppressed FROM cycle_triggers t WHERE t.trigger_key = c.check_key) AS suppressed
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
    suppressed: r.suppressed,
  }));
}

export async function getDriftCheck(q: Queryable, checkKey: string): Promise<DriftCheckRow | null> {
  const [row] = await selectDriftChecks(q, 'byKey', [checkKey]);
  if (!row) return null;
  const { checkKey: _key, suppressed: _suppressed, ...check } = row;
  return check;
}

export function listDriftChecks(
  q: Queryable,
  modelId: string,
  limit = 50,
): Promise<(DriftCheckRow & { checkKey: string; suppressed: string | null })[]> {
  return selectDriftChecks(q, 'latest', [modelId, limit]);
}

/** A cycle's drift report (one per cycle: a repeat keeps the first). */
export async function insertDriftReport(
  q: Queryable,
  r: {
    modelId: string;
    cycleId: string;
    referenceVersion: number;
    window: { start: string; end: string };
    report: DriftReport;
  },
): Promise<void> {
  await q.query(
    `INSERT INTO drift_reports (model_id, cycle_id, reference_version, window_start, window_end, report)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cycle_id) DO NOTHING`,
    [r.modelId, r.cycleId, r.referenceVersion, r.window.start, r.window.end, JSON.stringify(r.report)],
  );
}

/** The ID of a cycle's drift report. */
export async function driftReportIdOfCycle(q: Queryable, cycleId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ report_id: string }>(
    'SELECT report_id FROM drift_reports WHERE cycle_id = $1',
    [cycleId],
  );
  return rows[0]?.report_id;
}

/** One drift report and the version it was measured against. */
export async function getDriftReport(
  q: Queryable,
  reportId: number,
): Promise<{ report: DriftReport; reference_version: number } | undefined> {
  const { rows } = await q.query<{ report: DriftReport; reference_version: number }>(
    'SELECT report, reference_version FROM drift_reports WHERE report_id = $1',
    [reportId],
  );
  return rows[0];
}

/** Notes the cycle a drift check started or joined. */
export async function linkCheckToCycle(q: Queryable, checkKey: string, cycleId: string): Promise<void> {
  await q.query('UPDATE drift_checks SET cycle_id = $2 WHERE check_key = $1', [checkKey, cycleId]);
}

export interface CycleDriftReportRow {
  report_id: string;
  reference_version: number;
  window_start: Date;
  window_end: Date;
  report: DriftReport;
}

/** A cycle's drift report with its window and reference version. */
export async function cycleDriftReports(q: Queryable, cycleId: string): Promise<CycleDriftReportRow[]> {
  const { rows } = await q.query<CycleDriftReportRow>(
    'SELECT report_id, reference_version, window_start, window_end, report FROM drift_reports WHERE cycle_id = $1',
    [cycleId],
  );
  return rows;
}
