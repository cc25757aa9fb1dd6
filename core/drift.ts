/**
 * The drift engine: reference profiles, the test chosen per feature, the dataset-level rule, data-quality
 * checks that run first, the performance path, and the drifted region handed to collection.
 *
 * A profile is computed once per model version from its training data and stored; a check then scans
 * only the current window. Everything here is pure and deterministic: the CLI, the activities and the
 * benchmark share it, and workflow code may import its types.
 */
import { macroAucOvr } from './evaluation.js';
import { accuracy, logLoss, macroF1 } from './metrics.js';
import type { Features, FeatureSpec, Policy } from './schemas.js';
import {
  adjustPValues,
  chiSquareTest,
  distinctSorted,
  histogramSorted,
  jensenShannonDistance,
  lowerBound,
  sortFloat64,
  sturgesEdges,
  upperBound,
  wassersteinSorted,
  type Sorted,
} from './stattests.js';
import { categoricalPsi, countCategories, ksTwoSample, normalCdf, quantileEdges } from './stats.js';

export const TEST_NAMES = ['ks', 'wasserstein', 'psi', 'jensenshannon', 'chisquare', 'ztest'] as const;
export type TestName = (typeof TEST_NAMES)[number];
/** Tests that yield a p-value: drift when p < threshold. The others are distances: drift when >= threshold. */
export const P_VALUE_TESTS: ReadonlySet<TestName> = new Set(['ks', 'chisquare', 'ztest']);
export const DEFAULT_THRESHOLDS: Record<TestName, number> = {
  ks: 0.05,
  chisquare: 0.05,
  ztest: 0.05,
  wasserstein: 0.1,
  jensenshannon: 0.1,
  psi: 0.2,
};
/** Up to this many reference rows the default tests are the p-value tests (Evidently's rule). */
export const SMALL_REFERENCE_ROWS = 1000;
/** Numeric features with at most this many distinct values are tested like categories. */
const FEW_VALUES = 5;
/** Jensen–Shannon bins numeric values (Sturges) when the reference has more distinct values than this. */
const BIN_NUMERIC_ABOVE = 20;
/** Stored profiles keep at most this many sorted reference values (evenly spaced order statistics). */
export const DEFAULT_MAX_SAMPLE = 20_000;
const PSI_EPSILON = 1e-4;

export type FeatureType = 'numeric' | 'categorical';
export type PerformanceMetric = 'accuracy' | 'macroF1' | 'auc' | 'logLoss';

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
}

/** A column of a window or a reference: numbers with NaN for missing, or strings with null for missing. */
export type Column =
  | { type: 'numeric'; values: Float64Array | readonly number[] }
  | {
      type: 'categorical';
      values: readonly (string | null)[];
      /** The non-null values' counts (as countCategories gives them) when the column already knows them. */
      counted?: { counts: Record<string, number>; present: number };
    };

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

