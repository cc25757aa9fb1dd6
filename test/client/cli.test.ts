/**
 * The `remedy` CLI against a real Temporal and Postgres: what a person types, what they read, and the
 * exit code a script can rely on (0 ok, 2 refused or misused, 1 unexpected).
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../client/cli.js';
import { DEMO_POLICY, prepareWeatherModel } from '../../client/scenario.js';
import type { CycleSummary, LabelingStatus } from '../../workflows/messages.js';
import { freshDatabase, startTestWorkers, temporalHarness, until, type TemporalHarness } from '../helpers.js';

let pool: pg.Pool;
let h: TemporalHarness;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;

beforeAll(async () => {
  ({ pool } = await freshDatabase('cli'));
  h = await temporalHarness('cli');
  workers = await startTestWorkers(h, pool);
});
afterAll(async () => {
  await workers?.stop();
  await h?.close();
  await pool?.end();
});

async function remedy(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    connect: () => Promise.resolve({ client: h.client, queues: h, close: () => Promise.resolve() }),
    database: () => Promise.resolve({ pool, close: () => Promise.resolve() }),
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}

describe('remedy CLI', () => {
  it('given --help, then every command is listed and the exit code is 0', async () => {
    const r = await remedy('--help');
    expect(r.code).toBe(0);
    for (const c of [
      'start',
      'status',
      'wait',
      'list',
      'pending',
      'label',
      'approve',
      'reject',
      'rollback',
      'resolve',
      'abort',
    ]) {
      expect(r.out).toMatch(new RegExp(`\\n\\s+${c}\\b`));
    }
  });

  it('given a command without its required options, then usage error exit 2 naming the option', async () => {
    const r = await remedy('start', 'weather');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/required option '--from <date>' not specified/);
  });

  it('given a bad date, then exit 2 saying the format', async () => {
    const r = await remedy('start', 'weather', '--from', 'yesterday', '--to', '2015-01-01');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/"yesterday" is not a date: use YYYY-MM-DD/);
  });

  it('given a bad model ID, then exit 2 naming the field', async () => {
    const r = await remedy('start', 'Bad Model!', '--from', '2013-01-01', '--to', '2014-01-01');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/modelId: use lowercase letters/);
  });

  it('given a model version without a card, then exit 2 saying when cards are written', async () => {
    const r = await remedy('card', 'weather-cli', '99');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /no model card for weather-cli v99: cards are written when a cycle evaluates a candidate/,
    );
    expect((await remedy('card', 'weather-cli', 'latest')).err).toMatch(/"latest" is not a version number/);
  });

  it('given an unknown cycle, then exit 2 telling how to find cycle IDs', async () => {
    const r = await remedy('status', 'remediation-nope-1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no workflow "remediation-nope-1": check the cycle ID with "remedy list"/);
  });

  it('given a running cycle, then start, list, status, pending, label and abort work as a person uses them', async () => {
    await prepareWeatherModel(pool, 'weather-cli', DEMO_POLICY);
    const started = await remedy(
      'start',
      'weather-cli',
      '--from',
      '2013-04-01',
      '--to',
      '2015-01-01',
      '--json',
    );
    expect(started.code).toBe(0);
    const { cycleId } = JSON.parse(started.out) as { cycleId: string };
    expect(cycleId).toBe('remediation-weather-cli-1');

    const pending = await until(
      async () => JSON.parse((await remedy('pending', cycleId, '--json')).out || '{}') as LabelingStatus,
      (s) => (s.requested ?? 0) > 0,
    );
    const item = pending.pending[0]!;

    const wrong = await remedy('label', cycleId, item.recordKey, 'hail', '--reviewer', 'scripted-reviewer');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/label "hail" is not one of/);
    const stranger = await remedy('label', cycleId, item.recordKey, 'sun', '--reviewer', 'mallory');
    expect(stranger.code).toBe(2);
    expect(stranger.err).toMatch(/reviewer "mallory" may not label/);
    const ok = await remedy('label', cycleId, item.recordKey, 'sun', '--reviewer', 'scripted-reviewer');
    expect(ok.code).toBe(0);
    expect(ok.out).toBe(`labeled ${item.recordKey} = sun; ${pending.requested - 1} remaining\n`);

    const status = await remedy('status', cycleId, '--json');
    expect((JSON.parse(status.out) as CycleSummary).stage).toBe('label');
    expect((await remedy('status', cycleId)).out).toMatch(
      /Cycle remediation-weather-cli-1 for model weather-cli/,
    );

    const listed = await until(
      async () =>
        JSON.parse((await remedy('list', '--model', 'weather-cli', '--running', '--json')).out) as {
          cycleId: string;
          stage: string;
        }[],
      (rows) => rows.length === 1 && rows[0]!.stage === 'label',
    );
    expect(listed[0]!.cycleId).toBe(cycleId);

    const notWaiting = await remedy('approve', cycleId, '--approver', 'scripted-approver');
    expect(notWaiting.code).toBe(2);
    expect(notWaiting.err).toMatch(/not waiting for approval \(stage label\)/);

    expect((await remedy('abort', cycleId)).code).toBe(0);
    const waited = await remedy('wait', cycleId);
    expect(waited.code).toBe(2);
    expect(waited.err).toMatch(/ended without an outcome/);
  });
});
