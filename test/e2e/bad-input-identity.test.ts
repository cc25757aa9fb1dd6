/**
 * The bad-input matrix's identity and trainer rows (the rest is test/e2e/bad-input.test.ts): tokens that
 * do not verify, a token for someone else than the name typed, REMEDY_AUTH=proxy on the CLI, a missing
 * name, for every command that acts as a person; and training policies that would hand a trainer
 * Remedy's secrets or too little memory. Each is refused with its message, before anything is sent: the
 * workflows' histories and the database are unchanged.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingLabels, startCycle } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { cliRunner, until, useStack } from '../helpers.js';
import { startLocalIssuer, type LocalIssuer } from '../local-issuer.js';
import { fingerprint, historyLength, policyError, printMatrix } from './bad-input-shared.js';

const stack = useStack('badident');
let issuer: LocalIssuer;
let cycleId: string;
let campaign: WorkflowHandle;
let cycle: WorkflowHandle;

beforeAll(async () => {
  issuer = await startLocalIssuer();
  await prepareWeatherModel(stack.pool, 'weather-badident', DEMO_POLICY);
  ({ cycleId } = await startCycle(stack.h.client, stack.h, {
    modelId: 'weather-badident',
    window: SCENARIO.window,
  }));
  await until(
    () => pendingLabels(stack.h.client, cycleId),
    (s) => s.requested > 0,
  );
  campaign = stack.h.client.workflow.getHandle(`${cycleId}-labeling`);
  cycle = stack.h.client.workflow.getHandle(cycleId);
});
afterAll(async () => {
  await issuer?.close();
});

/** `remedy …` in `env`; it must be refused (exit 2) and its message is what the matrix shows. */
async function cli(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<string> {
  const run = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }), env);
  const { code, out, err } = await run(...argv);
  if (code === 0) throw new Error(`remedy ${argv.join(' ')} was accepted: ${out}`);
  if (code !== 2) throw new Error(`remedy ${argv.join(' ')} exited ${code}, not 2 (a refusal): ${err}`);
  return err.trim();
}

/** REMEDY_AUTH=jwt with a token from the local issuer. */
const withToken = async (name: string, opts: { forged?: boolean; exp?: number } = {}) =>
  issuer.env({ REMEDY_TOKEN: await issuer.token(name, opts) });
const expired = () => Math.floor(Date.now() / 1000) - 120;
const approver = SCENARIO.approver;

type Case = [surface: string, name: string, run: () => Promise<string>, expected: RegExp];
const cases: Case[] = [
  [
    'cli',
    'approve with an expired token',
    async () => cli(await withToken(approver, { exp: expired() }), 'approve', cycleId),
    /REMEDY_TOKEN was refused: it has expired: get a fresh token from http:\/\/127\.0\.0\.1:\d+ .*nothing was sent/,
  ],
  [
    'cli',
    'approve with a forged token',
    async () => cli(await withToken(approver, { forged: true }), 'approve', cycleId),
    /REMEDY_TOKEN was refused: its signature does not verify/,
  ],
  [
    'cli',
    'approve with a token for someone else than --approver',
    async () => cli(await withToken('mallory'), 'reject', cycleId, '--approver', approver),
    /--approver "scripted-approver" is not who REMEDY_TOKEN says you are \("mallory", verified by .*nothing was sent/,
  ],
  [
    'cli',
    'label with a token for someone else than --reviewer',
    async () =>
      cli(await withToken('mallory'), 'label', cycleId, 'any-item', 'rain', '--reviewer', SCENARIO.reviewer),
    /--reviewer "scripted-reviewer" is not who REMEDY_TOKEN says you are \("mallory"/,
  ],
  [
    'cli',
    'labels extend with a token for someone else than --actor',
    async () => cli(await withToken('mallory'), 'labels', 'extend', cycleId, '--by', '1h', '--actor', 'boss'),
    /--actor "boss" is not who REMEDY_TOKEN says you are \("mallory"/,
  ],
  [
    'cli',
    'labels decide with an expired token',
    async () => cli(await withToken('boss', { exp: expired() }), 'labels', 'decide', cycleId, 'proceed'),
    /REMEDY_TOKEN was refused: it has expired/,
  ],
  [
    'cli',
    'rollback with a forged token',
    async () => cli(await withToken('ops', { forged: true }), 'rollback', cycleId),
    /REMEDY_TOKEN was refused: its signature does not verify/,
  ],
  [
    'cli',
    'promote with a token for someone else than --actor',
    async () => cli(await withToken('mallory'), 'promote', cycleId, '--actor', 'ops'),
    /--actor "ops" is not who REMEDY_TOKEN says you are \("mallory"/,
  ],
  [
    'cli',
    'approve-full with a token for someone else than --approver',
    async () => cli(await withToken('mallory'), 'approve-full', cycleId, '--approver', approver),
    /--approver "scripted-approver" is not who REMEDY_TOKEN says you are \("mallory"/,
  ],
  [
    'cli',
    'resolve with REMEDY_AUTH=jwt and no token',
    () => cli(issuer.env(), 'resolve', cycleId, 'continue', '--actor', 'ops'),
    /REMEDY_AUTH=jwt: the CLI acts only for a verified person: set REMEDY_TOKEN/,
  ],
  [
    'cli',
    'REMEDY_AUTH=proxy on the CLI',
    () =>
      cli(
        { REMEDY_AUTH: 'proxy', REMEDY_TRUSTED_PROXIES: '10.0.0.1' },
        'labels',
        'decide',
        cycleId,
        'proceed',
        '--actor',
        'boss',
      ),
    /REMEDY_AUTH=proxy identifies people on the review page only: the CLI does not pass through the proxy/,
  ],
  [
    'cli',
    'rollback with no name (REMEDY_AUTH=open)',
    () => cli({ REMEDY_AUTH: 'open' }, 'rollback', cycleId),
    /say who you are with --actor <name> \(REMEDY_AUTH=open: the name is recorded as unverified\)/,
  ],
  // Trainer limits in the policy.
  [
    'policy',
    'a secret in training.env',
    () => Promise.resolve(policyError({ training: { env: ['OMP_NUM_THREADS', 'DATABASE_URL'] } })),
    /training\.env\.1: Remedy's own secrets \(DATABASE_URL, REMEDY_\*, PG\*\) are never passed to a trainer/,
  ],
  [
    'policy',
    'the codec keys in training.env',
    () => Promise.resolve(policyError({ training: { env: ['REMEDY_CODEC_KEYS'] } })),
    /training\.env\.0: Remedy's own secrets/,
  ],
  [
    'policy',
    'a memory limit below the minimum',
    () => Promise.resolve(policyError({ training: { limits: { memoryMb: 16 } } })),
    /training\.limits\.memoryMb: Too small: expected number to be >=64/,
  ],
];

describe('bad-input matrix: identities, tokens and trainer limits', () => {
  const seen: [string, string, string][] = [];
  afterAll(() => printMatrix('bad-input matrix (identity)', seen));

  it.each(cases)('%s: %s is refused and changes nothing', async (surface, name, run, expected) => {
    const before = await fingerprint(stack.pool);
    const events = [await historyLength(campaign), await historyLength(cycle)];
    const message = await run();
    expect(message).toMatch(expected);
    expect(await fingerprint(stack.pool)).toEqual(before);
    expect([await historyLength(campaign), await historyLength(cycle)]).toEqual(events);
    seen.push([surface, name, message]);
  });
});