/** The finite values, sorted ascending (missing values, NaN and ±Infinity dropped). */
export function sortedFinite(values: Float64Array | readonly number[]): Float64Array {
  // Sort everything, then trim the non-finite ends (±Infinity, and NaN, which sorts to an end).
  const all = sortFloat64(values instanceof Float64Array ? values : Float64Array.from(values));
  let lo = 0;
  let hi = all.length;
  while (hi > lo && !(all[hi - 1]! < Infinity)) hi--;
  while (lo < hi && !(all[lo]! > -Infinity)) lo++;
  return lo === 0 && hi === all.length ? all : all.slice(lo, hi);
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

/** Shares of a sorted sample in the bins (-Inf, e0), [e0, e1), ..., [e_last, +Inf). */
function sharesSorted(sorted: Sorted, edges: readonly number[]): number[] {
  const shares: number[] = [];
  let prev = 0;
  for (const e of edges) {
    const idx = lowerBound(sorted, e);
    shares.push((idx - prev) / sorted.length);
    prev = idx;
  }
  shares.push((sorted.length - prev) / sorted.length);
  return shares;
}

// ---------------------------------------------------------------------------------------------------
// One feature
// ---------------------------------------------------------------------------------------------------

/** The current window's side of one feature, prepared once (sorted numbers or category counts). */
export type CurrentColumn =
  | { type: 'numeric'; sorted: Float64Array; rows: number }
  | { type: 'categorical'; counts: Record<string, number>; count: number; rows: number };

export function prepareColumn(column: Column): CurrentColumn {
  if (column.type === 'numeric')
    return { type: 'numeric', sorted: sortedFinite(column.values), rows: column.values.length };
  if (column.counted)
    return {
      type: 'categorical',
      counts: column.counted.counts,
      count: column.counted.present,
      rows: column.values.length,
    };
  const present = column.values.filter((v): v is string => v !== null);
  return {
    type: 'categorical',
    counts: countCategories(present),
    count: present.length,
    rows: column.values.length,
  };
}

export interface FeatureDrift {
  feature: string;
  type: FeatureType;
  test: TestName;
  statistic: number;
  /** Null for distance tests (Wasserstein, Jensen–Shannon, PSI). */
  pValue: number | null;
  /** The p-value after the policy's multiple-testing correction (equal to pValue without one). */
  adjustedPValue: number | null;
  threshold: number;
  /** How the threshold was set: the default rule, the policy (per feature or forced) or learned. */
  thresholdSource: 'default' | 'policy' | 'learned';
  drifted: boolean;
  /** PSI over the reference-quantile bins, reported for every feature as a common scale. */
  psi: number;
  /** Statistic over threshold (for p-value tests −log10(p) over −log10(alpha)): the ranking key. */
  score: number;
  /** Where the window moved most: the bins or categories that gained the most share. */
  region: RegionPart[];
  /**
   * Reference against window share over the reference-quantile bins (numeric) or the categories
   * (categorical, the 12 largest and "other"): what the report draws. Absent in older reports.
   */
  distribution?: RegionPart[];
  /** Kept for readers of reports written before the per-feature tests. */
  ksStatistic: number | null;
  ksPValue: number | null;
}

export type RegionPart =
  | { kind: 'range'; from: number | null; to: number | null; referenceShare: number; currentShare: number }
  | { kind: 'category'; value: string; referenceShare: number; currentShare: number };

export interface TestChoice {
  test: TestName;
  threshold: number;
  source: FeatureDrift['thresholdSource'];
}

/** Distinct values of reference ∪ current for one feature. */
function unionDistinct(ref: ColumnProfile, cur: CurrentColumn): number {
  if (ref.type === 'categorical' || cur.type === 'categorical') {
    const keys = new Set<string>([...Object.keys(categoryCounts(ref)), ...Object.keys(categoryCounts(cur))]);
    return keys.size;
  }
  // Merge-count distinct values of two sorted arrays; stop early past the thresholds that matter.
  const a = ref.sorted;
  const b = cur.sorted;
  let i = 0;
  let j = 0;
  let n = 0;
  while ((i < a.length || j < b.length) && n <= BIN_NUMERIC_ABOVE + 1) {
    const x = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    n++;
    while (i < a.length && a[i] === x) i++;
    while (j < b.length && b[j] === x) j++;
  }
  return n;
}

/**
 * The default test for one feature, as practitioners expect (Evidently's rule): a reference of at most
 * 1000 rows gets the two-sample KS test for numeric features with more than 5 distinct values, the
 * z-test for two values and chi-square otherwise (drift at p < 0.05); a larger reference gets the
 * Wasserstein distance normalised by the reference's standard deviation for numeric features with more
 * than 5 values and the Jensen–Shannon distance otherwise (drift at >= 0.1).
 */
export function defaultTest(referenceRows: number, type: FeatureType, distinct: number): TestName {
  const numeric = type === 'numeric' && distinct > FEW_VALUES;
  if (referenceRows <= SMALL_REFERENCE_ROWS) return numeric ? 'ks' : distinct <= 2 ? 'ztest' : 'chisquare';
  return numeric ? 'wasserstein' : 'jensenshannon';
}

function categoryCounts(col: ColumnProfile | CurrentColumn): Record<string, number> {
  if (col.type === 'categorical') return col.counts;
  const sorted = 'sorted' in col ? col.sorted : [];
  const counts = new Map<string, number>();
  for (let i = 0; i < sorted.length;) {
    let k = i;
    while (k < sorted.length && sorted[k] === sorted[i]) k++;
    counts.set(String(sorted[i]), k - i);
    i = k;
  }
  return Object.fromEntries(counts);
}

function categoryUnion(ref: Record<string, number>, cur: Record<string, number>): string[] {
  return [...new Set([...Object.keys(ref), ...Object.keys(cur)])].sort();
}

function total(counts: Record<string, number>): number {
  let t = 0;
  for (const k of Object.keys(counts)) t += counts[k]!;
  return t;
}

/** Runs one test. `null` when the test does not apply to this feature (a message says why). */
export function runTest(
  test: TestName,
  ref: ColumnProfile,
  cur: CurrentColumn,
): { statistic: number; pValue: number | null } | { error: string } {
  const numericBoth = ref.type === 'numeric' && cur.type === 'numeric';
  switch (test) {
    case 'ks':
    case 'wasserstein': {
      if (!numericBoth) return { error: `${test} needs a numeric feature` };
      if (test === 'ks')
        return ksTwoSample(Array.from(ref.sorted), Array.from(cur.sorted), { method: 'auto' });
      return {
        statistic: wassersteinSorted(ref.sorted, cur.sorted, false) / Math.max(ref.std, 0.001),
        pValue: null,
      };
    }
    case 'psi': {
      if (numericBoth) {
        const shares = sharesSorted(cur.sorted, ref.psiEdges);
        let sum = 0;
        for (let i = 0; i < shares.length; i++) {
          const r = ref.psiShares[i]! > 0 ? ref.psiShares[i]! : PSI_EPSILON;
          const c = shares[i]! > 0 ? shares[i]! : PSI_EPSILON;
          sum += (c - r) * Math.log(c / r);
        }
        return { statistic: sum, pValue: null };
      }
      return { statistic: categoricalPsi(categoryCounts(ref), categoryCounts(cur)).statistic, pValue: null };
    }
    case 'jensenshannon': {
      if (numericBoth && ref.distinct > BIN_NUMERIC_ABOVE) {
        const lo = Math.min(ref.min, cur.sorted[0]!);
        const hi = Math.max(ref.max, cur.sorted[cur.sorted.length - 1]!);
        const edges = sturgesEdges(lo, hi, ref.count + cur.sorted.length);
        // The profile's sample stands for all `count` reference values: scale its counts.
        const refHist = histogramSorted(ref.sorted, edges).map((c) => c / ref.sorted.length);
        const curHist = histogramSorted(cur.sorted, edges).map((c) => c / cur.sorted.length);
        return { statistic: jensenShannonDistance(refHist, curHist), pValue: null };
      }
      const r = categoryCounts(ref);
      const c = categoryCounts(cur);
      const keys = categoryUnion(r, c);
      const rt = total(r);
      const ct = total(c);
      return {
        statistic: jensenShannonDistance(
          keys.map((k) => (r[k] ?? 0) / rt),
          keys.map((k) => (c[k] ?? 0) / ct),
        ),
        pValue: null,
      };
    }
    case 'chisquare': {
      const r = categoryCounts(ref);
      const c = categoryCounts(cur);
      const keys = categoryUnion(r, c);
      const rt = total(r);
      const ct = total(c);
      const res = chiSquareTest(
        keys.map((k) => c[k] ?? 0),
        keys.map((k) => ((r[k] ?? 0) * ct) / rt),
      );
      return { statistic: res.statistic, pValue: res.pValue };
    }
    case 'ztest': {
      const r = categoryCounts(ref);
      const c = categoryCounts(cur);
      const keys = categoryUnion(r, c);
      if (keys.length > 2)
        return { error: `ztest needs a feature with at most two values (found ${keys.length})` };
      if (keys.length < 2) return { statistic: 0, pValue: 1 };
      const key = keys[0]!;
      const n1 = total(r);
      const n2 = total(c);
      const p1 = (r[key] ?? 0) / n1;
      const p2 = (c[key] ?? 0) / n2;
      const pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
      const variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2);
      if (variance === 0) return { statistic: 0, pValue: 1 };
      const z = (p1 - p2) / Math.sqrt(variance);
      return { statistic: z, pValue: 2 * normalCdf(-Math.abs(z)) };
    }
  }
}

