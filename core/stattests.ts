/**
 * The per-feature drift tests: PSI (numeric and categorical), the Wasserstein and Jensen–Shannon
 * distances, Pearson's chi-square test, and the multiple-testing correction across features. The
 * Kolmogorov–Smirnov test has its own file (core/ks.ts); the distributions, special functions and
 * sorted-array helpers these tests share live in core/stats.ts.
 *
 * Definitions follow scipy (scipy.stats.wasserstein_distance, scipy.spatial.distance.jensenshannon,
 * scipy.stats.chisquare) and numpy (quantile, histogram), so a report from Remedy and one from scipy or
 * Evidently give the same numbers on the same data.
 *
 * Pure and deterministic (imported by workflow code): no I/O, no clocks, no randomness.
 */
import { chiSquareSf, requireNoNaN, requireNonEmpty, upperBound, type Sorted } from './stats.js';

function requireSortedFinite(values: Sorted, what: string): void {
  if (values.length === 0) throw new Error(`${what}: needs at least one value, got none`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new Error(`${what}: value at index ${i} is not finite (${v})`);
    if (i > 0 && v < values[i - 1]!) throw new Error(`${what}: values are not sorted at index ${i}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Wasserstein (earth mover's) distance
// ---------------------------------------------------------------------------------------------------

/**
 * First Wasserstein distance between two empirical distributions given as sorted samples:
 * W1 = ∫ |U(x) − V(x)| dx over the merged support, as scipy.stats.wasserstein_distance(u, v).
 * One merge walk, O(n + m); the samples must be sorted ascending (checked only when `check`).
 */
export function wassersteinSorted(u: Sorted, v: Sorted, check = true): number {
  if (check) {
    requireSortedFinite(u, 'wasserstein (first sample)');
    requireSortedFinite(v, 'wasserstein (second sample)');
  }
  const n = u.length;
  const m = v.length;
  const invN = 1 / n;
  const invM = 1 / m;
  // Walk the merged order one value at a time. Between the value just consumed and the next one, U and
  // V are constant at i/n and j/m (every value <= the current one is consumed: the next is the smallest
  // left); ties add zero-width steps.
  let i = 0;
  let j = 0;
  let cur = u[0]! <= v[0]! ? u[i++]! : v[j++]!;
  let sum = 0;
  while (i < n && j < m) {
    const a = u[i]!;
    const b = v[j]!;
    let next: number;
    if (a <= b) {
      next = a;
      sum += Math.abs(i * invN - j * invM) * (next - cur);
      i++;
    } else {
      next = b;
      sum += Math.abs(i * invN - j * invM) * (next - cur);
      j++;
    }
    cur = next;
  }
  for (; i < n; i++) {
    sum += (1 - i * invN) * (u[i]! - cur); // V = 1 from here on
    cur = u[i]!;
  }
  for (; j < m; j++) {
    sum += (1 - j * invM) * (v[j]! - cur);
    cur = v[j]!;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------------
// Population Stability Index
// ---------------------------------------------------------------------------------------------------

/*
 * Shares of exactly 0 make ln(cur/ref) infinite, so empty bins (or categories) get this share instead,
 * on both sides, in both factors of (cur - ref) * ln(cur / ref). 1e-4 is "one in ten thousand": an
 * empty bin costs at most ~|share| * ln(share / 1e-4) (e.g. 0.1 * ln(1000) ≈ 0.69 for a 10% bin
 * appearing from nowhere — loud, as it should be) and never Infinity. Shares are not renormalised.
 */
const DEFAULT_PSI_EPSILON = 1e-4;
const DEFAULT_PSI_BINS = 10;

export interface PsiResult {
  statistic: number;
  /** Interior bin edges; the outer bins are open to -Infinity and +Infinity. */
  edges: number[];
  /** Raw shares per bin (before the epsilon substitution). */
  referenceShares: number[];
  currentShares: number[];
}

export interface CategoricalPsiResult {
  statistic: number;
  /** Union of the categories of both sides, sorted (code-unit order) so the result is deterministic. */
  categories: string[];
  /** Raw shares per category, aligned with `categories` (before the epsilon substitution). */
  referenceShares: number[];
  currentShares: number[];
}

/**
 * Interior PSI bin edges: the reference quantiles at 1/bins, 2/bins, ..., (bins-1)/bins, computed like
 * numpy.quantile(method='linear') (the numpy default), with duplicates removed. Ties and constant
 * columns therefore yield fewer, still strictly increasing, edges (a constant column yields one edge:
 * two bins, one of them empty). Input must be sorted ascending and finite.
 */
export function quantileEdges(sortedReference: readonly number[], bins: number): number[] {
  requireNonEmpty(sortedReference, 'quantileEdges');
  if (!Number.isInteger(bins) || bins < 1)
    throw new Error(`quantileEdges: bins must be an integer >= 1, got ${bins}`);
  for (let i = 0; i < sortedReference.length; i++) {
    const v = sortedReference[i]!;
    if (!Number.isFinite(v))
      throw new Error(`quantileEdges: reference value at index ${i} is not finite (${v})`);
    if (i > 0 && v < sortedReference[i - 1]!)
      throw new Error(`quantileEdges: reference is not sorted at index ${i}`);
  }
  const n = sortedReference.length;
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const q = i / bins;
    const virtualIndex = (n - 1) * q;
    const lo = Math.floor(virtualIndex);
    const gamma = virtualIndex - lo;
    const a = sortedReference[lo]!;
    const b = sortedReference[Math.min(lo + 1, n - 1)]!;
    // numpy's _lerp: interpolate from the nearer end so that gamma = 1 returns b exactly.
    const diff = b - a;
    const edge = gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
    const last = edges[edges.length - 1];
    if (last === undefined || edge > last) edges.push(edge);
  }
  return edges;
}

function requireIncreasingEdges(edges: readonly number[], what: string): void {
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i]!;
    if (Number.isNaN(e)) throw new Error(`${what}: edge ${i} is NaN`);
    if (i > 0 && !(e > edges[i - 1]!))
      throw new Error(`${what}: edges must be strictly increasing (index ${i})`);
  }
}

/**
 * Share of `values` in each of the edges.length + 1 bins (-Inf, e0), [e0, e1), ..., [e_last, +Inf).
 * A value equal to an edge falls in the bin to the right of it.
 */
export function binShares(edges: readonly number[], values: readonly number[]): number[] {
  requireNonEmpty(values, 'binShares');
  requireNoNaN(values, 'binShares');
  requireIncreasingEdges(edges, 'binShares');
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[upperBound(edges, v)]! += 1;
  return counts.map((c) => c / values.length);
}

function psiTerms(
  referenceShares: readonly number[],
  currentShares: readonly number[],
  epsilon: number,
): number {
  if (!(epsilon > 0)) throw new Error(`psi: epsilon must be > 0, got ${epsilon}`);
  let sum = 0;
  for (let i = 0; i < referenceShares.length; i++) {
    const r = referenceShares[i]! > 0 ? referenceShares[i]! : epsilon;
    const c = currentShares[i]! > 0 ? currentShares[i]! : epsilon;
    sum += (c - r) * Math.log(c / r);
  }
  return sum;
}

/**
 * PSI against a precomputed reference profile (interior edges + reference shares per bin), so drift
 * checks scan only the current window. PSI = Σ (cur − ref) · ln(cur / ref).
 */
export function psiFromEdges(
  edges: readonly number[],
  referenceShares: readonly number[],
  current: readonly number[],
  epsilon: number = DEFAULT_PSI_EPSILON,
): PsiResult {
  if (referenceShares.length !== edges.length + 1) {
    throw new Error(
      `psiFromEdges: ${edges.length} edges make ${edges.length + 1} bins, but got ${referenceShares.length} reference shares`,
    );
  }
  for (const s of referenceShares) {
    if (!(s >= 0 && s <= 1)) throw new Error(`psiFromEdges: reference share ${s} is not in [0, 1]`);
  }
  requireNonEmpty(current, 'psi (current sample)');
  const currentShares = binShares(edges, current);
  return {
    statistic: psiTerms(referenceShares, currentShares, epsilon),
    edges: [...edges],
    referenceShares: [...referenceShares],
    currentShares,
  };
}

/** PSI with edges at the reference quantiles (default 10 bins, epsilon 1e-4 for empty bins). */
export function psi(
  reference: readonly number[],
  current: readonly number[],
  opts: { bins?: number; epsilon?: number } = {},
): PsiResult {
  requireNonEmpty(reference, 'psi (reference sample)');
  requireNonEmpty(current, 'psi (current sample)');
  const sorted = [...reference].sort((a, b) => a - b);
  const edges = quantileEdges(sorted, opts.bins ?? DEFAULT_PSI_BINS);
  return psiFromEdges(edges, binShares(edges, sorted), current, opts.epsilon ?? DEFAULT_PSI_EPSILON);
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Occurrences of each distinct string. Safe for keys such as "__proto__" or "constructor". */
export function countCategories(values: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  // Object.fromEntries defines own properties, so "__proto__" becomes a key, not a prototype change.
  return Object.fromEntries(counts);
}

function categoryTotal(counts: Record<string, number>, what: string): number {
  let total = 0;
  for (const k of Object.keys(counts)) {
    const c = counts[k]!;
    if (!(Number.isFinite(c) && c >= 0))
      throw new Error(`categoricalPsi: ${what} count for "${k}" is invalid (${c})`);
    total += c;
  }
  if (!(total > 0)) throw new Error(`categoricalPsi: ${what} counts are empty (total 0)`);
  return total;
}

/**
 * PSI over categories. The category set is the union of both sides, so categories never seen in the
 * reference (or gone from the current window) count, through the epsilon share, instead of being
 * silently dropped.
 */
export function categoricalPsi(
  referenceCounts: Record<string, number>,
  currentCounts: Record<string, number>,
  epsilon: number = DEFAULT_PSI_EPSILON,
): CategoricalPsiResult {
  const refTotal = categoryTotal(referenceCounts, 'reference');
  const curTotal = categoryTotal(currentCounts, 'current');
  const categories = [...new Set([...Object.keys(referenceCounts), ...Object.keys(currentCounts)])].sort();
  const share = (counts: Record<string, number>, total: number, k: string): number =>
    hasOwn(counts, k) ? counts[k]! / total : 0;
  const referenceShares = categories.map((k) => share(referenceCounts, refTotal, k));
  const currentShares = categories.map((k) => share(currentCounts, curTotal, k));
  return {
    statistic: psiTerms(referenceShares, currentShares, epsilon),
    categories,
    referenceShares,
    currentShares,
  };
}

// ---------------------------------------------------------------------------------------------------
// Jensen–Shannon distance
// ---------------------------------------------------------------------------------------------------

/**
 * Jensen–Shannon distance (natural log) between two discrete distributions given as non-negative
 * weights over the same bins, as scipy.spatial.distance.jensenshannon(p, q): both are normalised to sum
 * 1, then sqrt((KL(p‖m) + KL(q‖m)) / 2) with m = (p + q) / 2. 0 for identical, at most sqrt(ln 2).
 */
export function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length || p.length === 0)
    throw new Error(
      `jensenShannonDistance: needs two equally long non-empty vectors (${p.length}, ${q.length})`,
    );
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    if (!(p[i]! >= 0 && q[i]! >= 0) || !Number.isFinite(p[i]!) || !Number.isFinite(q[i]!))
      throw new Error(`jensenShannonDistance: weights must be finite and >= 0 (bin ${i}: ${p[i]}, ${q[i]})`);
    sp += p[i]!;
    sq += q[i]!;
  }
  if (!(sp > 0 && sq > 0)) throw new Error('jensenShannonDistance: a distribution has no mass');
  let left = 0;
  let right = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]! / sp;
    const b = q[i]! / sq;
    const m = (a + b) / 2;
    if (a > 0) left += a * Math.log(a / m);
    if (b > 0) right += b * Math.log(b / m);
  }
  const js = (left + right) / 2;
  return Math.sqrt(Math.max(0, js));
}

// ---------------------------------------------------------------------------------------------------
// Chi-square
// ---------------------------------------------------------------------------------------------------

/**
 * Pearson's chi-square goodness-of-fit test, as scipy.stats.chisquare(observed, expected):
 * Σ (o − e)² / e with k − 1 degrees of freedom. A category observed but never expected makes the
 * statistic infinite and the p-value 0 (scipy does the same, with a warning).
 */
export function chiSquareTest(
  observed: readonly number[],
  expected: readonly number[],
): { statistic: number; pValue: number; dof: number } {
  if (observed.length !== expected.length || observed.length === 0)
    throw new Error(
      `chiSquareTest: needs equally long non-empty vectors (${observed.length}, ${expected.length})`,
    );
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    const o = observed[i]!;
    const e = expected[i]!;
    if (!(o >= 0 && e >= 0))
      throw new Error(`chiSquareTest: counts must be >= 0 (category ${i}: ${o}, ${e})`);
    if (e === 0) {
      if (o > 0) statistic = Infinity;
      continue;
    }
    statistic += ((o - e) * (o - e)) / e;
  }
  const dof = observed.length - 1;
  if (dof === 0) return { statistic, pValue: statistic === Infinity ? 0 : 1, dof };
  return { statistic, pValue: chiSquareSf(statistic, dof), dof };
}

// ---------------------------------------------------------------------------------------------------
// Multiple testing
// ---------------------------------------------------------------------------------------------------

export type Correction = 'none' | 'bonferroni' | 'benjamini-hochberg';

/**
 * Adjusted p-values: Bonferroni (p · k, capped at 1) or Benjamini–Hochberg step-up (as
 * statsmodels multipletests(method='fdr_bh')). Compare the adjusted values with the usual alpha.
 */
export function adjustPValues(pValues: readonly number[], method: Correction): number[] {
  const k = pValues.length;
  if (method === 'none' || k === 0) return [...pValues];
  if (method === 'bonferroni') return pValues.map((p) => Math.min(1, p * k));
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(k);
  let running = 1;
  for (let r = k - 1; r >= 0; r--) {
    const [p, i] = order[r]!;
    running = Math.min(running, (p * k) / (r + 1));
    adjusted[i] = Math.min(1, running);
  }
  return adjusted;
}
