import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Policy } from '../../core/schemas.js';
import { profileColumns, driftReportColumns } from '../../core/drift.js';
import { chiSquareSf, histogramSorted, logGamma, sortFloat64, sturgesEdges } from '../../core/stats.js';
import {
  adjustPValues,
  chiSquareTest,
  jensenShannonDistance,
  wassersteinSorted,
} from '../../core/stattests.js';

// Expected values computed with scipy 1.17.1 / numpy 2.4 / Evidently 0.7.23 on the same inputs.

describe('Wasserstein distance (scipy.stats.wasserstein_distance)', () => {
  it('given disjoint samples, then it is the shift between them', () => {
    expect(wassersteinSorted([0, 1, 3], [5, 6, 8])).toBeCloseTo(5, 14);
  });
  it('given ties within and across samples, then it matches scipy', () => {
    expect(wassersteinSorted([0, 1, 1, 2, 5, 5.5], [1, 1, 3, 4])).toBeCloseTo(0.8333333333333333, 14);
  });
  it('given constant identical samples of different sizes, then it is 0', () => {
    expect(wassersteinSorted([2.5], [2.5, 2.5])).toBe(0);
  });
  it('given an unsorted sample, then the error says so', () => {
    expect(() => wassersteinSorted([2, 1], [1])).toThrow(/not sorted at index 1/);
  });
});

describe('Jensen–Shannon distance (scipy.spatial.distance.jensenshannon)', () => {
  it('given disjoint supports, then it is sqrt(ln 2)', () => {
    expect(jensenShannonDistance([1, 0, 0], [0, 1, 0])).toBeCloseTo(0.8325546111576977, 14);
  });
  it('given overlapping distributions, then it matches scipy', () => {
    expect(jensenShannonDistance([0.5, 0.3, 0.2], [0.3, 0.3, 0.4])).toBeCloseTo(0.17211473103812178, 14);
  });
  it('given unnormalised counts with empty bins, then they are normalised first', () => {
    expect(jensenShannonDistance([5, 3, 0, 2], [1, 0, 4, 5])).toBeCloseTo(0.5904104181797726, 14);
  });
  it('given a negative weight, then the error names the bin', () => {
    expect(() => jensenShannonDistance([1, -1], [1, 1])).toThrow(/bin 1/);
  });
});

describe('chi-square (scipy.stats.chisquare and chi2.sf)', () => {
  it('given observed and expected counts, then statistic and p-value match scipy', () => {
    const r = chiSquareTest([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]);
    expect(r.statistic).toBeCloseTo(3.5, 12);
    expect(r.pValue).toBeCloseTo(0.6233876277495822, 12);
    expect(r.dof).toBe(5);
  });
  it('given a category observed but never expected, then the statistic is infinite and p is 0', () => {
    expect(chiSquareTest([3, 1], [4, 0])).toMatchObject({ statistic: Infinity, pValue: 0 });
  });
  it.each([
    [0.5, 1, 0.47950012218695337],
    [3.84, 1, 0.05004352124870519],
    [10, 3, 0.01856613546304325],
    [50, 40, 0.1335748340856504],
    [200, 150, 0.003973185970821635],
    [0.001, 7, 0.9999999999997597],
    [7.5, 2, 0.023517745856009114],
  ])('chi2.sf(%f, %i) = %f', (x, dof, expected) => {
    expect(chiSquareSf(x, dof)).toBeCloseTo(expected, 12);
  });
  it('given a far tail, then the p-value keeps its relative precision', () => {
    expect(chiSquareSf(300, 10) / 1.5546747543803087e-58).toBeCloseTo(1, 9);
  });
  it.each([
    [0.5, 0.5723649429247],
    [1, 0],
    [1.5, -0.12078223763524526],
    [2.5, 0.2846828704729192],
    [10, 12.801827480081469],
    [100.5, 361.43554046777757],
    [1000, 5905.220423209181],
  ])('ln Γ(%f) = %f', (x, expected) => {
    expect(logGamma(x)).toBeCloseTo(expected, 10);
  });
});

describe('histograms (numpy.histogram_bin_edges bins="sturges", numpy.histogram)', () => {
  it('given data with ties, then edges and counts match numpy (last bin closed)', () => {
    const edges = sturgesEdges(0, 10, 11);
    expect(edges).toEqual([0, 2, 4, 6, 8, 10]);
    expect(histogramSorted([0, 0, 1, 1, 1, 2, 3.5, 3.5, 7], edges)).toEqual([5, 3, 0, 1, 0]);
    expect(histogramSorted([9, 10, 10], edges)).toEqual([0, 0, 0, 0, 3]);
  });
  it('given a constant column, then there is one bin of width 1 around it', () => {
    expect(sturgesEdges(4, 4, 3)).toEqual([3.5, 4.5]);
  });
});

describe('multiple testing', () => {
  it('given four p-values, then Benjamini–Hochberg matches scipy.stats.false_discovery_control', () => {
    const adj = adjustPValues([0.01, 0.04, 0.03, 0.2], 'benjamini-hochberg');
    [0.04, 0.05333333333333333, 0.05333333333333333, 0.2].forEach((e, i) =>
      expect(adj[i]).toBeCloseTo(e, 14),
    );
  });
  it('given Bonferroni, then p-values are multiplied by their number and capped at 1', () => {
    expect(adjustPValues([0.01, 0.5], 'bonferroni')).toEqual([0.02, 1]);
  });
});

