/**
 * The built-in random forest as a regressor: bagged regression trees on the encoded feature matrix,
 * each split chosen to reduce the squared error most (variance reduction), each leaf predicting the mean
 * target of the bootstrap draws it holds. A prediction is the trees' mean, with their spread (the
 * standard deviation of the trees' predictions) as a measure of how sure the forest is.
 *
 * Determinism and resuming work as for the classifier (core/forest.ts): tree i draws from a PRNG seeded
 * by hashing (seed, i), so the forest is the same trained in one go or resumed from heartbeated trees.
 */
import {
  checkConfig,
  cumulativeWeights,
  hash32,
  leafOf,
  partitionRows,
  pickWeighted,
  splitmix32,
  type ForestConfig,
  type ForestOptions,
  type Tree,
  type TreeNode,
} from './forest.js';
import { encode, fitEncoder, type Encoder, type Prediction } from './model.js';
import type { FeatureSpec, Features } from './schemas.js';

/** A labeled row of a regression model: its features and the number it should predict. */
export interface NumericExample {
  features: Features;
  value: number;
}

export interface RegressionForestArtifact {
  kind: 'random-forest-regressor';
  encoder: Encoder;
  config: ForestConfig;
  trees: Tree[];
  /** The smallest and largest target the forest was trained on (it never predicts outside them). */
  trainedRange: { min: number; max: number };
}

/** The trees' mean prediction and their spread (standard deviation over trees, 0 for one tree). */
export interface RegressionPrediction {
  value: number;
  spread: number;
  trees: number;
}

/** The training rows in the shape the tree builder reads fast: one column per feature. */
interface PreparedTarget {
  n: number;
  d: number;
  columns: Float64Array[];
  y: Float64Array;
  cumulative: Float64Array | null;
}

function prepareTarget(
  x: readonly number[][],
  y: readonly number[],
  weights: readonly number[] | null,
): PreparedTarget {
  const n = x.length;
  if (n === 0) throw new Error('cannot train a regressor on an empty dataset');
  if (y.length !== n) throw new Error(`${n} feature rows but ${y.length} target values`);
  const d = x[0]!.length;
  const columns = Array.from({ length: d }, () => new Float64Array(n));
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = x[i]!;
    if (row.length !== d) throw new Error(`row ${i} has ${row.length} features, expected ${d}`);
    for (let f = 0; f < d; f++) {
      const v = row[f]!;
      if (!Number.isFinite(v)) throw new Error(`row ${i} feature ${f} is not a finite number: ${v}`);
      columns[f]![i] = v;
    }
    if (!Number.isFinite(y[i])) throw new Error(`row ${i} has target ${y[i]}, expected a finite number`);
    target[i] = y[i]!;
  }
  return { n, d, columns, y: target, cumulative: cumulativeWeights(weights, n) };
}

/**
 * Trains trees from `opts.done.length` up to `config.trees`, calling `opts.onTree` after each (the
 * caller heartbeats them) and stopping early when `opts.shouldStop` says so.
 */
export function trainRegressionForest(
  x: readonly number[][],
  y: readonly number[],
  weights: readonly number[] | null,
  config: ForestConfig,
  opts: ForestOptions = {},
): Tree[] {
  checkConfig(config);
  const trees = [...(opts.done ?? [])];
  if (trees.length > config.trees)
    throw new Error(`${trees.length} trees already done but the forest has only ${config.trees}`);
  const data = prepareTarget(x, y, weights);
  for (let i = trees.length; i < config.trees; i++) {
    if (opts.shouldStop?.()) break;
    trees.push(growRegressionTree(data, config, i));
    opts.onTree?.(i, [...trees]);
  }
  return trees;
}

/** The forest's prediction for one encoded row: the trees' mean and their spread. */
export function forestRegression(trees: readonly Tree[], xi: readonly number[]): RegressionPrediction {
  if (trees.length === 0) throw new Error('a forest needs at least one tree to predict');
  let sum = 0;
  let sq = 0;
  for (const tree of trees) {
    const v = leafOf(tree, xi)[0]!;
    sum += v;
    sq += v * v;
  }
  const value = sum / trees.length;
  return { value, spread: Math.sqrt(Math.max(0, sq / trees.length - value * value)), trees: trees.length };
}

/**
 * The forest a regressor is trained with: the policy's trees, depth, leaf size and seed, all features at
 * every split (as scikit-learn's RandomForestRegressor does by default). The champion at registration and
 * every retrained candidate use it.
 */
export function regressorForestConfig(t: {
  trees: number;
  maxDepth: number;
  minSamplesLeaf: number;
  seed: number;
}): ForestConfig {
  return {
    trees: t.trees,
    maxDepth: t.maxDepth,
    minSamplesLeaf: t.minSamplesLeaf,
    maxFeatures: 'all',
    seed: t.seed,
  };
}

