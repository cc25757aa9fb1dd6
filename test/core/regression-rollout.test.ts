/**
 * A regression candidate's rollout step: Welch's t-test pinned to scipy.stats.ttest_ind(equal_var=False)
 * on real rows (the cars of vega-datasets 3.2.1 with miles per gallon and weight), and the decision and
 * reason a user reads. Reference values: test/fixtures/regression_rollout_reference.py, run from the
 * repository root with a Python holding numpy and scipy.
 */
import { describe, expect, it } from 'vitest';
import {
  analyzeRegressionStep,
  momentsFromSums,
  studentTTwoSided,
  welchFromMoments,
  welchTTest,
  type RegressionArm,
} from '../../core/regression-rollout.js';
import { Policy } from '../../core/schemas.js';
import { loadCars } from '../../dev/cars.js';

const cars = loadCars().filter((c) => c.Miles_per_Gallon !== null);
const championRows = cars.slice(0, 60);
const candidateRows = cars.slice(60, 105);
const abs = (rows: typeof cars, f: (w: number) => number) =>
  rows.map((c) => Math.abs(f(c.Weight_in_lbs) - c.Miles_per_Gallon!));
const arm = (rows: typeof cars, f: (w: number) => number, p95 = 3): RegressionArm => ({
  pairs: rows.map((c) => ({ predicted: f(c.Weight_in_lbs), actual: c.Miles_per_Gallon! })),
  p95LatencyMs: p95,
});
const champion = (w: number) => 46.3 - 0.00767 * w;
const worse = (w: number) => 40.0 - 0.005 * w;
const rollout = Policy.parse({}).rollout;

describe("Welch's t-test (scipy.stats.ttest_ind, equal_var=False)", () => {
  it('given the cars, a worse candidate’s absolute errors against the champion’s match scipy', () => {
    const r = welchTTest(abs(candidateRows, worse), abs(championRows, champion));
    expect(r.t).toBeCloseTo(5.179274050346982, 10);
    expect(r.df).toBeCloseTo(98.49146392966058, 10);
    expect(r.pValue!).toBeCloseTo(1.1821434870959173e-6, 15);
    expect(r.pValue! / 1.1821434870959173e-6).toBeCloseTo(1, 9);
  });

  it('given small samples with unequal spreads, then t, df and p match scipy', () => {
    const cases: [number[], number[], number, number, number][] = [
      [[1, 2, 3.5, 4], [2.5, 3, 6, 7.5, 9], -2.073304981055682, 6.030869016822712, 0.08326566975209398],
      [
        [0.1, 0.2, 0.15, 0.3, 0.25, 0.2],
        [1, 5, 0.5, 8],
        -1.9323906342232244,
        3.0015921242200965,
        0.14876830918435377,
      ],
      [
        [2, 2.1, 1.9, 2.05],
        [2, 2.02, 1.98, 2.01, 1.99],
        0.28883564343935403,
        3.1650425490531378,
        0.7906005570956669,
      ],
    ];
    for (const [a, b, t, df, p] of cases) {
      const r = welchTTest(a, b);
      expect(r.t).toBeCloseTo(t, 12);
      expect(r.df).toBeCloseTo(df, 12);
      expect(r.pValue!).toBeCloseTo(p, 12);
    }
  });

  it("given t and degrees of freedom, then the two-sided tail matches scipy's t distribution", () => {
    const cases: [number, number, number][] = [
      [0.5, 3, 0.651447964848151],
      [2.2, 7.5, 0.0611994659061161],
      [-4, 40, 0.00026591239566669807],
      [12, 2, 0.00687293367715846],
      [1e-3, 150, 0.9992034442630517],
    ];
    for (const [t, df, p] of cases) expect(studentTTwoSided(t, df) / p).toBeCloseTo(1, 11);
  });

  it('given a sample of one value or a non-number, then it says which sample and what is needed', () => {
    expect(() => welchTTest([1], [1, 2])).toThrow(/first sample has 1 value\(s\); at least 2/);
    expect(() => welchTTest([1, 2], [1, NaN])).toThrow(/second sample holds a value that is not a finite/);
    expect(welchTTest([1, 1], [1, 1]).pValue).toBeNull();
  });
});

