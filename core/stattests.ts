/**
 * The drift tests beyond PSI and KS: Wasserstein distance, Jensen–Shannon distance, Pearson's
 * chi-square goodness-of-fit test, and the histogram and special functions they need.
 *
 * Definitions follow scipy (scipy.stats.wasserstein_distance, scipy.spatial.distance.jensenshannon,
 * scipy.stats.chisquare) and numpy (histogram_bin_edges with bins='sturges', histogram), so a report
 * from Remedy and one from scipy or Evidently give the same numbers on the same data.
 *
 * Pure and deterministic (imported by workflow code): no I/O, no clocks, no randomness.
 */

export type Sorted = ArrayLike<number>;

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
// Histograms (numpy's uniform bins)
// ---------------------------------------------------------------------------------------------------

/**
 * numpy.histogram_bin_edges(values, bins='sturges') for data spanning [min, max] with `count` values:
 * width = ptp / (log2(count) + 1), ceil(ptp / width) equal bins, edges from numpy.linspace. A constant
 * column gets one bin [v − 0.5, v + 0.5], as numpy does.
 */
export function sturgesEdges(min: number, max: number, count: number): number[] {
  if (!(count > 0)) throw new Error(`sturgesEdges: count must be positive, got ${count}`);
  if (!Number.isFinite(min) || !Number.isFinite(max) || max < min)
    throw new Error(`sturgesEdges: range [${min}, ${max}] is not a finite interval`);
  let first = min;
  let last = max;
  let bins = 1;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  } else {
    const width = (max - min) / (Math.log2(count) + 1);
    bins = width > 0 ? Math.ceil((last - first) / width) : 1;
  }
  return linspace(first, last, bins + 1);
}

/** numpy.linspace(start, stop, num) with endpoint=True: start + i·step, the last edge exactly `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/**
 * numpy.histogram(values, edges)[0]: bins [e_i, e_{i+1}), the last one closed; values outside
 * [e_0, e_last] are not counted. `values` must be sorted: each edge is one binary search.
 */
export function histogramSorted(sorted: Sorted, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length - 1).fill(0);
  let prev = lowerBound(sorted, edges[0]!);
  for (let b = 0; b < counts.length; b++) {
    const last = b === counts.length - 1;
    const end = last ? upperBound(sorted, edges[b + 1]!) : lowerBound(sorted, edges[b + 1]!);
    counts[b] = end - prev;
    prev = end;
  }
  return counts;
}

/** Index of the first element >= x. */
export function lowerBound(sorted: Sorted, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > x. */
export function upperBound(sorted: Sorted, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of distinct values in a sorted sample. */
export function distinctSorted(sorted: Sorted): number {
  let count = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) count++;
  return count;
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

/** Survival function of the chi-square distribution: Q(dof/2, x/2). */
export function chiSquareSf(x: number, dof: number): number {
  if (x === Infinity) return 0;
  if (!(x > 0)) return 1;
  return gammaQ(dof / 2, x / 2);
}

/*
 * ln Γ(x) for x > 0: Lanczos approximation (g = 7, n = 9, the coefficients of Godfrey's table), relative
 * error ~1e-15, with the reflection-free form since the chi-square only needs x >= 1/2.
 */
const LANCZOS = [
  0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
  12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
];

export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a): the series for P when x < a + 1, the
 * Lentz continued fraction for Q otherwise (Numerical Recipes §6.2), iterated to machine precision.
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new Error(`gammaQ: a must be > 0, got ${a}`);
  if (!(x >= 0)) throw new Error(`gammaQ: x must be >= 0, got ${x}`);
  if (x === 0) return 1;
  const logPrefix = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let n = 0; n < 10_000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-17) break;
    }
    return Math.max(0, 1 - sum * Math.exp(logPrefix));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.min(1, Math.exp(logPrefix) * h);
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

// ---------------------------------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------------------------------

const RADIX_MIN = 4096;

/**
 * Sorts float64 values ascending into a new array, in the order Float64Array.prototype.sort gives for
 * finite values (−0 before +0). Large arrays use an LSD radix sort on the IEEE-754 bits (8-bit digits,
 * digits shared by every value skipped): about twice as fast as the native comparison sort at a million
 * values. NaN of either sign may land at either end: callers drop non-finite values.
 */
export function sortFloat64(values: Float64Array): Float64Array {
  const n = values.length;
  if (n < RADIX_MIN) return values.slice().sort();
  const src = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  let lo = new Uint32Array(n);
  let hi = new Uint32Array(n);
  let lo2 = new Uint32Array(n);
  let hi2 = new Uint32Array(n);
  const hist = new Uint32Array(8 * 256);
  // Map the bits to unsigned keys in numeric order: flip every bit of negatives, the sign bit of the rest.
  for (let i = 0; i < n; i++) {
    let l = src[2 * i]!;
    let h = src[2 * i + 1]!;
    if (h & 0x80000000) {
      h = ~h >>> 0;
      l = ~l >>> 0;
    } else h = (h | 0x80000000) >>> 0;
    lo[i] = l;
    hi[i] = h;
    hist[l & 255]!++;
    hist[256 + ((l >>> 8) & 255)]!++;
    hist[512 + ((l >>> 16) & 255)]!++;
    hist[768 + (l >>> 24)]!++;
    hist[1024 + (h & 255)]!++;
    hist[1280 + ((h >>> 8) & 255)]!++;
    hist[1536 + ((h >>> 16) & 255)]!++;
    hist[1792 + (h >>> 24)]!++;
  }
  for (let pass = 0; pass < 8; pass++) {
    const base = pass * 256;
    let constant = false;
    for (let d = 0; d < 256; d++) {
      if (hist[base + d] === n) {
        constant = true;
        break;
      }
    }
    if (constant) continue;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const c = hist[base + d]!;
      hist[base + d] = sum;
      sum += c;
    }
    const shift = (pass & 3) * 8;
    const keys = pass >= 4 ? hi : lo;
    for (let i = 0; i < n; i++) {
      const o = hist[base + ((keys[i]! >>> shift) & 255)]!++;
      lo2[o] = lo[i]!;
      hi2[o] = hi[i]!;
    }
    [lo, lo2] = [lo2, lo];
    [hi, hi2] = [hi2, hi];
  }
  const out = new Float64Array(n);
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    let l = lo[i]!;
    let h = hi[i]!;
    if (h & 0x80000000) h = (h & 0x7fffffff) >>> 0;
    else {
      h = ~h >>> 0;
      l = ~l >>> 0;
    }
    dst[2 * i] = l;
    dst[2 * i + 1] = h;
  }
  return out;
}
