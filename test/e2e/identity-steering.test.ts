/**
 * Who steers a cycle: `remedy rollback`, `promote`, `labels extend` (and `labels decide`, `resolve`,
 * `approve-full`, which share the check in cli/identity.ts) act, with REMEDY_AUTH=jwt, as the person
 * their token names, refuse a different --actor and send nothing then; with REMEDY_AUTH=open they take
 * the typed name. The audit event of what they did keeps the method in details.verifiedBy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, train } from '../../core/model.js';
import { Policy } from '../../core/schemas.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { pendingLabels, rolloutStatus, startCycle, abortCycle } from '../../ops/cycles.js';
import type { RolloutResult } from '../../workflows/rollout.js';
import { insertTestCandidate, cliRunner, uniqueSuffix, until, useStack } from '../helpers.js';
import { startLocalIssuer, type LocalIssuer } from '../local-issuer.js';

const stack = useStack('identsteer');
let issuer: LocalIssuer;
beforeAll(async () => {
  issuer = await startLocalIssuer();
});
afterAll(async () => {
  await issuer?.close();
});

const remedy = (env: NodeJS.ProcessEnv, ...argv: string[]) =>
  cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }), env)(...argv);
const asCarol = async () => issuer.env({ REMEDY_TOKEN: await issuer.token('carol') });

async function auditEvents(cycleId: string, action: string) {
  const { rows } = await stack.pool.query<{ actor: string; details: { verifiedBy?: string } }>(
    'SELECT actor, details FROM audit_events WHERE cycle_id = $1 AND action = $2',
    [cycleId, action],
  );
  return rows.map((r) => ({ actor: r.actor, verifiedBy: r.details.verifiedBy }));
}

/** A staged rollout of a freshly trained candidate, in its first step's dwell (1h), approvers carol and dave. */
async function rolloutInDwell(modelId: string) {
  const prepared = await prepareWeatherModel(stack.pool, modelId);
  const artifact = canonicalJson(
    train(
      { numeric: ['temp_max'], categorical: [] },
      prepared.rows.slice(0, 50).map((r) => ({ features: r.features, label: r.label })),
      { epochs: 5, learningRate: 0.1, l2: 0 },
    ),
  );
  const candidate = await insertTestCandidate(stack.pool, modelId, `${modelId}:candidate`, artifact);
  const cycleId = `rollout-${modelId}-${uniqueSuffix()}`;
  const handle = await stack.h.client.workflow.start('stagedRollout', {
    workflowId: `${cycleId}-rollout`,
    taskQueue: stack.h.taskQueue,
    args: [
      {
        cycleId,
        modelId,
        championVersion: 1,
        candidateVersion: candidate,
        policy: Policy.parse({ rollout: { dwell: '1h', approvers: ['carol', 'dave'] } }).rollout,
      },
    ],
  });
  await until(
    () => rolloutStatus(stack.h.client, cycleId),
    (s) => s.currentWeight > 0,
  );
  return { cycleId, handle };
}

