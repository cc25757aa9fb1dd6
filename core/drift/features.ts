/**
 * One feature's drift test: the default test per feature type and reference size, the test and threshold
 * a policy picks, running it, and the shares and drifted region a report shows.
 */
import type { Policy } from '../schemas.js';
import { ksTwoSample } from '../ks.js';
import { histogramSorted, normalCdf, sturgesEdges } from '../stats.js';
import { categoricalPsi, chiSquareTest, jensenShannonDistance, wassersteinSorted } from '../stattests.js';
import { sharesSorted, type CurrentColumn } from './columns.js';
import type { ColumnProfile, FeatureType, ReferenceProfile } from './profile.js';

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
const PSI_EPSILON = 1e-4;

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
export function unionDistinct(ref: ColumnProfile, cur: CurrentColumn): number {
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

export function psiOf(ref: ColumnProfile, cur: CurrentColumn): number {
  const r = runTest('psi', ref, cur);
  return 'error' in r ? NaN : r.statistic;
}

/** Reference and window shares over the reference's PSI bins, or over every category of either. */
export function sharesOf(ref: ColumnProfile, cur: CurrentColumn): RegionPart[] {
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
export function regionOf(shares: readonly RegionPart[], top = 2): RegionPart[] {
  return shares
    .filter((p) => p.currentShare > p.referenceShare)
    .sort((a, b) => gain(b) - gain(a))
    .slice(0, top);
}

/** What a report draws: all bins; categories by the larger of their two shares, the rest summed. */
export function distributionOf(shares: readonly RegionPart[], maxCategories = 12): RegionPart[] {
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

/** The test and threshold for one feature: forced, then the policy's per-feature entry, learned, default. */
export function chooseTest(
  profile: ReferenceProfile,
  feature: string,
  distinct: number,
  policy: Policy['drift'],
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
