/**
 * Who labels and approves, and how Remedy knows: the `remedy` CLI with REMEDY_AUTH=jwt acts as the
 * person its token names (verified against a local OIDC issuer: a loopback server publishing its keys),
 * refuses a name that differs from the token and tokens that do not verify, and sends nothing then; with
 * REMEDY_AUTH=open it takes the typed name and records it as unverified. Each label row and approval
 * audit event keeps the method; the cycle report shows it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { waitForStatus } from '../../dev/reviewer.js';
import { createIdentify, loadIdentityConfig } from '../../infra/identity.js';
import { abortCycle, pendingLabels, startCycle, submitLabel, waitForCycle } from '../../ops/cycles.js';
import { loadCycleReport, renderReport } from '../../ops/report.js';

import { startReviewServer, type ReviewServer } from '../../review/server.js';
import { until, useStack } from '../helpers.js';

const stack = useStack('identity');
const AUDIENCE = 'remedy';
let issuerServer: http.Server;
let issuer: string;
let signingKey: CryptoKey;
let otherKey: CryptoKey;
let review: ReviewServer;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  issuerServer = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
    if (req.url === '/keys') return res.end(JSON.stringify({ keys: [jwk] }));
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  review = await startReviewServer(stack.h.client, {
    identify: createIdentify(loadIdentityConfig(jwtEnv())),
  });
});
afterAll(async () => {
  await review?.close();
  await new Promise((r) => issuerServer?.close(r));
});

const jwtEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  REMEDY_AUTH: 'jwt',
  REMEDY_OIDC_ISSUER: issuer,
  REMEDY_OIDC_AUDIENCE: AUDIENCE,
  ...extra,
});

/** A token from the local issuer (or, with `key`, signed by someone else's key). */
const token = (name: string, opts: { key?: CryptoKey; exp?: number } = {}) =>
  new SignJWT({ preferred_username: name })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setSubject(`id-${name}`)
    .setIssuer(issuer)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .sign(opts.key ?? signingKey);

/** `remedy …` as a person types it, in the environment given. */
async function remedy(env: NodeJS.ProcessEnv, ...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    connect: () =>
      Promise.resolve({ client: stack.h.client, queues: stack.h, close: () => Promise.resolve() }),
    database: () => Promise.resolve({ pool: stack.pool, close: () => Promise.resolve() }),
    env,
  });
  return { code, out, err };
}

const POLICY = {
  labeling: { ...DEMO_POLICY.labeling, reviewers: ['alice', 'bob', SCENARIO.reviewer] },
  rollout: { ...DEMO_POLICY.rollout, approvers: ['carol', 'dave'] },
};

/** A cycle whose campaign is open, with the truth for each item. */
async function cycleAtLabels(modelId: string) {
  const prepared = await prepareWeatherModel(stack.pool, modelId, POLICY);
  const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
  const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: SCENARIO.window });
  const status = await until(
    () => pendingLabels(stack.h.client, cycleId),
    (s) => s.requested > 0,
  );
  return { cycleId, campaignId: status.campaignId, keys: status.pending.map((p) => p.recordKey), truth };
}

/** Answers what is still pending (sent straight to Temporal, saying nothing about identity). */
async function answerRest(cycleId: string, truth: Map<string, string>) {
  const { pending } = await pendingLabels(stack.h.client, cycleId);
  for (const p of pending)
    await submitLabel(stack.h.client, cycleId, {
      recordKey: p.recordKey,
      label: truth.get(p.recordKey)!,
      reviewer: SCENARIO.reviewer,
    });
}

async function labelRow(campaignId: string, recordKey: string) {
  const { rows } = await stack.pool.query<{ reviewer: string; via: string; verified_by: string }>(
    'SELECT reviewer, via, verified_by FROM labels WHERE campaign_id = $1 AND record_key = $2',
    [campaignId, recordKey],
  );
  return rows[0];
}

async function approvalEvents(cycleId: string) {
  const { rows } = await stack.pool.query<{
    action: string;
    actor: string;
    details: { verifiedBy?: string };
  }>("SELECT action, actor, details FROM audit_events WHERE cycle_id = $1 AND action LIKE 'rollout.%'", [
    cycleId,
  ]);
  return rows;
}