describe('identity of people who steer a cycle', () => {
  it('given REMEDY_AUTH=jwt, when carol rolls back, then another --actor is refused and the audit event says carol, jwt', async () => {
    const { cycleId, handle } = await rolloutInDwell('weather-steer-jwt');
    const carol = await asCarol();
    const before = (await handle.fetchHistory()).events!.length;

    const claimed = await remedy(carol, 'rollback', cycleId, '--actor', 'dave');
    expect(claimed.code).toBe(2);
    expect(claimed.err).toContain(
      `remedy: --actor "dave" is not who REMEDY_TOKEN says you are ("carol", verified by ${issuer.url})`,
    );
    const forged = await remedy(
      issuer.env({ REMEDY_TOKEN: await issuer.token('carol', { forged: true }) }),
      'promote',
      cycleId,
    );
    expect(forged.code).toBe(2);
    expect(forged.err).toContain('REMEDY_TOKEN was refused: its signature does not verify');
    expect((await handle.fetchHistory()).events!.length).toBe(before);

    const r = await remedy(carol, 'rollback', cycleId, '--reason', 'pager');
    expect(r).toMatchObject({ code: 0, out: `rollback requested for ${cycleId}\n` });
    expect(((await handle.result()) as RolloutResult).reason).toBe('rolled back by carol: pager');
    expect(await auditEvents(cycleId, 'rollout.rolled_back')).toEqual([
      { actor: 'carol', verifiedBy: 'jwt' },
    ]);

    // A revert acts for a person too: another --actor on carol's token is refused before any workflow starts.
    const revert = await remedy(
      carol,
      'revert',
      'weather-steer-jwt',
      '--to',
      '1',
      '--reason',
      'x',
      '--actor',
      'dave',
    );
    expect(revert.code).toBe(2);
    expect(revert.err).toContain('--actor "dave" is not who REMEDY_TOKEN says you are ("carol"');
    await expect(stack.h.client.workflow.getHandle('revert-weather-steer-jwt-v1').describe()).rejects.toThrow(
      /not found/i,
    );
  });

  it('given REMEDY_AUTH=open, when dave promotes, then the typed name is recorded as unverified; carol reverts with her token, recorded as jwt', async () => {
    const { cycleId, handle } = await rolloutInDwell('weather-steer-open');
    const nameless = await remedy({ REMEDY_AUTH: 'open' }, 'promote', cycleId);
    expect(nameless.code).toBe(2);
    expect(nameless.err).toContain('say who you are with --actor <name>');

    const r = await remedy({ REMEDY_AUTH: 'open' }, 'promote', cycleId, '--actor', 'dave');
    expect(r).toMatchObject({ code: 0, out: `promotion requested for ${cycleId}\n` });
    expect(((await handle.result()) as RolloutResult).reason).toBe('promoted by dave');
    expect(await auditEvents(cycleId, 'rollout.promoted')).toEqual([
      { actor: 'dave', verifiedBy: 'unverified' },
    ]);

    // Back to v1: model.reverted keeps who reverted and how the name was established.
    const back = await remedy(
      await asCarol(),
      'revert',
      'weather-steer-open',
      '--to',
      '1',
      '--reason',
      'undo',
    );
    expect(back.code, back.err).toBe(0);
    const { rows } = await stack.pool.query<{ actor: string; details: { verifiedBy?: string } }>(
      "SELECT actor, details FROM audit_events WHERE model_id = $1 AND action = 'model.reverted'",
      ['weather-steer-open'],
    );
    expect(rows.map((r) => ({ actor: r.actor, verifiedBy: r.details.verifiedBy }))).toEqual([
      { actor: 'carol', verifiedBy: 'jwt' },
    ]);
  });

  it('given a labeling campaign, when its deadline is extended, then the audit event keeps who and how', async () => {
    await prepareWeatherModel(stack.pool, 'weather-steer-labels', DEMO_POLICY);
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-steer-labels',
      window: SCENARIO.window,
    });
    await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.requested > 0,
    );
    const carol = await asCarol();
    const claimed = await remedy(carol, 'labels', 'extend', cycleId, '--by', '1h', '--actor', 'dave');
    expect(claimed.code).toBe(2);
    expect(claimed.err).toContain('--actor "dave" is not who REMEDY_TOKEN says you are ("carol"');

    expect((await remedy(carol, 'labels', 'extend', cycleId, '--by', '1h')).code).toBe(0);
    expect((await remedy({}, 'labels', 'extend', cycleId, '--by', '1h', '--actor', 'dave')).code).toBe(0);
    const events = await until(
      () => auditEvents(cycleId, 'labeling.deadline-extended'),
      (e) => e.length === 2,
    );
    expect(events).toEqual(
      expect.arrayContaining([
        { actor: 'carol', verifiedBy: 'jwt' },
        { actor: 'dave', verifiedBy: 'unverified' },
      ]),
    );
    await abortCycle(stack.h.client, cycleId);
  });
});
