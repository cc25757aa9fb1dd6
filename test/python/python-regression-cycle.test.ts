/**
 * Regression cycles on real data (vega-datasets cars, miles per gallon, champion trained on 1970–74,
 * window 1975–80) whose candidate is an ONNX regressor: trained by the Python worker as a real process
 * (`training.trainer: python`, scikit-learn's gradient boosting exported with skl2onnx), and given from
 * outside (`remedy models add-version`, then `remedy start --candidate`): a forest trained on kilometres
 * per litre by mistake is rejected by the gates on its MAE, one trained on the window's miles per gallon
 * goes to rollout through the gateway.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isOnnxRegressor } from '../../core/model.js';
import { intervalAround, storedInterval } from '../../core/regression-interval.js';
import { CARS_DEMO_POLICY, CARS_SCENARIO, prepareCarsModel } from '../../dev/cars-scenario.js';
import { startPythonWorker, type PythonWorker } from '../../dev/python-worker.js';
import { runScriptedCycle } from '../../dev/scenario.js';
import type { CycleSummary } from '../../workflows/messages.js';
import * as db from '../../db/index.js';
import { scoreRows } from '../../scoring/index.js';
import { ensurePythonEnv } from '../../infra/python-env.js';
import { pythonTaskQueue } from '../../workflows/cycle.js';
import { cliRunner, expectReplays, recordHistories, useStack } from '../helpers.js';
import { buildRegressorFixtures, type RegressorFixtures } from './onnx-regressor-fixtures.js';

const stack = useStack('pyreg', { gateway: true });
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));
let worker: PythonWorker | undefined;
let fx: RegressorFixtures;

beforeAll(async () => {
  await ensurePythonEnv();
  fx = await buildRegressorFixtures();
}, 600_000);
afterAll(async () => {
  worker?.kill('SIGKILL');
  await worker?.exited;
  await fx?.remove();
});

/**
 * The demo's people and rollout. Latency is not what these tests are about: a loaded machine is slow, and
 * an ONNX session's p95 per row passed the evaluation's default 20 ms there (22.7 ms in one CI run), so
 * both ceilings are loose. Each step is judged on a fixed sample of 30 answers an arm, traffic paced by
 * the steps, so a loaded machine cannot change the outcome.
 */
const policy = (extra: Record<string, unknown> = {}) => ({
  ...CARS_DEMO_POLICY,
  evaluation: { maxLatencyMs: 2000 },
  rollout: { ...CARS_DEMO_POLICY.rollout, maxLatencyP95Ms: 2000, stepSamples: 30 },
  ...extra,
});

const stageOf = (summary: CycleSummary) => (name: string) =>
  summary.stages.find((s) => s.stage === name)?.summary ?? {};

