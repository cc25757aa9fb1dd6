/**
 * Active learning against random selection, on the weather cycle's data: which items people are asked
 * to label decides how good the retrained model gets for the same number of labels.
 *
 *   npm run bench:active-learning
 *
 * Setup, as in the demo: the champion is trained on 2012; the cycle's window is April 2013 – December
 * 2014, where ground truth arrived for a third of the rows. The window's holdout (the cycle's own
 * deterministic 25% split) is scored with the true labels. For each budget, the train split's unlabeled
 * rows are picked by the labeling strategies (uncertainty and margin on the champion's probabilities, as
 * openLabelTasks orders them; random over 10 shuffles), labeled with their true labels, and a random
 * forest with the cycle's default settings is trained on feedback + picked labels. Reported: holdout
 * accuracy per budget, and the fewest labels with which each strategy reaches random selection's
 * accuracy at the largest budget. The quick-candidate strategy (batches of 10, each chosen by a small
 * forest trained on the labels so far; the first batch random, averaged over 5 first batches) is what a
 * campaign would do between reviewer batches.
 */
import { loadWeather, hasFeedback, weatherModel } from '../client/weather.js';
import { forestProbabilities, trainForest } from '../core/forest.js';
import { encode, fitEncoder, predict, train } from '../core/model.js';
import { isHoldout, orderForLabeling } from '../core/policy.js';
import { Policy } from '../core/schemas.js';
import { machine, writeReport } from './report.js';

// --feedback third: the demo's setting, ground truth for a third of the window; none (default): people's
// labels are the only ones, where the choice of items matters most.
const FEEDBACK = process.argv.includes('--feedback')
  ? process.argv[process.argv.indexOf('--feedback') + 1]
  : 'none';
if (FEEDBACK !== 'none' && FEEDBACK !== 'third') throw new Error('--feedback must be "none" or "third"');
const BUDGETS = FEEDBACK === 'none' ? [10, 20, 40, 80, 160, 320] : [0, 10, 20, 40, 80, 160, 320];
const SEEDS = [7, 8, 9];
const RANDOM_RUNS = 10;
/** The quick candidate's first batch is random: averaged over this many first batches. */
const QUICK_RUNS = 5;
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

const rows = await loadWeather();
const def = weatherModel();
const policy = Policy.parse({});
const reference = rows.filter((r) => r.date < '2013-01-01');
const champion = train(
  def.features,
  reference
    .filter((r) => !isHoldout(r.recordKey, policy.collection.holdoutShare))
    .map((r) => ({ features: r.features, label: r.label })),
  { epochs: policy.training.epochs, learningRate: policy.training.learningRate, l2: policy.training.l2 },
);
const window = rows.filter((r) => r.date >= '2013-04-01' && r.date < '2015-01-01');
const holdout = window.filter((r) => isHoldout(r.recordKey, policy.collection.holdoutShare));
const trainSplit = window.filter((r) => !isHoldout(r.recordKey, policy.collection.holdoutShare));
const feedback = FEEDBACK === 'none' ? [] : trainSplit.filter((r) => hasFeedback(r.recordKey));
const pool = trainSplit
  .filter((r) => FEEDBACK === 'none' || !hasFeedback(r.recordKey))
  .map((r) => {
    const p = predict(champion, r.features);
    const [top = 0, second = 0] = Object.values(p.probabilities).sort((a, b) => b - a);
    return { ...r, guess: p.label, confidence: p.confidence, margin: top - second };
  });
log(
  `window ${window.length} rows: holdout ${holdout.length}, feedback ${feedback.length}, unlabeled pool ${pool.length}`,
);

const classes = def.labelSet;
function accuracyWith(
  picked: readonly { features: (typeof rows)[number]['features']; label: string }[],
): number {
  const examples = [...feedback, ...picked];
  const encoder = fitEncoder(
    def.features,
    examples.map((e) => e.features),
  );
  // Averaged over a few forest seeds, so the curves show the labels' effect rather than one forest's luck.
  let correct = 0;
  for (const seed of SEEDS) {
    const trees = trainForest(
      examples.map((e) => encode(encoder, e.features)),
      examples.map((e) => classes.indexOf(e.label)),
      null,
      classes.length,
      {
        trees: policy.training.trees,
        maxDepth: policy.training.maxDepth,
        minSamplesLeaf: policy.training.minSamplesLeaf,
        maxFeatures: 'sqrt',
        seed,
      },
    );
    for (const r of holdout) {
      const p = forestProbabilities(trees, encode(encoder, r.features), classes.length);
      if (classes[p.indexOf(Math.max(...p))] === r.label) correct++;
    }
  }
  return correct / (holdout.length * SEEDS.length);
}

/**
 * Batches with a quick candidate: a random first batch, then each next batch by the margin of a small
 * forest trained on the labels so far (the model being built, not the champion, which a label shift
 * leaves confidently wrong).
 */