describe('identity of reviewers and approvers', () => {
  it('given REMEDY_AUTH=jwt, then the CLI approves as the token names, refuses another name and bad tokens, and each label keeps how its reviewer was identified', async () => {
    const { cycleId, campaignId, keys, truth } = await cycleAtLabels('weather-ident-jwt');
    const [k1, k2, k3, k4] = keys as [string, string, string, string];

    // The review page with a verified token: alice, 'jwt'.
    const res = await fetch(`${review.url}/review/${cycleId}/label`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('alice')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recordKey: k1, label: truth.get(k1) }),
    });
    expect(res.status).toBe(200);
    expect(await labelRow(campaignId, k1)).toEqual({
      reviewer: 'alice',
      via: 'review-page',
      verified_by: 'jwt',
    });

    // The CLI with a token and no --reviewer: the token's person, 'jwt'.
    const alice = jwtEnv({ REMEDY_TOKEN: await token('alice') });
    const labeled = await remedy(alice, 'label', cycleId, k2, truth.get(k2)!);
    expect(labeled.code).toBe(0);
    expect(labeled.out).toMatch(new RegExp(`^labeled ${k2} = `));
    expect(await labelRow(campaignId, k2)).toEqual({ reviewer: 'alice', via: 'cli', verified_by: 'jwt' });

    // The same token claiming to be bob: refused, nothing stored.
    const claimed = await remedy(alice, 'label', cycleId, k3, truth.get(k3)!, '--reviewer', 'bob');
    expect(claimed.code).toBe(2);
    expect(claimed.err).toContain(
      `remedy: --reviewer "bob" is not who REMEDY_TOKEN says you are ("alice", verified by ${issuer})`,
    );
    expect(await labelRow(campaignId, k3)).toBeUndefined();

    // A CSV naming another reviewer in a row: that row refused, alice's own row kept.
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-ident-'));
    const csv = path.join(dir, 'labels.csv');
    await writeFile(csv, `recordKey,label,reviewer\n${k3},${truth.get(k3)},bob\n${k4},${truth.get(k4)},\n`);
    const imported = await remedy(alice, 'labels', 'import', cycleId, csv);
    expect(imported.code).toBe(2);
    expect(imported.out).toContain(`1 labeled, 0 already labeled, 1 refused`);
    expect(imported.out).toContain(`line 2 (${k3}): reviewer "bob" is not you ("alice", verified by jwt)`);
    expect(await labelRow(campaignId, k3)).toBeUndefined();
    expect(await labelRow(campaignId, k4)).toEqual({ reviewer: 'alice', via: 'cli', verified_by: 'jwt' });

    // Without REMEDY_AUTH (open): the typed name, recorded as unverified.
    const open = await remedy({}, 'label', cycleId, k3, truth.get(k3)!, '--reviewer', 'bob');
    expect(open.code).toBe(0);
    expect(await labelRow(campaignId, k3)).toEqual({
      reviewer: 'bob',
      via: 'cli',
      verified_by: 'unverified',
    });
    const nobody = await remedy({}, 'label', cycleId, k3, truth.get(k3)!);
    expect(nobody.code).toBe(2);
    expect(nobody.err).toContain('say who you are with --reviewer <name>');

    await answerRest(cycleId, truth);
    await waitForStatus(stack.h.client, cycleId, (s) => s.awaitingApproval);
    const history = async () =>
      (await stack.h.client.workflow.getHandle(cycleId).fetchHistory()).events!.length;
    const before = await history();

    // Tokens that do not verify, and a name that is not the token's: refused, the workflow unchanged.
    const carol = jwtEnv({ REMEDY_TOKEN: await token('carol') });
    const refusals: [NodeJS.ProcessEnv, string[], string][] = [
      [carol, ['--approver', 'dave'], '--approver "dave" is not who REMEDY_TOKEN says you are ("carol"'],
      [
        jwtEnv({ REMEDY_TOKEN: await token('carol', { exp: Math.floor(Date.now() / 1000) - 120 }) }),
        [],
        'REMEDY_TOKEN was refused: it has expired: get a fresh token from',
      ],
      [
        jwtEnv({ REMEDY_TOKEN: await token('carol', { key: otherKey }) }),
        [],
        'REMEDY_TOKEN was refused: its signature does not verify',
      ],
      [jwtEnv({ REMEDY_TOKEN: 'not-a-token' }), [], 'REMEDY_TOKEN was refused: it is not a valid JWT'],
      [
        jwtEnv(),
        ['--approver', 'carol'],
        'REMEDY_AUTH=jwt: the CLI acts only for a verified person: set REMEDY_TOKEN',
      ],
      [
        { REMEDY_AUTH: 'proxy', REMEDY_TRUSTED_PROXIES: '10.0.0.1' },
        ['--approver', 'carol'],
        'REMEDY_AUTH=proxy identifies people on the review page only',
      ],
    ];
    for (const [env, args, message] of refusals) {
      const r = await remedy(env, 'approve', cycleId, ...args);
      expect(r.code, message).toBe(2);
      expect(r.err).toContain(message);
    }
    expect(await history()).toBe(before);
    expect(await approvalEvents(cycleId)).toEqual([]);

    // The valid token, no --approver: approved as carol, verified by jwt, in the audit trail.
    const approved = await remedy(carol, 'approve', cycleId, '--reason', 'looks right');
    expect(approved).toMatchObject({ code: 0, out: `approved ${cycleId}\n` });
    const events = await until(
      () => approvalEvents(cycleId),
      (e) => e.length > 0,
    );
    expect(events).toEqual([
      { action: 'rollout.approved', actor: 'carol', details: { reason: 'looks right', verifiedBy: 'jwt' } },
    ]);

    // The report lists each reviewer with how they were identified.
    const md = renderReport(await loadCycleReport(stack.pool, cycleId, { client: stack.h.client }), 'md');
    expect(md).toMatch(/\| alice +\| review-page +\| jwt +\| +1 \|/);
    expect(md).toMatch(/\| alice +\| cli +\| jwt +\| +2 \|/);
    expect(md).toMatch(/\| bob +\| cli +\| unverified +\| +1 \|/);
    await abortCycle(stack.h.client, cycleId);
  });

  it('given REMEDY_AUTH=open, then the typed approver decides and the audit trail says unverified', async () => {
    const { cycleId, truth } = await cycleAtLabels('weather-ident-open');
    await answerRest(cycleId, truth);
    await waitForStatus(stack.h.client, cycleId, (s) => s.awaitingApproval);
    const r = await remedy(
      { REMEDY_AUTH: 'open' },
      'reject',
      cycleId,
      '--approver',
      'dave',
      '--reason',
      'no',
    );
    expect(r).toMatchObject({ code: 0, out: `rejected ${cycleId}\n` });
    expect(await waitForCycle(stack.h.client, cycleId)).toMatchObject({ outcome: 'approval-denied' });
    expect(await approvalEvents(cycleId)).toEqual([
      { action: 'rollout.denied', actor: 'dave', details: { reason: 'no', verifiedBy: 'unverified' } },
    ]);
  });
});
