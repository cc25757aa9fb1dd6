/**
 * Active learning for a regression model against random selection, on real data: the cars of
 * vega-datasets 3.2.1, a model predicting miles per gallon (core/regression-active-learning.ts).
 *
 *   npm run bench:active-learning-regression
 *   npm run bench:active-learning-regression -- --runs 20
 *
 * Setup: every 4th car is the holdout (98 cars), the other 294 are the pool. Each run shuffles the pool
 * with its own seed and labels its first 20 cars; then batches of 10 are labeled up to 100, chosen by:
 * - random: the next cars of the run's shuffle;
 * - spread: the largest spread of a quick forest's trees (20 trees, fixed settings) trained on the
 *   labels so far;
 * - hybrid-30: 3 of every 10 from the shuffle, 7 by the quick forest's spread (as classifiers' hybrid).
 * After each batch a forest (60 trees, full depth, leaves of one) is trained on the labels so far and
 * its holdout MAE measured. Reported: mean ± sd MAE per budget over the runs, and each
 * strategy's difference to random at the same budget (Welch 95% interval). These settings were fixed
 * before the first run and not tuned on the holdout. The report goes to
 * .remedy/bench/active-learning-regression.json.
 */
import { seededUniform } from '../core/bootstrap.js';
import { hybridSpreadPick, quickRegressorSpread, spreadPick } from '../core/regression-active-learning.js';
import { predictValue, trainRegressor } from '../core/regression-forest.js';
import { regressionErrors } from '../core/regression-metrics.js';
import { CAR_FEATURES, labeledCars } from '../dev/cars.js';
import { machine, mean, sd, welch, writeReport } from './report.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '10'));
if (!Number.isInteger(RUNS) || RUNS < 2)
  throw new Error(`--runs must be a whole number ≥ 2, got ${arg('runs', '')}`);
const FIRST = 20;
const BATCH = 10;
const LAST = 100;
const BUDGETS = Array.from({ length: (LAST - FIRST) / BATCH + 1 }, (_, i) => FIRST + i * BATCH);
const STRATEGIES = ['random', 'spread', 'hybrid-30'] as const;
type Strategy = (typeof STRATEGIES)[number];
const EVAL_FOREST = { trees: 60, maxDepth: 30, minSamplesLeaf: 1, maxFeatures: 'all', seed: 7 } as const;

type Car = ReturnType<typeof labeledCars>[number];
const cars = labeledCars();
const holdout = cars.filter((_, i) => i % 4 === 3);
const pool = cars.filter((_, i) => i % 4 !== 3);

function holdoutMae(labeled: readonly Car[]): number {
  const model = trainRegressor(CAR_FEATURES, labeled, EVAL_FOREST);
  return regressionErrors(
    holdout.map((c) => c.value),
    holdout.map((c) => predictValue(model, c.features).value),
  ).mae;
}

/** The next batch of `strategy` from the rows left, in the run's shuffled order. */
function nextBatch(strategy: Strategy, labeled: readonly Car[], left: readonly Car[]): Car[] {
  if (strategy === 'random') return left.slice(0, BATCH);
  const said = quickRegressorSpread(CAR_FEATURES, labeled, left)!;
  const scored = left.map((c, i) => ({ ...c, spread: said[i]!.spread }));
  return strategy === 'spread' ? spreadPick(scored, BATCH) : hybridSpreadPick(scored, BATCH);
}

/** One run: holdout MAE at every budget. */
function run(strategy: Strategy, seed: number): number[] {
  const rand = seededUniform(seed);
  const shuffled = pool
    .map((c) => ({ c, u: rand() }))
    .sort((a, b) => a.u - b.u)
    .map((x) => x.c);
  let labeled = shuffled.slice(0, FIRST);
  let left = shuffled.slice(FIRST);
  const curve = [holdoutMae(labeled)];
  while (labeled.length < LAST) {
    const keys = new Set(nextBatch(strategy, labeled, left).map((c) => c.recordKey));
    labeled = [...labeled, ...left.filter((c) => keys.has(c.recordKey))];
    left = left.filter((c) => !keys.has(c.recordKey));
    curve.push(holdoutMae(labeled));
  }
  return curve;
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;

const started = Date.now();
const runs = Object.fromEntries(
  STRATEGIES.map((s) => [s, Array.from({ length: RUNS }, (_, r) => run(s, 1000 + r))]),
) as Record<Strategy, number[][]>;
const at = (s: Strategy, b: number) => runs[s].map((curve) => curve[b]!);
const table = STRATEGIES.map((s) => ({
  strategy: s,
  mae: BUDGETS.map((budget, b) => ({ budget, mean: mean(at(s, b)), sd: sd(at(s, b)) })),
  vsRandom: BUDGETS.map((_, b) => welch(at(s, b), at('random', b))),
}));
const lines = [
  `holdout MAE (mpg) by labels, mean ± sd over ${RUNS} runs; Δ vs random (Welch 95%)`,
  `labels     ${BUDGETS.map((b) => String(b).padStart(13)).join('')}`,
  ...table.flatMap((t) => [
    `${t.strategy.padEnd(11)}${t.mae.map((m) => `${m.mean.toFixed(3)} ± ${m.sd.toFixed(2)}`.padStart(13)).join('')}`,
    ...(t.strategy === 'random'
      ? []
      : [`  Δ random ${t.vsRandom.map((w) => `${signed(w.lo)}..${signed(w.hi)}`.padStart(13)).join('')}`]),
  ]),
];
process.stdout.write(`${lines.join('\n')}\n`);
const file = await writeReport('active-learning-regression', {
  machine: machine(),
  seconds: (Date.now() - started) / 1000,
  data: 'vega-datasets 3.2.1 cars.json: miles per gallon',
  rows: { holdout: holdout.length, pool: pool.length },
  runs: RUNS,
  table,
});
process.stderr.write(`[bench] report: ${file}\n`);
