import { describe, it, expect } from 'vitest';
import { ksTwoSample } from '../../core/ks.js';
import { mean, normalCdf, std } from '../../core/stats.js';
import {
  binShares,
  categoricalPsi,
  countCategories,
  psi,
  psiFromEdges,
  quantileEdges,
} from '../../core/stattests.js';

/*
 * Every expected number below was computed independently in Python (numpy 2 / scipy 1.17.1) and
 * pasted in; the call that produced it is named next to it.
 *
 * Tolerances:
 *  - KS statistic: 1e-12 absolute (both sides compute h / lcm(n, m); scipy may differ in the last ulp).
 *  - p-values and normal CDF: 1e-9 *relative* (|actual - expected| <= 1e-9 * |expected|), so tiny
 *    tail probabilities are checked as strictly as large ones.
 *  - PSI and shares: 1e-12 absolute (numpy sums the same terms in a different order).
 */

function expectRel(actual: number, expected: number, rel = 1e-9): void {
  expect(Number.isFinite(actual)).toBe(true);
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

function expectAbs(actual: number, expected: number, abs = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(abs);
}

function expectAllAbs(actual: readonly number[], expected: readonly number[], abs = 1e-12): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expectAbs(a, expected[i]!, abs));
}

/**
 * Deterministic, roughly uniform sequence on [offset, offset + 1): integer arithmetic and one division,
 * so TS and Python produce the same bits. Python: [((i * mult) % mod) / mod + offset for i in range(n)].
 */
function uni(n: number, offset = 0, mult = 7919, mod = 1009): number[] {
  return Array.from({ length: n }, (_, i) => ((i * mult) % mod) / mod + offset);
}

/** Python: [math.sin(i) * 10 + offset for i in range(n)] (libm sin may differ by 1 ulp; see uses). */
function sinSeq(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i) * 10 + offset);
}

describe('mean and std', () => {
  it('given the textbook sample, when mean and population std are computed, then they are 5 and 2', () => {
    // numpy.mean / numpy.std([2,4,4,4,5,5,7,9]) -> 5.0, 2.0
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    expect(std([2, 4, 4, 4, 5, 5, 7, 9])).toBe(2);
  });

  it('given values with a huge common offset, when std is computed, then no cancellation occurs', () => {
    // numpy.std([1e9+1, 1e9+2, 1e9+3]) -> 0.816496580927726
    expectAbs(std([1e9 + 1, 1e9 + 2, 1e9 + 3]), 0.816496580927726, 1e-12);
    expect(mean([1e9 + 1, 1e9 + 2, 1e9 + 3])).toBe(1000000002);
  });

  it('given mixed-sign fractional values, when mean and std are computed, then they match numpy', () => {
    // numpy.mean([-1.5, 2.25, 0.0, 3.125]) -> 0.96875; numpy.std(...) -> 1.8251177188061047
    expect(mean([-1.5, 2.25, 0, 3.125])).toBe(0.96875);
    expectAbs(std([-1.5, 2.25, 0, 3.125]), 1.8251177188061047, 1e-15);
  });

  it('given a single value, when std is computed, then it is 0', () => {
    expect(mean([42])).toBe(42);
    expect(std([42])).toBe(0);
  });

  it('given an empty array, when mean or std is computed, then a clear error is thrown', () => {
    expect(() => mean([])).toThrow(/empty/);
    expect(() => std([])).toThrow(/empty/);
  });
});

