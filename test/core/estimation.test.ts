import { describe, it, expect } from 'vitest';
import {
  applyIsotonic,
  decideCalibration,
  expectedCalibrationError,
  fitIsotonic,
  rocAuc,
} from '../../core/calibration.js';
import {
  chunkRanges,
  estimatePerformance,
  expectedConfusion,
  fitCbpe,
  metricsOf,
} from '../../core/estimation.js';

function close(actual: number | null, expected: number, abs = 1e-12): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(abs);
}

/** A seeded uniform generator so the synthetic sets are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('isotonic calibration', () => {
  it('given one violating pair, when fitted, then the pair is pooled into its mean and the rest kept', () => {
    const fit = fitIsotonic([1, 2, 3, 4], [1, 0, 1, 1]);
    expect(fit).toEqual({ x: [1, 2, 3, 4], y: [0.5, 0.5, 1, 1] });
  });

  it('given tied scores, when fitted, then they share the mean of their labels', () => {
    expect(fitIsotonic([0.8, 0.2, 0.2], [1, 0, 1])).toEqual({ x: [0.2, 0.8], y: [0.5, 1] });
  });

  it('given labels falling with the score, when fitted, then everything pools into one flat block', () => {
    const fit = fitIsotonic([1, 2, 3], [1, 1, 0]);
    expect(fit.x).toEqual([1, 3]);
    fit.y.forEach((y) => close(y, 2 / 3));
  });

  it('given a fit, when applied, then it interpolates between knots and clips outside them', () => {
    const fit = fitIsotonic([1, 2, 3, 4], [1, 0, 1, 1]);
    expect([...applyIsotonic(fit, [0, 1.5, 2.5, 3.5, 9])]).toEqual([0.5, 0.5, 0.75, 1, 1]);
  });

  it('given mismatched lengths, when fitted, then the error says so', () => {
    expect(() => fitIsotonic([0.1, 0.2], [1])).toThrow('2 scores but 1 labels');
  });

  it('given equal-count bins, when the calibration error is computed, then it weighs each bin by its rows', () => {
    // Bins of two rows: probabilities [0.1, 0.2] vs labels [0, 0] -> 0.15; [0.7, 0.9] vs [1, 1] -> 0.2.
    close(expectedCalibrationError([0.9, 0.1, 0.7, 0.2], [1, 0, 1, 0], 2), 0.175);
  });

  it('given tied scores, when the AUC is computed, then a tie counts one half', () => {
    close(rocAuc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1]), 0.875);
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNull();
  });

  it('given scores that rank perfectly or one class, when deciding, then no calibrator is applied', () => {
    const perfect = decideCalibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]);
    expect(perfect.applied).toBe(false);
    expect(perfect.reason).toContain('rank the reference perfectly');
    expect(decideCalibration([0.1, 0.9], [1, 1]).reason).toBe('the reference has one class only');
  });

  it('given overconfident scores, when deciding, then isotonic calibration is applied and lowers the error', () => {
    const r = rng(7);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const p = r();
      scores.push(p);
      labels.push(r() < 0.25 + 0.5 * p ? 1 : 0); // the true chance spans only [0.25, 0.75]
    }
    const d = decideCalibration(scores, labels);
    expect(d.applied).toBe(true);
    expect(d.eceAfter!).toBeLessThan(d.eceBefore!);
    close(applyIsotonic(d.fit!, [0.5])[0]!, 0.5, 0.05);
  });
});

describe('CBPE', () => {
  it('given calibrated probabilities, when the confusion matrix is expected, then each row adds p and 1 − p', () => {
    const m = expectedConfusion([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]);
    close(m.tp, 1.7);
    close(m.fp, 0.3);
    close(m.fn, 0.4);
    close(m.tn, 1.6);
    const metrics = metricsOf(m);
    close(metrics.accuracy, 0.825);
    close(metrics.precision, 0.85);
    close(metrics.recall, 1.7 / 2.1);
    close(metrics.f1, 1.7 / 2.05);
  });

  it('given no predicted positives, when precision is computed, then it is undefined rather than 0', () => {
    expect(metricsOf({ tp: 0, fp: 0, tn: 3, fn: 1 }).precision).toBeNull();
  });

  it('given 10 rows in chunks of 4, when chunked, then the remainder is a last, shorter chunk', () => {
    expect(chunkRanges(10, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(() => chunkRanges(10, 0)).toThrow('chunk size must be a positive integer');
  });

  it('given a small reference, when fitted, then the sampling error and thresholds come from its rows and chunks', () => {
    // Correct rows [1, 0, 1, 1]: accuracy std sqrt(0.75 * 0.25); chunks of 2 realize 0.5 and 1.
    const model = fitCbpe(
      { proba: [0.9, 0.1, 0.2, 0.3], predicted: [1, 1, 0, 0], labels: [1, 0, 0, 0] },
      { chunkSize: 2 },
    );
    expect(model.calibration.applied).toBe(false);
    close(model.sampling.accuracy.std, Math.sqrt(0.1875));
    expect(model.thresholds.accuracy).toEqual({ lower: 0, upper: 1 });
    const chunks = estimatePerformance(model, { proba: [0.9, 0.8, 0.3, 0.1], predicted: [1, 1, 0, 0] });
    expect(chunks.map((c) => [c.start, c.end])).toEqual([
      [0, 2],
      [2, 4],
    ]);
    const chunk = chunks[1];
    const acc = chunk!.metrics.accuracy;
    close(acc.estimate, 0.8); // (0.7 + 0.9) / 2: both rows predicted negative
    close(acc.samplingError, Math.sqrt(0.1875 / 2));
    expect(acc.band).toEqual([0, 1]); // 0.8 ± 0.92, clipped to [0, 1]
    expect(acc.realized).toBeNull();
    expect(chunk!.labeled).toBe(0);
  });

  it('given a perfectly calibrated model under covariate shift, when estimated, then each chunk realizes within the band', () => {
    const r = rng(11);
    const draw = (n: number, shift: (u: number) => number) => {
      const proba: number[] = [];
      const predicted: number[] = [];
      const labels: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = shift(r());
        proba.push(p);
        predicted.push(p >= 0.5 ? 1 : 0);
        labels.push(r() < p ? 1 : 0);
      }
      return { proba, predicted, labels };
    };
    const reference = draw(20_000, (u) => u);
    // The analysis population crowds near 0.5: the model is as calibrated but less sure, so less accurate.
    const analysis = draw(20_000, (u) => 0.3 + 0.4 * u);
    const model = fitCbpe(reference, { chunkSize: 5000 });
    const chunks = estimatePerformance(model, analysis);
    expect(chunks).toHaveLength(4);
    for (const c of chunks) {
      expect(c.labeled).toBe(5000);
      for (const name of ['accuracy', 'f1', 'precision', 'recall'] as const) {
        const m = c.metrics[name];
        expect(m.realized!).toBeGreaterThanOrEqual(m.band![0]);
        expect(m.realized!).toBeLessThanOrEqual(m.band![1]);
      }
      // Accuracy falls from 0.75 to about 0.6, and the estimate sees it: an alert, and confidence drift.
      close(c.metrics.accuracy.estimate, 0.6, 0.02);
      expect(c.metrics.accuracy.alert).toBe(true);
      expect(c.confidenceDrift.drifted).toBe(true);
      expect(c.predictionDrift.drifted).toBe(false);
    }
  });

  it('given a probability outside [0, 1], when estimated, then the error names the row', () => {
    const model = fitCbpe({ proba: [0.2, 0.7], predicted: [0, 1], labels: [0, 1] }, { chunkSize: 2 });
    expect(() => estimatePerformance(model, { proba: [0.2, 1.2], predicted: [0, 1] })).toThrow(
      'the current probability at row 1 is 1.2',
    );
  });

  it('given a reference without labels, when fitted, then the error says labels are needed', () => {
    expect(() => fitCbpe({ proba: [0.2], predicted: [0] }, { chunkSize: 1 })).toThrow(
      'the reference needs labels',
    );
  });
});
