/**
 * The `remedy` CLI against a real Temporal and Postgres: what a person types, what they read, and the
 * exit code a script can rely on (0 ok, 2 refused or misused, 1 unexpected).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, type CliIo } from '../../cli/main.js';
import { DEMO_POLICY, prepareWeatherModel } from '../../dev/scenario.js';
import type { CycleSummary, LabelingStatus } from '../../workflows/messages.js';
import {
  cliRunner,
  freshDatabase,
  startTestWorkers,
  temporalHarness,
  until,
  type TemporalHarness,
} from '../helpers.js';

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

const remedy = cliRunner(() => ({ client: h.client, queues: h, pool }));

const ioStub: CliIo = {
  out: () => {},
  err: () => {},
  connect: () => Promise.reject(new Error('not used')),
  database: () => Promise.reject(new Error('not used')),
};

/** A command's description as commander holds it (what --help prints under the usage line). */
async function buildDescription(argv: string[]): Promise<string> {
  let cmd: Command = await buildProgram(ioStub);
  for (const name of argv) cmd = cmd.commands.find((c) => c.name() === name)!;
  return cmd.description();
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
      'drift',
      'monitor',
      'triggers',
      'failures',
      'watch',
      'report',
      'models',
      'ingest',
      'card',
      'promote',
      'approve-full',
      'revert',
    ]) {
      expect(r.out).toMatch(new RegExp(`\\n\\s+${c}\\b`));
    }
  });

  it('given --help on any command, then it prints its usage and description and exits 0', async () => {
    const walk = (cmd: Command, prefix: string[]): string[][] =>
      cmd.commands.flatMap((c) => {
        const argv = [...prefix, c.name()];
        return c.commands.length > 0 ? [argv, ...walk(c, argv)] : [argv];
      });
    const all = walk(await buildProgram({ ...ioStub }), []);
    expect(all.length).toBeGreaterThan(40);
    for (const argv of all) {
      const r = await remedy(...argv, '--help');
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.out, argv.join(' ')).toMatch(new RegExp(`^Usage: remedy ${argv.join(' ')}`));
      const description = await buildDescription(argv);
      expect(description.length, `${argv.join(' ')} has a description`).toBeGreaterThan(10);
      // commander wraps long descriptions at the terminal width
      expect(r.out.replace(/\s+/g, ' ')).toContain(description.replace(/\s+/g, ' '));
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
    expect(r.err).toMatch(
      /no cycle "remediation-nope-1" was ever started \(or its history is past the namespace's retention\): check the cycle ID with "remedy list"/,
    );
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
    const statusText = (await remedy('status', cycleId)).out;
    expect(statusText).toMatch(/Cycle remediation-weather-cli-1 for model weather-cli/);
    expect(statusText).toContain('policy: v1 (the version the cycle started with)\n');
    expect((await remedy('models', 'policy-history', 'weather-cli')).out).toMatch(
      /^weather-cli: 1 policy version\nv1 {2}\S+ {2}by remedy\n {4}first registration\n$/,
    );
    expect((await remedy('models', 'policy-history', 'nope')).err).toMatch(/no model "nope"/);

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
    const notWaitingReject = await remedy('reject', cycleId, '--approver', 'scripted-approver');
    expect(notWaitingReject.code).toBe(2);
    expect(notWaitingReject.err).toMatch(/not waiting for approval \(stage label\)/);
    // No name and no verified identity (REMEDY_AUTH unset: open): refused, saying how to name oneself.
    const nameless = await remedy('reject', cycleId);
    expect(nameless.code).toBe(2);
    expect(nameless.err).toMatch(
      /say who you are with --approver <name> \(REMEDY_AUTH=open: the name is recorded as unverified\)/,
    );

    // Rollout commands before any rollout: refused, saying where to look.
    for (const argv of [
      ['rollback', cycleId, '--actor', 'ops'],
      ['promote', cycleId, '--actor', 'ops'],
      ['approve-full', cycleId, '--approver', 'scripted-approver'],
      ['resolve', cycleId, 'continue', '--actor', 'ops'],
    ]) {
      const r = await remedy(...argv);
      expect(r.code, argv[0]).toBe(2);
      expect(r.err, argv[0]).toMatch(
        /cycle remediation-weather-cli-1 has no rollout \(yet\): the cycle is running, at stage \w+/,
      );
    }
    expect((await remedy('resolve', cycleId, 'maybe', '--actor', 'ops')).err).toMatch(
      /value 'maybe' is invalid for argument 'decision'\. Allowed choices are continue, rollback/,
    );
    expect((await remedy('rollback', cycleId)).err).toMatch(/say who you are with --actor <name>/);

    // The report of a running cycle: its live stages from the workflow, the drift charts from the database.
    const live = await remedy('report', cycleId, '--format', 'md', '--out', '-');
    expect(live.code).toBe(0);
    expect(live.out).toMatch(/\| Outcome \| running \(label\) \|/);
    expect(live.out).toMatch(/\| label \| \S+ \| [^|]+ \(running\) \|/);
    expect((await remedy('report', cycleId, '--format', 'pdf')).err).toMatch(
      /argument 'pdf' is invalid\. Allowed choices are html, md/,
    );
    expect((await remedy('report', cycleId, '--out', '/nonexistent-dir/r.html')).err).toMatch(
      /cannot write \/nonexistent-dir\/r\.html: ENOENT/,
    );
    expect((await remedy('watch', cycleId, '--interval', '0')).err).toMatch(
      /"0" is not a number of seconds in 0\.2\.\.60/,
    );

    expect((await remedy('abort', cycleId)).code).toBe(0);
    const waited = await remedy('wait', cycleId);
    expect(waited.code).toBe(2);
    expect(waited.err).toMatch(/ended without an outcome/);
  });

  it('given a registered model, then monitor create, show, trigger, checks, pause, resume and delete work from the CLI', async () => {
    await prepareWeatherModel(pool, 'weather-cli-mon', DEMO_POLICY, 'all');
    const created = await remedy(
      'monitor',
      'create',
      'weather-cli-mon',
      '--every',
      '12h',
      '--window',
      '30d',
      '--mode',
      'cursor',
      '--start',
      '2013-01-01',
    );
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/monitor monitor-weather-cli-mon for weather-cli-mon: active/);
    expect(created.out).toMatch(
      /every 43200s, cursor windows of 2592000s, next window starts 2013-01-01T00:00:00.000Z/,
    );

    const ran = await remedy('monitor', 'trigger', 'weather-cli-mon', '--wait', '--json');
    expect(ran.code).toBe(0);
    const check = JSON.parse(ran.out) as { state: string; check: { window: { start: string; end: string } } };
    expect(check.state).toBe('checked');
    expect(check.check.window).toEqual({
      start: '2013-01-01T00:00:00.000Z',
      end: '2013-01-31T00:00:00.000Z',
    });
    const checks = await remedy('monitor', 'checks', 'weather-cli-mon');
    expect(checks.out).toMatch(
      /^2013-01-01T00:00:00.000Z .. 2013-01-31T00:00:00.000Z\t(none|fine-tune|full-cycle)\tstreak \d/m,
    );

    expect((await remedy('monitor', 'pause', 'weather-cli-mon', '--note', 'maintenance')).out).toBe(
      'paused the monitor of weather-cli-mon\n',
    );
    expect(JSON.parse((await remedy('monitor', 'show', 'weather-cli-mon', '--json')).out)).toMatchObject({
      paused: true,
      note: 'maintenance',
    });
    expect((await remedy('monitor', 'resume', 'weather-cli-mon')).code).toBe(0);
    const again = await remedy('monitor', 'create', 'weather-cli-mon');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already has a monitor: pause, resume or delete it/);
    expect((await remedy('monitor', 'delete', 'weather-cli-mon')).code).toBe(0);
    const gone = await remedy('monitor', 'show', 'weather-cli-mon');
    expect(gone.code).toBe(2);
    expect(gone.err).toMatch(/has no monitor: create one with remedy monitor create weather-cli-mon/);

    const bad = await remedy('monitor', 'create', 'weather-cli-mon', '--every', 'often');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/every: must be a duration like "30s"/);
    const badMode = await remedy('monitor', 'create', 'weather-cli-mon', '--mode', 'sometimes');
    expect(badMode.code).toBe(2);
    expect(badMode.err).toMatch(/argument 'sometimes' is invalid\. Allowed choices are clock, cursor/);
  });

  it('given served traffic, then failures patterns and list show the catalog, and triggers need a kind', async () => {
    await prepareWeatherModel(pool, 'weather-cli-fail');
    const patterns = await remedy('failures', 'patterns', 'weather-cli-fail', '--json');
    expect(patterns.code).toBe(0);
    const rows = JSON.parse(patterns.out) as {
      patternKey: string;
      cases: number;
      status: string;
      trend: unknown[];
    }[];
    expect(rows.length).toBeGreaterThan(3);
    expect(rows[0]!.cases).toBeGreaterThanOrEqual(rows[1]!.cases);
    expect(rows.every((r) => r.status === 'open')).toBe(true);
    const text = await remedy('failures', 'patterns', 'weather-cli-fail', '--by', 'week');
    expect(text.out).toMatch(/^\s+\d+ {2}open {7}model-error\/location=/m);

    const listed = await remedy(
      'failures',
      'list',
      'weather-cli-fail',
      '--kind',
      'wrong-prediction',
      '--limit',
      '3',
      '--json',
    );
    const cases = JSON.parse(listed.out) as { kind: string; truth: string; predicted: string }[];
    expect(cases).toHaveLength(3);
    for (const c of cases) expect(c.kind === 'wrong-prediction' && c.truth !== c.predicted).toBe(true);
    const badKind = await remedy('failures', 'list', 'weather-cli-fail', '--kind', 'bad');
    expect(badKind.code).toBe(2);
    expect(badKind.err).toMatch(
      /Allowed choices are low-confidence, out-of-distribution, wrong-prediction, user-correction, slow-response/,
    );

    const noKind = await remedy('triggers', 'create', 'weather-cli-fail');
    expect(noKind.code).toBe(2);
    expect(noKind.err).toMatch(/required option '--kind <kind>' not specified/);
    const created = await remedy(
      'triggers',
      'create',
      'weather-cli-fail',
      '--kind',
      'volume',
      '--every',
      '1h',
    );
    expect(created.out).toMatch(/monitor volume-weather-cli-fail for weather-cli-fail: active/);
    expect((await remedy('triggers', 'pause', 'weather-cli-fail', '--kind', 'volume')).out).toBe(
      'paused the volume trigger of weather-cli-fail\n',
    );
    const shown = await remedy('triggers', 'show', 'weather-cli-fail', '--kind', 'volume', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ scheduleId: 'volume-weather-cli-fail', paused: true });
    expect((await remedy('triggers', 'resume', 'weather-cli-fail', '--kind', 'volume')).out).toBe(
      'resumed the volume trigger of weather-cli-fail\n',
    );
    expect((await remedy('triggers', 'show', 'weather-cli-fail', '--kind', 'sometimes')).err).toMatch(
      /argument 'sometimes' is invalid\. Allowed choices are volume, schedule/,
    );
    expect((await remedy('triggers', 'delete', 'weather-cli-fail', '--kind', 'volume')).code).toBe(0);
    const missing = await remedy('triggers', 'run', 'weather-cli-fail', '--kind', 'schedule');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(
      /has no schedule trigger: create one with remedy triggers create weather-cli-fail --kind schedule/,
    );
  });

  it('given a labeling campaign, then labels import, extend and decide work and refuse what they must', async () => {
    const prepared = await prepareWeatherModel(pool, 'weather-cli-lab', DEMO_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = JSON.parse(
      (await remedy('start', 'weather-cli-lab', '--from', '2013-04-01', '--to', '2015-01-01', '--json')).out,
    ) as { cycleId: string };
    const pending = await until(
      async () => JSON.parse((await remedy('pending', cycleId, '--json')).out || '{}') as LabelingStatus,
      (s) => (s.requested ?? 0) > 0,
    );
    const [a, b] = pending.pending;
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-labels-'));
    const file = path.join(dir, 'answers.csv');
    await writeFile(
      file,
      [
        'recordKey,label',
        `${a!.recordKey},${truth.get(a!.recordKey)}`,
        `${b!.recordKey},${truth.get(b!.recordKey)}`,
        `${a!.recordKey},hail`,
        'nope:2013-01-01,sun',
      ].join('\n'),
    );
    const imported = await remedy('labels', 'import', cycleId, file, '--reviewer', 'scripted-reviewer');
    expect(imported.code).toBe(2);
    expect(imported.out).toMatch(/^2 labeled, 0 already labeled, 2 refused$/m);
    expect(imported.out).toMatch(/^line 4 \(.*\): label refused: label "hail" is not one of/m);
    expect(imported.out).toMatch(
      /^line 5 \(nope:2013-01-01\): label refused: recordKey "nope:2013-01-01" is not an item/m,
    );
    const again = await remedy(
      'labels',
      'import',
      cycleId,
      file,
      '--reviewer',
      'scripted-reviewer',
      '--json',
    );
    const rows = JSON.parse(again.out) as { result: string }[];
    expect(rows.map((r) => r.result)).toEqual(['duplicate', 'duplicate', 'refused', 'refused']);

    const noColumn = path.join(dir, 'bad.csv');
    await writeFile(noColumn, 'recordKey,answer\nx,sun\n');
    const bad = await remedy('labels', 'import', cycleId, noColumn, '--reviewer', 'scripted-reviewer');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/has no "label" column: the header must name recordKey and label/);
    expect(
      (await remedy('labels', 'import', cycleId, path.join(dir, 'missing.csv'), '--reviewer', 'x')).err,
    ).toMatch(/cannot read .*missing\.csv: no such file/);

    const before = Date.parse(pending.deadlineAt);
    const extended = await remedy('labels', 'extend', cycleId, '--by', '24h', '--actor', 'boss');
    expect(extended.code).toBe(0);
    const after = Date.parse(/is now (\S+)/.exec(extended.out)![1]!);
    expect(after - before).toBe(24 * 3600 * 1000);
    const badBy = await remedy('labels', 'extend', cycleId, '--by', 'tomorrow', '--actor', 'boss');
    expect(badBy.code).toBe(2);
    expect(badBy.err).toMatch(/extension refused: by: must be a duration like "30s"/);
    const notParked = await remedy('labels', 'decide', cycleId, 'proceed', '--actor', 'boss');
    expect(notParked.code).toBe(2);
    expect(notParked.err).toMatch(/decision refused: campaign .* is not parked \(it is open\)/);
    const badDecision = await remedy('labels', 'decide', cycleId, 'maybe', '--actor', 'boss');
    expect(badDecision.code).toBe(2);
    expect(badDecision.err).toMatch(
      /value 'maybe' is invalid for argument 'decision'\. Allowed choices are extend, proceed, abort/,
    );
    expect((await remedy('abort', cycleId)).code).toBe(0);
  });
});
