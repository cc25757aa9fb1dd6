/**
 * Statistical building blocks, no test in sight: moments, the normal and chi-square distributions (with
 * the special functions behind them), sorted-array search, numpy-style histograms and a float64 sort.
 * The tests a drift check runs are built from these in core/stattests.ts (PSI, Wasserstein,
 * Jensen–Shannon, chi-square, multiple-testing correction) and core/ks.ts (Kolmogorov–Smirnov).
 *
 * No I/O, no Node built-ins, no randomness, no clocks: this module is imported by Temporal workflow
 * code, so every function must return the same bits for the same input on every replay.
 */

export type Sorted = ArrayLike<number>;

// ---------------------------------------------------------------------------------------------------
// Basic moments
// ---------------------------------------------------------------------------------------------------

export function requireNonEmpty(values: readonly unknown[], what: string): void {
  if (values.length === 0) throw new Error(`${what}: needs at least one value, got an empty array`);
}

export function requireNoNaN(values: readonly number[], what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) throw new Error(`${what}: value at index ${i} is NaN`);
  }
}

/** Arithmetic mean. Throws on an empty array. */
export function mean(values: readonly number[]): number {
  requireNonEmpty(values, 'mean');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Population standard deviation (divides by n, like numpy.std with ddof=0). Throws on an empty array. */
export function std(values: readonly number[]): number {
  const m = mean(values);
  // Two passes (mean first, then squared deviations) rather than E[x^2] - E[x]^2, which cancels
  // catastrophically when the mean is large relative to the spread.
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / values.length);
}

// ---------------------------------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------------------------------

/*
 * Complementary error function, W. J. Cody, "Rational Chebyshev approximations for the error
 * function", Math. Comp. 23 (1969) 631-638 (netlib SPECFUN CALERF). Relative error ~1e-16 over
 * the whole real line: Abramowitz–Stegun 7.1.26 (|error| ~1.5e-7) is too coarse for p-values.
 * The published 18-digit coefficients are written in their shortest round-trip form (same doubles).
 */
const ERF_A = [
  3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315,
];
const ERF_B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const ERF_C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769,
  1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const ERF_D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597,
  4362.619090143247, 3439.3676741437216, 1230.3393548037495,
];
const ERF_P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378,
  0.016315387137302097,
];
const ERF_Q = [
  2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918,
];
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/** exp(-y*y) without losing the low bits of y*y (Cody's splitting of y into a 1/16-grid part). */
function expMinusSquare(y: number): number {
  const ysq = Math.trunc(y * 16) / 16;
  const del = (y - ysq) * (y + ysq);
  return Math.exp(-ysq * ysq) * Math.exp(-del);
}

function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= 0.46875) {
    const ysq = y > 1.11e-16 ? y * y : 0;
    let num = ERF_A[4]! * ysq;
    let den = ysq;
    for (let i = 0; i < 3; i++) {
      num = (num + ERF_A[i]!) * ysq;
      den = (den + ERF_B[i]!) * ysq;
    }
    return 1 - (x * (num + ERF_A[3]!)) / (den + ERF_B[3]!);
  }
  let r: number;
  if (y <= 4) {
    let num = ERF_C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERF_C[i]!) * y;
      den = (den + ERF_D[i]!) * y;
    }
    r = expMinusSquare(y) * ((num + ERF_C[7]!) / (den + ERF_D[7]!));
  } else if (y >= 26.543) {
    r = 0; // erfc(26.543) < 1e-307: below the smallest normal double
  } else {
    const ysq = 1 / (y * y);
    let num = ERF_P[5]! * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + ERF_P[i]!) * ysq;
      den = (den + ERF_Q[i]!) * ysq;
    }
    const t = (ysq * (num + ERF_P[4]!)) / (den + ERF_Q[4]!);
    r = (expMinusSquare(y) * (ONE_OVER_SQRT_PI - t)) / y;
  }
  return x < 0 ? 2 - r : r;
}

/** Standard normal CDF Φ(x), via erfc so the lower tail keeps full relative precision. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

// ---------------------------------------------------------------------------------------------------
// Chi-square distribution
// ---------------------------------------------------------------------------------------------------

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
// Histograms (numpy's uniform bins) and sorted-array search
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
