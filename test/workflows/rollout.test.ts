/**
 * The staged rollout on a real Temporal dev server and Postgres, replaying real 2015 traffic through
 * the embedded gateway: a worse candidate is rolled back, too little traffic pauses, abort compensates.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forceRollback, resolvePause, rolloutStatus } from '../../client/cycles.js';
import { prepareWeatherModel, SCENARIO } from '../../client/scenario.js';
import { canonicalJson, train } from '../../core/model.js';
import { Policy } from '../../core/schemas.js';
import * as db from '../../db/queries.js';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout.js';
import {
  freshDatabase,
  startTestWorkers,
  temporalHarness,
  uniqueSuffix,
  until,
  type TemporalHarness,
} from '../helpers.js';

let pool: pg.Pool;
let h: TemporalHarness;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;

beforeAll(async () => {
  ({ pool } = await freshDatabase('rollout'));
  h = await temporalHarness('rollout');
  workers = await startTestWorkers(h, pool);
});
afterAll(async () => {
  await workers?.stop();
  await h?.close();
  await pool?.end();
});

/** Registers a champion and a deliberately bad candidate: it answers "snow" to everything. */
async function modelWithBadCandidate(modelId: string): Promise<{ candidate: number }> {
  const prepared = await prepareWeatherModel(pool, modelId);
  const artifact = canonicalJson(
    train(
      { numeric: ['temp_max'], categorical: [] },
      prepared.rows.slice(0, 50).map((r) => ({ features: r.features, label: 'snow' })),
      { epochs: 5, learningRate: 0.1, l2: 0 },
    ),
  );
  const candidate = await db.insertModelVersion(pool, {
    modelId,
    idempotencyKey: `${modelId}:bad-candidate`,
    status: 'candidate',
    datasetId: null,
    cycleId: null,
    configHash: 'test',
    codeVersion: 'test',
    artifact,
    artifactSha256: createHash('sha256').update(artifact).digest('hex'),
    metrics: {},
  });
  return { candidate };
}

function rolloutInput(modelId: string, candidate: number, rollout: Record<string, unknown>): RolloutInput {
  return {
    cycleId: `rollout-${modelId}-${uniqueSuffix()}`,
    modelId,
    championVersion: 1,
    candidateVersion: candidate,
    policy: Policy.parse({ rollout: { dwell: '1s', ...rollout } }).rollout,
    trafficCursor: { ts: SCENARIO.window.end, recordKey: '' },
  };
}

const start = (input: RolloutInput) =>
  h.client.workflow.start('stagedRollout', {
    workflowId: `${input.cycleId}-rollout`,
    taskQueue: h.taskQueue,
    args: [input],
  });

describe('staged rollout', () => {
  it('given a candidate worse on real feedback, then it is rolled back at the first step with enough samples', async () => {
    const { candidate } = await modelWithBadCandidate('weather-bad');
    const input = rolloutInput('weather-bad', candidate, { minSamples: 10, requestsPerStep: 180 });
    const result = (await (await start(input)).result()) as RolloutResult;

    expect(result.outcome).toBe('rolled-back');
    expect(result.steps).toHaveLength(1);
    expect(result.steps[0]!.analysis.decision).toBe('fail');
    expect(result.steps[0]!.analysis.candidate.n).toBeGreaterThanOrEqual(10);
    expect(await db.getTraffic(pool, 'weather-bad')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect(await db.getAlias(pool, 'weather-bad', 'champion')).toBe(1);
    const version = await db.getModelVersion(pool, 'weather-bad', candidate);
    expect(version.status).toBe('rolled_back');
  });

  it('given too little traffic for the analysis, then the step pauses as inconclusive until a person decides', async () => {
    const { candidate } = await modelWithBadCandidate('weather-thin');
    const input = rolloutInput('weather-thin', candidate, { minSamples: 30, requestsPerStep: 20 });
    const handle = await start(input);
    const status = await until(
      () => rolloutStatus(h.client, input.cycleId),
      (s) => s.state === 'paused',
    );
    expect(status.steps[0]!.analysis.decision).toBe('inconclusive');
    expect(status.reason).toMatch(/too few samples/);
    // Traffic stays split while paused: the pause decides nothing.
    expect((await db.getTraffic(pool, 'weather-thin'))!.candidateWeight).toBe(10);

    await expect(
      resolvePause(h.client, input.cycleId, { actor: 'ops', decision: 'maybe' as never }),
    ).rejects.toThrow(/continue.*rollback/);
    await resolvePause(h.client, input.cycleId, { actor: 'ops', decision: 'rollback' });
    const result = (await handle.result()) as RolloutResult;
    expect(result.outcome).toBe('rolled-back');
    expect((await db.getTraffic(pool, 'weather-thin'))!.candidateWeight).toBe(0);
  });

  it('given a rollout in its dwell, when rollback is forced, then traffic returns to the champion', async () => {
    const { candidate } = await modelWithBadCandidate('weather-force');
    const input = rolloutInput('weather-force', candidate, { dwell: '1h' });
    const handle = await start(input);
    await until(
      () => rolloutStatus(h.client, input.cycleId),
      (s) => s.currentWeight > 0,
    );
    await expect(forceRollback(h.client, input.cycleId, { actor: '' })).rejects.toThrow(/actor/);
    await forceRollback(h.client, input.cycleId, { actor: 'oncall', reason: 'pager' });
    const result = (await handle.result()) as RolloutResult;
    expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'rolled back by oncall: pager' });
    expect(await db.getTraffic(pool, 'weather-force')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });

  it('given a rollout in its dwell, when it is cancelled, then the champion is restored before it ends', async () => {
    const { candidate } = await modelWithBadCandidate('weather-cancel');
    const input = rolloutInput('weather-cancel', candidate, { dwell: '1h' });
    const handle = await start(input);
    await until(
      () => rolloutStatus(h.client, input.cycleId),
      (s) => s.currentWeight > 0,
    );
    expect((await db.getTraffic(pool, 'weather-cancel'))!.candidateWeight).toBe(10);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(await db.getTraffic(pool, 'weather-cancel')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });
});
