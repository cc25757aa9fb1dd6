import { describe, it, expect } from 'vitest';
import {
  calibrateMulticlass,
  estimateMulticlass,
  expectedMulticlass,
  fitCbpeMulticlass,
  realizedMulticlass,
  type MulticlassScores,
} from '../../core/estimation-multiclass.js';

function close(actual: number | null, expected: number, abs = 1e-12): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(abs);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const classes = ['a', 'b', 'c'];

/** Rows whose probabilities are the true chances: weights^sharpness normalised, label drawn from them. */
function draw(n: number, sharpness: number, r: () => number): Required<MulticlassScores> {
  const proba = classes.map(() => new Float64Array(n));
  const predicted: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = classes.map(() => r() ** sharpness);
    const sum = w.reduce((a, b) => a + b, 0);
    w.forEach((x, k) => (proba[k]![i] = x / sum));
    const ps = w.map((x) => x / sum);
    predicted.push(classes[ps.indexOf(Math.max(...ps))]!);
    let u = r();
    let k = 0;
    while (k < classes.length - 1 && u >= ps[k]!) u -= ps[k++]!;
    labels.push(classes[k]!);
  }
  return { classes, proba, predicted, labels };
}

describe('multiclass CBPE', () => {
  it('given labels for three of four rows, when realized, then accuracy and macro F1 count those rows', () => {
    // sklearn f1_score(['a','b','b'], ['a','a','b'], average='macro', labels=['a','b','c']) -> 4/9
    const m = realizedMulticlass(classes, ['a', 'a', 'b', 'c'], ['a', 'b', 'b', null]);
    close(m.accuracy, 2 / 3);
    close(m.f1, 4 / 9);
  });

  it('given calibrated probabilities, when expected, then accuracy is the mean probability of the predicted class', () => {
    const m = expectedMulticlass(
      ['a', 'b'],
      [Float64Array.from([0.8, 0.3]), Float64Array.from([0.2, 0.7])],
      ['a', 'b'],
    );
    close(m.accuracy, 0.75);
    // a: TP 0.8, FP 0.2, FN 0.3; b: TP 0.7, FP 0.3, FN 0.2.
    close(m.f1, (0.8 / 1.05 + 0.7 / 0.95) / 2);
  });

  it('given calibrated scores, when calibrated per class, then every row still sums to 1', () => {
    const r = rng(5);
    const model = fitCbpeMulticlass(draw(3000, 2, r), { chunkSize: 1000 });
    const cal = calibrateMulticlass(model, draw(50, 2, r).proba);
    for (let i = 0; i < 50; i++) close(cal[0]![i]! + cal[1]![i]! + cal[2]![i]!, 1, 1e-12);
  });

  it('given a calibrated model on a flatter population, when estimated, then each chunk realizes within the band and alerts', () => {
    const r = rng(23);
    const model = fitCbpeMulticlass(draw(15_000, 3, r), { chunkSize: 5000 });
    const chunks = estimateMulticlass(model, draw(15_000, 1, r));
    expect(chunks).toHaveLength(3);
    for (const c of chunks) {
      for (const name of ['accuracy', 'f1'] as const) {
        const m = c.metrics[name];
        expect(m.realized!).toBeGreaterThanOrEqual(m.band![0]);
        expect(m.realized!).toBeLessThanOrEqual(m.band![1]);
        expect(m.alert).toBe(true);
      }
      expect(c.confidenceDrift.drifted).toBe(true);
    }
  });

  it('given a predicted class without a probability column, then the error names the row and the classes', () => {
    expect(() =>
      fitCbpeMulticlass(
        { classes: ['a', 'b'], proba: [[0.6], [0.4]], predicted: ['z'], labels: ['a'] },
        { chunkSize: 1 },
      ),
    ).toThrow(
      'the reference predicted class at row 0 is "z", which has no probability column (classes: a, b)',
    );
  });
});
