/**
 * Reference profiles: what a check compares the window against, computed once per model version from its
 * training data and stored (summary statistics, a sorted sample, PSI bins, learned thresholds).
 */
import type { Features, FeatureSpec } from '../schemas.js';
import { distinctSorted, type Sorted } from '../stats.js';
import { countCategories, quantileEdges } from '../stattests.js';
import { prepareColumn, sharesSorted, sortedFinite, type Column } from './columns.js';
import { defaultTest, runTest, type TestName } from './features.js';

/** Stored profiles keep at most this many sorted reference values (evenly spaced order statistics). */
export const DEFAULT_MAX_SAMPLE = 20_000;

export type FeatureType = 'numeric' | 'categorical';
/** A classifier's metrics, then a regression model's error metrics (core/drift/regression.ts). */
export type PerformanceMetric = 'accuracy' | 'macroF1' | 'auc' | 'logLoss' | 'mae' | 'rmse' | 'r2' | 'mape';

export interface NumericProfile {
  type: 'numeric';
  /** Non-missing values. */
  count: number;
  missing: number;
  distinct: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  /** Sorted reference values: all of them when `exact`, otherwise evenly spaced order statistics. */
  sorted: number[] | Float64Array;
  exact: boolean;
  /** Interior PSI edges at the reference quantiles and the reference share of each bin. */
  psiEdges: number[];
  psiShares: number[];
}
export interface CategoricalProfile {
  type: 'categorical';
  count: number;
  missing: number;
  counts: Record<string, number>;
}
export type ColumnProfile = NumericProfile | CategoricalProfile;

export interface LearnedThreshold {
  test: TestName;
  /** Mean and standard deviation of the statistic over reference chunks; drift above mean + 3σ. */
  mean: number;
  std: number;
  upper: number;
}

export type Baseline = Partial<Record<PerformanceMetric, number>>;

/** The span of production a reference covers (end exclusive) and the rule that chose it. */
export interface ReferenceSpan {
  start: string;
  end: string;
  rule: string;
}

/** A span as the days it covers: "2012-01-01 to 2012-12-31" (the end is exclusive, so its last day is shown). */
export function spanText(span: { start: string; end: string }): string {
  const last = new Date(Date.parse(span.end) - 1);
  const day = (t: Date): string => (Number.isNaN(t.getTime()) ? '?' : t.toISOString().slice(0, 10));
  return `${day(new Date(span.start))} to ${day(last)}`;
}

/** What the baseline was measured on: how many labeled rows, which rows, and the accuracy's interval. */
export interface BaselineEvidence {
  rows: number;
  source: string;
  accuracyInterval: { low: number; high: number; level: number; method: 'wilson' };
}

export interface ReferenceProfile {
  format: 2;
  rows: number;
  features: Record<string, ColumnProfile>;
  /** Class shares of the training labels, for label-shift checks once feedback arrives. */
  labels: Record<string, number>;
  /** The champion's metrics on its own holdout: the baseline of the performance path. */
  baseline: Baseline;
  baselineAccuracy: number;
  /** Per-feature thresholds learned from the reference's own variability (policy thresholds: learned). */
  learned: Record<string, LearnedThreshold>;
  /** The production span profiled (absent in profiles written before spans were stored). */
  span?: ReferenceSpan;
  /** When the span held more rows than were profiled: a uniform sample of `rows` out of `of`. */
  sample?: { rows: number; of: number; method: string };
  baselineEvidence?: BaselineEvidence;
  /** A regression model's target: its range on the champion's training rows and the champion's holdout errors. */
  target?: TargetProfile;
}

/** What a regression model's reference says about the number it predicts. */
export interface TargetProfile {
  rows: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation of the target. */
  std: number;
  /** The champion's errors on the reference holdout; null when the reference had no holdout rows. */
  holdout: { rows: number; mae: number; rmse: number; r2: number | null; mape: number | null } | null;
  /**
   * The target on the same rows profiled as a numeric feature is, for the target's drift test. Absent in
   * profiles written before it was stored: their target drift is not measured.
   */
  profile?: NumericProfile;
}

