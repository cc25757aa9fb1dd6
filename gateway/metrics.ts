/**
 * Remedy's own metrics in Prometheus' text format, read from Postgres at scrape time (so every gateway
 * replica reports the same truth): cycles by outcome and open cycles by stage, drift checks by route,
 * labeling SLA misses, rollbacks, failure cases by taxonomy. The Temporal SDK's own metrics come from
 * the worker process (REMEDY_METRICS_ADDRESS).
 */
import type pg from 'pg';
import { Gauge, Registry } from 'prom-client';
import * as db from '../db/index.js';

export function remedyMetrics(pool: pg.Pool): Registry {
  const registry = new Registry();
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (q: pg.Pool) => Promise<Record<string, string>[]>,
    label: (row: Record<string, string>) => Record<L, string>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await read(pool)) this.set(label(row), Number(row.n));
      },
    });
  gauge(
    'remedy_cycles_closed',
    'Closed remediation cycles by model and outcome.',
    ['model', 'outcome'],
    db.closedCyclesByOutcome,
    (r) => ({ model: r.model_id!, outcome: r.outcome ?? 'unknown' }),
  );
  gauge(
    'remedy_cycles_open',
    'Open remediation cycles by model and stage.',
    ['model', 'stage'],
    db.openCyclesByStage,
    (r) => ({ model: r.model_id!, stage: r.stage! }),
  );
  gauge(
    'remedy_drift_checks',
    'Drift checks by model and route (none, fine-tune, full-cycle, data-quality).',
    ['model', 'route'],
    db.driftChecksByRoute,
    (r) => ({ model: r.model_id!, route: r.route! }),
  );
  gauge(
    'remedy_label_sla_events',
    'Labeling SLA events: reminders sent, escalations, campaigns parked for a decision.',
    ['kind'],
    db.labelSlaEvents,
    (r) => ({ kind: r.kind! }),
  );
  gauge(
    'remedy_rollbacks',
    'Cycles whose candidate was rolled back, by model.',
    ['model'],
    db.rollbacksByModel,
    (r) => ({ model: r.model_id! }),
  );
  gauge(
    'remedy_failure_cases',
    'Failure cases in the catalog by model, taxonomy and kind.',
    ['model', 'taxonomy', 'kind'],
    db.failureCasesByKind,
    (r) => ({ model: r.model_id!, taxonomy: r.taxonomy!, kind: r.kind! }),
  );
  return registry;
}