describe('normalCdf', () => {
  // scipy.stats.norm.cdf(x) for each x
  const cases: [number, number][] = [
    [0.3, 0.6179114221889526],
    [-0.5, 0.3085375387259869],
    [1.0, 0.8413447460685429],
    [-1.0, 0.15865525393145707],
    [1.959963984540054, 0.975],
    [-1.959963984540054, 0.025],
    [2.5, 0.9937903346742238],
    [-3.0, 0.0013498980316300933],
    [4.0, 0.9999683287581669],
    [-5.0, 2.866515718791933e-7],
    [-6.0, 9.865876450376946e-10],
    [6.5, 0.99999999995984],
    [-8.0, 6.22096057427174e-16],
    [-10.0, 7.61985302416047e-24],
    [-20.0, 2.7536241186061556e-89],
    [-37.5, 4.605353009581954e-308],
  ];
  for (const [x, expected] of cases) {
    it(`given x = ${x}, when normalCdf is evaluated, then it matches scipy.stats.norm.cdf to 1e-9 relative`, () => {
      expectRel(normalCdf(x), expected);
    });
  }

  it('given 0 and extreme arguments, when normalCdf is evaluated, then it returns the exact limits', () => {
    // scipy.stats.norm.cdf(0) -> 0.5; norm.cdf(40) -> 1.0
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(40)).toBe(1);
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(Infinity)).toBe(1);
    expect(normalCdf(-Infinity)).toBe(0);
  });

  it('given any x, when normalCdf(x) + normalCdf(-x) is formed, then it is 1 (symmetry)', () => {
    for (const x of [0.1, 0.4, 0.7, 1.3, 2.9, 5.1, 5.9, 7.3]) {
      expectAbs(normalCdf(x) + normalCdf(-x), 1, 1e-15);
    }
  });
});