function quickCandidatePicks(budget: number, salt: string, batch = 10): typeof pool {
  const picked: typeof pool = [];
  const remaining = [...orderForLabeling(pool, 'random', () => 3, salt)];
  while (picked.length < budget && remaining.length > 0) {
    const take = Math.min(batch, budget - picked.length);
    if (picked.length === 0) {
      picked.push(...remaining.splice(0, take));
      continue;
    }
    const examples = [...feedback, ...picked];
    const encoder = fitEncoder(
      def.features,
      examples.map((e) => e.features),
    );
    const trees = trainForest(
      examples.map((e) => encode(encoder, e.features)),
      examples.map((e) => classes.indexOf(e.label)),
      null,
      classes.length,
      { trees: 20, maxDepth: 6, minSamplesLeaf: 2, maxFeatures: 'sqrt', seed: 1 },
    );
    const scored = remaining.map((r) => {
      const p = forestProbabilities(trees, encode(encoder, r.features), classes.length);
      const [top = 0, second = 0] = [...p].sort((a, b) => b - a);
      return { r, margin: top - second };
    });
    scored.sort((a, b) => a.margin - b.margin || (a.r.recordKey < b.r.recordKey ? -1 : 1));
    const next = new Set(scored.slice(0, take).map((s) => s.r.recordKey));
    picked.push(...remaining.filter((r) => next.has(r.recordKey)));
    for (let i = remaining.length - 1; i >= 0; i--)
      if (next.has(remaining[i]!.recordKey)) remaining.splice(i, 1);
  }
  return picked;
}

const curves: Record<string, number[]> = { uncertainty: [], margin: [], 'quick-candidate': [], random: [] };
const randomSd: number[] = [];
const started = performance.now();
for (const b of BUDGETS) {
  for (const strategy of ['uncertainty', 'margin'] as const) {
    curves[strategy]!.push(accuracyWith(orderForLabeling(pool, strategy, () => 3, 'bench').slice(0, b)));
  }
  const quick = Array.from({ length: QUICK_RUNS }, (_, k) =>
    accuracyWith(quickCandidatePicks(b, `quick-${k}`)),
  );
  curves['quick-candidate']!.push(quick.reduce((a, x) => a + x, 0) / quick.length);
  const runs = Array.from({ length: RANDOM_RUNS }, (_, k) =>
    accuracyWith(orderForLabeling(pool, 'random', () => 3, `bench-${k}`).slice(0, b)),
  );
  const mean = runs.reduce((a, x) => a + x, 0) / runs.length;
  curves.random!.push(mean);
  randomSd.push(Math.sqrt(runs.reduce((a, x) => a + (x - mean) ** 2, 0) / (runs.length - 1)));
  log(
    `budget ${b}: uncertainty ${pct(curves.uncertainty!.at(-1)!)}, margin ${pct(curves.margin!.at(-1)!)}, quick candidate ${pct(curves['quick-candidate']!.at(-1)!)}, random ${pct(mean)} ± ${pct(randomSd.at(-1)!)}`,
  );
}
const target = curves.random!.at(-1)!;
const fewest = (curve: number[]) => {
  const i = curve.findIndex((a) => a >= target);
  return i < 0 ? null : BUDGETS[i]!;
};
const result = {
  target: { strategy: 'random', budget: BUDGETS.at(-1), accuracy: target },
  labelsToReachTarget: {
    uncertainty: fewest(curves.uncertainty!),
    margin: fewest(curves.margin!),
    quickCandidate: fewest(curves['quick-candidate']!),
    random: fewest(curves.random!),
  },
};

const m = machine();
console.log(
  `\nActive learning vs random — weather window 2013-04 .. 2014-12, feedback: ${FEEDBACK}, ${m.date}\n`,
);
console.log(
  `budget | ${'uncertainty'.padEnd(11)} | ${'margin'.padEnd(8)} | quick candidate | random (mean ± sd of ${RANDOM_RUNS})`,
);
BUDGETS.forEach((b, i) =>
  console.log(
    `${String(b).padStart(6)} | ${pct(curves.uncertainty![i]!).padEnd(11)} | ${pct(curves.margin![i]!).padEnd(8)} | ${pct(curves['quick-candidate']![i]!).padEnd(15)} | ${pct(curves.random![i]!)} ± ${pct(randomSd[i]!)}`,
  ),
);
console.log(
  `\nrandom selection reaches ${pct(target)} with ${BUDGETS.at(-1)} labels; uncertainty reaches it with ${result.labelsToReachTarget.uncertainty ?? 'more than ' + BUDGETS.at(-1)} labels, margin with ${result.labelsToReachTarget.margin ?? 'more than ' + BUDGETS.at(-1)}, the quick candidate with ${result.labelsToReachTarget.quickCandidate ?? 'more than ' + BUDGETS.at(-1)}`,
);
const file = await writeReport('active-learning', {
  machine: m,
  setup: {
    feedback: FEEDBACK,
    seeds: SEEDS,
    window: window.length,
    holdout: holdout.length,
    feedbackRows: feedback.length,
    pool: pool.length,
    budgets: BUDGETS,
    randomRuns: RANDOM_RUNS,
  },
  curves,
  randomSd,
  ...result,
  seconds: (performance.now() - started) / 1000,
});
console.log(`report: ${file}`);

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