/** The numeric profile of a regression model's target values, as a numeric feature's is made. */
export function targetColumnProfile(values: readonly number[]): NumericProfile {
  return numericProfile(values, DEFAULT_MAX_SAMPLE, 10);
}

// ---------------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------------

export interface ProfileOptions {
  labels?: readonly string[];
  /** Keep sorted reference values as a Float64Array (for in-memory or binary caches, not JSON). */
  typedSample?: boolean;
  baseline?: Baseline;
  maxSample?: number;
  psiBins?: number;
  /** Learn per-feature thresholds from this many reference chunks (0: do not). */
  learnedChunks?: number;
}

function numericProfile(
  values: Float64Array | readonly number[],
  maxSample: number,
  psiBins: number,
  typedSample = false,
): NumericProfile {
  const sorted = sortedFinite(values);
  const count = sorted.length;
  if (count === 0) {
    return {
      type: 'numeric',
      count: 0,
      missing: values.length,
      distinct: 0,
      min: NaN,
      max: NaN,
      mean: NaN,
      std: NaN,
      sorted: [],
      exact: true,
      psiEdges: [],
      psiShares: [1],
    };
  }
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i]!;
  const mean = sum / count;
  let ss = 0;
  for (let i = 0; i < count; i++) ss += (sorted[i]! - mean) * (sorted[i]! - mean);
  const psiEdges = quantileEdges(sorted as unknown as number[], psiBins);
  return {
    type: 'numeric',
    count,
    missing: values.length - count,
    distinct: distinctSorted(sorted),
    min: sorted[0]!,
    max: sorted[count - 1]!,
    mean,
    std: Math.sqrt(ss / count),
    sorted: typedSample && count <= maxSample ? sorted : thin(sorted, maxSample),
    exact: count <= maxSample,
    psiEdges,
    psiShares: sharesSorted(sorted, psiEdges),
  };
}

function categoricalProfile(values: readonly (string | null)[]): CategoricalProfile {
  const present = values.filter((v): v is string => v !== null);
  return {
    type: 'categorical',
    count: present.length,
    missing: values.length - present.length,
    counts: countCategories(present),
  };
}

export function profileColumns(columns: Record<string, Column>, opts: ProfileOptions = {}): ReferenceProfile {
  const names = Object.keys(columns);
  const rows = names.length === 0 ? 0 : columns[names[0]!]!.values.length;
  if (rows === 0) throw new Error('a reference profile needs at least one row');
  const maxSample = opts.maxSample ?? DEFAULT_MAX_SAMPLE;
  const psiBins = opts.psiBins ?? 10;
  const features: Record<string, ColumnProfile> = {};
  for (const name of names) {
    const col = columns[name]!;
    if (col.values.length !== rows)
      throw new Error(`column "${name}" has ${col.values.length} rows, the others ${rows}`);
    features[name] =
      col.type === 'numeric'
        ? numericProfile(col.values, maxSample, psiBins, opts.typedSample)
        : categoricalProfile(col.values);
  }
  const baseline = opts.baseline ?? {};
  const profile: ReferenceProfile = {
    format: 2,
    rows,
    features,
    labels: countCategories([...(opts.labels ?? [])]),
    baseline,
    baselineAccuracy: baseline.accuracy ?? NaN,
    learned: {},
  };
  const chunks = opts.learnedChunks ?? 10;
  if (chunks >= 2 && rows >= chunks * 2) {
    for (const name of names) {
      const learned = learnThreshold(profile, name, columns[name]!, chunks);
      if (learned) profile.learned[name] = learned;
    }
  }
  return profile;
}

/** Rows as the model sees them (a feature spec) to columns; values of the wrong type count as missing. */
export function columnsFromRows(spec: FeatureSpec, rows: readonly Features[]): Record<string, Column> {
  const columns: Record<string, Column> = {};
  for (const name of spec.numeric) {
    const values = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![name];
      values[i] = typeof v === 'number' && Number.isFinite(v) ? v : NaN;
    }
    columns[name] = { type: 'numeric', values };
  }
  for (const name of spec.categorical) {
    columns[name] = {
      type: 'categorical',
      values: rows.map((r) => {
        const v = r[name];
        return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
      }),
    };
  }
  return columns;
}

