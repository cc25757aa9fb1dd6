/**
 * `remedy revert` end to end on the dev server and Postgres: a champion promoted by a real rollout is
 * taken back by command. Traffic through the gateway, aliases and statuses, the drift reference in force,
 * the audit trail and the notification; the CLI's output and its refusals; a second run is a no-op.
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson, train } from '../../core/model.js';
import { upgradeProfile } from '../../core/drift.js';
import * as db from '../../db/index.js';
import { futureTraffic, prepareWeatherModel, SCENARIO, type PreparedModel } from '../../dev/scenario.js';
import { sendTraffic } from '../../dev/traffic.js';
import { promoteNow } from '../../ops/cycles.js';
import { revertModel } from '../../ops/revert.js';
import { rolloutWorkflowId } from '../../workflows/cycle.js';
import type { RolloutResult } from '../../workflows/rollout.js';
import {
  insertTestCandidate,
  cliRunner,
  recordHistories,
  uniqueSuffix,
  until,
  useStack,
} from '../helpers.js';
import { startRouterReceiver } from './router-receiver.js';

const stack = useStack('revert', { gateway: true });
process.env.REMEDY_TEST_ROUTER_KEY = `revert-router-key-${uniqueSuffix()}`;
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));
const MODEL = 'rv-weather';
let prepared: PreparedModel;

async function addCandidate(
  tag: string,
  rows: { features: Record<string, number | string>; label: string }[],
  modelId = MODEL,
) {
  const def = (await db.getModel(stack.pool, modelId))!;
  const json = canonicalJson(train(def.features, rows, def.policy.training));
  return insertTestCandidate(stack.pool, modelId, `${modelId}:${tag}`, json);
}

/** A rollout of `candidate` that waits at its first step (an hour's dwell) until someone steers it. */
async function startRollout(cycleId: string, candidate: number, championVersion: number, modelId = MODEL) {
  const { policy } = (await db.getModel(stack.pool, modelId))!;
  return stack.h.client.workflow.start('stagedRollout', {
    workflowId: rolloutWorkflowId(cycleId),
    taskQueue: stack.h.taskQueue,
    args: [
      {
        cycleId,
        modelId,
        championVersion,
        candidateVersion: candidate,
        policy: { ...policy.rollout, steps: [10, 100], dwell: '1h' },
      },
    ],
  });
}

const status = async (version: number) => (await db.getModelVersion(stack.pool, MODEL, version)).status;
const reverts = async () =>
  (
    await stack.pool.query<{
      actor: string;
      details: { from: number; to: number; reason: string; verifiedBy: string };
    }>(
      "SELECT actor, details FROM audit_events WHERE model_id = $1 AND action = 'model.reverted' ORDER BY event_id",
      [MODEL],
    )
  ).rows;