function psiOf(ref: ColumnProfile, cur: CurrentColumn): number {
  const r = runTest('psi', ref, cur);
  return 'error' in r ? NaN : r.statistic;
}

/** Reference and window shares over the reference's PSI bins, or over every category of either. */
function sharesOf(ref: ColumnProfile, cur: CurrentColumn): RegionPart[] {
  if (ref.type === 'numeric' && cur.type === 'numeric') {
    return sharesSorted(cur.sorted, ref.psiEdges).map((s, i) => ({
      kind: 'range' as const,
      from: i === 0 ? null : ref.psiEdges[i - 1]!,
      to: i === ref.psiEdges.length ? null : ref.psiEdges[i]!,
      referenceShare: ref.psiShares[i]!,
      currentShare: s,
    }));
  }
  const r = categoryCounts(ref);
  const c = categoryCounts(cur);
  const rt = Math.max(1, total(r));
  const ct = Math.max(1, total(c));
  return categoryUnion(r, c).map((value) => ({
    kind: 'category' as const,
    value,
    referenceShare: (r[value] ?? 0) / rt,
    currentShare: (c[value] ?? 0) / ct,
  }));
}

const gain = (p: RegionPart): number => p.currentShare - p.referenceShare;

/** Where the window moved most: the bins or categories that gained the most share. */
function regionOf(shares: readonly RegionPart[], top = 2): RegionPart[] {
  return shares
    .filter((p) => p.currentShare > p.referenceShare)
    .sort((a, b) => gain(b) - gain(a))
    .slice(0, top);
}