describe('the same test from running sums (what Prometheus keeps)', () => {
  it("given each arm's count, sum of absolute errors and sum of squared errors, then p equals scipy's on the rows", () => {
    const sums = (xs: number[]) => ({
      count: xs.length,
      sum: xs.reduce((a, x) => a + x, 0),
      squaredSum: xs.reduce((a, x) => a + x * x, 0),
    });
    const a = abs(candidateRows, worse);
    const b = abs(championRows, champion);
    const r = welchFromMoments(momentsFromSums(sums(a)), momentsFromSums(sums(b)));
    // scipy.stats.ttest_ind(a, b, equal_var=False), as the rows' own test above.
    expect(r.pValue! / 1.1821434870959173e-6).toBeCloseTo(1, 9);
    expect(r.pValue! / welchTTest(a, b).pValue!).toBeCloseTo(1, 9);
    const fromSums = analyzeRegressionStep(
      { absoluteErrors: momentsFromSums(sums(a)), p95LatencyMs: 3 },
      { absoluteErrors: momentsFromSums(sums(b)), p95LatencyMs: 3 },
      rollout,
    );
    expect(fromSums.decision).toBe('fail');
    expect([fromSums.candidate.meanError, fromSums.champion.meanError]).toEqual([null, null]);
    expect(fromSums.reason).toMatch(/^candidate MAE \S+ \(n=45\) vs champion MAE \S+ \(n=60\), Welch p=/);
  });

  it('given no answers, one, or identical errors, then the moments stay defined and never negative', () => {
    expect(momentsFromSums({ count: 0, sum: 0, squaredSum: 0 })).toEqual({ n: 0, mean: 0, variance: 0 });
    expect(momentsFromSums({ count: 1, sum: 2, squaredSum: 4 })).toEqual({ n: 1, mean: 2, variance: 0 });
    // 3 errors of 0.1: rounding puts Σe² − (Σ|e|)²/n a hair below 0.
    expect(momentsFromSums({ count: 3, sum: 0.1 + 0.1 + 0.1, squaredSum: 0.01 * 3 }).variance).toBe(0);
  });
});

describe('a regression rollout step', () => {
  it('given a candidate with larger errors on enough rows, then it fails with MAE, bias and p in words', () => {
    const a = analyzeRegressionStep(arm(candidateRows, worse), arm(championRows, champion), rollout);
    expect(a.decision).toBe('fail');
    expect(a.checks).toEqual({ accuracy: 'fail', latency: 'pass', calibration: 'skipped' });
    expect(a.pValue! / 1.1821434870959173e-6).toBeCloseTo(1, 9);
    expect(a.candidate.n).toBe(45);
    expect(a.candidate.mae!).toBeGreaterThan(a.champion.mae!);
    expect(a.reason).toMatch(
      /^candidate MAE \d+\.\d+ \(n=45, bias [+-]\d+\.\d+\) vs champion MAE \d+\.\d+ \(n=60, bias [+-]?\d+\.\d+\), Welch p=\d\.\de-\d+: significantly worse$/,
    );
  });

  it('given the champion’s own model as candidate on other rows, then it passes', () => {
    const a = analyzeRegressionStep(arm(candidateRows, champion), arm(championRows, champion), rollout);
    expect(a.decision).toBe('pass');
    expect(a.reason).toMatch(/not worse beyond tolerance/);
  });

  it('given fewer rows with feedback than minSamples, then it is inconclusive, as for classifiers', () => {
    const a = analyzeRegressionStep(
      arm(candidateRows.slice(0, 10), worse),
      arm(championRows, champion),
      rollout,
    );
    expect(a.decision).toBe('inconclusive');
    expect(a.reason).toBe('too few samples with feedback (candidate 10, champion 60; need 15 each)');
  });

  it('given a slow candidate with no worse errors, then latency fails it', () => {
    const a = analyzeRegressionStep(arm(candidateRows, champion, 80), arm(championRows, champion), rollout);
    expect(a.decision).toBe('fail');
    expect(a.reason).toMatch(/candidate p95 latency 80\.0 ms > 50 ms/);
  });
});
