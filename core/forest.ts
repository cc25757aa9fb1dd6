/**
 * The built-in random forest: bagged CART trees (Gini impurity) on the encoded feature matrix, with a
 * random feature subset per split, plus a small deterministic search over depth and leaf size.
 *
 * Why this shape: every random draw of tree i comes from a PRNG seeded by hashing (seed, i), so tree i is
 * the same whether the forest was trained in one go or resumed after a worker restart from the trees
 * already heartbeated. No Math.random, no clock, no I/O: the same input gives the same forest byte for byte.
 */

export interface ForestConfig {
  trees: number;
  maxDepth: number;
  /** The fewest bootstrap draws a leaf may hold. */
  minSamplesLeaf: number;
  /** Features tried per split: floor(sqrt(d)), all d, or a whole number of them. */
  maxFeatures: 'sqrt' | 'all' | number;
  seed: number;
}

/** f = -1 and p = class probabilities at a leaf; otherwise rows with x[f] <= t go to nodes[l], the rest to nodes[r]. */
export interface TreeNode {
  f: number;
  t: number;
  l: number;
  r: number;
  p: number[] | null;
}

export interface Tree {
  nodes: TreeNode[];
}

export interface ForestOptions {
  /** Trees already trained (e.g. from the last heartbeat); training continues with tree done.length. */
  done?: readonly Tree[];
  /** Called after each new tree with its index and all trees so far (the caller heartbeats them). */
  onTree?: (treeIndex: number, trees: Tree[]) => void;
  /** Checked before each tree; when it returns true the forest trained so far is returned. */
  shouldStop?: () => boolean;
}

export interface ForestGrid {
  maxDepth: number[];
  minSamplesLeaf: number[];
}

export interface ForestSearchResult {
  config: ForestConfig;
  validationAccuracy: number;
  tried: { maxDepth: number; minSamplesLeaf: number; validationAccuracy: number }[];
}

/** Trees per grid point in the search: enough to rank configurations, few enough to keep the search cheap. */
export const SEARCH_TREES = 15;

export function trainTree(
  x: readonly number[][],
  y: readonly number[],
  weights: readonly number[] | null,
  classes: number,
  config: ForestConfig,
  treeIndex: number,
): Tree {
  checkConfig(config);
  return growTree(prepare(x, y, weights, classes), config, treeIndex);
}

export function trainForest(
  x: readonly number[][],
  y: readonly number[],
  weights: readonly number[] | null,
  classes: number,
  config: ForestConfig,
  opts: ForestOptions = {},
): Tree[] {
  checkConfig(config);
  const trees = [...(opts.done ?? [])];
  if (trees.length > config.trees)
    throw new Error(`${trees.length} trees already done but the forest has only ${config.trees}`);
  const data = prepare(x, y, weights, classes);
  for (let i = trees.length; i < config.trees; i++) {
    if (opts.shouldStop?.()) break;
    trees.push(growTree(data, config, i));
    opts.onTree?.(i, [...trees]);
  }
  return trees;
}

export function forestProbabilities(
  trees: readonly Tree[],
  xi: readonly number[],
  classes: number,
): number[] {
  if (trees.length === 0) throw new Error('a forest needs at least one tree to predict');
  const out = new Array<number>(classes).fill(0);
  for (const tree of trees) {
    const p = leafOf(tree, xi);
    for (let c = 0; c < classes; c++) out[c]! += p[c] ?? 0;
  }
  for (let c = 0; c < classes; c++) out[c] = out[c]! / trees.length;
  return out;
}

/**
 * Bounded hyper-parameter search: small forests for every (maxDepth, minSamplesLeaf) of the grid, scored on
 * a held-out share of the rows; returns `base` with the best pair. Ties go to the simpler forest (smaller
 * depth, then larger leaves), which is also the one less likely to have won by overfitting the split.
 */
