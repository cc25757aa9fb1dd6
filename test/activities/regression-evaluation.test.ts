/**
 * Retraining and evaluating a regression model on real data and a real Postgres: vega-datasets' cars
 * (miles per gallon from the car's measurements). The champion is registered on 1970–74; the cycle's
 * labeled dataset holds the 1975–81 cars, which go further at the same weight. trainCandidate and
 * evaluateCandidate run as the cycle calls them; a deliberately bad candidate (trained on shuffled
 * targets) is evaluated beside the good one.
 */
import { createHash } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import type { RegressionEvaluationResult } from '../../activities/regression-evaluation.js';
import { canonicalJson } from '../../core/model.js';
import { evaluationNote, round, trainedNote } from '../../core/cycle-notes.js';
import { cycleReportHtml, cycleReportMarkdown, type CycleReportInput } from '../../core/report.js';
import { isHoldout } from '../../core/policy.js';
import { regressionCardHtml } from '../../core/regression-card-html.js';
import {
  regressionCardMarkdown,
  regressionReportMarkdown,
  type RegressionCardInput,
} from '../../core/regression-card.js';
import { predictValue, regressorForestConfig, trainRegressor } from '../../core/regression-forest.js';
import { coverageOf, storedInterval } from '../../core/regression-interval.js';
import { regressionErrors } from '../../core/regression-metrics.js';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { withTransaction } from '../../db/pool.js';
import * as db from '../../db/index.js';
import { registerRegressionModel } from '../../ops/register-regression.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let acts: ReturnType<typeof createActivities>;
let training: ReturnType<typeof createTrainingActivities>;
const modelId = 'cars-mpg';
const def = ModelDefinition.parse({
  modelId,
  task: 'regression',
  features: CAR_MEASUREMENTS,
  policy: { evaluation: { sliceBy: 'Origin', minSliceRows: 10 } },
});
const cars = labeledCars();
const ts = (c: { year: number }, i: number) => new Date(Date.UTC(c.year, 0, 1) + i * 3_600_000).toISOString();
const window = cars
  .map((c, i) => ({ ...c, ts: ts(c, i) }))
  .filter((c) => c.year >= 1975 && c.year <= 1981)
  .map((c) => ({
    ...c,
    split: isHoldout(c.recordKey, def.policy.collection.holdoutShare) ? 'holdout' : 'train',
  }));
const holdout = window.filter((c) => c.split === 'holdout');
let datasetId = 0;

const inActivity = <R>(fn: () => Promise<R>, env = new MockActivityEnvironment()): Promise<R> =>
  env.run<[], R, () => Promise<R>>(fn);

beforeAll(async () => {
  ({ pool } = await freshDatabase('regeval'));
  acts = createActivities({ pool });
  training = createTrainingActivities({ pool });
  const reference = cars
    .map((c, i) => ({ ...c, ts: ts(c, i) }))
    .filter((c) => c.year <= 1974)
    .map((c) => ({ recordKey: c.recordKey, ts: c.ts, features: c.features, label: String(c.value) }));
  await registerRegressionModel(pool, def, reference);
  ({ datasetId } = await db.insertDatasetVersion(pool, {
    modelId,
    idempotencyKey: 'cars-cycle:labeled',
    parentId: null,
    kind: 'labeled',
    cycleId: 'cars-cycle',
    windowStart: '1975-01-01T00:00:00Z',
    windowEnd: '1982-01-01T00:00:00Z',
    samplingPlan: {},
    contentHash: 'cars-1975-81',
    rows: window.map((c) => ({
      recordKey: c.recordKey,
      ts: c.ts,
      features: c.features,
      label: String(c.value),
      labelSource: 'human' as const,
      split: c.split as 'train' | 'holdout',
    })),
  }));
});
afterAll(async () => {
  await pool?.end();
});

const trainInput = (cycleId: string) => ({
  cycleId,
  modelId,
  datasetId,
  championVersion: 1,
  severity: 'severe' as const,
  config: def.policy.training,
});

