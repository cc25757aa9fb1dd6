/**
 * The regression dataset: vega-datasets cars.json (dev/cars.ts), a model predicting miles per gallon
 * from a car's measurements. The champion is trained on the model years 1970–74; the stream is 1975–82
 * in time order, a 365-day window per model year. Fuel-economy standards arrived in 1975 (the shift's
 * onset, at the stream's start): later cars of the same weight and power go further, and a champion of
 * 1970–74 under-predicts them.
 *
 * The file dates the 1981 and 1982 model years both 1982 (58 cars, in file order 1981 first): the stream
 * spreads them evenly over 1981–82, so each of the 8 windows holds 27 to 36 cars.
 *
 * Feedback arrives for a deterministic two thirds of the stream (the rows dev/weather.ts's hasFeedback
 * leaves out of its third): 17 to 24 labeled rows per window, above the dataset's drift.minLabeledRows
 * of 15; people label from the remaining third.
 */
import type pg from 'pg';
import { registerRegressionModel } from '../ops/register-regression.js';
import { carRows, carsModel } from '../dev/cars-scenario.js';
import { hasFeedback } from '../dev/weather.js';
import type { Dataset } from './efficacy-data.js';

const REFERENCE_END = '1975-01-01T00:00:00.000Z';
const MERGED_YEARS = { from: Date.UTC(1981, 0, 1), to: Date.UTC(1983, 0, 1) };

/** Whether a car's ground truth arrives as feedback: two thirds of the stream, the same every run. */
export const carHasFeedback = (recordKey: string): boolean => !hasFeedback(recordKey);

/**
 * The cycle settings sized for a year of about 30 cars: 20 of them labeled by feedback, people asked for
 * up to 10 more, a holdout of a quarter of them. Rollout judges the window's traffic as the others do.
 */
export const CARS_POLICY: Record<string, unknown> = {
  drift: { minLabeledRows: 15 },
  labeling: { budget: 10, minLabels: 5 },
  evaluation: { minHoldout: 6 },
};

export function carsDataset(quick: boolean): Promise<Dataset> {
  void quick; // 8 windows of a few dozen cars: the quick run differs only in the rollout's dwell.
  const rows = carRows();
  const late = rows.filter((r) => r.ts >= '1982');
  const stream = rows
    .filter((r) => r.ts >= REFERENCE_END)
    .map((r) => {
      const k = late.indexOf(r);
      const ts =
        k < 0
          ? r.ts
          : new Date(
              MERGED_YEARS.from + Math.floor((k * (MERGED_YEARS.to - MERGED_YEARS.from)) / late.length),
            ).toISOString();
      return { ...r, ts, feedback: carHasFeedback(r.recordKey) };
    })
    .sort((a, b) => (a.ts === b.ts ? a.recordKey.localeCompare(b.recordKey) : a.ts < b.ts ? -1 : 1));
  return Promise.resolve({
    name: 'cars',
    task: 'regression',
    description:
      'vega-datasets 3.2.1 cars.json, miles per gallon (1970–74 reference; 1975–82 stream, the file’s 1982 rows spread over 1981–82; feedback for two thirds of the rows)',
    reference: rows.filter((r) => r.ts < REFERENCE_END),
    stream,
    start: REFERENCE_END,
    windowDays: 365,
    windows: 8,
    shiftOnset: REFERENCE_END,
    policy: CARS_POLICY,
    model: (modelId, policy) => carsModel(modelId, policy),
    register: async (pool: pg.Pool, def, reference) => {
      const r = await registerRegressionModel(pool, def, reference);
      return { holdoutMae: r.holdoutErrors?.mae ?? null };
    },
  });
}
