/**
 * The volume regression dataset: vega-datasets 3.2.1 flights-3m.parquet, 3,000,000 US flights of
 * 2001-01-01 .. 2001-06-30 (time, delay in minutes, distance, origin, destination), a model predicting a
 * flight's delay. The monthly mean delay moves (Jan 6.3, Feb 9.0, Mar 7.4, Apr 5.3, May 3.3, Jun 9.0 min)
 * around a noise far larger than it (mean |delay| 15–19 min): a shift from the stream's first month, but
 * one no model removes much of.
 *
 * Features: distance; the departure's hour (mean delay −4 min at 5 h to +34 min at 23 h) and weekday, as
 * numbers (a tree splits them where it pays); origin and destination as the 20 busiest airports of January
 * (about half of the flights) by name and every other one as "other". The file has 229 origins: one-hot
 * they would make 457 of the forest's columns (its sqrt rule would try 21 of them per split, mostly
 * airports seen a handful of times in a sample), and the Jensen–Shannon drift test over 229 categories of
 * a weekly sample would mostly measure which small airports the sample hit.
 *
 * Volume: every stream row is served and logged through the real system, so the stream is a seeded
 * uniform sample of each window's flights (`STREAM_ROWS_PER_WINDOW`, of about 115,000 a week), not all of
 * them. The champion trains on a uniform sample of January (`REFERENCE_ROWS`, a quarter of it its
 * holdout). Windows are 7 days from 2001-02-01, 21 of them (to 2001-06-27; the last 3 days are left out):
 * a week holds every weekday once, so the weekday mix does not drift from window to window as with a
 * 10- or 14-day split of a month, and a month's level shows in 4 windows, so a persistence of 3 can act
 * within the month (two-weekly windows would need 6 weeks, longer than some months' level lasts). The
 * quick run is the first 9 weeks (February and March: the rise and the first fall).
 *
 * Feedback: a flight's delay is known when it lands, but the benchmark keeps people in the loop as for
 * the others: feedback arrives for a deterministic third of the stream (dev/weather.ts's hasFeedback),
 * about 1,000 of a window's 3,000 rows; people label from the rest.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type pg from 'pg';
import { ModelDefinition } from '../core/schemas.js';
import { hasFeedback } from '../dev/weather.js';
import { readTable } from '../drift/tables.js';
import { registerRegressionModel } from '../ops/register-regression.js';
import type { Dataset, StreamRow } from './efficacy-data.js';
import { busiest, flightFeatures, lowerBound, sampleIndices } from './flights-sample.js';

/** Flights of January the champion trains on (a uniform sample of its 508,239). */
export const REFERENCE_ROWS = 4000;
/** Flights served and logged per weekly window (a uniform sample of its ~115,000). */
export const STREAM_ROWS_PER_WINDOW = 3000;
/** Airports named in the features (the busiest of January by departures and arrivals). */
export const NAMED_AIRPORTS = 20;
const WINDOWS = { quick: 9, full: 21 };
const SEED = 2001;
const START = '2001-02-01T00:00:00.000Z';
const DAY = 86_400_000;
// vega-datasets 3 exports only its JS entry (build/index.js): the data folder sits beside build/.
const FLIGHTS_FILE = path.join(
  path.dirname(createRequire(import.meta.url).resolve('vega-datasets-v3')),
  '..',
  'data',
  'flights-3m.parquet',
);

/**
 * The cycle settings sized for a week of 3,000 flights, a third with feedback: a window's MAE is judged
 * on at least 200 labeled flights (on 200 rows the MAE of a delay this noisy has a standard error of about
 * 2 minutes, a tenth of it; the shared 15 would judge on noise), people asked for up to 50 more, and the
 * gates' holdout at least 60 rows.
 */
export const FLIGHTS_POLICY: Record<string, unknown> = {
  drift: { minLabeledRows: 200 },
  labeling: { budget: 50, minLabels: 25 },
  evaluation: { minHoldout: 60 },
};