const evaluate = (cycleId: string, candidateVersion: number, policy = def.policy.evaluation) =>
  inActivity(() =>
    acts.evaluateCandidate({
      cycleId,
      modelId,
      datasetId,
      candidateVersion,
      championVersion: 1,
      policy,
      driftReportId: null,
      campaignId: null,
    }),
  ) as Promise<RegressionEvaluationResult>;

let candidate = 0;

describe('training a regression candidate', () => {
  it('given the 1975–81 labels, when trained twice in one cycle and once in another, then one registry row per cycle and the same artifact', async () => {
    const a = await inActivity(() => training.trainCandidate(trainInput('cars-cycle')));
    expect(a).toMatchObject({ trainer: 'forest-regressor', resumedFrom: 0 });
    expect(a.trainErrors!.mae).toBeGreaterThan(0);
    // A severe drift keeps its share of the champion's rows (the label-shift rule is for classes).
    expect(a.historyRows).toBeGreaterThan(0);
    expect(a.trainRows).toBe(window.filter((c) => c.split === 'train').length + a.historyRows);
    const again = await inActivity(() => training.trainCandidate(trainInput('cars-cycle')));
    expect(again.version).toBe(a.version);
    const other = await inActivity(() => training.trainCandidate(trainInput('cars-cycle-2')));
    expect(other.version).not.toBe(a.version);
    expect(other.artifactSha256).toBe(a.artifactSha256);
    const stored = await db.getModelVersion(pool, modelId, a.version);
    expect(createHash('sha256').update(canonicalJson(stored.artifact)).digest('hex')).toBe(a.artifactSha256);
    expect(stored.artifact.kind).toBe('random-forest-regressor');
    candidate = a.version;
    // The cycle's note of the retrain stage gives the training errors, not an accuracy.
    const note = trainedNote(JSON.parse(JSON.stringify(a)) as typeof a);
    expect(note).not.toHaveProperty('trainAccuracy');
    expect(note).toMatchObject({
      trainer: 'forest-regressor',
      task: 'regression',
      trainMae: a.trainErrors!.mae,
    });
  });

  it('given an attempt that saved 25 trees before its worker died, when retried from its heartbeat, then it resumes at tree 25 and ends the same', async () => {
    const full = await inActivity(() => training.trainCandidate(trainInput('cars-resume-full')));
    const stored = await db.getModelVersion(pool, modelId, full.version);
    if (stored.artifact.kind !== 'random-forest-regressor') throw new Error('not a regressor');
    await db.insertCheckpointTrees(
      pool,
      `cars-resume:${full.configHash}`,
      0,
      stored.artifact.trees.slice(0, 25),
    );
    const heartbeatDetails = { configHash: full.configHash, kind: 'regression-forest', trees: 25 };
    const resumed = await inActivity(
      () => training.trainCandidate(trainInput('cars-resume')),
      new MockActivityEnvironment({ heartbeatDetails }),
    );
    expect(resumed.resumedFrom).toBe(25);
    expect(resumed.artifactSha256).toBe(full.artifactSha256);
  });

  it('given a regression model whose policy names a command trainer, when trained, then it is refused with what to set', async () => {
    const config = { ...def.policy.training, trainer: 'command' as const, command: ['python3', 'train.py'] };
    await expect(
      inActivity(() => training.trainCandidate({ ...trainInput('cars-command'), config })),
    ).rejects.toThrow(
      'cars-mpg is a regression model and its policy names training.trainer "command", which cannot train a regression model yet; set training.trainer to "forest" (the built-in forest regressor) or "python" (the Python worker)',
    );
  });
});