export function buildReferenceProfile(
  spec: FeatureSpec,
  rows: readonly Features[],
  labels: readonly string[],
  baseline: Baseline | number,
  opts: Omit<ProfileOptions, 'labels' | 'baseline'> = {},
): ReferenceProfile {
  if (rows.length === 0) throw new Error('a reference profile needs at least one row');
  return profileColumns(columnsFromRows(spec, rows), {
    ...opts,
    labels,
    baseline: typeof baseline === 'number' ? { accuracy: baseline } : baseline,
  });
}

/** Keeps `max` evenly spaced values of a sorted array (always the first and the last). */
function thin(sorted: Sorted, max: number): number[] {
  if (sorted.length <= max) return Array.from(sorted);
  return Array.from({ length: max }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (max - 1))]!);
}

/** Learns a feature's threshold from the spread of its statistic over contiguous reference chunks. */
export function learnThreshold(
  profile: ReferenceProfile,
  name: string,
  column: Column,
  chunks: number,
): LearnedThreshold | null {
  const ref = profile.features[name]!;
  if (ref.count === 0) return null;
  const distinct = ref.type === 'numeric' ? ref.distinct : Object.keys(ref.counts).length;
  const test = defaultTest(profile.rows, ref.type, distinct);
  const size = Math.floor(column.values.length / chunks);
  const stats: number[] = [];
  for (let k = 0; k < chunks; k++) {
    const part: Column =
      column.type === 'numeric'
        ? { type: 'numeric', values: Array.from(column.values).slice(k * size, (k + 1) * size) }
        : { type: 'categorical', values: column.values.slice(k * size, (k + 1) * size) };
    const cur = prepareColumn(part);
    if ((cur.type === 'numeric' ? cur.sorted.length : cur.count) === 0) continue;
    const r = runTest(test, ref, cur);
    if ('error' in r) return null;
    stats.push(test === 'ztest' ? Math.abs(r.statistic) : r.statistic);
  }
  if (stats.length < 2) return null;
  const mean = stats.reduce((a, b) => a + b, 0) / stats.length;
  const std = Math.sqrt(stats.reduce((a, b) => a + (b - mean) ** 2, 0) / (stats.length - 1));
  return { test, mean, std, upper: mean + 3 * std };
}

/** Upgrades a stored profile of the first format (before per-feature tests) to this one. */
export function upgradeProfile(raw: unknown): ReferenceProfile {
  const p = raw as Record<string, unknown> & { format?: number };
  if (p.format === 2) return p as unknown as ReferenceProfile;
  const old = p as unknown as {
    rows: number;
    labels: Record<string, number>;
    baselineAccuracy: number;
    features: Record<
      string,
      | {
          type: 'numeric';
          sample: number[];
          edges: number[];
          shares: number[];
          mean: number;
          std: number;
          count: number;
        }
      | { type: 'categorical'; counts: Record<string, number>; count: number }
    >;
  };
  const features: Record<string, ColumnProfile> = {};
  for (const [name, f] of Object.entries(old.features)) {
    features[name] =
      f.type === 'numeric'
        ? {
            type: 'numeric',
            count: f.count,
            missing: 0,
            distinct: distinctSorted(f.sample),
            min: f.sample[0]!,
            max: f.sample[f.sample.length - 1]!,
            mean: f.mean,
            std: f.std,
            sorted: f.sample,
            exact: f.sample.length === f.count,
            psiEdges: f.edges,
            psiShares: f.shares,
          }
        : { type: 'categorical', count: f.count, missing: 0, counts: f.counts };
  }
  return {
    format: 2,
    rows: old.rows,
    features,
    labels: old.labels,
    baseline: { accuracy: old.baselineAccuracy },
    baselineAccuracy: old.baselineAccuracy,
    learned: {},
  };
}