/** Encodes the examples and trains a regression forest on them (used by trainers and in tests). */
export function trainRegressor(
  spec: FeatureSpec,
  examples: readonly NumericExample[],
  config: ForestConfig,
  opts: ForestOptions & { weights?: readonly number[] } = {},
): RegressionForestArtifact {
  if (examples.length === 0) throw new Error('cannot train a regressor on no labeled rows');
  const encoder = fitEncoder(
    spec,
    examples.map((e) => e.features),
  );
  const x = examples.map((e) => encode(encoder, e.features));
  const y = examples.map((e) => e.value);
  const trees = trainRegressionForest(x, y, opts.weights ?? null, config, opts);
  return {
    kind: 'random-forest-regressor',
    encoder,
    config,
    trees,
    trainedRange: { min: Math.min(...y), max: Math.max(...y) },
  };
}

/** The regressor's prediction for one feature row. */
export function predictValue(model: RegressionForestArtifact, row: Features): RegressionPrediction {
  return forestRegression(model.trees, encode(model.encoder, row));
}

/**
 * A regressor's prediction in the shape every scorer returns: the value, its decimal text as the label
 * (what the prediction log stores), confidence 1 (a regressor has no class probabilities; the trees'
 * spread is its uncertainty) and no probabilities.
 */
export function regressionPrediction(p: Pick<RegressionPrediction, 'value'>): Prediction {
  return { label: String(p.value), confidence: 1, probabilities: {}, value: p.value };
}

function growRegressionTree(data: PreparedTarget, config: ForestConfig, treeIndex: number): Tree {
  const { n, d, columns, y } = data;
  const rand = splitmix32(hash32(config.seed, treeIndex));

  // The bootstrap as a draw count per row: a row drawn k times weighs k in every sum below.
  const draws = new Int32Array(n);
  for (let k = 0; k < n; k++)
    draws[data.cumulative ? pickWeighted(data.cumulative, rand()) : (rand() * n) | 0]!++;
  let distinct = 0;
  for (let i = 0; i < n; i++) if (draws[i]! > 0) distinct++;
  const rows = new Int32Array(distinct);
  for (let i = 0, k = 0; i < n; i++) if (draws[i]! > 0) rows[k++] = i;

  const mtry =
    config.maxFeatures === 'all'
      ? d
      : config.maxFeatures === 'sqrt'
        ? Math.max(1, Math.floor(Math.sqrt(d)))
        : Math.min(d, config.maxFeatures);
  const minLeaf = config.minSamplesLeaf;
  const nodes: TreeNode[] = [];
  const order = Int32Array.from({ length: d }, (_, f) => f);

  // Rows of a node are the segment rows[start, end); splitting partitions it in place.
  const build = (start: number, end: number, depth: number): number => {
    let count = 0;
    let sum = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = start; k < end; k++) {
      const row = rows[k]!;
      count += draws[row]!;
      sum += draws[row]! * y[row]!;
      lo = Math.min(lo, y[row]!);
      hi = Math.max(hi, y[row]!);
    }
    const id = nodes.length;
    const leaf = (): number => {
      nodes[id] = { f: -1, t: 0, l: -1, r: -1, p: [sum / count] };
      return id;
    };
    nodes.push({ f: -1, t: 0, l: -1, r: -1, p: null });
    if (depth >= config.maxDepth || lo === hi || count < 2 * minLeaf) return leaf();

    // The squared error of a split is smallest where sumLeft²/nLeft + sumRight²/nRight is largest.
    let bestScore = -Infinity;
    let bestFeature = -1;
    let bestThreshold = 0;
    const segment = rows.subarray(start, end);
    // Features in a fresh random order; past mtry only while every feature seen so far was constant.
    let informative = 0;
    for (let j = 0; j < d && (j < mtry || informative === 0); j++) {
      const swap = j + Math.floor(rand() * (d - j));
      const f = order[swap]!;
      order[swap] = order[j]!;
      order[j] = f;
      const col = columns[f]!;
      // Ties by row index give one total order, so the result never depends on the segment's prior order.
      segment.sort((a, b) => col[a]! - col[b]! || a - b);
      if (col[segment[0]!] === col[segment[segment.length - 1]!]) continue;
      informative++;
      let nLeft = 0;
      let sumLeft = 0;
      for (let k = 0; k < segment.length - 1; k++) {
        const row = segment[k]!;
        nLeft += draws[row]!;
        sumLeft += draws[row]! * y[row]!;
        const here = col[row]!;
        const next = col[segment[k + 1]!]!;
        if (here === next || nLeft < minLeaf || count - nLeft < minLeaf) continue;
        const score = (sumLeft * sumLeft) / nLeft + (sum - sumLeft) ** 2 / (count - nLeft);
        if (score > bestScore) {
          bestScore = score;
          bestFeature = f;
          // The midpoint can round up to `next` for adjacent doubles; `here` then still separates them.
          const mid = here / 2 + next / 2;
          bestThreshold = mid < next ? mid : here;
        }
      }
    }
    if (bestFeature < 0) return leaf();

    const a = partitionRows(rows, columns[bestFeature]!, bestThreshold, start, end);
    const l = build(start, a, depth + 1);
    const r = build(a, end, depth + 1);
    nodes[id] = { f: bestFeature, t: bestThreshold, l, r, p: null };
    return id;
  };
  build(0, distinct, 0);
  return { nodes };
}

/** The JSON shape of a regression forest (kept with the other artifact shapes in core/model.ts). */
export { RegressionForestArtifactSchema } from './model.js';