/** What a report draws: all bins; categories by the larger of their two shares, the rest summed. */
function distributionOf(shares: readonly RegionPart[], maxCategories = 12): RegionPart[] {
  if (shares.length === 0 || shares[0]!.kind === 'range' || shares.length <= maxCategories + 1)
    return [...shares];
  const ranked = [...shares].sort(
    (a, b) => Math.max(b.referenceShare, b.currentShare) - Math.max(a.referenceShare, a.currentShare),
  );
  const rest = ranked.slice(maxCategories);
  return [
    ...ranked.slice(0, maxCategories),
    {
      kind: 'category',
      value: `(${rest.length} others)`,
      referenceShare: rest.reduce((a, p) => a + p.referenceShare, 0),
      currentShare: rest.reduce((a, p) => a + p.currentShare, 0),
    },
  ];
}

/** Learns a feature's threshold from the spread of its statistic over contiguous reference chunks. */
function learnThreshold(
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

// ---------------------------------------------------------------------------------------------------
// Data quality
// ---------------------------------------------------------------------------------------------------

export interface QualityIssue {
  feature: string;
  kind: 'schema' | 'missing' | 'out-of-range' | 'new-category';
  /** Share of the window's rows affected. */
  share: number;
  detail: string;
}

export interface DataQuality {
  incident: boolean;
  issues: QualityIssue[];
}

function qualityIssues(
  feature: string,
  ref: ColumnProfile,
  cur: CurrentColumn,
  bad: number,
  rows: number,
  policy: DriftPolicy['dataQuality'],
): QualityIssue[] {
  const issues: QualityIssue[] = [];
  if (bad > 0 && bad / rows > policy.maxSchemaViolationShare) {
    issues.push({
      feature,
      kind: 'schema',
      share: bad / rows,
      detail: `${bad} of ${rows} rows have a value of the wrong type for "${feature}" (expected ${ref.type === 'numeric' ? 'a finite number' : 'a string'})`,
    });
  }
  const present = cur.type === 'numeric' ? cur.sorted.length : cur.count;
  const missingShare = (rows - present - bad) / rows;
  const refMissing = ref.missing / Math.max(1, ref.count + ref.missing);
  if (missingShare - refMissing > policy.maxMissingIncrease) {
    issues.push({
      feature,
      kind: 'missing',
      share: missingShare,
      detail: `${pct(missingShare)} missing vs ${pct(refMissing)} in the reference`,
    });
  }
  if (ref.type === 'numeric' && cur.type === 'numeric' && ref.count > 0 && cur.sorted.length > 0) {
    const margin = (ref.max - ref.min) * policy.rangeMargin;
    const below = lowerBound(cur.sorted, ref.min - margin);
    const above = cur.sorted.length - upperBound(cur.sorted, ref.max + margin);
    const share = (below + above) / rows;
    if (share > policy.maxOutOfRangeShare) {
      issues.push({
        feature,
        kind: 'out-of-range',
        share,
        detail: `${below + above} values outside [${fmt(ref.min - margin)}, ${fmt(ref.max + margin)}] (reference range ${fmt(ref.min)}..${fmt(ref.max)} plus ${policy.rangeMargin * 100}%)`,
      });
    }
  }
  if (ref.type === 'categorical' && cur.type === 'categorical') {
    const unseen = Object.keys(cur.counts).filter(
      (k) => !Object.prototype.hasOwnProperty.call(ref.counts, k),
    );
    const n = unseen.reduce((a, k) => a + cur.counts[k]!, 0);
    if (n > 0 && n / rows > policy.maxNewCategoryShare) {
      issues.push({
        feature,
        kind: 'new-category',
        share: n / rows,
        detail: `${n} rows with categories never seen in the reference: ${unseen
          .slice(0, 5)
          .map((k) => JSON.stringify(k))
          .join(', ')}${unseen.length > 5 ? ', …' : ''}`,
      });
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------------
// Performance
// ---------------------------------------------------------------------------------------------------

export interface WindowOutcome {
  /** Ground truth, where feedback has arrived. */
  truth: string;
  /** What the champion predicted for the same request. */
  predicted: string;
  /** The champion's class probabilities, when known (needed for AUC and log-loss). */
  probabilities?: Record<string, number>;
}

export interface PerformanceCheck {
  metric: PerformanceMetric;
  labeledRows: number;
  baseline: number | null;
  current: number | null;
  /** How much worse than the baseline (higher is worse for every metric, log-loss included). */
  drop: number | null;
  /** False when fewer labeled rows than the policy's minimum: too few to judge. */
  judged: boolean;
  degraded: boolean;
  metrics: Partial<Record<PerformanceMetric, number | null>>;
  baselineAccuracy: number;
  currentAccuracy: number | null;
}

function performance(
  profile: ReferenceProfile,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
): PerformanceCheck {
  const metric = policy.performanceMetric;
  const n = outcomes.length;
  const metrics: PerformanceCheck['metrics'] = {};
  if (n > 0) {
    const truth = outcomes.map((o) => o.truth);
    const predicted = outcomes.map((o) => o.predicted);
    metrics.accuracy = accuracy(truth, predicted);
    metrics.macroF1 = macroF1(truth, predicted);
    if (outcomes.every((o) => o.probabilities)) {
      const probs = outcomes.map((o) => o.probabilities!);
      metrics.auc = macroAucOvr(truth, probs);
      metrics.logLoss = logLoss(truth, probs);
    }
  }
  const baseline = profile.baseline[metric] ?? (metric === 'accuracy' ? profile.baselineAccuracy : undefined);
  const current = metrics[metric] ?? null;
  const drop =
    current === null || baseline === undefined || !Number.isFinite(baseline)
      ? null
      : metric === 'logLoss'
        ? current - baseline
        : baseline - current;
  const judged = n >= policy.minLabeledRows && drop !== null;
  return {
    metric,
    labeledRows: n,
    baseline: baseline ?? null,
    current,
    drop,
    judged,
    degraded: judged && drop !== null && drop > policy.performanceTolerance,
    metrics,
    baselineAccuracy: profile.baselineAccuracy,
    currentAccuracy: metrics.accuracy ?? null,
  };
}

// ---------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------

export type DriftPolicy = Policy['drift'];

/** Which of the window's records a report tested: every one, or a uniform sample of them. */
export interface WindowSelection {
  /** Records the window held. */
  held: number;
  /** Records the feature tests used. */
  tested: number;
  selection: 'all' | 'uniform-sample';
  /** What the sample was drawn with: the same seed draws the same records. */
  seed?: string;
}

export interface DriftReport {
  windowRows: number;
  /** How the tested records were chosen (absent from reports stored before it was recorded). */
  window?: WindowSelection;
  referenceRows: number;
  features: FeatureDrift[];
  /** Features the engine could not test (no values on one side), with the reason. */
  skipped: { feature: string; reason: string }[];
  driftedShare: number;
  datasetDrifted: boolean;
  correction: DriftPolicy['correction'];
  thresholds: DriftPolicy['thresholds'];
  dataQuality: DataQuality;
  labelShiftPsi: number | null;
  performance: PerformanceCheck;
}

export interface ReportOptions {
  /** Use this test for every feature it applies to (the CLI's --test). */
  forceTest?: TestName;
  /** Rows per feature whose value was missing or of the wrong type (from row conversion). */
  schemaViolations?: Record<string, number>;
}

/** The test and threshold for one feature: forced, then the policy's per-feature entry, learned, default. */
export function chooseTest(
  profile: ReferenceProfile,
  feature: string,
  distinct: number,
  policy: DriftPolicy,
  forceTest?: TestName,
): TestChoice {
  const ref = profile.features[feature]!;
  const override = policy.features[feature];
  if (forceTest)
    return {
      test: forceTest,
      threshold: override?.threshold ?? DEFAULT_THRESHOLDS[forceTest],
      source: 'policy',
    };
  if (override?.test)
    return {
      test: override.test,
      threshold: override.threshold ?? DEFAULT_THRESHOLDS[override.test],
      source: 'policy',
    };
  const learned = profile.learned?.[feature];
  if (policy.thresholds === 'learned' && learned)
    return { test: learned.test, threshold: learned.upper, source: 'learned' };
  const test = defaultTest(profile.rows, ref.type, distinct);
  if (override?.threshold !== undefined) return { test, threshold: override.threshold, source: 'policy' };
  return {
    test,
    threshold: test === 'psi' ? policy.psiThreshold : DEFAULT_THRESHOLDS[test],
    source: 'default',
  };
}

/** One feature's share of a report: its test result (or why it was skipped) and its data-quality issues. */
export interface FeatureOutcome {
  feature: string;
  drift: FeatureDrift | null;
  skipped: string | null;
  quality: QualityIssue[];
}

/**
 * Tests one feature of the window against its reference. Features are independent until the report is
 * assembled (corrections, the dataset rule), so callers may run them in parallel.
 */
export function analyzeFeature(
  profile: ReferenceProfile,
  name: string,
  column: Column,
  policy: DriftPolicy,
  opts: { forceTest?: TestName; schemaViolations?: number } = {},
): FeatureOutcome {
  const ref = profile.features[name];
  if (!ref) throw new Error(`the reference has no feature "${name}"`);
  const cur = prepareColumn(column);
  const rows = column.values.length;
  const quality = qualityIssues(name, ref, cur, opts.schemaViolations ?? 0, rows, policy.dataQuality);
  const curCount = cur.type === 'numeric' ? cur.sorted.length : cur.count;
  if (ref.count === 0 || curCount === 0) {
    const skipped = ref.count === 0 ? 'no values in the reference' : 'no values in the window';
    return { feature: name, drift: null, skipped, quality };
  }
  const distinct = unionDistinct(ref, cur);
  let choice = chooseTest(profile, name, distinct, policy, opts.forceTest);
  let result = runTest(choice.test, ref, cur);
  if ('error' in result && opts.forceTest) {
    // A forced test applies to the features it can test; the others keep their own test.
    choice = chooseTest(profile, name, distinct, policy);
    result = runTest(choice.test, ref, cur);
  }
  if ('error' in result)
    throw new Error(`feature "${name}": ${result.error}; change its test in the policy (drift.features)`);
  const isP = P_VALUE_TESTS.has(choice.test) && choice.source !== 'learned';
  const shares = sharesOf(ref, cur);
  const statistic =
    choice.source === 'learned' && choice.test === 'ztest' ? Math.abs(result.statistic) : result.statistic;
  return {
    feature: name,
    skipped: null,
    quality,
    drift: {
      feature: name,
      type: ref.type,
      test: choice.test,
      statistic,
      pValue: isP ? result.pValue : null,
      adjustedPValue: isP ? result.pValue : null,
      threshold: choice.threshold,
      thresholdSource: choice.source,
      drifted: false,
      psi: psiOf(ref, cur),
      score: 0,
      // kept only if the feature drifts once the report is assembled
      region: regionOf(shares),
      distribution: distributionOf(shares),
      ksStatistic: choice.test === 'ks' ? result.statistic : null,
      ksPValue: choice.test === 'ks' ? result.pValue : null,
    },
  };
}

/** The report from per-feature outcomes: multiple-testing correction, drift flags, ranking, dataset rule. */
export function assembleReport(
  profile: ReferenceProfile,
  perFeature: readonly FeatureOutcome[],
  rows: number,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
): DriftReport {
  const features = perFeature.flatMap((o) => (o.drift ? [{ ...o.drift }] : []));
  const skipped = perFeature.flatMap((o) => (o.skipped ? [{ feature: o.feature, reason: o.skipped }] : []));
  const issues = perFeature.flatMap((o) => o.quality);

  // Multiple testing: adjust the p-values of the features tested by p-value, together.
  const pIdx = features.map((f, i) => (f.pValue !== null ? i : -1)).filter((i) => i >= 0);
  const adjusted = adjustPValues(
    pIdx.map((i) => features[i]!.pValue!),
    policy.correction,
  );
  pIdx.forEach((i, k) => (features[i]!.adjustedPValue = adjusted[k]!));

  for (const f of features) {
    if (f.adjustedPValue !== null) {
      // KS drifts at p <= alpha and the other p-value tests at p < alpha, as Evidently decides.
      f.drifted = f.test === 'ks' ? f.adjustedPValue <= f.threshold : f.adjustedPValue < f.threshold;
      f.score = -Math.log10(Math.max(f.adjustedPValue, 1e-300)) / -Math.log10(f.threshold);
    } else {
      f.drifted =
        f.statistic >= f.threshold && !(f.thresholdSource === 'learned' && f.statistic === f.threshold);
      f.score = f.threshold > 0 ? f.statistic / f.threshold : f.statistic > 0 ? Infinity : 0;
    }
    if (!f.drifted) f.region = [];
  }
  features.sort((a, b) => b.score - a.score || a.feature.localeCompare(b.feature));
  const driftedShare = features.length === 0 ? 0 : features.filter((f) => f.drifted).length / features.length;

  const labelShiftPsi =
    outcomes.length > 0 && Object.keys(profile.labels).length > 0
      ? categoricalPsi(profile.labels, countCategories(outcomes.map((o) => o.truth))).statistic
      : null;
  return {
    windowRows: rows,
    window: { held: rows, tested: rows, selection: 'all' },
    referenceRows: profile.rows,
    features,
    skipped,
    driftedShare,
    datasetDrifted: features.length > 0 && driftedShare >= policy.driftedShare,
    correction: policy.correction,
    thresholds: policy.thresholds,
    dataQuality: { incident: issues.length > 0, issues },
    labelShiftPsi,
    performance: performance(profile, outcomes, policy),
  };
}

export function driftReportColumns(
  profile: ReferenceProfile,
  window: Record<string, Column>,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
  opts: ReportOptions = {},
): DriftReport {
  const names = Object.keys(profile.features);
  const rows = names.length === 0 ? 0 : (window[names[0]!]?.values.length ?? 0);
  if (rows === 0) throw new Error('the window holds no rows: pick a window with production traffic');
  const perFeature = names.map((name) => {
    const col = window[name];
    if (!col) throw new Error(`the window has no column "${name}", which the reference has`);
    return analyzeFeature(profile, name, col, policy, {
      ...(opts.forceTest ? { forceTest: opts.forceTest } : {}),
      schemaViolations: opts.schemaViolations?.[name] ?? 0,
    });
  });
  return assembleReport(profile, perFeature, rows, outcomes, policy);
}

/** Rows to columns, counting values of the wrong type as schema violations, then the report. */
export function driftReport(
  profile: ReferenceProfile,
  window: readonly Features[],
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
  opts: ReportOptions = {},
): DriftReport {
  if (window.length === 0) throw new Error('the window holds no rows: pick a window with production traffic');
  const spec: FeatureSpec = { numeric: [], categorical: [] };
  const violations: Record<string, number> = {};
  for (const [name, ref] of Object.entries(profile.features)) {
    (ref.type === 'numeric' ? spec.numeric : spec.categorical).push(name);
    let bad = 0;
    for (const row of window) {
      const v = row[name];
      if (v === null || v === undefined) continue; // null or an absent key is a missing value
      if (ref.type === 'numeric' ? typeof v !== 'number' || Number.isNaN(v) : typeof v !== 'string') bad++;
    }
    if (bad > 0) violations[name] = bad;
  }
  return driftReportColumns(profile, columnsFromRows(spec, window), outcomes, policy, {
    ...opts,
    schemaViolations: { ...violations, ...opts.schemaViolations },
  });
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

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}