describe('default tests give the numbers Evidently gives on the same data', () => {
  const sample = JSON.parse(
    readFileSync(new URL('../fixtures/drift-numeric-sample.json', import.meta.url), 'utf8'),
  ) as { reference: number[]; current: number[]; expected: Record<string, number> };
  const drift = Policy.parse({}).drift;

  it('given a reference over 1000 rows, then the numeric feature gets the normed Wasserstein distance', () => {
    const profile = profileColumns({ x: { type: 'numeric', values: sample.reference } });
    const r = driftReportColumns(profile, { x: { type: 'numeric', values: sample.current } }, [], drift);
    expect(r.features[0]).toMatchObject({ test: 'wasserstein', threshold: 0.1, drifted: true, pValue: null });
    expect(Math.abs(r.features[0]!.statistic - sample.expected.wasserstein!)).toBeLessThan(1e-12);
  });

  it('given a forced Jensen–Shannon test, then numeric bins follow Sturges over both samples', () => {
    const profile = profileColumns({ x: { type: 'numeric', values: sample.reference } });
    const r = driftReportColumns(profile, { x: { type: 'numeric', values: sample.current } }, [], drift, {
      forceTest: 'jensenshannon',
    });
    expect(Math.abs(r.features[0]!.statistic - sample.expected.jensenshannon!)).toBeLessThan(1e-12);
  });

  it('given a reference of 800 rows, then KS is chosen and its p-value matches', () => {
    const profile = profileColumns({ x: { type: 'numeric', values: sample.reference.slice(0, 800) } });
    const r = driftReportColumns(
      profile,
      { x: { type: 'numeric', values: sample.current.slice(0, 600) } },
      [],
      drift,
    );
    expect(r.features[0]!.test).toBe('ks');
    expect(r.features[0]!.pValue! / sample.expected.ksFirst800vs600!).toBeCloseTo(1, 6);
  });

  const cat = (counts: Record<string, number>) =>
    Object.entries(counts).flatMap(([k, n]) => Array<string>(n).fill(k));

  it('given a small categorical reference, then chi-square is chosen; an unseen category gives p = 0', () => {
    const profile = profileColumns({ c: { type: 'categorical', values: cat({ a: 50, b: 30, c: 20 }) } });
    const seen = driftReportColumns(
      profile,
      { c: { type: 'categorical', values: cat({ a: 40, b: 40, c: 20 }) } },
      [],
      drift,
    );
    expect(seen.features[0]).toMatchObject({ test: 'chisquare', drifted: false });
    expect(seen.features[0]!.pValue).toBeCloseTo(0.0694834512228015, 12);
    const unseen = driftReportColumns(
      profile,
      { c: { type: 'categorical', values: cat({ a: 30, b: 30, c: 35, d: 5 }) } },
      [],
      drift,
    );
    expect(unseen.features[0]).toMatchObject({ test: 'chisquare', pValue: 0, drifted: true });
  });

  it('given a categorical feature and a forced Jensen–Shannon test, then unseen categories count', () => {
    const profile = profileColumns({ c: { type: 'categorical', values: cat({ a: 50, b: 30, c: 20 }) } });
    const r = driftReportColumns(
      profile,
      { c: { type: 'categorical', values: cat({ a: 30, b: 30, c: 35, d: 5 }) } },
      [],
      drift,
      {
        forceTest: 'jensenshannon',
      },
    );
    expect(r.features[0]!.statistic).toBeCloseTo(0.20079901221342164, 12);
  });

  it('given a binary feature and a small reference, then the z-test is chosen', () => {
    const profile = profileColumns({ b: { type: 'categorical', values: cat({ x: 70, y: 30 }) } });
    const r = driftReportColumns(
      profile,
      { b: { type: 'categorical', values: cat({ x: 50, y: 50 }) } },
      [],
      drift,
    );
    expect(r.features[0]).toMatchObject({ test: 'ztest', drifted: true });
    expect(r.features[0]!.pValue).toBeCloseTo(0.0038924171227785465, 12);
  });
});

describe('sortFloat64 (radix sort on the IEEE-754 bits)', () => {
  it('given a large array with negatives, zeros of both signs, ties and extremes, then it sorts like Float64Array.sort', () => {
    let s = 42;
    const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
    const values = Float64Array.from({ length: 20_000 }, (_, i) =>
      i % 97 === 0
        ? -0
        : i % 89 === 0
          ? 0
          : i % 13 === 0
            ? Math.round(rnd() * 10)
            : (rnd() - 0.5) * 10 ** ((i % 7) - 3),
    );
    values[5] = Number.MAX_VALUE;
    values[6] = -Number.MAX_VALUE;
    values[7] = Number.MIN_VALUE;
    values[8] = -Number.MIN_VALUE;
    const expected = values.slice().sort();
    const got = sortFloat64(values);
    expect(got.length).toBe(expected.length);
    for (let i = 0; i < got.length; i++)
      if (!Object.is(got[i], expected[i])) throw new Error(`differs at ${i}: ${got[i]} vs ${expected[i]}`);
  });
  it('given a constant array, then every pass is skipped and the values come back', () => {
    expect(Array.from(sortFloat64(new Float64Array(5000).fill(2.5)).subarray(0, 3))).toEqual([2.5, 2.5, 2.5]);
  });
});
