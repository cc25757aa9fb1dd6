/**
 * The staged rollout through the team's `http` traffic router: a real HTTP receiver on this machine that
 * checks the HMAC, applies each split once per Idempotency-Key to the serving gateway's table (as a team's
 * adapter would to its serving system) and reads it back. Real Temporal, Postgres, gateway and traffic.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { futureTraffic, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { stepTraffic, type StepTrafficReport } from '../../dev/step-traffic.js';
import { canonicalJson, train } from '../../core/model.js';
import { Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import type { RolloutInput, RolloutResult } from '../../workflows/rollout.js';
import { insertTestCandidate, uniqueSuffix, useStack } from '../helpers.js';
import { startRouterReceiver, type Faults, type RouterReceiver } from './router-receiver.js';

const stack = useStack('router', { gateway: true });
const KEY = 'router-test-key-' + uniqueSuffix();
process.env.REMEDY_TEST_ROUTER_KEY = KEY;
const receivers: RouterReceiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.close();
});

/** The weather model with a candidate retrained after the April 2013 shift (better than the champion). */
async function withCandidate(modelId: string) {
  const prepared = await prepareWeatherModel(stack.pool, modelId);
  const def = (await db.getModel(stack.pool, modelId))!;
  const recent = prepared.rows.filter((r) => r.ts >= SCENARIO.window.start && r.ts < SCENARIO.window.end);
  const json = canonicalJson(
    train(
      def.features,
      recent.map((r) => ({ features: r.features, label: r.label })),
      def.policy.training,
    ),
  );
  const candidate = await insertTestCandidate(stack.pool, modelId, `${modelId}:test-candidate`, json);
  return { prepared, candidate };
}

async function receiver(faults: Faults = {}, key = KEY) {
  const r = await startRouterReceiver(stack.pool, key, faults);
  receivers.push(r);
  return r;
}

function input(modelId: string, candidate: number, router: object, rollout: object): RolloutInput {
  return {
    cycleId: `router-${modelId}-${uniqueSuffix()}`,
    modelId,
    championVersion: 1,
    candidateVersion: candidate,
    policy: Policy.parse({
      rollout: { router: { kind: 'http', secretEnv: 'REMEDY_TEST_ROUTER_KEY', ...router }, ...rollout },
    }).rollout,
  };
}

/** No dwell, no pause: one step at 100%, inconclusive without traffic, so rolled back at once. */
const NO_WAIT = { steps: [100], dwell: '0ms', sampleWait: '0ms', decisionTimeout: '0ms' };

const run = async (i: RolloutInput) =>
  (
    await stack.h.client.workflow.start('stagedRollout', {
      workflowId: `${i.cycleId}-rollout`,
      taskQueue: stack.h.taskQueue,
      args: [i],
    })
  ).result() as Promise<RolloutResult>;

/** The business failure a failed rollout carries (workflow → activity → application failure). */
async function failureOf(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  let cause = err as { cause?: unknown; type?: string; message: string } | null;
  while (cause?.cause) cause = cause.cause as typeof cause;
  return { type: cause?.type, message: cause?.message ?? 'no failure' };
}

const keysOf = (r: RouterReceiver) => r.posts.map((p) => p.key.replace(/^.*:/, ''));