async function predict(modelId: string, features: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.gateway.url}/v1/models/${modelId}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requestId: `check-${modelId}`, features }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('a regression model trained by the Python worker', () => {
  it('given trainer "python" on the cars, when a cycle runs, then the candidate is a gradient boosting regressor served as ONNX and judged on its errors', async () => {
    worker = startPythonWorker({
      temporalAddress: inject('temporalAddress'),
      taskQueue: pythonTaskQueue(stack.h.trainingTaskQueue),
      databaseUrl: stack.url,
    });
    await worker.ready;
    const prepared = await prepareCarsModel(
      stack.pool,
      'py-cars',
      policy({ training: { trainer: 'python', python: { estimators: 100, stageSize: 25, maxDepth: 3 } } }),
    );
    const { cycleId, summary, traffic } = await runScriptedCycle(stack.h.client, stack.h, prepared, {
      gatewayUrl: stack.gateway.url,
      pool: stack.pool,
    });
    const stage = stageOf(summary);
    expect(stage('confirm')).toMatchObject({ windowRows: 184, labeledRows: 62, performanceMetric: 'mae' });
    const retrain = stage('retrain');
    expect(retrain).toMatchObject({
      trainer: 'python',
      task: 'regression',
      estimator: 'GradientBoostingRegressor',
      estimators: 100,
      resumedFrom: 0,
    });
    expect(retrain).not.toHaveProperty('trainAccuracy');
    expect(retrain['trainMae']).toBeGreaterThan(0);
    expect(retrain['converterGap']).toBeLessThan(1e-3);
    const v = summary.candidateVersion!;
    const candidate = await db.getModelVersion(stack.pool, 'py-cars', v);
    expect(isOnnxRegressor(candidate.artifact)).toBe(true);
    expect(candidate.artifact).toMatchObject({
      kind: 'onnx',
      task: 'regression',
      outputs: { value: 'variable' },
    });
    // The gates judge the Python regressor as they judge the built-in forest (measured: holdout MAE 3.19
    // against the champion's 4.08 on 38 rows, reduction 21.8 %, 90 % interval 9.8 % to 33.4 %), and the
    // rollout through the gateway judges its absolute errors on the 1981–82 traffic.
    const evaluate = stage('evaluate');
    expect(evaluate).toMatchObject({ task: 'regression', gate: 'go' });
    expect(evaluate['reason']).toMatch(/^all gates passed \(MAE reduction [\d.]+%, 90% interval/);
    expect(summary.stages.map((s) => s.stage)).toEqual([
      'confirm',
      'diagnose',
      'collect',
      'label',
      'retrain',
      'evaluate',
      'approval',
      'rollout',
      'close',
    ]);
    expect({ outcome: summary.outcome, reason: summary.reason }).toEqual({
      outcome: 'promoted',
      reason: 'every step passed its analysis',
    });
    expect(traffic.byVersion[`v${v}`]).toBeGreaterThan(0);
    expect(traffic.offSplit).toBe(0);
    // The new champion is served by the gateway: its answer is the ONNX file's value for the car.
    expect(await db.getAlias(stack.pool, 'py-cars', 'champion')).toBe(v);
    const car = prepared.rows.find((r) => r.ts >= CARS_SCENARIO.window.end)!;
    const answer = await predict('py-cars', car.features);
    const [scored] = await scoreRows(stack.pool, candidate.artifact, [car.features]);
    // …with the 90 % interval its evaluation calibrated on the cycle's holdout.
    const interval = storedInterval((await db.getModelVersion(stack.pool, 'py-cars', v)).metrics)!;
    expect(interval.calibratedOn).toContain(`cycle ${cycleId}'s holdout`);
    const def = (await db.getModel(stack.pool, 'py-cars'))!;
    expect(answer).toEqual({
      requestId: 'check-py-cars',
      modelId: 'py-cars',
      version: v,
      prediction: scored!.value,
      interval: intervalAround(scored!.value!, interval, def.target),
    });
    const ids = [
      cycleId,
      `${cycleId}-labeling`,
      ...(summary.stages.some((s) => s.stage === 'rollout') ? [`${cycleId}-rollout`] : []),
    ];
    await expectReplays(stack.h.client, ids);
    await recordHistories(ids);
    console.log(
      `python regression cycle: ${summary.outcome} (${summary.reason}); train MAE ${String(retrain['trainMae'])}, converter gap ${String(retrain['converterGap'])}; evaluate ${JSON.stringify(evaluate)}`,
    );
  });
});

describe('a regression cycle started with a given ONNX regressor', () => {
  it.each([
    {
      file: 'kml_reg',
      modelId: 'given-kml',
      expected: 'rejected',
    },
    {
      file: 'recent_reg',
      modelId: 'given-recent',
      expected: 'rollout',
    },
  ] as const)(
    'given $file added with add-version, when a cycle runs with it as candidate, then the gates decide ($expected)',
    async ({ file, modelId, expected }) => {
      const prepared = await prepareCarsModel(stack.pool, modelId, policy());
      const added = await remedy('models', 'add-version', modelId, fx.path(file), '--json');
      expect(added.code, added.err).toBe(0);
      const version = JSON.parse(added.out) as { version: number; holdoutErrors: { mae: number } };
      expect(version.version).toBe(2);
      const started = await remedy(
        'start',
        modelId,
        '--from',
        CARS_SCENARIO.window.start,
        '--to',
        CARS_SCENARIO.window.end,
        '--candidate',
        '2',
        '--json',
      );
      expect(started.code, started.err).toBe(0);
      const { cycleId } = JSON.parse(started.out) as { cycleId: string };
      const { summary, traffic } = await runScriptedCycle(stack.h.client, stack.h, prepared, {
        gatewayUrl: stack.gateway.url,
        cycleId,
        pool: stack.pool,
      });
      const stage = stageOf(summary);
      expect(stage('retrain')).toMatchObject({ version: 2, trainer: 'external' });
      expect(stage('evaluate')).toMatchObject({ task: 'regression' });
      if (expected === 'rejected') {
        // Measured: MAE 15.5 against the champion's 4.08 on the window's 38 holdout rows.
        expect(stage('evaluate')['gate']).not.toBe('go');
        expect(summary.outcome).toBe('rejected');
        expect(summary.reason).toMatch(
          /^evaluation gates failed: failed min-gain: the candidate's MAE [\d.]+ is higher than the champion's [\d.]+ \(MAE reduction -[\d.]+%/,
        );
        expect(summary.stages.map((s) => s.stage)).not.toContain('rollout');
        expect(await db.getAlias(stack.pool, modelId, 'champion')).toBe(1);
      } else {
        expect(stage('evaluate')['gate']).toBe('go');
        expect(summary.stages.map((s) => s.stage)).toContain('rollout');
        expect(traffic.byVersion['v2']).toBeGreaterThan(0);
        expect(summary.outcome).toBe('promoted');
        expect(await db.getAlias(stack.pool, modelId, 'champion')).toBe(2);
      }
      console.log(
        `given ${file}: reference holdout MAE ${version.holdoutErrors.mae.toFixed(3)}; cycle ${summary.outcome} (${summary.reason})`,
      );
    },
  );
});
