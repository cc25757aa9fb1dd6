/**
 * `remedy`: the command line people use to start and steer remediation cycles.
 * Every command talks to Temporal through the same functions the demo and the tests use.
 */
import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../codec/codec.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Pool } from 'pg';
import { createPool } from '../db/pool.js';
import { ConfigError, connectionOptions, loadDatabaseConfig, loadTemporalConfig } from '../infra/config.js';
import {
  abortCycle,
  approveFull,
  decideCampaign,
  extendDeadline,
  importLabels,
  approveRollout,
  cycleStatus,
  forceRollback,
  listCycles,
  pendingLabels,
  promoteNow,
  resolvePause,
  startCycle,
  submitLabel,
  UserError,
  waitForCycle,
  type Queues,
} from '../ops/cycles.js';
import { TEST_NAMES, type TestName } from '../core/drift.js';
import * as db from '../db/index.js';
import { CASE_KINDS } from '../core/catalog.js';
import {
  createMonitor,
  createTrigger,
  deleteMonitor,
  describeMonitor,
  pauseMonitor,
  resumeMonitor,
  triggerMonitor,
  type MonitorDescription,
} from '../ops/monitor.js';
import { offlineDrift, renderOffline } from '../drift/offline.js';
import { renderSummary } from '../ops/render.js';
import { loadCycleReport, renderReport, writeReport, type ReportOptions } from '../ops/report.js';
import { watchCycle } from '../ops/watch.js';
import { checkRows, readRows, rejectionReport, type Columns } from '../ops/ingest.js';
import { registerModelWithChampion } from '../ops/setup.js';
import { ModelDefinition, describeZodError } from '../core/schemas.js';
import { writeFile } from 'node:fs/promises';
import { withTransaction } from '../db/pool.js';
import { STAGES, OUTCOMES } from '../workflows/messages.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Opens the Temporal client lazily, so `--help` and usage errors need no server. */
  connect: () => Promise<{ client: Client; queues: Queues; close: () => Promise<void> }>;
  /** Opens Remedy's database lazily, for commands that read the registry. */
  database: () => Promise<{ pool: Pool; close: () => Promise<void> }>;
  /** Output is a terminal: `watch` redraws in place. */
  tty?: boolean;
  /** Ends `watch` early (Ctrl-C). */
  signal?: AbortSignal;
}

/** Exit codes scripts can rely on: 3 is "drift found" from `remedy drift --fail-on-drift`. */
export const EXIT = { ok: 0, failure: 1, usage: 2, drift: 3 } as const;

class DriftFound extends Error {
  override name = 'DriftFound';
}

/** Some of a batch was refused (each refusal printed): exit 2, the accepted part stays. */
class PartialFailure extends Error {
  override name = 'PartialFailure';
}

function list(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new InvalidArgumentError(`"${value}" is not a comma-separated list of column names`);
  return items;
}

function limit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000)
    throw new InvalidArgumentError(`"${value}" is not a number in 1..1000`);
  return Number(value);
}

function share(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(n > 0 && n <= 1))
    throw new InvalidArgumentError(`"${value}" is not a share in (0, 1]`);
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(n >= 0.2 && n <= 60))
    throw new InvalidArgumentError(`"${value}" is not a number of seconds in 0.2..60`);
  return n;
}

