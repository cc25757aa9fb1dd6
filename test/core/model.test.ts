import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  encode,
  fitEncoder,
  initialState,
  predict,
  train,
  trainEpochs,
} from '../../core/model.js';

const spec = { numeric: ['x', 'y'], categorical: ['c'] };
// Two blobs: class "a" near (0,0) and class "b" near (3,3); category c leans with the class.
const examples = Array.from({ length: 60 }, (_, i) => {
  const b = i % 2 === 1;
  return {
    features: {
      x: (b ? 3 : 0) + Math.sin(i) * 0.8,
      y: (b ? 3 : 0) + Math.cos(i * 1.7) * 0.8,
      c: b && i % 3 !== 0 ? 'p' : 'q',
    },
    label: b ? 'b' : 'a',
  };
});
const config = { epochs: 200, learningRate: 0.5, l2: 0.001 };

describe('built-in trainer', () => {
  it('given the same data and config, when trained twice, then the artifacts are byte-identical', () => {
    expect(canonicalJson(train(spec, examples, config))).toBe(canonicalJson(train(spec, examples, config)));
  });

  it('given separable blobs, when trained, then it classifies them and probabilities sum to 1', () => {
    const model = train(spec, examples, config);
    const correct = examples.filter((e) => predict(model, e.features).label === e.label).length;
    expect(correct / examples.length).toBeGreaterThanOrEqual(0.95);
    const p = predict(model, { x: 1.5, y: 1.5, c: 'p' });
    expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(predict(model, { x: 3.2, y: 2.9, c: 'p' }).label).toBe('b');
  });

  it('given training interrupted at a checkpoint, when resumed from it, then the result equals an uninterrupted run', () => {
    const encoder = fitEncoder(
      spec,
      examples.map((e) => e.features),
    );
    const x = examples.map((e) => encode(encoder, e.features));
    const y = examples.map((e) => (e.label === 'a' ? 0 : 1));
    const checkpoints: ReturnType<typeof initialState>[] = [];
    const full = trainEpochs(x, y, 2, config, initialState(2, x[0]!.length), 50, (s) => checkpoints.push(s));
    expect(checkpoints.map((c) => c.epoch)).toEqual([50, 100, 150, 200]);
    const resumed = trainEpochs(x, y, 2, config, checkpoints[1]!, 50);
    expect(canonicalJson(resumed)).toBe(canonicalJson(full));
  });

  it('given row weights, when trained, then a row weighing 3 counts as that row three times and a row weighing 0 not at all', () => {
    const encoder = fitEncoder(
      spec,
      examples.map((e) => e.features),
    );
    const x = examples.map((e) => encode(encoder, e.features));
    const y = examples.map((e) => (e.label === 'a' ? 0 : 1));
    const start = initialState(2, x[0]!.length);
    const weights = x.map((_, i) => (i === 0 ? 3 : i === 1 ? 0 : 1));
    const weighted = trainEpochs(x, y, 2, config, start, 50, undefined, weights);
    const keep = x.map((_, i) => i).filter((i) => i !== 1);
    const repeated = [0, 0, ...keep];
    const copies = trainEpochs(
      repeated.map((i) => x[i]!),
      repeated.map((i) => y[i]!),
      2,
      config,
      start,
      50,
    );
    weighted.weights.flat().forEach((w, j) => expect(w).toBeCloseTo(copies.weights.flat()[j]!, 9));
    weighted.bias.forEach((b, j) => expect(b).toBeCloseTo(copies.bias[j]!, 9));
    expect(() => trainEpochs(x, y, 2, config, start, 50, undefined, [1])).toThrow(/60 rows but 1 weights/);
  });

  it('given a category never seen in training, when predicting, then it still answers', () => {
    const model = train(spec, examples, config);
    expect(['a', 'b']).toContain(predict(model, { x: 0, y: 0, c: 'never-seen' }).label);
  });

  it('given a non-numeric value in a numeric feature, when encoding, then the error names the feature', () => {
    const model = train(spec, examples, config);
    expect(() => predict(model, { x: 'abc', y: 0, c: 'p' })).toThrow(/feature "x" must be a finite number/);
  });

  it('given a constant column, when trained, then it is encoded as zeros instead of NaN', () => {
    const constant = examples.map((e) => ({ ...e, features: { ...e.features, y: 5 } }));
    const model = train(spec, constant, config);
    expect(model.weights.flat().every(Number.isFinite)).toBe(true);
  });
});