export function searchForest(
  x: readonly number[][],
  y: readonly number[],
  weights: readonly number[] | null,
  classes: number,
  base: ForestConfig,
  grid: ForestGrid,
  validationShare = 0.2,
): ForestSearchResult {
  checkConfig(base);
  if (grid.maxDepth.length === 0 || grid.minSamplesLeaf.length === 0)
    throw new Error('the search grid needs at least one maxDepth and one minSamplesLeaf');
  if (!(validationShare > 0 && validationShare < 1))
    throw new Error(`validationShare must be between 0 and 1, got ${validationShare}`);
  // Hashing the row index (rather than taking every k-th row) keeps the split from lining up with any
  // periodic order in the rows, e.g. alternating locations or days of the week.
  const fit: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < x.length; i++) (hash32(i) / 2 ** 32 < validationShare ? held : fit).push(i);
  if (fit.length === 0 || held.length === 0)
    throw new Error(`too few rows (${x.length}) to hold out a validation share of ${validationShare}`);
  const fitX = fit.map((i) => x[i]!);
  const fitY = fit.map((i) => y[i]!);
  const fitW = weights ? fit.map((i) => weights[i]!) : null;

  const depths = [...new Set(grid.maxDepth)].sort((a, b) => a - b);
  const leaves = [...new Set(grid.minSamplesLeaf)].sort((a, b) => b - a);
  const tried: ForestSearchResult['tried'] = [];
  let best: ForestSearchResult['tried'][number] | undefined;
  for (const maxDepth of depths) {
    for (const minSamplesLeaf of leaves) {
      const config = { ...base, trees: Math.min(base.trees, SEARCH_TREES), maxDepth, minSamplesLeaf };
      const trees = trainForest(fitX, fitY, fitW, classes, config);
      // Accuracy weighs held-out rows like training does, so the search optimises what the weights express.
      let correct = 0;
      let total = 0;
      for (const i of held) {
        const w = weights ? weights[i]! : 1;
        if (argmax(forestProbabilities(trees, x[i]!, classes)) === y[i]) correct += w;
        total += w;
      }
      const point = { maxDepth, minSamplesLeaf, validationAccuracy: total > 0 ? correct / total : 0 };
      tried.push(point);
      // Visiting simpler forests first and replacing only on a strict improvement breaks ties toward them.
      if (!best || point.validationAccuracy > best.validationAccuracy) best = point;
    }
  }
  return {
    config: { ...base, maxDepth: best!.maxDepth, minSamplesLeaf: best!.minSamplesLeaf },
    validationAccuracy: best!.validationAccuracy,
    tried,
  };
}

/** The training rows in the shape the tree builder reads fast: one column per feature. */
interface Prepared {
  n: number;
  d: number;
  columns: Float64Array[];
  y: Int32Array;
  classes: number;
  /** Running sums of the row weights for the weighted bootstrap; null when rows weigh the same. */
  cumulative: Float64Array | null;
}

function prepare(
  x: readonly number[][],
  y: readonly number[],
  weights: readonly number[] | null,
  classes: number,
): Prepared {
  const n = x.length;
  if (n === 0) throw new Error('cannot train on an empty dataset');
  if (y.length !== n) throw new Error(`${n} feature rows but ${y.length} labels`);
  if (!Number.isInteger(classes) || classes < 1)
    throw new Error(`classes must be a positive whole number, got ${classes}`);
  const d = x[0]!.length;
  const columns = Array.from({ length: d }, () => new Float64Array(n));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = x[i]!;
    if (row.length !== d) throw new Error(`row ${i} has ${row.length} features, expected ${d}`);
    for (let f = 0; f < d; f++) {
      const v = row[f]!;
      if (!Number.isFinite(v)) throw new Error(`row ${i} feature ${f} is not a finite number: ${v}`);
      columns[f]![i] = v;
    }
    const label = y[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes)
      throw new Error(`row ${i} has label ${label}, expected a whole number in [0, ${classes})`);
    labels[i] = label;
  }
  return { n, d, columns, y: labels, classes, cumulative: cumulativeWeights(weights, n) };
}

/** Running sums of the row weights for the weighted bootstrap (null: rows weigh the same), checked. */
export function cumulativeWeights(weights: readonly number[] | null, n: number): Float64Array | null {
  if (!weights) return null;
  if (weights.length !== n) throw new Error(`${n} rows but ${weights.length} weights`);
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`row ${i} has weight ${w}, expected ≥ 0`);
    sum += w;
    cumulative[i] = sum;
  }
  if (!(sum > 0)) throw new Error('the row weights sum to zero');
  return cumulative;
}

/** Throws, naming the setting, for a forest configuration that cannot be trained. */
export function checkConfig(config: ForestConfig): void {
  const whole = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!whole(config.trees, 0)) throw new Error(`trees must be a whole number ≥ 0, got ${config.trees}`);
  if (!whole(config.maxDepth, 0))
    throw new Error(`maxDepth must be a whole number ≥ 0, got ${config.maxDepth}`);
  if (!whole(config.minSamplesLeaf, 1))
    throw new Error(`minSamplesLeaf must be a whole number ≥ 1, got ${config.minSamplesLeaf}`);
  if (typeof config.maxFeatures === 'number' && !whole(config.maxFeatures, 1))
    throw new Error(`maxFeatures must be 'sqrt', 'all' or a whole number ≥ 1, got ${config.maxFeatures}`);
  if (!Number.isInteger(config.seed)) throw new Error(`seed must be a whole number, got ${config.seed}`);
}

