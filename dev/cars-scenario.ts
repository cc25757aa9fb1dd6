/**
 * The regression scenario end to end on a running stack: a model predicting miles per gallon from a
 * car's measurements (vega-datasets cars.json), its champion trained on 1970–74; production logs 1975–82
 * with ground truth for a third of 1975–80 and for 1981–82. Fuel economy standards arrived in 1975: later
 * cars of the same weight and power go further, and the champion under-predicts them. A cycle runs over
 * 1975–80; the rollout is judged on 1981–82 traffic. The people are played by dev/scenario.ts's script.
 */
import type pg from 'pg';
import { ModelDefinition } from '../core/schemas.js';
import { registerRegressionModel } from '../ops/register-regression.js';
import { ingestRecords } from '../ops/setup.js';
import { CAR_MEASUREMENTS, labeledCars } from './cars.js';
import { SCENARIO, type ScenarioRow, type ScriptedModel } from './scenario.js';
import { hasFeedback } from './weather.js';

export const CARS_SCENARIO = {
  /** The champion's reference: the model years before it. */
  referenceEnd: '1975-01-01T00:00:00.000Z',
  window: { start: '1975-01-01T00:00:00Z', end: '1981-01-01T00:00:00Z' },
} as const;

/**
 * The regression demo's policy: the weather demo's people and rollout. The window holds 184 cars, 62 with
 * feedback: people label 100 more, so the cycle's holdout passes the evaluation's 30 rows.
 */
export const CARS_DEMO_POLICY = {
  labeling: { budget: 100, minLabels: 40, deadline: '24h', reviewers: [SCENARIO.reviewer] },
  rollout: { dwell: '2s', minSamples: 30, requireApproval: true, approvers: [SCENARIO.approver] },
};

export interface PreparedCars extends ScriptedModel {
  rows: ScenarioRow[];
  window: { start: string; end: string };
  champion: { version: number; holdoutMae: number | null; holdoutRows: number };
  log: { added: number; served: number };
}

/**
 * Every car with miles per gallon and horsepower, its model year spread over the year in file order
 * (the file gives only the year), its label the miles per gallon as text.
 */
export function carRows(): ScenarioRow[] {
  const cars = labeledCars();
  const perYear = new Map<number, number>();
  for (const c of cars) perYear.set(c.year, (perYear.get(c.year) ?? 0) + 1);
  const seen = new Map<number, number>();
  const yearMs = 365 * 24 * 3600 * 1000;
  return cars.map((c) => {
    const k = seen.get(c.year) ?? 0;
    seen.set(c.year, k + 1);
    const offset = Math.floor((k * yearMs) / perYear.get(c.year)!);
    const features = Object.fromEntries(
      [...CAR_MEASUREMENTS.numeric, ...CAR_MEASUREMENTS.categorical].map((f) => [f, c.features[f]!]),
    );
    return {
      recordKey: c.recordKey,
      ts: new Date(Date.UTC(c.year, 0, 1) + offset).toISOString(),
      features,
      label: String(c.value),
    };
  });
}

export function carsModel(modelId: string, policy: Record<string, unknown> = {}): ModelDefinition {
  return ModelDefinition.parse({ modelId, task: 'regression', features: CAR_MEASUREMENTS, policy });
}

export async function prepareCarsModel(
  pool: pg.Pool,
  modelId: string,
  policy: Record<string, unknown> = {},
  /** Ground truth for a third of 1975–80 (the rest is for people to label) or for every car. */
  feedback: 'third' | 'all' = 'third',
): Promise<PreparedCars> {
  const rows = carRows();
  const reference = rows.filter((r) => r.ts < CARS_SCENARIO.referenceEnd);
  const registered = await registerRegressionModel(pool, carsModel(modelId, policy), reference);
  const end = CARS_SCENARIO.window.end;
  const production = rows
    .filter((r) => r.ts >= CARS_SCENARIO.referenceEnd)
    .map((r) => ({
      recordKey: r.recordKey,
      ts: r.ts,
      features: r.features,
      feedback: feedback === 'all' || r.ts >= end || hasFeedback(r.recordKey) ? r.label : null,
    }));
  const log = await ingestRecords(pool, modelId, production, end);
  return {
    modelId,
    rows,
    window: { ...CARS_SCENARIO.window },
    champion: {
      version: registered.version,
      holdoutMae: registered.holdoutErrors?.mae ?? null,
      holdoutRows: registered.holdoutRows,
    },
    log,
  };
}
