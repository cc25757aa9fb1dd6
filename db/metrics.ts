/**
 * The counts Remedy's Prometheus metrics report, read at scrape time. Each row carries its labels'
 * columns and `n`, the count.
 */
import type { Queryable } from './pool.js';

type CountRow = Record<string, string>;

async function counts(q: Queryable, sql: string): Promise<CountRow[]> {
  return (await q.query<CountRow>(sql)).rows;
}

export const closedCyclesByOutcome = (q: Queryable) =>
  counts(q, 'SELECT model_id, outcome, count(*) AS n FROM cycles WHERE closed_at IS NOT NULL GROUP BY 1, 2');

export const openCyclesByStage = (q: Queryable) =>
  counts(q, 'SELECT model_id, stage, count(*) AS n FROM cycles WHERE closed_at IS NULL GROUP BY 1, 2');

export const driftChecksByRoute = (q: Queryable) =>
  counts(q, 'SELECT model_id, route, count(*) AS n FROM drift_checks GROUP BY 1, 2');

export const labelSlaEvents = (q: Queryable) =>
  counts(
    q,
    "SELECT kind, count(*) AS n FROM notifications WHERE kind IN ('reminder', 'escalation', 'parked') GROUP BY 1",
  );

export const rollbacksByModel = (q: Queryable) =>
  counts(q, "SELECT model_id, count(*) AS n FROM cycles WHERE outcome = 'rolled-back' GROUP BY 1");

export const failureCasesByKind = (q: Queryable) =>
  counts(q, 'SELECT model_id, taxonomy, kind, count(*) AS n FROM failure_cases GROUP BY 1, 2, 3');