export function flightsModel(modelId: string, policy: Record<string, unknown> = {}): ModelDefinition {
  return ModelDefinition.parse({
    modelId,
    task: 'regression',
    // A day early or late either way: the file's extremes (−1,116 and +1,688 minutes) are real rows.
    target: { min: -1440, max: 1440 },
    features: { numeric: ['distance', 'hour', 'weekday'], categorical: ['origin', 'destination'] },
    policy,
  });
}

interface Flights {
  date: Float64Array;
  delay: Float64Array;
  distance: Float64Array;
  origin: (string | null)[];
  destination: (string | null)[];
}

async function loadFlights(): Promise<Flights> {
  const t = await readTable(FLIGHTS_FILE, { timestamps: true });
  const col = (name: string) => {
    const c = t.columns.get(name);
    if (!c) throw new Error(`${t.file} has no column "${name}"`);
    return c;
  };
  const date = col('date');
  const delay = col('delay');
  const distance = col('distance');
  const origin = col('origin');
  const destination = col('destination');
  if (
    date.source !== 'timestamp' ||
    !date.values ||
    delay.source !== 'number' ||
    distance.source !== 'number' ||
    origin.source !== 'string' ||
    destination.source !== 'string'
  )
    throw new Error(
      `${t.file}: expected date (timestamp), delay and distance (numbers), origin and destination (text)`,
    );
  return {
    date: date.values,
    delay: delay.values,
    distance: distance.values,
    origin: origin.values,
    destination: destination.values,
  };
}

function rowsAt(f: Flights, indices: number[], named: ReadonlySet<string>): Dataset['reference'] {
  return indices.map((i) => ({
    recordKey: `flight-${i}`,
    ts: new Date(f.date[i]!).toISOString(),
    features: flightFeatures(
      {
        date: f.date[i]!,
        distance: f.distance[i]!,
        origin: f.origin[i] ?? '',
        destination: f.destination[i] ?? '',
      },
      named,
    ),
    label: String(f.delay[i]!),
  }));
}

export async function flightsDataset(quick: boolean): Promise<Dataset> {
  const f = await loadFlights();
  const start = Date.parse(START);
  const january = lowerBound(f.date, start);
  const origins = f.origin.slice(0, january).map((v) => v ?? '');
  const destinations = f.destination.slice(0, january).map((v) => v ?? '');
  const named = busiest([...origins, ...destinations], NAMED_AIRPORTS);
  const reference = rowsAt(f, sampleIndices(0, january, REFERENCE_ROWS, SEED), named);
  const windows = quick ? WINDOWS.quick : WINDOWS.full;
  const stream: StreamRow[] = [];
  for (let w = 0; w < windows; w++) {
    const from = lowerBound(f.date, start + w * 7 * DAY);
    const to = lowerBound(f.date, start + (w + 1) * 7 * DAY);
    // One seed per window: the quick run's windows are the full run's first ones, row for row.
    for (const r of rowsAt(f, sampleIndices(from, to, STREAM_ROWS_PER_WINDOW, SEED + 1 + w), named))
      stream.push({ ...r, feedback: hasFeedback(r.recordKey) });
  }
  return {
    name: 'flights',
    task: 'regression',
    unit: { short: 'min', long: 'minutes of delay' },
    description: `vega-datasets 3.2.1 flights-3m.parquet, delay minutes: a uniform sample of ${REFERENCE_ROWS.toLocaleString('en-US')} January 2001 flights as reference; the stream a seeded uniform sample of ${STREAM_ROWS_PER_WINDOW.toLocaleString('en-US')} flights per week from 2001-02-01 (of about 115,000), not every flight; the ${NAMED_AIRPORTS} busiest airports by name, the others "other"; feedback for a third of the rows`,
    reference,
    stream,
    start: START,
    windowDays: 7,
    windows,
    // The monthly level moves from the stream's first month on (January 6.3 → February 9.0 min).
    shiftOnset: START,
    policy: FLIGHTS_POLICY,
    model: (modelId, policy) => flightsModel(modelId, policy),
    register: async (pool: pg.Pool, def, ref) => {
      const r = await registerRegressionModel(pool, def, ref);
      return { holdoutMae: r.holdoutErrors?.mae ?? null };
    },
  };
}
