/**
 * A regression model's remediation cycle end to end on real data (vega-datasets cars: miles per gallon,
 * champion trained on 1970–74), real Temporal, Postgres, worker and serving gateway: the 1975–80 window
 * is confirmed degraded on its labeled rows, the scripted reviewer answers the campaign with the true
 * miles per gallon, the forest regressor retrained on them passes its gates and is rolled out on 1981–82
 * traffic, step by step, on its absolute errors against the champion's; and a candidate trained on
 * kilometres per litre by mistake is rolled back at its first step with the reason a person reads.
 */
import { describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { canonicalJson } from '../../core/model.js';
import { trainRegressor } from '../../core/regression-forest.js';
import { intervalAround, storedInterval } from '../../core/regression-interval.js';
import { Policy } from '../../core/schemas.js';
import { CARS_DEMO_POLICY, CARS_SCENARIO, prepareCarsModel } from '../../dev/cars-scenario.js';
import { futureTraffic, runScriptedCycle } from '../../dev/scenario.js';
import { backgroundTraffic } from '../../dev/traffic.js';
import { regressorConfig } from '../../ops/register-regression.js';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout.js';
import { expectReplays, insertTestCandidate, recordHistories, uniqueSuffix, useStack } from '../helpers.js';

const stack = useStack('regcycle', { gateway: true });

/** One mile per US gallon in kilometres per litre. */
const KM_PER_LITRE_PER_MPG = 0.425144;

/** The analyses that decided something: a step re-analyses while it waits for enough samples. */
const decided = (result: RolloutResult) => result.steps.filter((s) => s.analysis.decision !== 'inconclusive');

describe('regression cycle', () => {
  it('given the 1970–74 champion and the 1975–80 window, then the cycle retrains on numeric labels and promotes the candidate', async () => {
    const prepared = await prepareCarsModel(stack.pool, 'cars-cycle', {
      ...CARS_DEMO_POLICY,
      // Latency is not what this test is about: a loaded machine can pass the default p95 ceiling. Each
      // step is judged on a fixed sample of 30 answers an arm, sent as the step begins, so the outcome
      // does not depend on how much traffic a loaded machine gets through in a dwell.
      rollout: { ...CARS_DEMO_POLICY.rollout, maxLatencyP95Ms: 2000, stepSamples: 30 },
    });
    const { cycleId, summary, labelsAnswered, traffic } = await runScriptedCycle(
      stack.h.client,
      stack.h,
      prepared,
      { gatewayUrl: stack.gateway.url, pool: stack.pool },
    );
    expect(traffic.offSplit).toBe(0);
    const stage = (name: string) =>
      summary.stages.find((s) => s.stage === name)?.summary as Record<string, unknown>;
    expect({ outcome: summary.outcome, reason: summary.reason }).toEqual({
      outcome: 'promoted',
      reason: 'every step passed its analysis',
    });
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
    expect(labelsAnswered).toBeGreaterThanOrEqual(20);
    expect(stage('confirm')).toMatchObject({ windowRows: 184, labeledRows: 62, performanceMetric: 'mae' });
    expect(stage('evaluate')).toMatchObject({ task: 'regression', gate: 'go' });
    const v2 = summary.candidateVersion!;
    expect(await db.getAlias(stack.pool, 'cars-cycle', 'champion')).toBe(v2);
    // The new champion's reference keeps the target, with errors measured on rows it did not train on.
    const profile = await db.getReferenceProfile(stack.pool, 'cars-cycle', v2);
    expect(profile?.target?.holdout?.mae).toBeGreaterThan(0);
    // It serves with the 90 % interval calibrated on the cycle's holdout: the real gateway's answer.
    const interval = storedInterval((await db.getModelVersion(stack.pool, 'cars-cycle', v2)).metrics)!;
    expect(interval.level).toBe(0.9);
    expect(interval.calibratedOn).toContain(`cycle ${cycleId}'s holdout`);
    const car = futureTraffic(prepared)[0]!;
    const res = await fetch(`${stack.gateway.url}/v1/models/cars-cycle/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: 'after-promotion', features: car.features }),
    });
    const answer = (await res.json()) as { version: number; prediction: number; interval: unknown };
    expect(answer.version).toBe(v2);
    const def = (await db.getModel(stack.pool, 'cars-cycle'))!;
    expect(answer.interval).toEqual(intervalAround(answer.prediction, interval, def.target));
    await expectReplays(stack.h.client, [cycleId, `${cycleId}-labeling`, `${cycleId}-rollout`]);
    await recordHistories([cycleId, `${cycleId}-labeling`, `${cycleId}-rollout`]);
  });

  it('given a candidate trained on kilometres per litre by mistake, then the rollout rolls it back at its first step on its absolute errors', async () => {
    const prepared = await prepareCarsModel(stack.pool, 'cars-bad');
    const def = (await db.getModel(stack.pool, 'cars-bad'))!;
    const recent = prepared.rows.filter(
      (r) => r.ts >= CARS_SCENARIO.window.start && r.ts < CARS_SCENARIO.window.end,
    );
    const artifact = trainRegressor(
      def.features,
      recent.map((r) => ({ features: r.features, value: Number(r.label) * KM_PER_LITRE_PER_MPG })),
      regressorConfig(def),
    );
    const candidate = await insertTestCandidate(
      stack.pool,
      'cars-bad',
      'cars-bad:test-candidate',
      canonicalJson(artifact),
    );
    const load = backgroundTraffic({
      gatewayUrl: stack.gateway.url,
      modelId: 'cars-bad',
      rows: futureTraffic(prepared),
      maxRequests: 20_000,
    });
    const input: RolloutInput = {
      cycleId: `rollout-cars-bad-${uniqueSuffix()}`,
      modelId: 'cars-bad',
      championVersion: 1,
      candidateVersion: candidate,
      policy: Policy.parse({ rollout: { dwell: '2s', minSamples: 30, maxLatencyP95Ms: 2000 } }).rollout,
    };
    const handle = await stack.h.client.workflow.start('stagedRollout', {
      workflowId: `${input.cycleId}-rollout`,
      taskQueue: stack.h.taskQueue,
      args: [input],
    });
    const result = (await handle.result()) as RolloutResult;
    await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(decided(result)).toHaveLength(1);
    const first = decided(result)[0]!;
    expect(first).toMatchObject({ weight: 10, analysis: { decision: 'fail' } });
    expect(first.analysis.reason).toMatch(/MAE/);
    expect(await db.getTraffic(stack.pool, 'cars-bad')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect((await db.getModelVersion(stack.pool, 'cars-bad', candidate)).status).toBe('rolled_back');
    await expectReplays(stack.h.client, [handle.workflowId]);
    await recordHistories([{ key: handle.workflowId, name: 'rollout-cars-bad-rollout' }]);
  });
});
