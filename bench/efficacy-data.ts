/**
 * The efficacy benchmark's datasets and policies: a real, time-ordered stream per dataset (its reference
 * period, the production rows in time order with their ground truth, where a shift starts and which
 * period is stable), and the four retraining policies every dataset is replayed under.
 */
import { hasFeedback, loadWeather, weatherModel } from '../dev/weather.js';
import type pg from 'pg';
import type { Features, ModelDefinition } from '../core/schemas.js';
import { carsDataset } from './efficacy-cars.js';
import { employmentDataset } from './efficacy-employment.js';
import { flightsDataset } from './efficacy-flights.js';
import { LABEL_FREE_POLICY } from './efficacy-label-free.js';

export interface StreamRow {
  recordKey: string;
  ts: string;
  features: Features;
  label: string;
  /** Whether the production pipeline delivers this row's ground truth as feedback (delayed labels). */
  feedback: boolean;
}

export interface Dataset {
  name: string;
  description: string;
  /** The champion's training data (labeled), all before the stream. */
  reference: { recordKey: string; ts: string; features: Features; label: string }[];
  /** Production, in time order. */
  stream: StreamRow[];
  /** The first window starts here; windows are `windowDays` long. */
  start: string;
  windowDays: number;
  windows: number;
  /** Where the known shift starts (null: a stable control, every cycle is a false alarm). */
  shiftOnset: string | null;
  /** A model definition for this dataset under a policy (the dataset's shared settings applied). */
  model(modelId: string, policy: Record<string, unknown>): ModelDefinition;
  /** A regression dataset: scored by its error (MAE, lower is better) instead of accuracy. */
  task?: 'regression';
  /** A regression target's unit: short after numbers (e.g. "mpg"), long in a chart's title. Default mpg. */
  unit?: { short: string; long: string };
  /** Policy sections this dataset sizes for its windows, on top of the shared ones (under each policy's). */
  policy?: Record<string, unknown>;
  /**
   * Registers the model and trains its first champion, when not as a classifier is: what the champion
   * measured on the reference's holdout (a regressor's MAE).
   */
  register?(
    pool: pg.Pool,
    def: ModelDefinition,
    reference: Dataset['reference'],
  ): Promise<{ holdoutMae: number | null }>;
}

export const isRegressionDataset = (d: Dataset): boolean => d.task === 'regression';

/** The unit a regression dataset's errors are given in (the cars' miles per gallon unless it says). */
export const unitOf = (d: Dataset): { short: string; long: string } =>
  d.unit ?? { short: 'mpg', long: 'miles per gallon' };

export const POLICY_NAMES = ['never', 'schedule', 'every-alarm', 'remedy-default'] as const;
/**
 * The four policies; `label-free`: the default with no feedback at all (--label-free, classifiers only);
 * `custom`: a policy a run adds to try a change of the defaults (--custom-policy).
 */
export type PolicyName = (typeof POLICY_NAMES)[number] | 'label-free' | 'custom';

export const REVIEWER = 'efficacy-reviewer';

/**
 * What every policy of a dataset shares, so the policies differ only in when cycles start: labeling by
 * the scripted reviewer, gates and rollout sized for monthly windows of about 60 rows with a third of the
 * ground truth (as the README walkthrough's policy), a short rollout dwell so a run ends in minutes.
 */
export function sharedPolicy(quick: boolean): Record<string, unknown> {
  return {
    drift: { minLabeledRows: 15 },
    labeling: { budget: 30, minLabels: 20, deadline: '24h', reviewers: [REVIEWER] },
    evaluation: { maxEce: 0.25, minHoldout: 15, confidence: 0.8 },
    // Each step judged on a fixed sample of 40 answers an arm, sent as the step begins (bench/efficacy-cycle.ts):
    // the decisions do not depend on how much traffic a loaded machine gets through in a dwell. The sample
    // wait is as long as the policy's bound on analyses allows, so a loaded machine still fills each step's
    // sample before the step pauses (a pause is rolled back: no person answers in a replay).
    rollout: {
      dwell: quick ? '1s' : '2s',
      sampleWait: quick ? '2m' : '4m',
      minSamples: 20,
      stepSamples: 40,
      maxCalibrationGap: 0.35,
    },
  };
}

/** Every how many windows the schedule policy starts a cycle, over that many windows of the log. */
export const SCHEDULE_EVERY_WINDOWS = 3;

/** The policy section each policy adds on top of the shared one (deep-merged by section). */
export function policyOverrides(
  name: PolicyName,
  windowDays: number,
  custom: Record<string, unknown> = {},
): Record<string, unknown> {
  switch (name) {
    case 'custom':
      return custom;
    case 'label-free':
      return LABEL_FREE_POLICY;
    case 'never':
    case 'remedy-default':
      return {};
    case 'schedule':
      return { triggers: { scheduleWindow: `${windowDays * SCHEDULE_EVERY_WINDOWS}d` } };
    case 'every-alarm':
      return { drift: { persistence: 1 }, triggers: { cooldown: '0s' } };
  }
}

export function mergePolicy(
  base: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra))
    out[k] = { ...(base[k] as Record<string, unknown> | undefined), ...(v as object) };
  return out;
}

/**
 * Seattle and New York daily weather (vega-datasets 1.31.1): trained on 2012, production from 2013; from
 * April 2013 the source labels many wet days "fog" or "sun" instead of "rain" (a label shift). Feedback
 * arrives for a deterministic third of the rows.
 */
export async function weatherDataset(quick: boolean): Promise<Dataset> {
  const rows = await loadWeather();
  const start = '2013-01-01';
  const stream = rows
    .filter((r) => r.date >= start)
    .sort((a, b) => (a.ts === b.ts ? a.recordKey.localeCompare(b.recordKey) : a.ts < b.ts ? -1 : 1))
    .map((r) => ({
      recordKey: r.recordKey,
      ts: r.ts,
      features: r.features,
      label: r.label,
      feedback: hasFeedback(r.recordKey),
    }));
  return {
    name: 'weather',
    description: 'vega-datasets 1.31.1 weather.csv (Seattle, New York; 2012 reference, 2013–2015 stream)',
    reference: rows
      .filter((r) => r.date < start)
      .map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
    stream,
    start: `${start}T00:00:00.000Z`,
    windowDays: 30,
    // Quick: January 2013 to early 2014, the shift and what follows; full: the whole of 2013–2015.
    windows: quick ? 12 : 36,
    shiftOnset: '2013-04-01T00:00:00.000Z',
    model: (modelId, policy) => weatherModel(modelId, policy),
  };
}

export const DATASETS: Record<string, (quick: boolean) => Promise<Dataset>> = {
  weather: weatherDataset,
  employment: employmentDataset,
  cars: carsDataset,
  flights: flightsDataset,
};

/** The windows of a dataset's replay: [start, end) ISO strings, `windowDays` long. */
export function windowsOf(d: Dataset): { start: string; end: string }[] {
  const day = 86_400_000;
  const t0 = Date.parse(d.start);
  return Array.from({ length: d.windows }, (_, i) => ({
    start: new Date(t0 + i * d.windowDays * day).toISOString(),
    end: new Date(t0 + (i + 1) * d.windowDays * day).toISOString(),
  }));
}