function isoDate(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(`"${value}" is not a date: use YYYY-MM-DD or an ISO timestamp`);
  }
  return value.length === 10 ? `${value}T00:00:00Z` : value;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('remedy')
    .description('Remedy: durable remediation cycles for production ML models, on Temporal')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run "remedy --help" for usage)');

  const withClient = async <T>(fn: (c: { client: Client; queues: Queues }) => Promise<T>): Promise<T> => {
    const c = await io.connect();
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  };
  const print = (json: boolean | undefined, value: unknown, text: string) =>
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : text);

  program
    .command('start')
    .description('start a remediation cycle for a model over a window of its production log')
    .argument('<model>', 'model ID')
    .requiredOption('--from <date>', 'window start (YYYY-MM-DD or ISO timestamp)', isoDate)
    .requiredOption('--to <date>', 'window end, exclusive', isoDate)
    .option('--trigger <text>', 'why the cycle starts, kept in the audit trail', 'manual')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { from: string; to: string; trigger: string; json?: boolean }) => {
      const reviewBase = process.env['REMEDY_REVIEW_URL']?.trim();
      const started = await withClient(({ client, queues }) =>
        startCycle(
          client,
          queues,
          { modelId: model, window: { start: o.from, end: o.to }, trigger: o.trigger },
          reviewBase ? { reviewBase } : {},
        ),
      );
      print(o.json, started, `started ${started.cycleId}\n`);
    });

  program
    .command('status')
    .description("show a cycle's stage and the key numbers of every stage so far")
    .argument('<cycle>', 'cycle ID (remediation-<model>-<n>)')
    .option('--json', 'print JSON')
    .action(async (cycle: string, o: { json?: boolean }) => {
      const s = await withClient(({ client }) => cycleStatus(client, cycle));
      print(o.json, s, renderSummary(s));
    });

  program
    .command('wait')
    .description('wait for a cycle to close and print its summary')
    .argument('<cycle>', 'cycle ID')
    .option('--json', 'print JSON')
    .action(async (cycle: string, o: { json?: boolean }) => {
      const s = await withClient(({ client }) => waitForCycle(client, cycle));
      print(o.json, s, renderSummary(s));
    });

  program
    .command('list')
    .description('list cycles, newest first')
    .option('--model <id>', 'only this model')
    .option('--running', 'only open cycles')
    .addOption(new Option('--stage <stage>', 'only cycles in this stage').choices([...STAGES]))
    .addOption(
      new Option('--outcome <outcome>', 'only cycles closed with this outcome').choices([...OUTCOMES]),
    )
    .option('--json', 'print JSON')
    .action(
      async (o: { model?: string; running?: boolean; stage?: string; outcome?: string; json?: boolean }) => {
        const rows = await withClient(({ client }) =>
          listCycles(client, {
            ...(o.model ? { modelId: o.model } : {}),
            ...(o.running ? { running: true } : {}),
            ...(o.stage ? { stage: o.stage } : {}),
            ...(o.outcome ? { outcome: o.outcome } : {}),
          }),
        );
        const text =
          rows.length === 0
            ? 'no cycles\n'
            : rows
                .map(
                  (r) => `${r.cycleId}\t${r.status}\t${r.stage ?? '-'}\t${r.outcome ?? '-'}\t${r.startTime}`,
                )
                .join('\n') + '\n';
        print(o.json, rows, text);
      },
    );

  program
    .command('pending')
    .description('list the label requests of a cycle that still wait for an answer')
    .argument('<cycle>', 'cycle ID')
    .option('--json', 'print JSON')
    .action(async (cycle: string, o: { json?: boolean }) => {
      const s = await withClient(({ client }) => pendingLabels(client, cycle));
      const extra = [
        s.batch ? `batch ${s.batch.current} of ${s.batch.of}` : '',
        s.agreement && s.agreement.kappa !== null
          ? `agreement kappa ${s.agreement.kappa.toFixed(2)} on ${s.agreement.pairs} items (gate ${s.agreement.minKappa})`
          : '',
        s.parkedFor ? `parked for ${s.parkedFor === 'agreement' ? 'low agreement' : 'too few labels'}` : '',
      ].filter(Boolean);
      const head = `campaign ${s.campaignId}: ${s.answered}/${s.requested} answered, deadline ${s.deadlineAt} (${s.state}); labels: ${s.labelSet.join(', ')}${extra.length ? `; ${extra.join('; ')}` : ''}\n`;
      const body = s.pending
        .map(
          (p) =>
            `${p.recordKey}\tguess=${p.guess} (${(p.confidence * 100).toFixed(0)}%)\t${JSON.stringify(p.features)}` +
            (p.needs
              ? `\t${p.needs} reviewers, answered by: ${(p.reviewedBy ?? []).join(', ') || 'nobody yet'}`
              : ''),
        )
        .join('\n');
      print(o.json, s, head + (body ? `${body}\n` : ''));
    });

  program
    .command('label')
    .description('answer one label request')
    .argument('<cycle>', 'cycle ID')
    .argument('<recordKey>', 'the item to label (see "remedy pending")')
    .argument('<label>', 'the label')
    .requiredOption('--reviewer <name>', 'who is answering')
    .option('--json', 'print JSON')
    .action(
      async (cycle: string, recordKey: string, label: string, o: { reviewer: string; json?: boolean }) => {
        const r = await withClient(({ client }) =>
          submitLabel(client, cycle, { recordKey, label, reviewer: o.reviewer, via: 'cli' }),
        );
        print(
          o.json,
          r,
          `${r.duplicate ? 'already labeled' : 'labeled'} ${r.recordKey} = ${r.label}; ${r.remaining} remaining` +
            (r.awaiting
              ? ` (the item waits for ${r.awaiting} more reviewer${r.awaiting > 1 ? 's' : ''})`
              : '') +
            '\n',
        );
      },
    );

  for (const [name, approve] of [
    ['approve', true],
    ['reject', false],
  ] as const) {
    program
      .command(name)
      .description(
        approve
          ? 'approve the rollout of a cycle waiting for approval'
          : 'reject the candidate of a cycle waiting for approval',
      )
      .argument('<cycle>', 'cycle ID')
      .requiredOption('--approver <name>', 'who decides')
      .option('--reason <text>', 'why, kept in the audit trail')
      .action(async (cycle: string, o: { approver: string; reason?: string }) => {
        await withClient(({ client }) =>
          approveRollout(client, cycle, { approver: o.approver, approve, reason: o.reason }),
        );
        io.out(`${approve ? 'approved' : 'rejected'} ${cycle}\n`);
      });
  }

  program
    .command('rollback')
    .description('roll a cycle back to the champion now, at any point of its rollout')
    .argument('<cycle>', 'cycle ID')
    .requiredOption('--actor <name>', 'who asks')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { actor: string; reason?: string }) => {
      await withClient(({ client }) => forceRollback(client, cycle, { actor: o.actor, reason: o.reason }));
      io.out(`rollback requested for ${cycle}\n`);
    });

  program
    .command('promote')
    .description('promote the candidate now, skipping the remaining rollout steps')
    .argument('<cycle>', 'cycle ID')
    .requiredOption('--actor <name>', 'who decides')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { actor: string; reason?: string }) => {
      await withClient(({ client }) => promoteNow(client, cycle, { actor: o.actor, reason: o.reason }));
      io.out(`promotion requested for ${cycle}\n`);
    });

  program
    .command('approve-full')
    .description('approve (or with --deny, refuse) the last rollout step to 100% when the policy asks for it')
    .argument('<cycle>', 'cycle ID')
    .requiredOption('--approver <name>', 'who decides')
    .option('--deny', 'refuse instead: the candidate is rolled back')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { approver: string; deny?: boolean; reason?: string }) => {
      await withClient(({ client }) =>
        approveFull(client, cycle, { approver: o.approver, approve: !o.deny, reason: o.reason }),
      );
      io.out(`${o.deny ? 'refused' : 'approved'} 100% for ${cycle}\n`);
    });

  program
    .command('resolve')
    .description('answer a rollout paused on an inconclusive analysis')
    .argument('<cycle>', 'cycle ID')
    .addArgument(
      new Command().createArgument('<decision>', 'continue or rollback').choices(['continue', 'rollback']),
    )
    .requiredOption('--actor <name>', 'who decides')
    .action(async (cycle: string, decision: 'continue' | 'rollback', o: { actor: string }) => {
      await withClient(({ client }) => resolvePause(client, cycle, { actor: o.actor, decision }));
      io.out(`${decision} sent to ${cycle}\n`);
    });

  program
    .command('abort')
    .description('abort a cycle: traffic returns to the champion and the cycle closes as aborted')
    .argument('<cycle>', 'cycle ID')
    .action(async (cycle: string) => {
      await withClient(({ client }) => abortCycle(client, cycle));
      io.out(`abort requested for ${cycle}\n`);
    });

  program
    .command('card')
    .description(
      "print a candidate's model card: data, metrics vs champion, slices, calibration, gates, lineage",
    )
    .argument('<model>', 'model ID')
    .argument('<version>', 'model version', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not a version number`);
      return Number(v);
    })
    .option('--html', 'print the HTML page instead of Markdown')
    .action(async (model: string, version: number, o: { html?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const card = await db.getModelCard(pool, model, version);
        if (!card)
          throw new UserError(
            `no model card for ${model} v${version}: cards are written when a cycle evaluates a candidate`,
          );
        io.out(o.html ? card.html : card.markdown);
      } finally {
        await close();
      }
    });

  program
    .command('drift')
    .description(
      'drift report between a reference file and a current file (CSV or Parquet), no server needed',
    )
    .requiredOption('--reference <file>', 'reference data (.csv or .parquet)')
    .requiredOption('--current <file>', 'current window (.csv or .parquet), same columns')
    .addOption(
      new Option('--test <name>', 'force this test for every feature it applies to').choices([...TEST_NAMES]),
    )
    .option('--numeric <columns>', 'treat these columns as numeric (comma-separated)', list)
    .option('--categorical <columns>', 'treat these columns as categorical (comma-separated)', list)
    .option('--drift-share <share>', 'dataset drift when at least this share of features drifted', share)
    .addOption(
      new Option('--correction <method>', 'multiple-testing correction for p-value tests').choices([
        'none',
        'bonferroni',
        'benjamini-hochberg',
      ]),
    )
    .option('--fail-on-drift', `exit with code ${EXIT.drift} when the dataset drifted`)
    .option('--json', 'print one JSON document: {features: [...], dataset: {drifted, share}}')
    .addHelpText(
      'after',
      `
Tests: ks, chisquare, ztest (p-values: drift when p < threshold, KS at p <= threshold), wasserstein (normalised by
the reference's standard deviation), jensenshannon, psi (distances: drift when >= threshold). By default each
feature gets the test practitioners expect: reference <= 1000 rows: KS for numeric columns with more than 5
values, z-test for two values, chi-square otherwise; larger references: Wasserstein or Jensen-Shannon.
Columns are numeric when every non-empty reference value is a number; timestamps are not tested.

Example: remedy drift --reference jan.parquet --current feb.parquet --json`,
    )
    .action(
      async (o: {
        reference: string;
        current: string;
        test?: TestName;
        numeric?: string[];
        categorical?: string[];
        driftShare?: number;
        correction?: 'none' | 'bonferroni' | 'benjamini-hochberg';
        failOnDrift?: boolean;
        json?: boolean;
      }) => {
        const run = await offlineDrift(o.reference, o.current, {
          ...(o.test ? { test: o.test } : {}),
          ...(o.numeric ? { numeric: o.numeric } : {}),
          ...(o.categorical ? { categorical: o.categorical } : {}),
          ...(o.driftShare !== undefined ? { driftShare: o.driftShare } : {}),
          ...(o.correction ? { correction: o.correction } : {}),
        });
        print(o.json, run.report, renderOffline(run));
        if (o.failOnDrift && run.report.dataset.drifted) throw new DriftFound();
      },
    );

  const withBoth = async <T>(
    fn: (c: { client: Client; queues: Queues; pool: Pool }) => Promise<T>,
  ): Promise<T> => {
    const { pool, close } = await io.database();
    try {
      return await withClient(({ client, queues }) => fn({ client, queues, pool }));
    } finally {
      await close();
    }
  };
  const renderMonitor = (m: MonitorDescription) =>
    [
      `monitor ${m.scheduleId} for ${m.modelId}: ${m.paused ? 'PAUSED' : 'active'}${m.note ? ` (${m.note})` : ''}`,
      `  every ${m.every ?? '?'}, ${m.mode ?? '?'} windows of ${m.windowMs === null ? '?' : `${m.windowMs / 1000}s`}${m.nextStart ? `, next window starts ${m.nextStart}` : ''}`,
      `  next runs: ${m.nextRuns.join(', ') || '-'}`,
      ...m.recentRuns.map((r) => `  ran ${r.takenAt}: ${r.workflowId}`),
    ].join('\n') + '\n';

  const monitor = program
    .command('monitor')
    .description(
      "a model's drift monitor: a Temporal Schedule that checks the latest window and starts cycles",
    );
  monitor
    .command('create')
    .description('create the monitor of a model')
    .argument('<model>', 'model ID')
    .option('--every <duration>', 'how often to check (e.g. 1h, 1d)', '1h')
    .option('--window <duration>', 'how much of the log each check looks at', '1d')
    .addOption(
      new Option(
        '--mode <mode>',
        'clock: the window ending now; cursor: the next unchecked window (backfill)',
      )
        .choices(['clock', 'cursor'])
        .default('clock'),
    )
    .option('--start <date>', 'cursor mode: where the first window starts', isoDate)
    .option('--paused', 'create it paused')
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        o: {
          every: string;
          window: string;
          mode: 'clock' | 'cursor';
          start?: string;
          paused?: boolean;
          json?: boolean;
        },
      ) => {
        const m = await withBoth(({ client, queues, pool }) =>
          createMonitor(client, pool, queues, {
            modelId: model,
            every: o.every,
            window: o.window,
            mode: o.mode,
            ...(o.start ? { start: o.start } : {}),
            paused: o.paused === true,
          }),
        );
        print(o.json, m, renderMonitor(m));
      },
    );
  monitor
    .command('show')
    .description("show a monitor's state, next runs and recent runs")
    .argument('<model>', 'model ID')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { json?: boolean }) => {
      const m = await withBoth(({ client, pool }) => describeMonitor(client, pool, model));
      print(o.json, m, renderMonitor(m));
    });
  for (const [name, fn] of [
    ['pause', pauseMonitor],
    ['resume', resumeMonitor],
  ] as const) {
    monitor
      .command(name)
      .description(`${name} a model's monitor`)
      .argument('<model>', 'model ID')
      .option('--note <text>', 'why, shown in the Web UI')
      .action(async (model: string, o: { note?: string }) => {
        await withClient(({ client }) => fn(client, model, o.note));
        io.out(`${name === 'pause' ? 'paused' : 'resumed'} the monitor of ${model}\n`);
      });
  }
  monitor
    .command('trigger')
    .description('run a check now (skipped while a check runs)')
    .argument('<model>', 'model ID')
    .option('--wait', 'wait for the check and print its result')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { wait?: boolean; json?: boolean }) => {
      const r = await withClient(({ client }) => triggerMonitor(client, model, { wait: o.wait === true }));
      if (!r) return io.out(o.json ? '{"triggered":true}\n' : `triggered a check of ${model}\n`);
      const w = r.check?.window;
      print(
        o.json,
        r,
        `${r.state}${w ? ` ${w.start} .. ${w.end}` : ''}: ${r.reason}${r.cycleId ? `\ncycle: ${r.cycleId}` : ''}\n`,
      );
    });
  monitor
    .command('delete')
    .description("delete a model's monitor (its checks stay in the database)")
    .argument('<model>', 'model ID')
    .action(async (model: string) => {
      await withBoth(({ client, pool }) => deleteMonitor(client, pool, model));
      io.out(`deleted the monitor of ${model}\n`);
    });
  monitor
    .command('checks')
    .description("list a model's drift checks, newest first")
    .argument('<model>', 'model ID')
    .option('--limit <n>', 'at most this many (1..1000)', limit, 20)
    .option('--json', 'print JSON')
    .action(async (model: string, o: { limit: number; json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const rows = await db.listDriftChecks(pool, model, o.limit);
        const text =
          rows.length === 0
            ? `no checks for ${model}\n`
            : rows
                .map(
                  (r) =>
                    `${r.window.start} .. ${r.window.end}\t${r.route}\tstreak ${r.streak}${r.persistent ? ' (persistent)' : ''}\t${r.cycleId ?? '-'}\t${r.reason}`,
                )
                .join('\n') + '\n';
        print(o.json, rows, text);
      } finally {
        await close();
      }
    });

  const labels = program
    .command('labels')
    .description(
      "a cycle's labeling campaign: answer from a CSV file, extend its deadline, decide when it is parked",
    );
  labels
    .command('import')
    .description(
      'answer label requests from a CSV file with the columns recordKey,label (and optionally reviewer)',
    )
    .argument('<cycle>', 'cycle ID')
    .argument('<file>', 'CSV file')
    .requiredOption('--reviewer <name>', 'who is answering (rows may name their own reviewer)')
    .option('--json', 'print JSON')
    .action(async (cycle: string, file: string, o: { reviewer: string; json?: boolean }) => {
      let csv: string;
      try {
        csv = await readFile(file, 'utf8');
      } catch (err) {
        throw new UserError(
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err)}`,
        );
      }
      const rows = await withClient(({ client }) => importLabels(client, cycle, csv, o.reviewer));
      const count = (r: string) => rows.filter((x) => x.result === r).length;
      const refused = rows.filter((r) => r.result === 'refused');
      print(
        o.json,
        rows,
        `${count('labeled')} labeled, ${count('duplicate')} already labeled, ${refused.length} refused\n` +
          refused.map((r) => `line ${r.line} (${r.recordKey}): ${r.message}\n`).join(''),
      );
      if (refused.length > 0) throw new PartialFailure();
    });
  labels
    .command('extend')
    .description("move a campaign's deadline later (also unparks a parked campaign)")
    .argument('<cycle>', 'cycle ID')
    .requiredOption('--by <duration>', 'how much later, e.g. 24h')
    .requiredOption('--actor <name>', 'who decides')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { by: string; actor: string; reason?: string }) => {
      const r = await withClient(({ client }) =>
        extendDeadline(client, cycle, {
          by: o.by,
          actor: o.actor,
          ...(o.reason ? { reason: o.reason } : {}),
        }),
      );
      io.out(`deadline of ${cycle} is now ${r.deadlineAt}\n`);
    });
  labels
    .command('decide')
    .description(
      'decide a parked campaign: extend (with --by), proceed with what is labeled, or abort the cycle',
    )
    .argument('<cycle>', 'cycle ID')
    .addArgument(
      new Command()
        .createArgument('<decision>', 'extend, proceed or abort')
        .choices(['extend', 'proceed', 'abort']),
    )
    .requiredOption('--actor <name>', 'who decides')
    .option('--by <duration>', 'with extend: how much more time, e.g. 24h')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(
      async (
        cycle: string,
        decision: 'extend' | 'proceed' | 'abort',
        o: { actor: string; by?: string; reason?: string },
      ) => {
        await withClient(({ client }) =>
          decideCampaign(client, cycle, {
            decision,
            actor: o.actor,
            ...(o.by ? { by: o.by } : {}),
            ...(o.reason ? { reason: o.reason } : {}),
          }),
        );
        io.out(`${decision} sent to ${cycle}\n`);
      },
    );

  const kindOption = () =>
    new Option('--kind <kind>', 'volume: failure volume; schedule: a cycle on a cadence')
      .choices(['volume', 'schedule'])
      .makeOptionMandatory();
  const triggers = program
    .command('triggers')
    .description('the volume and schedule triggers of a model (the drift trigger is "remedy monitor")');
  triggers
    .command('create')
    .description("create a model's volume trigger (volume-<model>) or schedule trigger (retrain-<model>)")
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .option('--every <duration>', 'how often it runs (e.g. 10m, 7d)', '1h')
    .option('--paused', 'create it paused')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
volume: starts a cycle after triggers.volume.newLabeledFailures labeled failures since the last cycle, or
when one failure pattern is triggers.volume.patternShare of the labeled failures in the trailing window.
schedule: starts a cycle over the latest triggers.scheduleWindow of the log, every time.
Either attaches itself to the model's open cycle as evidence instead of starting a second one.`,
    )
    .action(
      async (
        model: string,
        o: { kind: 'volume' | 'schedule'; every: string; paused?: boolean; json?: boolean },
      ) => {
        const m = await withBoth(({ client, queues, pool }) =>
          createTrigger(client, pool, queues, {
            modelId: model,
            kind: o.kind,
            every: o.every,
            paused: o.paused === true,
          }),
        );
        print(o.json, m, renderMonitor(m));
      },
    );
  triggers
    .command('run')
    .description('run a trigger now')
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .option('--wait', 'wait for it and print the result')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { kind: 'volume' | 'schedule'; wait?: boolean; json?: boolean }) => {
      const r = await withClient(({ client }) =>
        triggerMonitor(client, model, { wait: o.wait === true, kind: o.kind }),
      );
      if (!r)
        return io.out(o.json ? '{"triggered":true}\n' : `triggered the ${o.kind} trigger of ${model}\n`);
      print(o.json, r, `${r.state}: ${r.reason}${r.cycleId ? `\ncycle: ${r.cycleId}` : ''}\n`);
    });
  triggers
    .command('show')
    .description("show a trigger's state, next runs and recent runs")
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .option('--json', 'print JSON')
    .action(async (model: string, o: { kind: 'volume' | 'schedule'; json?: boolean }) => {
      const m = await withBoth(({ client, pool }) => describeMonitor(client, pool, model, o.kind));
      print(o.json, m, renderMonitor(m));
    });
  for (const [name, fn] of [
    ['pause', pauseMonitor],
    ['resume', resumeMonitor],
  ] as const) {
    triggers
      .command(name)
      .description(`${name} a trigger`)
      .argument('<model>', 'model ID')
      .addOption(kindOption())
      .option('--note <text>', 'why, shown in the Web UI')
      .action(async (model: string, o: { kind: 'volume' | 'schedule'; note?: string }) => {
        await withClient(({ client }) => fn(client, model, o.note, o.kind));
        io.out(`${name === 'pause' ? 'paused' : 'resumed'} the ${o.kind} trigger of ${model}\n`);
      });
  }
  triggers
    .command('delete')
    .description('delete a trigger')
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .action(async (model: string, o: { kind: 'volume' | 'schedule' }) => {
      await withBoth(({ client, pool }) => deleteMonitor(client, pool, model, o.kind));
      io.out(`deleted the ${o.kind} trigger of ${model}\n`);
    });

  const failures = program
    .command('failures')
    .description('the failure catalog: production cases flagged by the gateway and by feedback');
  failures
    .command('patterns')
    .description(
      "a model's failure patterns with case counts, trend and status (open / fixed / regressed / still-open)",
    )
    .argument('<model>', 'model ID')
    .option('--since <date>', 'only cases from this time on', isoDate)
    .addOption(new Option('--by <period>', 'trend buckets').choices(['week', 'month']).default('month'))
    .option('--json', 'print JSON')
    .action(async (model: string, o: { since?: string; by: 'week' | 'month'; json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const rows = await db.failurePatterns(pool, model, {
          bucket: o.by,
          ...(o.since ? { since: o.since } : {}),
        });
        const text =
          rows.length === 0
            ? `no failure cases for ${model}\n`
            : rows
                .map(
                  (r) =>
                    `${String(r.cases).padStart(6)}  ${r.status.padEnd(10)} ${r.patternKey}\n        ${r.description}; trend ${r.trend
                      .slice(-6)
                      .map((t) => `${t.period.slice(0, 7)}:${t.cases}`)
                      .join(' ')}${r.lastCycleId ? `; last cycle ${r.lastCycleId}` : ''}`,
                )
                .join('\n') + '\n';
        print(o.json, rows, text);
      } finally {
        await close();
      }
    });
  failures
    .command('list')
    .description("a model's failure cases, newest first")
    .argument('<model>', 'model ID')
    .option('--pattern <key>', 'only this pattern')
    .addOption(new Option('--kind <kind>', 'only this kind').choices([...CASE_KINDS]))
    .option('--limit <n>', 'at most this many (1..1000)', limit, 20)
    .option('--json', 'print JSON')
    .action(async (model: string, o: { pattern?: string; kind?: string; limit: number; json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const rows = await db.failureCases(pool, model, {
          limit: o.limit,
          ...(o.pattern ? { pattern: o.pattern } : {}),
          ...(o.kind ? { kind: o.kind } : {}),
        });
        const text =
          rows.length === 0
            ? 'no cases\n'
            : rows
                .map(
                  (r) =>
                    `${r.occurredAt}\t${r.kind}\t${r.severity}\tv${r.version} ${r.predicted} (${(r.confidence * 100).toFixed(0)}%)${r.truth ? ` truth ${r.truth}` : ''}\t${r.recordKey}\t${r.patternKey}`,
                )
                .join('\n') + '\n';
        print(o.json, rows, text);
      } finally {
        await close();
      }
    });

  program
    .command('watch')
    .description('follow a cycle live: every stage with its duration, progress bars on labeling and rollout')
    .argument('<cycle>', 'cycle ID')
    .option('--interval <seconds>', 'refresh period in seconds (0.2..60)', seconds, 1)
    .option('--json', 'print the final summary as JSON')
    .action(async (cycle: string, o: { interval: number; json?: boolean }) => {
      const s = await withClient(({ client }) =>
        watchCycle(client, cycle, {
          out: o.json ? () => {} : io.out,
          tty: io.tty === true && !o.json,
          intervalMs: o.interval * 1000,
          ...(io.signal ? { signal: io.signal } : {}),
        }),
      );
      if (o.json) print(true, s, '');
      else if (s.outcome) io.out(`closed: ${s.outcome}${s.reason ? ` — ${s.reason}` : ''}\n`);
    });

  program
    .command('report')
    .description(
      "a cycle's report: timeline, drift charts per feature, labeling, candidate vs champion, rollout, audit",
    )
    .argument('<cycle>', 'cycle ID')
    .addOption(
      new Option('--format <format>', 'with --out: html or md').choices(['html', 'md']).default('html'),
    )
    .option('--out <file>', 'write one format to this file ("-" for standard output)')
    .option('--json', 'print the report data as JSON')
    .action(async (cycle: string, o: { format: 'html' | 'md'; out?: string; json?: boolean }) => {
      if (!/^[A-Za-z0-9][\w.-]{0,200}$/.test(cycle))
        throw new UserError(`"${cycle}" is not a cycle ID: they look like remediation-<model>-<n>`);
      const { pool, close } = await io.database();
      // A running cycle's stages come from its workflow; without Temporal, the database's record is shown.
      let temporal: Awaited<ReturnType<CliIo['connect']>> | null = null;
      try {
        temporal = await io.connect();
      } catch {
        temporal = null;
      }
      try {
        const webUiBase = process.env['REMEDY_WEB_UI_URL']?.trim();
        const opts: ReportOptions = {
          ...(temporal ? { client: temporal.client } : {}),
          ...(webUiBase ? { webUiBase } : {}),
        };
        if (o.json) {
          print(true, await loadCycleReport(pool, cycle, opts), '');
        } else if (o.out) {
          const text = renderReport(await loadCycleReport(pool, cycle, opts), o.format);
          if (o.out === '-') io.out(text);
          else {
            await writeFile(o.out, text).catch((err: unknown) => {
              throw new UserError(`cannot write ${o.out}: ${(err as Error).message}`);
            });
            io.out(`wrote ${o.out}\n`);
          }
        } else {
          const files = await writeReport(pool, cycle, opts);
          io.out(`wrote ${files.html}\n  and ${files.markdown}\nopen file://${files.html}\n`);
        }
      } finally {
        await temporal?.close();
        await close();
      }
    });

  const models = program.command('models').description('register models and see their versions');
  models
    .command('register')
    .description(
      'register a model (or update its policy) from a JSON definition, training its first champion on reference data',
    )
    .argument('<definition>', 'JSON file: { modelId, labelSet, features: { numeric, categorical }, policy }')
    .requiredOption(
      '--reference <file>',
      'labeled reference data (.csv, .ndjson or .jsonl), needed the first time',
    )
    .option('--key-column <name>', "column holding each row's unique key", 'record_key')
    .option('--time-column <name>', "column holding each row's time", 'ts')
    .option('--label-column <name>', 'column holding the label', 'label')
    .option('--json', 'print JSON')
    .action(
      async (
        file: string,
        o: { reference: string; keyColumn: string; timeColumn: string; labelColumn: string; json?: boolean },
      ) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          throw new UserError(
            `cannot read the definition ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
          );
        }
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch (err) {
          throw new UserError(
            `${file} is not JSON (${(err as Error).message.split('\n')[0]}): a definition is one JSON object, { "modelId", "labelSet", "features", "policy" }`,
          );
        }
        const parsed = ModelDefinition.safeParse(raw);
        if (!parsed.success)
          throw new UserError(`${file} is not a valid model definition: ${describeZodError(parsed.error)}`);
        const def = parsed.data;
        const columns: Columns = { key: o.keyColumn, time: o.timeColumn, label: o.labelColumn };
        const checked = checkRows(await readRows(o.reference), def, columns, { labelRequired: true });
        if (checked.rejected.length > 0) {
          io.err(
            `remedy: ${o.reference}: ${checked.rejected.length} rows refused, nothing registered:\n${rejectionReport(o.reference, checked.rejected)}`,
          );
          throw new PartialFailure('reference refused');
        }
        if (checked.rows.length < 10)
          throw new UserError(`${o.reference} has ${checked.rows.length} rows; a champion needs at least 10`);
        const { pool, close } = await io.database();
        try {
          const r = await registerModelWithChampion(
            pool,
            def,
            checked.rows.map((x) => ({
              recordKey: x.recordKey,
              ts: x.ts,
              features: x.features,
              label: x.feedback!,
            })),
          );
          print(
            o.json,
            { modelId: def.modelId, ...r },
            `registered ${def.modelId}: champion v${r.version}, holdout accuracy ${(r.baselineAccuracy * 100).toFixed(1)}% (${r.trainRows} train, ${r.holdoutRows} holdout rows); policy from ${file}\n`,
          );
        } finally {
          await close();
        }
      },
    );
  models
    .command('show')
    .description("a model's labels, features, champion, candidate, traffic split, versions and open cycle")
    .argument('<model>', 'model ID')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const def = await db.getModel(pool, model);
        if (!def) throw new UserError(`no model "${model}": see "remedy models list" or register it`);
        const versions = await db.listModelVersions(pool, model);
        const traffic = await db.getTraffic(pool, model);
        const open = await db.openCycle(pool, model);
        const value = {
          ...def,
          versions: versions.map((v) => ({
            version: v.version,
            status: v.status,
            cycleId: v.cycle_id,
            createdAt: v.created_at.toISOString(),
            holdoutAccuracy:
              typeof v.metrics['holdoutAccuracy'] === 'number' ? v.metrics['holdoutAccuracy'] : null,
          })),
          traffic,
          openCycle: open ? { cycleId: open.cycle_id, stage: open.stage } : null,
        };
        const t = value.traffic;
        const text = [
          `model ${def.modelId}`,
          `  labels: ${def.labelSet.join(', ')}`,
          `  numeric features: ${def.features.numeric.join(', ') || '-'}`,
          `  categorical features: ${def.features.categorical.join(', ') || '-'}`,
          `  traffic: ${t ? `champion v${t.championVersion}${t.candidateVersion !== null ? `, candidate v${t.candidateVersion} at ${t.candidateWeight}%` : ''}` : '-'}`,
          `  open cycle: ${value.openCycle ? `${value.openCycle.cycleId} (${value.openCycle.stage})` : 'none'}`,
          '  versions:',
          ...value.versions.map(
            (v) =>
              `    v${v.version}\t${v.status}\t${v.holdoutAccuracy === null ? '' : `holdout ${(v.holdoutAccuracy * 100).toFixed(1)}%\t`}${v.cycleId ?? 'registered'}\t${v.createdAt}`,
          ),
        ].join('\n');
        print(o.json, value, `${text}\n`);
      } finally {
        await close();
      }
    });
  models
    .command('list')
    .description('registered models with their champion and open cycle')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const rows = await db.listModels(pool);
        const value = rows.map((r) => ({
          modelId: r.model_id,
          champion: r.champion,
          openCycle: r.open_cycle,
        }));
        const text =
          value.length === 0
            ? 'no models: register one with "remedy models register"\n'
            : value
                .map(
                  (m) =>
                    `${m.modelId}\t${m.champion === null ? '-' : `v${m.champion}`}\t${m.openCycle ?? '-'}`,
                )
                .join('\n') + '\n';
        print(o.json, value, text);
      } finally {
        await close();
      }
    });

  program
    .command('ingest')
    .description(
      "add rows to a model's production log from CSV or NDJSON; every row is checked, a bad one refuses the file",
    )
    .argument('<model>', 'model ID')
    .argument(
      '<file>',
      '.csv, .ndjson or .jsonl: a key, a time, the features and optionally the ground truth',
    )
    .option('--key-column <name>', "column holding each row's unique key", 'record_key')
    .option('--time-column <name>', "column holding each row's time", 'ts')
    .option('--label-column <name>', 'column holding the ground truth, when known', 'feedback')
    .option(
      '--skip-invalid',
      'write the valid rows and report the refused ones, instead of refusing the file',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        file: string,
        o: {
          keyColumn: string;
          timeColumn: string;
          labelColumn: string;
          skipInvalid?: boolean;
          json?: boolean;
        },
      ) => {
        const raw = await readRows(file);
        const { pool, close } = await io.database();
        try {
          const def = await db.getModel(pool, model);
          if (!def)
            throw new UserError(`no model "${model}": register it first with "remedy models register"`);
          const columns: Columns = { key: o.keyColumn, time: o.timeColumn, label: o.labelColumn };
          const checked = checkRows(raw, def, columns, { labelRequired: false });
          const result = {
            file,
            rows: raw.length,
            valid: checked.rows.length,
            rejected: checked.rejected,
            added: 0,
            alreadyLogged: 0,
          };
          if (checked.rejected.length > 0 && !o.skipInvalid) {
            if (o.json) print(true, result, '');
            io.err(
              `remedy: ${file}: ${checked.rejected.length} of ${raw.length} rows refused; nothing was written (fix them, or pass --skip-invalid):\n${rejectionReport(file, checked.rejected)}`,
            );
            throw new PartialFailure('ingest refused');
          }
          // One transaction: the file lands whole or not at all. Keys already logged are left as they are.
          result.added = await withTransaction(pool, (c) => db.insertRecords(c, model, checked.rows));
          result.alreadyLogged = checked.rows.length - result.added;
          print(
            o.json,
            result,
            `${file}: ${result.added} rows added to ${model}'s log, ${result.alreadyLogged} already there` +
              (checked.rejected.length > 0
                ? `, ${checked.rejected.length} refused:\n${rejectionReport(file, checked.rejected)}`
                : '\n'),
          );
          if (checked.rejected.length > 0) throw new PartialFailure('some rows refused');
        } finally {
          await close();
        }
      },
    );

  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof DriftFound) return EXIT.drift;
    if (err instanceof PartialFailure) return EXIT.usage;
    if (err instanceof UserError || err instanceof ConfigError) {
      io.err(`remedy: ${err.message}\n`);
      return EXIT.usage;
    }
    io.err(`remedy: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}

export function defaultDatabase(): CliIo['database'] {
  return () => {
    const { databaseUrl } = loadDatabaseConfig();
    if (!databaseUrl) {
      return Promise.reject(
        new UserError('this command reads the registry: set DATABASE_URL (npm run dev prints it)'),
      );
    }
    const pool = createPool(databaseUrl, 1);
    return Promise.resolve({ pool, close: () => pool.end() });
  };
}

/** Payload encryption when REMEDY_CODEC_KEYS is set (the worker must have the same keys). */
function codecOption(): { dataConverter?: DataConverter } {
  try {
    const dataConverter = dataConverterFromEnv();
    return dataConverter ? { dataConverter } : {};
  } catch (err) {
    throw new ConfigError([{ variable: 'REMEDY_CODEC_KEYS', message: (err as Error).message }]);
  }
}

export function defaultConnect(): CliIo['connect'] {
  return async () => {
    const config = loadTemporalConfig();
    let connection: Connection;
    try {
      connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '5s' });
    } catch (err) {
      throw new UserError(
        `cannot reach Temporal at ${config.address} (${err instanceof Error ? err.message : String(err)}): start it with "npm run dev" or set TEMPORAL_ADDRESS`,
      );
    }
    return {
      client: new Client({ connection, namespace: config.namespace, ...codecOption() }),
      queues: config,
      close: () => connection.close(),
    };
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const interrupted = new AbortController();
  process.once('SIGINT', () => interrupted.abort());
  const code = await runCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    connect: defaultConnect(),
    database: defaultDatabase(),
    tty: process.stdout.isTTY,
    signal: interrupted.signal,
  });
  process.exit(code);
}
