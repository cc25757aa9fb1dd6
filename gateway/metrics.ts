/**
 * Remedy's own metrics in Prometheus' text format, read from Postgres at scrape time (so every gateway
 * replica reports the same truth): cycles by outcome and open cycles by stage, drift checks by route,
 * labeling SLA misses, rollbacks, failure cases by taxonomy. The Temporal SDK's own metrics come from
 * the worker process (REMEDY_METRICS_ADDRESS).
 */
import type pg from 'pg';
import { Gauge, Registry } from 'prom-client';

export function remedyMetrics(pool: pg.Pool): Registry {
  const registry = new Registry();
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    sql: string,
    label: (row: Record<string, string>) => Record<L, string>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const { rows } = await pool.query<Record<string, string>>(sql);
        for (const row of rows) this.set(label(row), Number(row.n));
      },
    });
  gauge(
    'remedy_cycles_closed',
    'Closed remediation cycles by model and outcome.',
    ['model', 'outcome'],
    'SELECT model_id, outcome, count(*) AS n FROM cycles WHERE closed_at IS NOT NULL GROUP BY 1, 2',
    (r) => ({ model: r.model_id!, outcome: r.outcome ?? 'unknown' }),
  );
  gauge(
    'remedy_cycles_open',
    'Open remediation cycles by model and stage.',
    ['model', 'stage'],
    'SELECT model_id, stage, count(*) AS n FROM cycles WHERE closed_at IS NULL GROUP BY 1, 2',
    (r) => ({ model: r.model_id!, stage: r.stage! }),
  );
  gauge(
    'remedy_drift_checks',
    'Drift checks by model and route (none, fine-tune, full-cycle, data-quality).',
    ['model', 'route'],
    'SELECT model_id, route, count(*) AS n FROM drift_checks GROUP BY 1, 2',
    (r) => ({ model: r.model_id!, route: r.route! }),
  );
  gauge(
    'remedy_label_sla_events',
    'Labeling SLA events: reminders sent, escalations, campaigns parked for a decision.',
    ['kind'],
    "SELECT kind, count(*) AS n FROM notifications WHERE kind IN ('reminder', 'escalation', 'parked') GROUP BY 1",
    (r) => ({ kind: r.kind! }),
  );
  gauge(
    'remedy_rollbacks',
    'Cycles whose candidate was rolled back, by model.',
    ['model'],
    "SELECT model_id, count(*) AS n FROM cycles WHERE outcome = 'rolled-back' GROUP BY 1",
    (r) => ({ model: r.model_id! }),
  );
  gauge(
    'remedy_failure_cases',
    'Failure cases in the catalog by model, taxonomy and kind.',
    ['model', 'taxonomy', 'kind'],
    'SELECT model_id, taxonomy, kind, count(*) AS n FROM failure_cases GROUP BY 1, 2, 3',
    (r) => ({ model: r.model_id!, taxonomy: r.taxonomy!, kind: r.kind! }),
  );
  return registry;
}