function growTree(data: Prepared, config: ForestConfig, treeIndex: number): Tree {
  const { n, d, columns, y, classes } = data;
  const rand = splitmix32(hash32(config.seed, treeIndex));

  // The bootstrap as a draw count per row: a row drawn k times weighs k in every count below.
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
  const left = new Float64Array(classes);
  const totals = new Float64Array(classes);

  // Rows of a node are the segment rows[start, end); splitting partitions it in place.
  const build = (start: number, end: number, depth: number): number => {
    totals.fill(0);
    for (let k = start; k < end; k++) totals[y[rows[k]!]!]! += draws[rows[k]!]!;
    let count = 0;
    let present = 0;
    for (let c = 0; c < classes; c++) {
      count += totals[c]!;
      if (totals[c]! > 0) present++;
    }
    const id = nodes.length;
    const leaf = (): number => {
      nodes[id] = { f: -1, t: 0, l: -1, r: -1, p: Array.from(totals, (v) => v / count) };
      return id;
    };
    nodes.push({ f: -1, t: 0, l: -1, r: -1, p: null });
    if (depth >= config.maxDepth || present <= 1 || count < 2 * minLeaf) return leaf();

    // Gini impurity of a split is minimised where sum(left²)/nLeft + sum(right²)/nRight is largest.
    let bestScore = -Infinity;
    let bestFeature = -1;
    let bestThreshold = 0;
    const segment = rows.subarray(start, end);
    // Features in a fresh random order; like scikit-learn, keep going past mtry while every feature seen
    // so far was constant in this node, so a node splits whenever some feature can split it.
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
      left.fill(0);
      let nLeft = 0;
      let sqLeft = 0;
      for (let k = 0; k < segment.length - 1; k++) {
        const row = segment[k]!;
        const w = draws[row]!;
        const c = y[row]!;
        // Update sum(left²) and sum(right²) incrementally from the one class that moved.
        sqLeft += w * (2 * left[c]! + w);
        left[c]! += w;
        nLeft += w;
        const here = col[row]!;
        const next = col[segment[k + 1]!]!;
        if (here === next || nLeft < minLeaf || count - nLeft < minLeaf) continue;
        let sqRight = 0;
        for (let cc = 0; cc < classes; cc++) sqRight += (totals[cc]! - left[cc]!) ** 2;
        const score = sqLeft / nLeft + sqRight / (count - nLeft);
        if (score > bestScore) {
          bestScore = score;
          bestFeature = f;
          // The midpoint can round up to `next` for adjacent doubles; `here` then still separates them.
          const mid = here / 2 + next / 2;
          bestThreshold = mid < next ? mid : here;
        }
      }
    }
    // Like scikit-learn, a split that does not lower impurity is still taken: a later one may (e.g. XOR).
    if (bestFeature < 0) return leaf();

    const lo = partitionRows(rows, columns[bestFeature]!, bestThreshold, start, end);
    const l = build(start, lo, depth + 1);
    const r = build(lo, end, depth + 1);
    nodes[id] = { f: bestFeature, t: bestThreshold, l, r, p: null };
    return id;
  };
  build(0, distinct, 0);
  return { nodes };
}

/** The leaf values the row reaches in the tree (a regression tree's leaf holds [mean]). */
/**
 * Reorders `rows[start..end)` in place so the rows whose `column` value is at most `threshold` come first;
 * returns where the others begin (a tree's split of a node's rows).
 */
export function partitionRows(
  rows: Int32Array | number[],
  column: ArrayLike<number>,
  threshold: number,
  start: number,
  end: number,
): number {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    if (column[rows[lo]!]! <= threshold) lo++;
    else {
      const t = rows[lo]!;
      rows[lo] = rows[hi]!;
      rows[hi--] = t;
    }
  }
  return lo;
}

export function leafOf(tree: Tree, xi: readonly number[]): number[] {
  let node = tree.nodes[0];
  while (node) {
    if (node.p !== null) return node.p;
    const v = xi[node.f];
    if (v === undefined) throw new Error(`the tree splits on feature ${node.f} but the row has ${xi.length}`);
    node = tree.nodes[v <= node.t ? node.l : node.r];
  }
  throw new Error('malformed tree: a branch points outside its nodes');
}

/** The first row whose running weight sum exceeds u × total, by binary search; zero-weight rows are never picked. */
export function pickWeighted(cumulative: Float64Array, u: number): number {
  const target = u * cumulative[cumulative.length - 1]!;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let c = 1; c < values.length; c++) if (values[c]! > values[best]!) best = c;
  return best;
}

/** splitmix32: a small, well-mixed 32-bit PRNG returning floats in [0, 1). */
export function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state ^ (state >>> 16);
    z = Math.imul(z, 0x21f0aaad);
    z ^= z >>> 15;
    z = Math.imul(z, 0x735a2d97);
    z ^= z >>> 15;
    return (z >>> 0) / 2 ** 32;
  };
}

/** Mixes whole numbers into one well-spread 32-bit value (murmur3's finaliser, chained). */
export function hash32(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    h = Math.imul(h ^ (v | 0), 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
