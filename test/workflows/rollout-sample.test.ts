/**
 * A staged rollout judged on a fixed sample per step (`rollout.stepSamples`), on a real Temporal dev
 * server, Postgres and the serving gateway, with 2015 weather traffic sent as each step begins: the
 * decisions are the same from run to run, and an analysis after a failed one takes the next sample.
 */
import { describe, expect, it } from 'vitest';
import { futureTraffic, type PreparedModel } from '../../dev/scenario.js';
import { stepTraffic } from '../../dev/step-traffic.js';
import { Policy } from '../../core/schemas.js';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout.js';
import { uniqueSuffix, useStack } from '../helpers.js';
import { rolloutCandidates } from './rollout-candidates.js';

const stack = useStack('rollout_sample', { gateway: true });
const { withBadCandidate, withGoodCandidate } = rolloutCandidates(stack);

/** Runs one rollout with traffic paced by its steps; returns its result and what was sent. */
async function rollout(
  modelId: string,
  prepared: PreparedModel,
  candidate: number,
  rollout: Record<string, unknown>,
  perArm: number,
) {
  const input: RolloutInput = {
    cycleId: `sample-${modelId}-${uniqueSuffix()}`,
    modelId,
    championVersion: 1,
    candidateVersion: candidate,
    policy: Policy.parse({ rollout: { dwell: '1s', maxLatencyP95Ms: 2000, ...rollout } }).rollout,
  };
  const load = stepTraffic({
    gatewayUrl: stack.gateway.url,
    pool: stack.pool,
    modelId,
    cycleId: input.cycleId,
    rows: futureTraffic(prepared),
    perArm,
    maxPerStep: 5_000,
  });
  const handle = await stack.h.client.workflow.start('stagedRollout', {
    workflowId: `${input.cycleId}-rollout`,
    taskQueue: stack.h.taskQueue,
    args: [input],
  });
  const result = (await handle.result()) as RolloutResult;
  return { input, result, sent: await load.stop() };
}

/** What a user reads of each decided analysis: the step, the decision and both arms' counts. */
const decisions = (result: RolloutResult) =>
  result.steps
    .filter((s) => s.analysis.decision !== 'inconclusive')
    .map((s) => ({
      weight: s.weight,
      decision: s.analysis.decision,
      candidate: [s.analysis.candidate.n, s.analysis.candidate.correct],
      champion: [s.analysis.champion.n, s.analysis.champion.correct],
      pValue: s.analysis.pValue,
    }));

/** The first `n` candidate answers with feedback after `skip`, read from the log in serving order: how many were right. */
async function rightInLog(cycleId: string, modelId: string, version: number, skip: number, n: number) {
  const { rows } = await stack.pool.query<{ right: boolean }>(
    `SELECT r.feedback = p.predicted AS right
     FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
     WHERE p.model_id = $1 AND p.version = $2 AND r.feedback IS NOT NULL
       AND p.served_at >= (SELECT at FROM audit_events WHERE idempotency_key = $3)
     ORDER BY p.prediction_id`,
    [modelId, version, `${cycleId}:traffic:10`],
  );
  return rows.slice(skip, skip + n).filter((r) => r.right).length;
}

describe('a staged rollout judged on a fixed sample per step', () => {
  it('given the same candidate rolled out twice, then every step is judged on the same samples with the same decision', async () => {
    const [a, b] = await Promise.all(
      ['weather-sample-a', 'weather-sample-b'].map(async (modelId) => {
        const { prepared, candidate } = await withGoodCandidate(modelId);
        return rollout(modelId, prepared, candidate, { stepSamples: 50, minSamples: 30 }, 50);
      }),
    );
    expect(a!.result.outcome).toBe('promoted');
    expect(decisions(a!.result).map((d) => [d.weight, d.decision])).toEqual([
      [10, 'pass'],
      [25, 'pass'],
      [50, 'pass'],
      [100, 'pass'],
    ]);
    // Every arm was judged on exactly the sample: never more, even where more traffic arrived.
    for (const d of decisions(a!.result)) {
      expect(d.candidate[0]).toBe(50);
      expect(d.champion[0]).toBe(50);
    }
    expect(decisions(b!.result)).toEqual(decisions(a!.result));
    expect(a!.sent.offSplit + b!.sent.offSplit).toBe(0);
    expect(a!.sent.steps.map((s) => s.weight)).toEqual([10, 25, 50, 100]);
  });

  it('given a failure limit of 1, then the second analysis judges the next sample, and the rollout rolls back', async () => {
    const modelId = 'weather-sample-limit';
    const { prepared, candidate } = await withBadCandidate(modelId);
    const { input, result } = await rollout(
      modelId,
      prepared,
      candidate,
      { stepSamples: 40, minSamples: 20, failureLimit: 1 },
      80,
    );
    expect(result.outcome).toBe('rolled-back');
    const [first, second] = decisions(result);
    expect(decisions(result).map((d) => [d.weight, d.decision])).toEqual([
      [10, 'fail'],
      [10, 'fail'],
    ]);
    // Each analysis's counts are those of its own 40 answers an arm, read from the log in serving order:
    // the first analysis the first 40, the second the next 40.
    for (const [d, skip] of [
      [first!, 0],
      [second!, 40],
    ] as const) {
      expect(d.candidate).toEqual([40, await rightInLog(input.cycleId, modelId, candidate, skip, 40)]);
      expect(d.champion).toEqual([40, await rightInLog(input.cycleId, modelId, 1, skip, 40)]);
    }
    // The two samples differ (the champion's right answers), so the test tells them apart.
    expect(first!.champion).not.toEqual(second!.champion);
  });
});
