/**
 * The counts Remedy's Prometheus metrics report, read at scrape time. Each row carries its labels'
 * columns and `n`, the count.
 */
import type { Queryable } from './pool.js';

type CountRow = Record<string, string>;

export const closedCyclesByOutcome = (q: Queryable) =>
  q
    .query<CountRow>(
      'SELECT model_id, outcome, count(*) AS n FROM cycles WHERE closed_at IS NOT NULL GROUP BY 1, 2',
    )
    .then((r) => r.rows);

export const openCyclesByStage = (q: Queryable) =>
  q
    .query<CountRow>(
      'SELECT model_id, stage, count(*) AS n FROM cycles WHERE closed_at IS NULL GROUP BY 1, 2',
    )
    .then((r) => r.rows);

export const driftChecksByRoute = (q: Queryable) =>
  q
    .query<CountRow>('SELECT model_id, route, count(*) AS n FROM drift_checks GROUP BY 1, 2')
    .then((r) => r.rows);

export const labelSlaEvents = (q: Queryable) =>
  q
    .query<CountRow>(
      "SELECT kind, count(*) AS n FROM notifications WHERE kind IN ('reminder', 'escalation', 'parked') GROUP BY 1",
    )
    .then((r) => r.rows);

export const rollbacksByModel = (q: Queryable) =>
  q
    .query<CountRow>("SELECT model_id, count(*) AS n FROM cycles WHERE outcome = 'rolled-back' GROUP BY 1")
    .then((r) => r.rows);

export const failureCasesByKind = (q: Queryable) =>
  q
    .query<CountRow>('SELECT model_id, taxonomy, kind, count(*) AS n FROM failure_cases GROUP BY 1, 2, 3')
    .then((r) => r.rows);
