import { describe, expect, it } from 'vitest';
import {
  forestProbabilities,
  searchForest,
  trainForest,
  trainTree,
  type ForestConfig,
  type Tree,
} from '../../core/forest.js';
import { canonicalJson } from '../../core/model.js';

// Two blobs: class 0 near (0,0) and class 1 near (3,3), plus a third feature that is pure noise.
const x = Array.from({ length: 80 }, (_, i) => {
  const b = i % 2;
  return [b * 3 + Math.sin(i) * 0.8, b * 3 + Math.cos(i * 1.7) * 0.8, Math.sin(i * 12.9898) * 5];
});
const y = x.map((_, i) => i % 2);
const config: ForestConfig = { trees: 10, maxDepth: 6, minSamplesLeaf: 1, maxFeatures: 'sqrt', seed: 42 };

const argmax = (p: number[]) => p.indexOf(Math.max(...p));
const predictAll = (trees: Tree[], rows: number[][], classes: number) =>
  rows.map((xi) => argmax(forestProbabilities(trees, xi, classes)));

describe('random forest', () => {
  it('given the same data and config, when trained twice, then the forests are JSON-identical', () => {
    const first = trainForest(x, y, null, 2, config);
    expect(first).toHaveLength(10);
    expect(canonicalJson(trainForest(x, y, null, 2, config))).toBe(canonicalJson(first));
  });

  it('given 4 trees already trained, when training continues from them, then the forest equals an uninterrupted one', () => {
    const full = trainForest(x, y, null, 2, config);
    const firstFour = trainForest(x, y, null, 2, { ...config, trees: 4 });
    const continued: number[] = [];
    const resumed = trainForest(x, y, null, 2, config, {
      done: firstFour,
      onTree: (i) => continued.push(i),
    });
    expect(continued).toEqual([4, 5, 6, 7, 8, 9]);
    expect(canonicalJson(resumed)).toBe(canonicalJson(full));
    expect(canonicalJson(trainTree(x, y, null, 2, config, 7))).toBe(canonicalJson(full[7]));
  });

  it('given different seeds, when trained, then the forests differ', () => {
    const other = trainForest(x, y, null, 2, { ...config, seed: 43 });
    expect(canonicalJson(other)).not.toBe(canonicalJson(trainForest(x, y, null, 2, config)));
  });

  it('given separable blobs, when trained, then it classifies them and leaves hold class distributions', () => {
    const trees = trainForest(x, y, null, 2, config);
    const predicted = predictAll(trees, x, 2);
    expect(predicted.filter((p, i) => p === y[i]).length / x.length).toBeGreaterThanOrEqual(0.95);
    expect(argmax(forestProbabilities(trees, [0.1, -0.2, 0], 2))).toBe(0);
    expect(argmax(forestProbabilities(trees, [3.1, 2.8, 0], 2))).toBe(1);
    for (const node of trees.flatMap((t) => t.nodes).filter((n) => n.p !== null)) {
      expect(node.f).toBe(-1);
      expect(node.p).toHaveLength(2);
      expect(node.p!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('given overlapping classes and class 1 weighted 10×, when trained, then class 1 dominates the predictions', () => {
    // Labels independent of the features: only the weights can move the predictions.
    const noise = Array.from({ length: 200 }, (_, i) => [Math.sin(i * 7.1), Math.cos(i * 3.3)]);
    const labels = noise.map((_, i) => (Math.sin(i * 91.7) > 0 ? 1 : 0));
    const leafy = { ...config, trees: 20, minSamplesLeaf: 10 };
    const share = (trees: Tree[]) => predictAll(trees, noise, 2).filter((p) => p === 1).length / noise.length;
    const unweighted = share(trainForest(noise, labels, null, 2, leafy));
    const weighted = share(
      trainForest(
        noise,
        labels,
        labels.map((c) => (c === 1 ? 10 : 1)),
        2,
        leafy,
      ),
    );
    expect(unweighted).toBeLessThan(0.75);
    expect(weighted).toBeGreaterThan(0.95);
  });

  it('given shouldStop turning true after 3 trees, when training, then it returns those 3 trees', () => {
    const seen: number[] = [];
    const trees = trainForest(x, y, null, 2, config, {
      onTree: (i, soFar) => {
        seen.push(i);
        expect(soFar).toHaveLength(i + 1);
      },
      shouldStop: () => seen.length >= 3,
    });
    expect(seen).toEqual([0, 1, 2]);
    expect(canonicalJson(trees)).toBe(canonicalJson(trainForest(x, y, null, 2, { ...config, trees: 3 })));
  });

  it('given a grid, when searching, then it picks a grid point, reports every point and is deterministic', () => {
    // Overlapping classes so that depth and leaf size matter.
    const rows = Array.from({ length: 150 }, (_, i) => [Math.sin(i * 1.3) * 2, Math.cos(i * 0.7) * 2]);
    const labels = rows.map(([a, b], i) => (a! + b! + Math.sin(i * 5.7) > 0 ? 1 : 0));
    const grid = { maxDepth: [2, 5], minSamplesLeaf: [1, 8] };
    const result = searchForest(rows, labels, null, 2, { ...config, trees: 30 }, grid);
    expect(grid.maxDepth).toContain(result.config.maxDepth);
    expect(grid.minSamplesLeaf).toContain(result.config.minSamplesLeaf);
    expect(result.config.trees).toBe(30);
    expect(result.tried).toHaveLength(4);
    expect(result.validationAccuracy).toBe(Math.max(...result.tried.map((t) => t.validationAccuracy)));
    expect(canonicalJson(searchForest(rows, labels, null, 2, { ...config, trees: 30 }, grid))).toBe(
      canonicalJson(result),
    );
  });

  it('given every grid point scores the same, when searching, then it picks the smallest depth and largest leaf', () => {
    const result = searchForest(x, y, null, 2, config, { maxDepth: [8, 3], minSamplesLeaf: [1, 4] });
    expect(result.tried.every((t) => t.validationAccuracy === 1)).toBe(true);
    expect(result.config).toMatchObject({ maxDepth: 3, minSamplesLeaf: 4 });
  });

  // Training speed is measured by npm run bench:trainer, not asserted here.
  it('given 700 rows × 8 features, when training 50 trees of depth 10, then every tree respects the depth and the forest fits its data', () => {
    const rows = Array.from({ length: 700 }, (_, i) =>
      Array.from({ length: 8 }, (_, f) => Math.sin(i * (f + 1.37) + f)),
    );
    const labels = rows.map((r, i) => (r[0]! + r[3]! > 0 ? (i % 7 === 0 ? 2 : 1) : i % 5 === 0 ? 3 : 0));
    const trees = trainForest(rows, labels, null, 4, { ...config, trees: 50, maxDepth: 10 });
    expect(trees.length).toBe(50);
    const depth = (t: Tree, i = 0): number => {
      const n = t.nodes[i]!;
      return n.p !== null ? 0 : 1 + Math.max(depth(t, n.l), depth(t, n.r));
    };
    expect(Math.max(...trees.map((t) => depth(t)))).toBeLessThanOrEqual(10);
    const correct = rows.filter((r, i) => {
      const p = forestProbabilities(trees, r, 4);
      return p.indexOf(Math.max(...p)) === labels[i];
    }).length;
    expect(correct / rows.length).toBeGreaterThan(0.9);
  });

  it('given a label outside the classes, when training, then the error names the row', () => {
    expect(() => trainForest(x, [...y.slice(0, 5), 2, ...y.slice(6)], null, 2, config)).toThrow(/row 5/);
  });
});