describe('remedy revert', () => {
  it('given a champion promoted by a rollout, when reverted by command, then the former champion serves again with its reference, audited and announced', async () => {
    prepared = await prepareWeatherModel(stack.pool, MODEL);
    const recent = prepared.rows.filter((r) => r.ts >= SCENARIO.window.start && r.ts < SCENARIO.window.end);
    const v2 = await addCandidate('v2', recent);
    // v2 becomes champion through a real rollout, promoted by a person at its first step.
    const rollout = await startRollout(`${MODEL}-promotion`, v2, 1);
    await until(
      () => db.getTraffic(stack.pool, MODEL),
      (t) => t?.candidateWeight === 10,
    );
    await promoteNow(stack.h.client, `${MODEL}-promotion`, { actor: 'ana', reason: 'better on 2014' });
    expect(((await rollout.result()) as RolloutResult).outcome).toBe('promoted');
    expect(await db.getAlias(stack.pool, MODEL, 'champion')).toBe(v2);
    const v1Profile = upgradeProfile((await db.getReferenceProfile(stack.pool, MODEL, 1))!);
    const v2Profile = upgradeProfile((await db.getReferenceProfile(stack.pool, MODEL, v2))!);
    expect(v2Profile.span).not.toEqual(v1Profile.span);

    const r = await remedy(
      'revert',
      MODEL,
      '--to',
      '1',
      '--reason',
      'v2 calls every foggy day sun',
      '--actor',
      'bo',
    );
    expect(r).toMatchObject({ code: 0, err: '' });
    const span = `${v1Profile.span!.start.slice(0, 10)} .. ${v1Profile.span!.end.slice(0, 10)}`;
    const lines = r.out.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      `${MODEL} reverted from v2 to v1 by bo: v2 calls every foggy day sun`,
      '  traffic: 100% to v1 through the gateway router',
      '  aliases: champion v1; v2 marked reverted',
      `  drift reference: v1's profile (${span}, ${v1Profile.rows} rows, baseline accuracy ${(v1Profile.baselineAccuracy * 100).toFixed(1)}%)`,
    ]);
    expect(lines[4]).toMatch(/^ {2}recorded: audit event model.reverted at \d{4}-/);

    expect(await db.getTraffic(stack.pool, MODEL)).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect(await db.getAlias(stack.pool, MODEL, 'champion')).toBe(1);
    expect([await status(1), await status(v2)]).toEqual(['champion', 'reverted']);
    const events = await reverts();
    // REMEDY_AUTH is open here: the typed name, recorded as unverified.
    expect(
      events.map((e) => [e.actor, e.details.from, e.details.to, e.details.reason, e.details.verifiedBy]),
    ).toEqual([['bo', 2, 1, 'v2 calls every foggy day sun', 'unverified']]);
    const { rows: notes } = await stack.pool.query<{ kind: string; message: string }>(
      "SELECT kind, message FROM notifications WHERE model_id = $1 AND kind = 'rollback'",
      [MODEL],
    );
    expect(notes).toEqual([
      { kind: 'rollback', message: `${MODEL} reverted from v2 to v1 by bo: v2 calls every foggy day sun` },
    ]);
    // Production is served by v1 again.
    const after = await sendTraffic({
      gatewayUrl: stack.gateway.url,
      modelId: MODEL,
      rows: futureTraffic(prepared),
      maxRequests: 30,
    });
    expect(after.byVersion).toEqual({ v1: 30 });
    const { runId } = await stack.h.client.workflow.getHandle(`revert-${MODEL}-v1`).describe();
    await recordHistories([{ key: `revert-${MODEL}-v1@${runId}`, name: 'revert-weather-reverted' }]);

    // The same command again: v1 is champion already, nothing changes.
    const again = await remedy('revert', MODEL, '--to', '1', '--reason', 'again', '--actor', 'bo');
    expect(again).toEqual({
      code: 0,
      out: `v1 is already the champion of ${MODEL}: nothing to revert\n`,
      err: '',
    });
    expect(await reverts()).toHaveLength(1);
  });

  it('given bad requests, then each is refused with what to do and nothing changes', async () => {
    // A candidate that answers "snow" to everything: it never served.
    const v3 = await addCandidate(
      'v3',
      prepared.rows.slice(0, 50).map((r) => ({ features: r.features, label: 'snow' })),
    );
    const refused = async (...argv: string[]) => {
      const r = await remedy('revert', ...argv);
      expect(r.code).toBe(2);
      return r.err;
    };
    expect(await refused('nope', '--to', '1', '--reason', 'x')).toBe(
      'remedy: revert refused: no model "nope": see "remedy models list"\n',
    );
    expect(await refused(MODEL, '--to', '9', '--reason', 'x')).toBe(
      `remedy: revert refused: ${MODEL} has no version 9 (its versions: v1, v2, v3); "remedy models show ${MODEL}" lists them\n`,
    );
    expect(await refused(MODEL, '--to', String(v3), '--reason', 'x')).toBe(
      `remedy: revert refused: v3 of ${MODEL} never served as champion (it is still a candidate): a revert goes back to a former champion: v2\n`,
    );
    expect(await refused(MODEL, '--to', 'two', '--reason', 'x')).toMatch(/"two" is not a version number/);
    expect(await refused(MODEL, '--to', '2')).toMatch(/required option '--reason <text>' not specified/);
    expect(await refused(MODEL, '--to', '2', '--reason', '  ')).toMatch(
      /cannot revert: .*say why the champion is reverted \(--reason\)/,
    );
    expect(await db.getAlias(stack.pool, MODEL, 'champion')).toBe(1);
  });

  it('given an open cycle rolling a candidate out, then the revert is refused until the rollout ends, and then goes back to the reverted version', async () => {
    const cycleId = `remediation-${MODEL}-1`;
    await db.insertCycle(stack.pool, cycleId, MODEL, {});
    const rollout = await startRollout(cycleId, 3, 1);
    await until(
      () => db.getTraffic(stack.pool, MODEL),
      (t) => t?.candidateWeight === 10,
    );
    const blocked = await remedy('revert', MODEL, '--to', '2', '--reason', 'v1 is worse after all');
    expect(blocked).toMatchObject({
      code: 2,
      err: `remedy: revert refused: cycle ${cycleId} is rolling out v3 (10% of traffic): end it first with "remedy rollback ${cycleId} --actor <you>" (traffic returns to v1) or wait until it closes, then revert\n`,
    });
    expect((await remedy('rollback', cycleId, '--actor', 'bo')).code).toBe(0);
    expect(((await rollout.result()) as RolloutResult).outcome).toBe('rolled-back');
    await db.closeCycle(stack.pool, cycleId, 'rolled-back', {});

    // v2 was reverted away from, so it served as champion: it may come back. Two people at once: one revert.
    const both = await Promise.all([
      revertModel(stack.h.client, stack.h, {
        modelId: MODEL,
        toVersion: 2,
        reason: 'v1 is worse after all',
        actor: 'bo',
      }),
      revertModel(stack.h.client, stack.h, {
        modelId: MODEL,
        toVersion: 2,
        reason: 'v1 is worse after all',
        actor: 'cy',
      }),
    ]);
    expect(both.map((b) => b.outcome).sort()).toEqual(
      both.some((b) => b.attached) ? ['reverted', 'reverted'] : ['no-op', 'reverted'],
    );
    expect((await reverts()).map((e) => [e.details.from, e.details.to])).toEqual([
      [2, 1],
      [1, 2],
    ]);
    expect([await status(1), await status(2), await status(3)]).toEqual([
      'reverted',
      'champion',
      'rolled_back',
    ]);
    expect(await db.getTraffic(stack.pool, MODEL)).toEqual({
      championVersion: 2,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });

  it("given a model whose policy routes through the team's http router, then the revert moves traffic there, signed, and the router's split is the one in force", async () => {
    const router = await startRouterReceiver(stack.pool, process.env.REMEDY_TEST_ROUTER_KEY!);
    try {
      const model = 'rv-router';
      const routed = await prepareWeatherModel(stack.pool, model, {
        rollout: { router: { kind: 'http', url: router.url, secretEnv: 'REMEDY_TEST_ROUTER_KEY' } },
      });
      const recent = routed.rows.filter((r) => r.ts >= SCENARIO.window.start && r.ts < SCENARIO.window.end);
      const v2 = await addCandidate('v2', recent, model);
      const rollout = await startRollout(`${model}-promotion`, v2, 1, model);
      await until(
        () => db.getTraffic(stack.pool, model),
        (t) => t?.candidateWeight === 10,
      );
      await promoteNow(stack.h.client, `${model}-promotion`, { actor: 'ana' });
      expect(((await rollout.result()) as RolloutResult).outcome).toBe('promoted');

      const r = await remedy('revert', model, '--to', '1', '--reason', 'router check', '--actor', 'bo');
      expect(r.code).toBe(0);
      expect(r.out.split('\n')[1]).toBe(`  traffic: 100% to v1 through the http router ${router.url}`);
      const revert = router.posts.at(-1)!;
      expect(revert.body).toMatchObject({ modelId: model, championVersion: 1, weight: 0, step: 0 });
      expect(revert.signed).toBe(true);
      expect(revert.key).toMatch(new RegExp(`^revert-${model}-v1@[0-9a-f-]+:0$`));
      expect(await db.getTraffic(stack.pool, model)).toEqual({
        championVersion: 1,
        candidateVersion: null,
        candidateWeight: 0,
      });
    } finally {
      await router.close();
    }
  });
});