describe('staged rollout through an http traffic router', () => {
  it('given a router that applies and reads back each split, then every step goes through it and it is promoted', async () => {
    const { prepared, candidate } = await withCandidate('router-whole');
    const router = await receiver();
    // Each step is judged on a fixed sample of 30 answers an arm, sent as the step begins, so the
    // outcome does not depend on how much traffic a loaded machine gets through in a dwell.
    const i = input(
      'router-whole',
      candidate,
      { url: router.url },
      { dwell: '2s', minSamples: 30, stepSamples: 30, maxLatencyP95Ms: 2000 },
    );
    const load = stepTraffic({
      gatewayUrl: stack.gateway.url,
      pool: stack.pool,
      modelId: 'router-whole',
      cycleId: i.cycleId,
      rows: futureTraffic(prepared),
      perArm: 30,
      maxPerStep: 5_000,
    });
    let sent: StepTrafficReport | undefined;
    const result = await run(i).finally(async () => {
      sent = await load.stop();
    });
    expect(sent!.offSplit).toBe(0);

    expect(result.outcome).toBe('promoted');
    expect(router.posts.map((p) => [p.body.weight, p.body.step, p.signed])).toEqual([
      [10, 1, true],
      [25, 2, true],
      [50, 3, true],
      [100, 4, true],
    ]);
    expect(router.posts.map((p) => p.key)).toEqual([10, 25, 50, 100].map((w) => `${i.cycleId}:${w}`));
    // The gateway served the candidate because the team's side applied the split Remedy sent.
    expect(sent!.byVersion[`v${candidate}`]).toBeGreaterThan(0);
    const moves = (await db.cycleAudit(stack.pool, i.cycleId)).filter((e) => e.action === 'traffic.set');
    expect(moves.map((e) => (e.details as { router?: { kind: string } }).router?.kind)).toEqual([
      'http',
      'http',
      'http',
      'http',
    ]);
  });

  it('given a router that answers 500 after applying, then the retry carries the same key and the split changes once', async () => {
    const { candidate } = await withCandidate('router-500');
    const router = await receiver({ fail500First: true });
    const i = input('router-500', candidate, { url: router.url }, NO_WAIT);
    const result = await run(i);

    expect(result.outcome).toBe('rolled-back');
    // 100% twice (500, then 200) and the rollback's 0% twice: two keys, one effect each.
    expect(keysOf(router)).toEqual(['100', '100', '0', '0']);
    expect([...router.effects.values()]).toEqual([1, 1]);
    expect(await db.getTraffic(stack.pool, 'router-500')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });

  it('given a router that does not answer in time once, then the request is tried again and the split applied once', async () => {
    const { candidate } = await withCandidate('router-slow');
    const router = await receiver({ hangPosts: 1 });
    const i = input('router-slow', candidate, { url: router.url, timeoutMs: 300, attempts: 3 }, NO_WAIT);
    const result = await run(i);
    expect(result.outcome).toBe('rolled-back');
    expect(keysOf(router)).toEqual(['100', '100', '0']);
    expect([...router.effects.values()]).toEqual([1, 1]);
  });

  it('given a router that never answers, then the rollout fails naming the router and Remedy records the champion restored', async () => {
    const { candidate } = await withCandidate('router-down');
    const router = await receiver({ hangPosts: 1000 });
    const i = input('router-down', candidate, { url: router.url, timeoutMs: 200, attempts: 2 }, NO_WAIT);
    const failure = await failureOf(run(i));
    expect(failure).toEqual({
      type: 'TrafficRouterFailed',
      message: `http router ${router.url} failed the POST 2 times; last: no answer within 200 ms`,
    });
    const version = await db.getModelVersion(stack.pool, 'router-down', candidate);
    expect(version.status).toBe('rolled_back');
    const trail = await db.cycleAudit(stack.pool, i.cycleId);
    expect(trail.map((e) => [e.action, e.details])).toEqual([
      [
        'rollout.rolled_back',
        {
          candidateVersion: candidate,
          evidence: {
            reason: failure.message,
            routerRestore: `not confirmed: http router ${router.url} failed the POST 2 times; last: no answer within 200 ms`,
          },
        },
      ],
    ]);
  });

  it('given a router that reads back a different split, then the rollout refuses to go on, naming the router and what differed', async () => {
    const { candidate } = await withCandidate('router-liar');
    const router = await receiver({ readBack: (s) => ({ ...s, weight: Number(s.weight) === 0 ? 0 : 15 }) });
    const i = input('router-liar', candidate, { url: router.url }, { dwell: '1h' });
    const failure = await failureOf(run(i));
    expect(failure).toEqual({
      type: 'TrafficRouterFailed',
      message: `http router ${router.url} read back a different split for router-liar after being asked for 10% to v${candidate}: weight 15 (expected 10)`,
    });
    // Refused before any analysis: the team's side is back on the champion and Remedy says so.
    expect(keysOf(router)).toEqual(['10', '0']);
    expect(await db.getTraffic(stack.pool, 'router-liar')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    const trail = await db.cycleAudit(stack.pool, i.cycleId);
    expect(trail.map((e) => e.action)).toEqual(['rollout.rolled_back']);
    expect(await db.rolloutSteps(stack.pool, i.cycleId)).toEqual([]);
  });

  it('given the wrong key on the worker, then the router refuses the signature and the rollout fails saying so', async () => {
    const { candidate } = await withCandidate('router-key');
    const router = await receiver({}, 'another-key');
    const failure = await failureOf(run(input('router-key', candidate, { url: router.url }, NO_WAIT)));
    expect(failure).toEqual({
      type: 'TrafficRouterFailed',
      message: `http router ${router.url} refused the POST: HTTP 401: bad signature`,
    });
    expect(router.posts.every((p) => !p.signed)).toBe(true);
  });
});
