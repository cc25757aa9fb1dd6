import { describe, expect, it } from 'vitest';
import { drawIndices, pairedBootstrap, percentileOf, seededUniform } from '../../core/bootstrap.js';
import { predictedLabel } from '../../core/evaluation.js';
import { accuracy, logLoss, macroF1 } from '../../core/metrics.js';

/*
 * A three-class holdout of 80 rows built by a formula, so the same rows can be rebuilt in Python. The
 * candidate puts its mass on the wrong label on every fifth row, the champion on every third.
 */
const LABELS = ['a', 'b', 'c'] as const;
function holdout(): {
  truth: string[];
  candidate: Record<string, number>[];
  champion: Record<string, number>[];
} {
  const truth: string[] = [];
  const candidate: Record<string, number>[] = [];
  const champion: Record<string, number>[] = [];
  const row = (t: string, s: number, right: boolean): Record<string, number> => {
    const p: Record<string, number> = {};
    for (const l of LABELS) p[l] = l === t ? s : (1 - s) / 2;
    if (!right) {
      const other = LABELS[(LABELS.indexOf(t as 'a') + 1) % 3]!;
      [p[t], p[other]] = [p[other]!, p[t]!];
    }
    return p;
  };
  for (let i = 0; i < 80; i++) {
    const t = LABELS[((i * 7) % 10) % 3]!;
    truth.push(t);
    candidate.push(row(t, 0.4 + 0.55 * Math.abs(Math.sin(1.3 * i + 0.2)), i % 5 !== 0));
    champion.push(row(t, 0.4 + 0.55 * Math.abs(Math.sin(0.7 * i + 1.1)), i % 3 !== 0));
  }
  return { truth, candidate, champion };
}

const options = { resamples: 2000, confidence: 0.9, seed: 7 };

describe('pairedBootstrap', () => {
  const { truth, candidate, champion } = holdout();

  it('given the same rows twice, when bootstrapped, then the intervals are identical; another seed moves them a little', () => {
    const a = pairedBootstrap(truth, candidate, champion, options);
    const b = pairedBootstrap(truth, candidate, champion, options);
    expect(b).toEqual(a);
    const c = pairedBootstrap(truth, candidate, champion, { ...options, seed: 8 });
    expect(c.accuracy.estimate).toBe(a.accuracy.estimate);
    // Log-loss differences are continuous, so another set of draws shows in the bounds.
    expect(c.logLoss.lower).not.toBe(a.logLoss.lower);
    expect(Math.abs(c.logLoss.lower - a.logLoss.lower)).toBeLessThan(0.05);
  });

  it('given the rows, when bootstrapped, then every interval equals one recomputed with the library metrics on the same resampled rows', () => {
    const got = pairedBootstrap(truth, candidate, champion, options);
    // Independently: redraw the same index sets, materialise each resample, score it with core/metrics
    // (macro F1 over each model's labels on the whole holdout, as evaluate() counts them).
    const candPred = candidate.map(predictedLabel);
    const champPred = champion.map(predictedLabel);
    const labelsOf = (pred: string[]) => [...new Set([...truth, ...pred])].sort();
    const rand = seededUniform(options.seed);
    const acc: number[] = [];
    const f1: number[] = [];
    const loss: number[] = [];
    for (let b = 0; b < options.resamples; b++) {
      const idx = [...drawIndices(rand, truth.length)];
      const t = idx.map((i) => truth[i]!);
      const pc = idx.map((i) => candPred[i]!);
      const ph = idx.map((i) => champPred[i]!);
      acc.push(accuracy(t, pc) - accuracy(t, ph));
      f1.push(macroF1(t, pc, labelsOf(candPred)) - macroF1(t, ph, labelsOf(champPred)));
      loss.push(
        logLoss(
          t,
          idx.map((i) => candidate[i]!),
        ) -
          logLoss(
            t,
            idx.map((i) => champion[i]!),
          ),
      );
    }
    const bounds = (draws: number[]) => {
      const sorted = [...draws].sort((x, y) => x - y);
      return [percentileOf(sorted, 5), percentileOf(sorted, 95)];
    };
    const same = (d: { lower: number; upper: number }, draws: number[]) => {
      const [lower, upper] = bounds(draws);
      expect(d.lower).toBeCloseTo(lower!, 12);
      expect(d.upper).toBeCloseTo(upper!, 12);
    };
    same(got.accuracy, acc);
    same(got.macroF1, f1);
    same(got.logLoss, loss);
    expect(got.accuracy.estimate).toBeCloseTo(accuracy(truth, candPred) - accuracy(truth, champPred), 12);
  });

  it('given the rows, when bootstrapped, then the estimates and intervals agree with scipy.stats.bootstrap on the same rows', () => {
    /*
     * Reference values: the same 80 rows rebuilt in Python (numpy 2, scipy 1.17.1), point estimates with
     * numpy, and scipy.stats.bootstrap(paired resampling of the rows, method='percentile',
     * confidence_level=0.9, random_state=np.random.default_rng(0)): 200000 resamples for the mean
     * accuracy and log-loss differences, 20000 for the macro-F1 difference (a Python statistic).
     *   accuracy: estimate 0.1375, interval [0.025, 0.25]   (candidate 80.0%, champion 66.25%)
     *   macro F1: estimate 0.14150020664003327, interval [0.03054416203388638, 0.2550897302570082]
     *   log-loss: estimate -0.26744279405920557, interval [-0.5196964445829126, -0.015978769950717186]
     * Remedy draws 2000 resamples from its own generator, so its bounds may differ by Monte Carlo
     * error: about one row (1/80 = 0.0125) for accuracy, a little more for the others.
     */
    const got = pairedBootstrap(truth, candidate, champion, options);
    expect(got.rows).toBe(80);
    expect(got.accuracy.estimate).toBeCloseTo(0.1375, 12);
    expect(got.macroF1.estimate).toBeCloseTo(0.14150020664003327, 12);
    expect(got.logLoss.estimate).toBeCloseTo(-0.26744279405920557, 12);
    expect(Math.abs(got.accuracy.lower - 0.025)).toBeLessThanOrEqual(0.0125);
    expect(Math.abs(got.accuracy.upper - 0.25)).toBeLessThanOrEqual(0.0125);
    expect(Math.abs(got.macroF1.lower - 0.03054416203388638)).toBeLessThan(0.02);
    expect(Math.abs(got.macroF1.upper - 0.2550897302570082)).toBeLessThan(0.02);
    expect(Math.abs(got.logLoss.lower - -0.5196964445829126)).toBeLessThan(0.03);
    expect(Math.abs(got.logLoss.upper - -0.015978769950717186)).toBeLessThan(0.03);
  });

  it('given two models that agree on every row, when bootstrapped, then every interval is exactly zero', () => {
    const got = pairedBootstrap(truth, candidate, candidate, options);
    for (const d of [got.accuracy, got.macroF1, got.logLoss])
      expect(d).toEqual({ estimate: 0, lower: 0, upper: 0 });
  });

  it('given bad options or unpaired rows, when bootstrapped, then it says what was wrong', () => {
    expect(() => pairedBootstrap(truth, candidate, champion, { ...options, resamples: 10 })).toThrow(
      /resamples must be an integer in \[100, 100000\], got 10/,
    );
    expect(() => pairedBootstrap(truth, candidate, champion, { ...options, confidence: 1 })).toThrow(
      /confidence must be in \(0, 1\), e\.g\. 0\.9, got 1/,
    );
    expect(() => pairedBootstrap(truth, candidate.slice(1), champion, options)).toThrow(
      /truth has 80 entries but the other side has 79/,
    );
  });
});
