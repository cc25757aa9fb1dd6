/**
 * The staged rollout on a real Temporal dev server and Postgres, judged on real HTTP traffic: 2015
 * weather requests sent through the serving gateway, each followed by its ground truth as feedback.
 */
import { describe, expect, it } from 'vitest';
import { approveFull, forceRollback, promoteNow, resolvePause, rolloutStatus } from '../../ops/cycles.js';
import { futureTraffic, type PreparedModel } from '../../dev/scenario.js';
import { backgroundTraffic, sendTraffic } from '../../dev/traffic.js';
import { stepTraffic } from '../../dev/step-traffic.js';
import { Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout.js';
import { recordHistories, uniqueSuffix, until, useStack } from '../helpers.js';
import { rolloutCandidates } from './rollout-candidates.js';

const stack = useStack('rollout', { gateway: true });
const { withBadCandidate, withGoodCandidate } = rolloutCandidates(stack);

function rolloutInput(modelId: string, candidate: number, rollout: Record<string, unknown>): RolloutInput {
  return {
    cycleId: `rollout-${modelId}-${uniqueSuffix()}`,
    modelId,
    championVersion: 1,
    candidateVersion: candidate,
    policy: Policy.parse({ rollout: { dwell: '2s', minSamples: 30, ...rollout } }).rollout,
  };
}

/** The analyses that decided something: a step re-analyses while it waits for enough samples. */
const decided = (result: RolloutResult) => result.steps.filter((s) => s.analysis.decision !== 'inconclusive');

const start = (input: RolloutInput) =>
  stack.h.client.workflow.start('stagedRollout', {
    workflowId: `${input.cycleId}-rollout`,
    taskQueue: stack.h.taskQueue,
    args: [input],
  });

/** The audit events of one action in a rollout: who, how they were verified, and the details. */
async function auditEvents(cycleId: string, action: string) {
  const { rows } = await stack.pool.query<{ actor: string; details: Record<string, unknown> }>(
    'SELECT actor, details FROM audit_events WHERE cycle_id = $1 AND action = $2 ORDER BY event_id',
    [cycleId, action],
  );
  return rows;
}

const traffic = (prepared: PreparedModel, maxRequests = 20_000) =>
  backgroundTraffic({
    gatewayUrl: stack.gateway.url,
    modelId: prepared.modelId,
    rows: futureTraffic(prepared),
    maxRequests,
  });

describe('staged rollout through the serving gateway', () => {
  it('given a better candidate and steady traffic, then every step passes and it is promoted', async () => {
    const { prepared, candidate } = await withGoodCandidate('weather-good');
    // Latency is not what this test is about: on a loaded machine the gateway's p95 can pass the default
    // 50 ms for both versions, so the ceiling is wide here (the latency check is unit-tested in test/core/policy.test.ts).
    // Each step is judged on a fixed sample of 60 answers an arm, sent as the step begins, so the
    // decisions do not depend on how much traffic a loaded machine gets through in a dwell.
    const input = rolloutInput('weather-good', candidate, { maxLatencyP95Ms: 2000, stepSamples: 60 });
    const load = stepTraffic({
      gatewayUrl: stack.gateway.url,
      pool: stack.pool,
      modelId: prepared.modelId,
      cycleId: input.cycleId,
      rows: futureTraffic(prepared),
      perArm: 60,
      maxPerStep: 5_000,
    });
    const result = (await (await start(input)).result()) as RolloutResult;
    const sent = await load.stop();
    expect(sent.offSplit).toBe(0);

    expect({ outcome: result.outcome, checks: decided(result).map((s) => s.analysis.checks) }).toMatchObject({
      outcome: 'promoted',
    });
    expect(decided(result).map((s) => [s.weight, s.analysis.decision])).toEqual([
      [10, 'pass'],
      [25, 'pass'],
      [50, 'pass'],
      [100, 'pass'],
    ]);
    expect(decided(result)[0]!.analysis.candidate.accuracy!).toBeGreaterThan(
      decided(result)[0]!.analysis.champion.accuracy!,
    );
    expect(sent.byVersion[`v${candidate}`]).toBeGreaterThan(0);
    expect(await db.getAlias(stack.pool, 'weather-good', 'champion')).toBe(candidate);
    // After promotion every request is served by the new champion.
    const after = await sendTraffic({
      gatewayUrl: stack.gateway.url,
      modelId: 'weather-good',
      rows: futureTraffic(prepared),
      maxRequests: 50,
    });
    expect(after.byVersion).toEqual({ [`v${candidate}`]: 50 });
  });

  it('given a candidate worse on real feedback, then it is rolled back at the first step with enough samples', async () => {
    const { prepared, candidate } = await withBadCandidate('weather-bad');
    const load = traffic(prepared);
    const input = rolloutInput('weather-bad', candidate, {});
    const handle = await start(input);
    const result = (await handle.result()) as RolloutResult;
    await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(decided(result)).toHaveLength(1);
    expect(decided(result)[0]).toMatchObject({
      weight: 10,
      analysis: { decision: 'fail', checks: { accuracy: 'fail' } },
    });
    expect(decided(result)[0]!.analysis.candidate.n).toBeGreaterThanOrEqual(30);
    expect(Date.parse(result.breach!.restoredAt)).toBeGreaterThanOrEqual(
      Date.parse(result.breach!.decidedAt),
    );
    expect(await db.getTraffic(stack.pool, 'weather-bad')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect((await db.getModelVersion(stack.pool, 'weather-bad', candidate)).status).toBe('rolled_back');
    // Traffic is back at 100% champion: a client sees only v1 now.
    const after = await sendTraffic({
      gatewayUrl: stack.gateway.url,
      modelId: 'weather-bad',
      rows: futureTraffic(prepared),
      maxRequests: 50,
    });
    expect(after.byVersion).toEqual({ v1: 50 });
    await recordHistories([{ key: handle.workflowId, name: 'rollout-weather-bad-rollout' }]);
  });

  it('given a failure limit of 1, then one failed analysis is tolerated and the second rolls back', async () => {
    const { prepared, candidate } = await withBadCandidate('weather-limit');
    const load = traffic(prepared);
    const result = (await (
      await start(rolloutInput('weather-limit', candidate, { failureLimit: 1 }))
    ).result()) as RolloutResult;
    await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(decided(result).map((s) => [s.weight, s.analysis.decision])).toEqual([
      [10, 'fail'],
      [10, 'fail'],
    ]);
  });

  it('given too little traffic for the analysis, then the step pauses as inconclusive until a person decides', async () => {
    const { prepared, candidate } = await withBadCandidate('weather-thin');
    const input = rolloutInput('weather-thin', candidate, { sampleWait: '3s' });
    const handle = await start(input);
    const load = traffic(prepared, 20); // a trickle: 20 requests in all
    const status = await until(
      () => rolloutStatus(stack.h.client, input.cycleId),
      (s) => s.state === 'paused',
    );
    await load.stop();
    expect(status.steps[0]!.analysis.decision).toBe('inconclusive');
    expect(status.reason).toMatch(/too few samples/);
    // Traffic stays split while paused: the pause decides nothing.
    expect((await db.getTraffic(stack.pool, 'weather-thin'))!.candidateWeight).toBe(10);

    await expect(
      resolvePause(stack.h.client, input.cycleId, { actor: 'ops', decision: 'maybe' as never }),
    ).rejects.toThrow(/continue.*rollback/);
    await resolvePause(stack.h.client, input.cycleId, {
      actor: 'ops',
      decision: 'rollback',
      reason: 'too quiet to judge',
    });
    const result = (await handle.result()) as RolloutResult;
    expect(result).toMatchObject({
      outcome: 'rolled-back',
      reason: 'rolled back at the pause by ops: too quiet to judge',
    });
    await recordHistories([{ key: handle.workflowId, name: 'rollout-weather-thin-rollout' }]);
    expect((await db.getTraffic(stack.pool, 'weather-thin'))!.candidateWeight).toBe(0);
  });

  it('given a policy with no dwell and no pause ("0ms"), then an inconclusive step rolls back at once, with no timer', async () => {
    const { candidate } = await withBadCandidate('weather-nowait');
    const input = rolloutInput('weather-nowait', candidate, {
      steps: [100],
      dwell: '0ms',
      sampleWait: '0ms',
      decisionTimeout: '0ms',
    });
    const handle = await start(input);
    const result = (await handle.result()) as RolloutResult;
    expect(result.outcome).toBe('rolled-back');
    expect(result.steps.map((st) => st.analysis.decision)).toEqual(['inconclusive']);
    const events = (await handle.fetchHistory()).events!;
    expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(0);
    await recordHistories([{ key: handle.workflowId, name: 'rollout-weather-nowait-rollout' }]);
    expect((await db.getTraffic(stack.pool, 'weather-nowait'))!.candidateWeight).toBe(0);
  });

  it('given approval before 100%, when the approver approves and then someone promotes, then it is promoted', async () => {
    const { prepared, candidate } = await withGoodCandidate('weather-gate');
    const load = traffic(prepared);
    const input = rolloutInput('weather-gate', candidate, {
      steps: [50, 100],
      approveBeforeFull: true,
      approvers: ['bob'],
    });
    const handle = await start(input);
    await until(
      () => rolloutStatus(stack.h.client, input.cycleId),
      (s) => s.state === 'awaiting-approval',
    );
    await expect(
      approveFull(stack.h.client, input.cycleId, { approver: 'mallory', approve: true }),
    ).rejects.toThrow(/"mallory" is not an approver/);
    await approveFull(stack.h.client, input.cycleId, {
      approver: 'bob',
      approve: true,
      reason: 'half went well',
      verifiedBy: 'jwt',
    });
    await until(
      () => rolloutStatus(stack.h.client, input.cycleId),
      (s) => s.currentWeight === 100,
    );
    await promoteNow(stack.h.client, input.cycleId, { actor: 'bob', reason: 'looks good' });
    const result = (await handle.result()) as RolloutResult;
    await load.stop();
    expect(result).toMatchObject({ outcome: 'promoted', reason: 'promoted by bob: looks good' });
    expect(await db.getAlias(stack.pool, 'weather-gate', 'champion')).toBe(candidate);
    // The approval itself is in the audit trail: who, how they were verified, and why.
    expect(await auditEvents(input.cycleId, 'rollout.full-approved')).toEqual([
      {
        actor: 'bob',
        details: { actor: 'bob', verifiedBy: 'jwt', version: candidate, reason: 'half went well' },
      },
    ]);
    await recordHistories([{ key: handle.workflowId, name: 'rollout-weather-gate-rollout' }]);
  });

  it('given a paused step, when a person resolves it with continue, then the rollout goes on and the audit trail says who', async () => {
    const { prepared, candidate } = await withBadCandidate('weather-resume');
    const input = rolloutInput('weather-resume', candidate, { steps: [100], sampleWait: '3s' });
    const handle = await start(input);
    const load = traffic(prepared, 20); // a trickle: too few samples to judge
    await until(
      () => rolloutStatus(stack.h.client, input.cycleId),
      (s) => s.state === 'paused',
    );
    await load.stop();
    await resolvePause(stack.h.client, input.cycleId, {
      actor: 'ops',
      decision: 'continue',
      reason: 'quiet night, accept it',
    });
    const result = (await handle.result()) as RolloutResult;
    expect(result).toMatchObject({ outcome: 'promoted', reason: 'every step passed its analysis' });
    expect(await auditEvents(input.cycleId, 'rollout.pause-resolved')).toEqual([
      {
        actor: 'ops',
        details: {
          actor: 'ops',
          verifiedBy: 'unverified',
          decision: 'continue',
          step: 1,
          weight: 100,
          reason: 'quiet night, accept it',
        },
      },
    ]);
    await recordHistories([{ key: handle.workflowId, name: 'rollout-weather-resume-rollout' }]);
  });

  it('given a rollout in its dwell, when rollback is forced, then traffic returns to the champion', async () => {
    const { candidate } = await withBadCandidate('weather-force');
    const input = rolloutInput('weather-force', candidate, { dwell: '1h' });
    const handle = await start(input);
    await until(
      () => rolloutStatus(stack.h.client, input.cycleId),
      (s) => s.currentWeight > 0,
    );
    await expect(forceRollback(stack.h.client, input.cycleId, { actor: '' })).rejects.toThrow(/actor/);
    await forceRollback(stack.h.client, input.cycleId, { actor: 'oncall', reason: 'pager' });
    const result = (await handle.result()) as RolloutResult;
    expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'rolled back by oncall: pager' });
    expect(await db.getTraffic(stack.pool, 'weather-force')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });

  it('given a rollout in its dwell, when it is cancelled, then the champion is restored before it ends', async () => {
    const { candidate } = await withBadCandidate('weather-cancel');
    const input = rolloutInput('weather-cancel', candidate, { dwell: '1h' });
    const handle = await start(input);
    await until(
      () => rolloutStatus(stack.h.client, input.cycleId),
      (s) => s.currentWeight > 0,
    );
    expect((await db.getTraffic(stack.pool, 'weather-cancel'))!.candidateWeight).toBe(10);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(await db.getTraffic(stack.pool, 'weather-cancel')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });
});