describe('evaluating a regression candidate', () => {
  it('given the retrained forest, when evaluated against the champion, then it passes every gate with a lower MAE', async () => {
    const e = await evaluate('cars-cycle', candidate);
    expect(e.task).toBe('regression');
    expect(e.holdoutRows).toBe(holdout.length);
    // The numbers the result reports are the models' own on the holdout.
    const truth = holdout.map((c) => c.value);
    const champion = (await db.getModelVersion(pool, modelId, 1)).artifact;
    if (champion.kind !== 'random-forest-regressor') throw new Error('champion is not a regressor');
    const championErrors = regressionErrors(
      truth,
      holdout.map((c) => predictValue(champion, c.features).value),
    );
    expect(e.champion.mae).toBeCloseTo(championErrors.mae, 10);
    expect(e.candidate.mae).toBeLessThan(e.champion.mae);
    // The champion learned on 1970–74 cars and under-predicts the later ones.
    expect(e.champion.meanError).toBeLessThan(0);
    expect(e.intervals.difference.mae.upper).toBeLessThan(0);
    expect(e.intervals.candidate.mae.lower).toBeLessThan(e.candidate.mae);
    expect(e.intervals.candidate.r2).not.toBeNull();
    expect(Object.keys(e.slices).sort()).toEqual(['Europe', 'Japan', 'USA']);
    expect(e.backtest?.rows).toBeGreaterThan(0);
    expect(e.gates.map((g) => g.name)).toEqual([
      'min-holdout',
      'min-gain',
      'slice-drop',
      'latency',
      'backtest',
    ]);
    // The later cars' miles per gallon moved far from 1970–74's: the candidate that learned them misses
    // the old cars (the backtest), which is reported but does not decide.
    expect(e.targetShiftPsi).toBeGreaterThanOrEqual(0.25);
    const backtest = e.gates.find((g) => g.name === 'backtest')!;
    expect(backtest).toMatchObject({ passed: true, advisory: true });
    expect(backtest.detail).toMatch(
      /reported, not judged: the window's values moved away from the reference's \(target PSI \d+\.\d\d ≥ 0\.25\)/,
    );
    expect(e.reason).toMatch(
      /^all gates passed \(MAE reduction \d+\.\d%, 90% interval \d+\.\d% to \d+\.\d%, worst slice MAE increase .+, p95 \d+\.\d\d ms, backtest MAE increase \d+\.\d% \(reported, not judged\)\)$/,
    );
    expect(e.go).toBe(true);
    // The cycle's note of the evaluate stage: both models' errors, the paired MAE difference, the verdict.
    expect(evaluationNote(e)).toMatchObject({
      task: 'regression',
      holdoutRows: holdout.length,
      candidate: { mae: round(e.candidate.mae), r2: round(e.candidate.r2!) },
      champion: { mae: round(e.champion.mae) },
      intervals: { confidence: 0.9, maeDifference: { estimate: round(e.intervals.difference.mae.estimate) } },
      gate: 'go',
      reason: e.reason,
    });
    // The candidate's version records its holdout errors as a registered champion's does.
    const metrics = (await db.getModelVersion(pool, modelId, candidate)).metrics;
    expect(metrics.holdoutErrors).toEqual({
      rows: holdout.length,
      mae: e.candidate.mae,
      rmse: e.candidate.rmse,
      r2: e.candidate.r2,
      mape: e.candidate.mape,
      meanError: e.candidate.meanError,
    });

    // Judged anyway (evaluation.backtest: enforce), the same candidate is rejected for forgetting.
    const enforced = await evaluate('cars-cycle', candidate, {
      ...def.policy.evaluation,
      backtest: 'enforce',
    });
    expect(enforced.go).toBe(false);
    expect(enforced.reason).toMatch(
      /^failed backtest: on \d+ reference holdout rows candidate MAE \d+\.\d{3} vs champion \d+\.\d{3} \(MAE increase \d+\.\d% > 5\.0%; MAE difference 90% interval \d+\.\d{3} to \d+\.\d{3}\)$/,
    );
    // The card is written again for the last evaluation: evaluate with the policy's own settings last.
    expect((await evaluate('cars-cycle', candidate)).go).toBe(true);
  });

  it('given a candidate trained on shuffled targets, when evaluated, then min-gain fails and the reason gives both MAEs', async () => {
    const train = window.filter((c) => c.split === 'train');
    // Each car gets the target of the car 37 places on: the features say nothing about the value.
    const shuffled = train.map((c, i) => ({
      features: c.features,
      value: train[(i + 37) % train.length]!.value,
    }));
    const artifact = trainRegressor(CAR_MEASUREMENTS, shuffled, regressorForestConfig(def.policy.training));
    const json = canonicalJson(artifact);
    const version = await withTransaction(pool, (client) =>
      db.insertModelVersion(client, {
        modelId,
        idempotencyKey: 'cars-bad:candidate',
        status: 'candidate',
        datasetId,
        cycleId: 'cars-bad',
        configHash: 'shuffled',
        codeVersion: 'test',
        artifact: json,
        artifactSha256: createHash('sha256').update(json).digest('hex'),
        metrics: { trainer: 'forest-regressor' },
      }),
    );
    const e = await evaluate('cars-bad', version);
    const truth = holdout.map((c) => c.value);
    const bad = regressionErrors(
      truth,
      holdout.map((c) => predictValue(artifact, c.features).value),
    );
    expect(e.candidate.mae).toBeCloseTo(bad.mae, 10);
    expect(e.go).toBe(false);
    const gain = e.gates.find((g) => g.name === 'min-gain')!;
    expect(gain.passed).toBe(false);
    expect(e.reason).toContain(
      `failed min-gain: the candidate's MAE ${bad.mae.toFixed(3)} is higher than the champion's ${e.champion.mae.toFixed(3)} (MAE reduction -`,
    );
    expect(e.reason).toMatch(/on \d+ rows\): lower bound -\d+\.\d% < 2\.0%/);
  });

  it('given an evaluated candidate, then its model card shows errors with intervals, slices, residual bias and both plots', async () => {
    const card = await db.getModelCard(pool, modelId, candidate);
    expect(card).toBeDefined();
    const { markdown, html } = card!;
    expect(markdown).toContain(`# Model card: cars-mpg v${candidate} (regression)`);
    expect(markdown).toMatch(
      /\| MAE \| \d+\.\d{3} \(\d+\.\d{3} to \d+\.\d{3}\) \| \d+\.\d{3} \(\d+\.\d{3} to \d+\.\d{3}\) \| -\d+\.\d{3} \|/,
    );
    expect(markdown).toMatch(/\| R² \| 0\.\d{3} \(/);
    expect(markdown).toMatch(/\| MAPE \| \d+\.\d% \(/);
    expect(markdown).toContain('## Residual bias by decile');
    expect(markdown).toMatch(/\| 10 \| \d+ \| [\d.]+ to [\d.]+ \|/);
    expect(markdown).toMatch(/\| USA \| \d+ \| \d+\.\d{3} \| \d+\.\d{3} \|/);
    expect(markdown).toContain('Calibration (ECE) does not apply to a regressor');
    expect(html).toContain('aria-label="Predicted against actual, candidate and champion"');
    expect(html).toContain('aria-label="Residual against prediction, candidate and champion"');
    // Every holdout row once per model in each plot.
    expect(html.match(/<circle class="candidate"/g)).toHaveLength(2 * holdout.length);
    expect(html.match(/<circle class="champion"/g)).toHaveLength(2 * holdout.length);
    expect(html).not.toContain('NaN');
  });

  it('given an evaluated candidate, then its version stores a 90 % conformal interval from the holdout and the card shows both models’ coverage', async () => {
    const candidateVersion = await db.getModelVersion(pool, modelId, candidate);
    if (candidateVersion.artifact.kind !== 'random-forest-regressor') throw new Error('not a regressor');
    const candidateArtifact = candidateVersion.artifact;
    const truth = holdout.map((c) => c.value);
    const absolute = holdout
      .map((c) => Math.abs(predictValue(candidateArtifact, c.features).value - c.value))
      .sort((a, b) => a - b);
    // 48 holdout cars: the ⌈49 × 0.9⌉ = 45th smallest absolute error.
    expect(holdout.length).toBe(48);
    expect(storedInterval(candidateVersion.metrics)).toEqual({
      level: 0.9,
      halfWidth: absolute[44],
      rows: 48,
      calibratedOn: `cycle cars-cycle's holdout (dataset #${datasetId})`,
    });
    // The champion's interval, calibrated on the 1970–74 holdout, misses many of the later cars it
    // under-predicts: its coverage on this holdout is what the card reports.
    const champion = await db.getModelVersion(pool, modelId, 1);
    if (champion.artifact.kind !== 'random-forest-regressor') throw new Error('not a regressor');
    const championArtifact = champion.artifact;
    const championInterval = storedInterval(champion.metrics)!;
    const championCoverage = coverageOf(
      truth,
      holdout.map((c) => predictValue(championArtifact, c.features).value),
      championInterval.halfWidth,
    );
    expect(championCoverage.share).toBeLessThan(0.9);
    const card = (await db.getModelCard(pool, modelId, candidate))!;
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    expect(card.markdown).toContain('## Prediction intervals');
    expect(card.markdown).toContain('Split conformal at 90.0% (evaluation.intervalLevel)');
    expect(card.markdown).toContain(
      `| Champion v1 | ± ${championInterval.halfWidth.toFixed(3)} | ${championInterval.rows} rows: the registration's reference holdout | ${pct(championCoverage.share)} (${championCoverage.covered} of 48; 95% interval`,
    );
    expect(card.markdown).toMatch(
      new RegExp(
        `\\| Candidate v${candidate} \\| ± ${absolute[44]!.toFixed(3)} \\| 48 rows: cycle cars-cycle's holdout \\(dataset #${datasetId}\\) \\| \\d+\\.\\d% \\(\\d+ of 48; 95% interval \\d+\\.\\d% to \\d+\\.\\d%\\) \\| two-fold \\(half-widths \\d+\\.\\d{3} and \\d+\\.\\d{3}\\) \\|`,
      ),
    );
    expect(card.html).toContain('<h2>Prediction intervals</h2>');
    expect(card.html).toContain(`${championCoverage.covered} of 48`);
    // A card stored before intervals (its input has none) still renders, and says they were not measured.
    const stored = (await db.latestCycleModelCard(pool, 'cars-cycle'))!;
    const { predictionIntervals, ...older } = stored.input as RegressionCardInput;
    expect(predictionIntervals?.level).toBe(0.9);
    const notMeasured =
      'Prediction intervals were not measured (this card was written before Remedy stored them).';
    expect(regressionCardMarkdown(older)).toContain(notMeasured);
    expect(regressionCardHtml(older)).toContain(notMeasured);
    expect(regressionReportMarkdown(older)).not.toContain('Prediction interval');
  });

  it('given an evaluated candidate, then the cycle report shows its errors and plots, not accuracy', async () => {
    const card = await db.latestCycleModelCard(pool, 'cars-cycle');
    const report: CycleReportInput = {
      generatedAt: '1982-01-01T00:00:00.000Z',
      cycle: {
        cycleId: 'cars-cycle',
        modelId,
        window: { start: '1975-01-01T00:00:00Z', end: '1982-01-01T00:00:00Z' },
        stage: 'evaluate',
        outcome: null,
        reason: null,
        severity: 'severe',
        trigger: 'drift',
        championVersion: 1,
        candidateVersion: candidate,
        stages: [],
      },
      drift: null,
      labeling: null,
      card: card ? { go: card.go, input: card.input } : null,
      rollout: [],
      audit: [],
    };
    const html = cycleReportHtml(report);
    expect(html).toContain('aria-label="Predicted against actual, candidate and champion"');
    expect(html).toMatch(/<td>MAE<\/td><td class="num">\d+\.\d{3} \(/);
    expect(html).not.toContain('Calibration</h3>');
    const markdown = cycleReportMarkdown(report);
    expect(markdown).toMatch(/\*\*GO\*\*: all gates passed \(MAE reduction/);
    expect(markdown).toMatch(
      new RegExp(
        `Prediction interval at 90\\.0%: candidate v${candidate} ± \\d+\\.\\d{3}, holding \\d+\\.\\d% of the holdout two-fold; champion v1's stored ± \\d+\\.\\d{3} held \\d+\\.\\d% of it\\.`,
      ),
    );
    expect(html).toContain('<h2>Prediction intervals</h2>');
    expect(markdown).toMatch(/\| MAE \| \d+\.\d{3} \(/);
    expect(markdown).not.toContain('Accuracy');
  });
});