describe('quantileEdges', () => {
  it('given 1..10 and 4 bins, when edges are computed, then they are the numpy linear quartiles', () => {
    // numpy.quantile(range(1, 11), [0.25, 0.5, 0.75]) -> [3.25, 5.5, 7.75]
    expect(quantileEdges([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4)).toEqual([3.25, 5.5, 7.75]);
  });

  it('given 1..10 and 10 bins, when edges are computed, then they match numpy bit for bit', () => {
    // numpy.quantile(range(1, 11), numpy.arange(1, 10) / 10)
    expect(quantileEdges([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10)).toEqual([
      1.9, 2.8, 3.6999999999999997, 4.6, 5.5, 6.3999999999999995, 7.3, 8.2, 9.1,
    ]);
  });

  it('given 1..7 and 3 bins, when the quantile positions land on data points, then edges are those points', () => {
    // numpy.quantile(range(1, 8), [1/3, 2/3]) -> [3.0, 5.0]
    expect(quantileEdges([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([3, 5]);
  });

  it('given a constant column, when edges are computed, then the duplicate edges collapse to one', () => {
    // numpy.unique(numpy.quantile([5, 5, 5, 5], numpy.arange(1, 10) / 10)) -> [5.0]
    expect(quantileEdges([5, 5, 5, 5], 10)).toEqual([5]);
  });

  it('given heavy ties, when edges are computed, then they are deduplicated and strictly increasing', () => {
    // numpy.unique(numpy.quantile([0]*8 + [1, 1], numpy.arange(1, 10) / 10)) -> [0.0, 0.20000000000000018, 1.0]
    expect(quantileEdges([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], 10)).toEqual([0, 0.20000000000000018, 1]);
  });

  it('given a single value or a single bin, when edges are computed, then they are [v] and []', () => {
    expect(quantileEdges([3.5], 10)).toEqual([3.5]);
    expect(quantileEdges([1, 2, 3], 1)).toEqual([]);
  });

  it('given unsorted, empty or non-finite input or a bad bin count, when edges are computed, then it throws', () => {
    expect(() => quantileEdges([2, 1], 4)).toThrow(/sorted/);
    expect(() => quantileEdges([], 4)).toThrow(/empty/);
    expect(() => quantileEdges([1, Infinity], 4)).toThrow(/finite/);
    expect(() => quantileEdges([1, 2], 0)).toThrow(/bins/);
    expect(() => quantileEdges([1, 2], 2.5)).toThrow(/bins/);
  });
});

describe('binShares', () => {
  it('given values on and between edges, when shares are computed, then a value on an edge goes right', () => {
    // numpy.bincount(numpy.searchsorted([0, 0.2, 1], [-5, 0, 0.1, 0.2, 0.5, 1, 1, 7], side='right'),
    //   minlength=4) / 8 -> [0.125, 0.25, 0.25, 0.375]
    expect(binShares([0, 0.2, 1], [-5, 0, 0.1, 0.2, 0.5, 1, 1, 7])).toEqual([0.125, 0.25, 0.25, 0.375]);
  });

  it('given no edges, when shares are computed, then everything is in one bin', () => {
    expect(binShares([], [1, 2, 3])).toEqual([1]);
  });

  it('given infinite values, when shares are computed, then they land in the open outer bins', () => {
    expect(binShares([0], [-Infinity, Infinity])).toEqual([0.5, 0.5]);
  });

  it('given no values, NaN, or non-increasing edges, when shares are computed, then it throws', () => {
    expect(() => binShares([0], [])).toThrow(/empty/);
    expect(() => binShares([0], [NaN])).toThrow(/NaN/);
    expect(() => binShares([1, 1], [0])).toThrow(/strictly increasing/);
  });
});

/*
 * PSI references: an independent numpy implementation of the same definition —
 *   e = numpy.unique(numpy.quantile(sorted(ref), numpy.arange(1, bins) / bins))
 *   s(x) = numpy.bincount(numpy.searchsorted(e, x, side='right'), minlength=len(e) + 1) / len(x)
 *   r, c = numpy.where(s(ref) == 0, eps, s(ref)), numpy.where(s(cur) == 0, eps, s(cur))
 *   psi = numpy.sum((c - r) * numpy.log(c / r))
 */
describe('psi', () => {
  const UNI500_EDGES = [
    0.09881070366699704, 0.20059464816650152, 0.3, 0.3990089197224975, 0.4990089197224975, 0.5990089197224975,
    0.698017839444995, 0.7974231912784937, 0.898017839444995,
  ];
  const TENTHS = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];

  it('given identical samples, when psi is computed, then it is 0 with reference deciles as edges', () => {
    // numpy reference above with ref = cur = uni(500) -> psi 0.0
    const r = psi(uni(500), uni(500));
    expect(r.statistic).toBe(0);
    expectAllAbs(r.edges, UNI500_EDGES, 0);
    expectAllAbs(r.referenceShares, TENTHS);
    expectAllAbs(r.currentShares, TENTHS);
  });

  it('given a shifted current sample with an empty bin, when psi is computed, then the epsilon path matches numpy', () => {
    // numpy reference, ref = uni(500), cur = uni(300, 0.1, 104729, 1013) -> 0.7569973198237053
    const r = psi(uni(500), uni(300, 0.1, 104729, 1013));
    expectAbs(r.statistic, 0.7569973198237053);
    expectAllAbs(
      r.currentShares,
      [
        0, 0.11, 0.10333333333333333, 0.08666666666666667, 0.10666666666666667, 0.10333333333333333,
        0.09333333333333334, 0.09333333333333334, 0.11, 0.19333333333333333,
      ],
    );
  });

  it('given a skewed current sample, when psi is computed, then it matches numpy', () => {
    // numpy reference, ref = uni(500), cur = [x * x for x in uni(300, 0, 104729, 1013)] -> 0.39217165697505935
    const r = psi(
      uni(500),
      uni(300, 0, 104729, 1013).map((x) => x * x),
    );
    expectAbs(r.statistic, 0.39217165697505935);
  });

  it('given every current value in one bin, when psi is computed, then nine empty bins use epsilon 1e-4', () => {
    // numpy reference, ref = uni(500), cur = [0.05] * 20 -> 8.283089355027482
    const r = psi(uni(500), Array<number>(20).fill(0.05));
    expectAbs(r.statistic, 8.283089355027482);
    expect(r.currentShares).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('given a custom epsilon, when psi is computed, then empty bins use it', () => {
    // numpy reference with eps = 1e-3, ref = uni(500), cur = [0.05] * 20 -> 6.175533219410031
    expectAbs(psi(uni(500), Array<number>(20).fill(0.05), { epsilon: 1e-3 }).statistic, 6.175533219410031);
  });

  it('given a constant reference and the same constant, when psi is computed, then it is 0', () => {
    // numpy reference, ref = [5.0] * 10, cur = [5.0] * 4 -> 0.0 (edges [5.0], shares [0, 1])
    const r = psi(Array<number>(10).fill(5), [5, 5, 5, 5]);
    expect(r.statistic).toBe(0);
    expect(r.edges).toEqual([5]);
    expect(r.referenceShares).toEqual([0, 1]);
  });

  it('given a constant reference and a spread current sample, when psi is computed, then it matches numpy', () => {
    // numpy reference, ref = [5.0] * 10, cur = [4, 5, 6, 7] -> 2.0271496162259326
    const r = psi(Array<number>(10).fill(5), [4, 5, 6, 7]);
    expectAbs(r.statistic, 2.0271496162259326);
    expect(r.currentShares).toEqual([0.25, 0.75]);
  });

  it('given a heavily tied reference, when psi is computed, then it matches numpy', () => {
    // numpy reference, ref = [0]*8 + [1, 1], cur = [0, 0.5, 1, 1] -> 2.8698492630683585
    const r = psi([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [0, 0.5, 1, 1]);
    expectAbs(r.statistic, 2.8698492630683585);
    expect(r.edges).toEqual([0, 0.20000000000000018, 1]);
    expectAllAbs(r.referenceShares, [0, 0.8, 0, 0.2]);
    expectAllAbs(r.currentShares, [0, 0.25, 0.25, 0.5]);
  });

  it('given 5 bins, when psi is computed, then it matches numpy', () => {
    // numpy reference, bins = 5, ref = uni(200), cur = uni(100, 0.05, 104729, 1013) -> 0.019418668908234446
    const r = psi(uni(200), uni(100, 0.05, 104729, 1013), { bins: 5 });
    expectAbs(r.statistic, 0.019418668908234446);
    expectAllAbs(
      r.edges,
      [0.200396432111001, 0.40475718533201194, 0.6001982160555005, 0.8045589692765115],
      1e-15,
    );
  });

  it('given sin-generated samples, when psi is computed, then it matches numpy', () => {
    // numpy reference, ref = sinSeq(500), cur = sinSeq(300, 1.0) -> 0.7651291627627714. V8 and glibc sin
    // differ by 1 ulp on some inputs; the nearest value sits 9e-6 from an edge, so bins cannot change.
    expectAbs(psi(sinSeq(500), sinSeq(300, 1)).statistic, 0.7651291627627714, 1e-12);
  });

  it('given unsorted reference input, when psi is computed, then the result equals the sorted-input result', () => {
    const ref = uni(500);
    const shuffled = [...ref].reverse();
    expect(psi(shuffled, uni(50, 0.2)).statistic).toBe(psi(ref, uni(50, 0.2)).statistic);
  });

  it('given an empty side, when psi is computed, then it throws', () => {
    expect(() => psi([], [1])).toThrow(/empty/);
    expect(() => psi([1], [])).toThrow(/empty/);
  });
});

describe('psiFromEdges', () => {
  it('given a stored profile (edges + shares), when psi is computed from it, then it equals psi on the raw reference', () => {
    const ref = uni(500);
    const cur = uni(300, 0.1, 104729, 1013);
    const sorted = [...ref].sort((a, b) => a - b);
    const edges = quantileEdges(sorted, 10);
    const profile = binShares(edges, sorted);
    const fromProfile = psiFromEdges(edges, profile, cur);
    expect(fromProfile).toEqual(psi(ref, cur));
    // numpy reference (see describe('psi')) -> 0.7569973198237053
    expectAbs(fromProfile.statistic, 0.7569973198237053);
  });

  it('given an empty reference bin, when psi is computed from edges, then epsilon replaces the zero share', () => {
    // ref shares [0, 0.8, 0, 0.2] over edges [0, 0.2, 1]: the tied-reference numpy case -> 2.8698492630683585
    expectAbs(
      psiFromEdges([0, 0.20000000000000018, 1], [0, 0.8, 0, 0.2], [0, 0.5, 1, 1]).statistic,
      2.8698492630683585,
    );
  });

  it('given shares that do not match the edges, when psi is computed, then it throws', () => {
    expect(() => psiFromEdges([0, 1], [0.5, 0.5], [0.3])).toThrow(/3 bins/);
    expect(() => psiFromEdges([0], [1.5, -0.5], [0.3])).toThrow(/not in \[0, 1\]/);
    expect(() => psiFromEdges([0], [0.5, 0.5], [0.3], 0)).toThrow(/epsilon/);
  });
});

describe('countCategories', () => {
  it('given repeated strings, when counted, then each distinct value has its count', () => {
    expect(countCategories(['a', 'b', 'a', 'c', 'a'])).toEqual({ a: 3, b: 1, c: 1 });
    expect(countCategories([])).toEqual({});
  });

  it('given prototype-like names, when counted, then they are ordinary own keys', () => {
    const counts = countCategories(['__proto__', 'constructor', '__proto__']);
    expect(Object.keys(counts).sort()).toEqual(['__proto__', 'constructor']);
    expect(counts['__proto__']).toBe(2);
    expect(counts['constructor']).toBe(1);
    expect(Object.getPrototypeOf(counts)).toBe(Object.prototype);
  });
});

/*
 * Categorical PSI references (Python):
 *   cats = sorted(set(ref) | set(cur)); r = [ref.get(k, 0) / sum(ref.values()) for k in cats]; c likewise
 *   r, c = numpy.where(r == 0, eps, r), numpy.where(c == 0, eps, c); numpy.sum((c - r) * numpy.log(c / r))
 */
describe('categoricalPsi', () => {
  const REF = { a: 50, b: 30, c: 20 };

  it('given the same distribution at a different scale, when psi is computed, then it is 0', () => {
    // reference above with cur = {a: 5, b: 3, c: 2} -> 0.0
    expect(categoricalPsi(REF, { a: 5, b: 3, c: 2 }).statistic).toBe(0);
  });

  it('given a category unseen in the reference, when psi is computed, then it counts via epsilon', () => {
    // reference above with cur = {a: 40, b: 30, c: 20, d: 10} -> 0.7123991075017365
    const r = categoricalPsi(REF, { a: 40, b: 30, c: 20, d: 10 });
    expectAbs(r.statistic, 0.7123991075017365);
    expect(r.categories).toEqual(['a', 'b', 'c', 'd']);
    expectAllAbs(r.referenceShares, [0.5, 0.3, 0.2, 0]);
    expectAllAbs(r.currentShares, [0.4, 0.3, 0.2, 0.1]);
  });

  it('given a category gone from the current window, when psi is computed, then it counts via epsilon', () => {
    // reference above with cur = {a: 60, b: 40} -> 1.566420764587036
    expectAbs(categoricalPsi(REF, { a: 60, b: 40 }).statistic, 1.566420764587036);
  });

  it('given disjoint categories, when psi is computed, then it is large but finite', () => {
    // reference above with cur = {d: 7} -> 17.387694249528735
    expectAbs(categoricalPsi(REF, { d: 7 }).statistic, 17.387694249528735);
  });

  it('given a custom epsilon, when psi is computed, then unseen categories use it', () => {
    // reference above with eps = 1e-3, cur = {a: 40, b: 30, c: 20, d: 10} -> 0.47822620354424206
    expectAbs(categoricalPsi(REF, { a: 40, b: 30, c: 20, d: 10 }, 1e-3).statistic, 0.47822620354424206);
  });

  it('given prototype-like category names, when psi is computed, then inherited properties are not read as counts', () => {
    // reference above with ref = {'__proto__': 3, 'constructor': 1}, cur = {'constructor': 2, 'toString': 2}
    //   -> 11.122133130342313
    const ref = countCategories(['__proto__', '__proto__', '__proto__', 'constructor']);
    const cur = countCategories(['constructor', 'constructor', 'toString', 'toString']);
    const r = categoricalPsi(ref, cur);
    expectAbs(r.statistic, 11.122133130342313);
    expect(r.categories).toEqual(['__proto__', 'constructor', 'toString']);
  });

  it('given empty or invalid counts, when psi is computed, then it throws', () => {
    expect(() => categoricalPsi({}, { a: 1 })).toThrow(/empty/);
    expect(() => categoricalPsi({ a: 1 }, { a: 0 })).toThrow(/empty/);
    expect(() => categoricalPsi({ a: -1, b: 2 }, { a: 1 })).toThrow(/invalid/);
  });
});

describe('ksTwoSample', () => {
  describe('tiny samples (method=exact)', () => {
    // scipy.stats.ks_2samp(a, b, method='exact') -> (statistic, pvalue) for each row
    const cases: [number[], number[], number, number][] = [
      [[1], [2], 1.0, 1.0],
      [[1], [1], 0.0, 1.0],
      [[1], [0, 2], 0.5, 1.0],
      [[0, 1], [2, 3], 1.0, 0.3333333333333333],
      [[1, 2, 3], [4, 5, 6], 1.0, 0.09999999999999999],
      [[1, 2, 3], [1.5, 2.5, 3.5], 0.3333333333333333, 1.0],
      [[3, 1, 2], [2], 0.3333333333333333, 1.0],
      [[5], [1, 2, 3, 4, 6, 7], 0.6666666666666666, 0.8571428571428571],
    ];
    for (const [a, b, d, p] of cases) {
      it(`given ${JSON.stringify(a)} vs ${JSON.stringify(b)}, when tested, then D = ${d} and p = ${p}`, () => {
        const r = ksTwoSample(a, b);
        expectAbs(r.statistic, d);
        expectRel(r.pValue, p);
      });
    }
  });

  describe('ties', () => {
    it('given ties across the samples, when tested, then the ECDFs jump together (D = 1/3, p = 1)', () => {
      // scipy.stats.ks_2samp([1, 2, 2], [2, 2, 3], method='exact') -> statistic 0.3333333333333333, pvalue 1.0
      const r = ksTwoSample([1, 2, 2], [2, 2, 3]);
      expectAbs(r.statistic, 1 / 3);
      expect(r.pValue).toBe(1);
    });

    it('given two constant columns with the same value, when tested, then D = 0 and p = 1', () => {
      // scipy.stats.ks_2samp([1, 1, 1], [1, 1], method='exact') -> statistic 0.0, pvalue 1.0
      expect(ksTwoSample([1, 1, 1], [1, 1])).toEqual({ statistic: 0, pValue: 1 });
    });

    it('given two constant columns with different values, when tested, then D = 1', () => {
      // scipy.stats.ks_2samp([1, 1, 1], [2, 2], method='exact') -> statistic 1.0, pvalue 0.2
      const r = ksTwoSample([1, 1, 1], [2, 2]);
      expect(r.statistic).toBe(1);
      expectRel(r.pValue, 0.2);
    });

    it('given tied small integers of unequal sizes, when tested, then it matches scipy', () => {
      // scipy.stats.ks_2samp([0, 0, 1, 1, 2], [1, 1, 2, 2, 3, 3], method='exact')
      //   -> statistic 0.4666666666666667, pvalue 0.474025974025974
      const r = ksTwoSample([0, 0, 1, 1, 2], [1, 1, 2, 2, 3, 3]);
      expectAbs(r.statistic, 0.4666666666666667);
      expectRel(r.pValue, 0.474025974025974);
    });

    it('given large tied integer samples, when tested with the asymptotic method, then it matches scipy', () => {
      // scipy.stats.ks_2samp([i % 7 for i in range(400)], [(i * 3) % 8 for i in range(300)], method='asymp')
      //   -> statistic 0.1233333333333333, pvalue 0.010026495521314122
      const a = Array.from({ length: 400 }, (_, i) => i % 7);
      const b = Array.from({ length: 300 }, (_, i) => (i * 3) % 8);
      const r = ksTwoSample(a, b);
      expectAbs(r.statistic, 0.1233333333333333);
      expectRel(r.pValue, 0.010026495521314122);
    });
  });

  describe('exact method, n * m <= 10 000', () => {
    it('given equal sizes 50 vs 50, when tested, then it matches scipy (Pr(D_{n,n}) path)', () => {
      // scipy.stats.ks_2samp(uni(50), uni(50, 0.3), method='exact') -> statistic 0.32, pvalue 0.011511738725894704
      const r = ksTwoSample(uni(50), uni(50, 0.3));
      expectAbs(r.statistic, 0.32);
      expectRel(r.pValue, 0.011511738725894704);
    });

    it('given unequal sizes 80 vs 120, when tested, then it matches scipy (lattice-path recursion)', () => {
      // scipy.stats.ks_2samp(uni(80), uni(120, 0.1, 104729, 1013), method='exact')
      //   -> statistic 0.11666666666666667, pvalue 0.5059003526001076
      const r = ksTwoSample(uni(80), uni(120, 0.1, 104729, 1013));
      expectAbs(r.statistic, 0.11666666666666667);
      expectRel(r.pValue, 0.5059003526001076);
    });

    it('given two similar samples of 100, when tested, then p is near 1 as scipy says', () => {
      // scipy.stats.ks_2samp(uni(100), uni(100, 0, 104729, 1013), method='exact')
      //   -> statistic 0.06, pvalue 0.9942356257694902
      const r = ksTwoSample(uni(100), uni(100, 0, 104729, 1013));
      expectAbs(r.statistic, 0.06);
      expectRel(r.pValue, 0.9942356257694902);
    });
  });

  describe('asymptotic method, n * m > 10 000 (scipy kstwo.sf at en = round(nm / (n + m)))', () => {
    // Each case names the branch of scipy's kolmogn that it exercises.
    const cases: { name: string; a: () => number[]; b: () => number[]; d: number; p: number }[] = [
      {
        // scipy.stats.ks_2samp(sinSeq(300), sinSeq(200, 1.0), method='asymp') en=120, Pomeranz
        name: 'sin 300 vs shifted sin 200 (en 120, Pomeranz)',
        a: () => sinSeq(300),
        b: () => sinSeq(200, 1),
        d: 0.14500000000000002,
        p: 0.01151096326902238,
      },
      {
        // scipy.stats.ks_2samp(sinSeq(300), sinSeq(200), method='asymp') en=120, Ruben-Gambino (n·d <= 1)
        name: 'sin 300 vs sin 200 (en 120, Ruben-Gambino)',
        a: () => sinSeq(300),
        b: () => sinSeq(200),
        d: 0.0050000000000000044,
        p: 1.0,
      },
      {
        // scipy.stats.ks_2samp(uni(150), uni(150, 0.04, 104729, 1013), method='asymp') en=75, Durbin matrix
        name: '150 vs 150, small shift (en 75, Durbin matrix)',
        a: () => uni(150),
        b: () => uni(150, 0.04, 104729, 1013),
        d: 0.046666666666666745,
        p: 0.9942929544703909,
      },
      {
        // scipy.stats.ks_2samp(uni(150), uni(150, 0.12, 104729, 1013), method='asymp') en=75, Pomeranz
        name: '150 vs 150, medium shift (en 75, Pomeranz)',
        a: () => uni(150),
        b: () => uni(150, 0.12, 104729, 1013),
        d: 0.1266666666666667,
        p: 0.16526084791820256,
      },
      {
        // scipy.stats.ks_2samp(uni(150), uni(150, 0.25, 104729, 1013), method='asymp') en=75, 2·Smirnov (Miller)
        name: '150 vs 150, large shift (en 75, Miller 2·smirnov)',
        a: () => uni(150),
        b: () => uni(150, 0.25, 104729, 1013),
        d: 0.2533333333333334,
        p: 9.921946645373744e-5,
      },
      {
        // scipy.stats.ks_2samp(uni(150), uni(150, 0.6, 104729, 1013), method='asymp') en=75, d >= 0.5
        name: '150 vs 150, huge shift (en 75, exact 2·smirnov)',
        a: () => uni(150),
        b: () => uni(150, 0.6, 104729, 1013),
        d: 0.6066666666666667,
        p: 5.380244290299317e-27,
      },
      {
        // scipy.stats.ks_2samp(uni(500), uni(400, 0.005, 104729, 1013), method='asymp') en=222, Durbin matrix
        name: '500 vs 400, tiny shift (en 222, Durbin matrix)',
        a: () => uni(500),
        b: () => uni(400, 0.005, 104729, 1013),
        d: 0.010499999999999999,
        p: 1.0,
      },
      {
        // scipy.stats.ks_2samp(uni(500), uni(400, 0.06, 104729, 1013), method='asymp') en=222, Pelz-Good
        name: '500 vs 400, small shift (en 222, Pelz-Good)',
        a: () => uni(500),
        b: () => uni(400, 0.06, 104729, 1013),
        d: 0.0645,
        p: 0.30110791265743553,
      },
      {
        // scipy.stats.ks_2samp(uni(500), uni(400, 0.2, 104729, 1013), method='asymp') en=222, 2·smirnov
        name: '500 vs 400, large shift (en 222, 2·smirnov)',
        a: () => uni(500),
        b: () => uni(400, 0.2, 104729, 1013),
        d: 0.20450000000000002,
        p: 1.2841437361919425e-8,
      },
      {
        // scipy.stats.ks_2samp(uni(500), uni(400, 0.7, 104729, 1013), method='asymp') en=222, d >= 0.5
        name: '500 vs 400, huge shift (en 222, exact 2·smirnov)',
        a: () => uni(500),
        b: () => uni(400, 0.7, 104729, 1013),
        d: 0.7045,
        p: 3.007364318731719e-111,
      },
      {
        // scipy.stats.ks_2samp(uni(5000), uni(5000, 0.02, 104729, 1013), method='asymp') en=2500
        name: '5000 vs 5000, small shift (en 2500)',
        a: () => uni(5000),
        b: () => uni(5000, 0.02, 104729, 1013),
        d: 0.02080000000000004,
        p: 0.2264137075881001,
      },
      {
        // scipy.stats.ks_2samp([0.0, 0.5], uni(5001, 0.0, 104729, 1013), method='asymp') en=2, Ruben-Gambino
        name: '2 vs 5001 (en 2, Ruben-Gambino upper end)',
        a: () => [0, 0.5],
        b: () => uni(5001, 0, 104729, 1013),
        d: 0.49910017996400724,
        p: 0.5035928027351937,
      },
      {
        // scipy.stats.ks_2samp([0.3], uni(10001, 0.0, 104729, 1013), method='asymp') en=1
        name: '1 vs 10001 (en 1)',
        a: () => [0.3],
        b: () => uni(10001, 0, 104729, 1013),
        d: 0.6998300169983002,
        p: 0.6003399660033997,
      },
    ];
    for (const c of cases) {
      it(`given ${c.name}, when tested, then D and p match scipy method='asymp'`, () => {
        const r = ksTwoSample(c.a(), c.b());
        expectAbs(r.statistic, c.d);
        expectRel(r.pValue, c.p);
      });
    }

    it('given completely separated large samples, when tested, then D = 1 and p = 0', () => {
      // scipy.stats.ks_2samp([0.0, 0.5], uni(5001, 0.6, 104729, 1013), method='asymp') -> statistic 1.0, pvalue 0.0
      expect(ksTwoSample([0, 0.5], uni(5001, 0.6, 104729, 1013))).toEqual({ statistic: 1, pValue: 0 });
    });

    it('given 5000 vs 5000 with a half-width shift, when tested, then p underflows to 0 as in scipy', () => {
      // scipy.stats.ks_2samp(uni(5000), uni(5000, 0.5, 104729, 1013), method='asymp') -> statistic 0.5008, pvalue 0.0
      const r = ksTwoSample(uni(5000), uni(5000, 0.5, 104729, 1013));
      expectAbs(r.statistic, 0.5008);
      expect(r.pValue).toBe(0);
    });
  });

  it('given swapped arguments, when tested, then the result is the same', () => {
    const a = uni(80);
    const b = uni(120, 0.1, 104729, 1013);
    expect(ksTwoSample(b, a)).toEqual(ksTwoSample(a, b));
  });

  it('given the same inputs twice, when tested, then the result is bit-identical (deterministic)', () => {
    const a = sinSeq(700);
    const b = sinSeq(600, 0.3);
    expect(ksTwoSample(a, b)).toEqual(ksTwoSample(a, b));
  });

  it('given an empty sample, when tested, then a clear error is thrown', () => {
    expect(() => ksTwoSample([], [1])).toThrow(/non-empty/);
    expect(() => ksTwoSample([1], [])).toThrow(/non-empty/);
  });

  it('given a NaN value, when tested, then a clear error is thrown', () => {
    expect(() => ksTwoSample([1, NaN], [1])).toThrow(/NaN/);
  });
});
