/**
 * `remedy monitor …`: scheduled drift checks per model.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import * as db from '../db/index.js';
import {
  createMonitor,
  deleteMonitor,
  describeMonitor,
  pauseMonitor,
  resumeMonitor,
  triggerMonitor,
  type MonitorDescription,
} from '../ops/monitor.js';
import { type CliContext, limit, isoDate } from './shared.js';

/** A monitor as `remedy monitor show` prints it. */
export const renderMonitor = (m: MonitorDescription) =>
  [
    `monitor ${m.scheduleId} for ${m.modelId}: ${m.paused ? 'PAUSED' : 'active'}${m.note ? ` (${m.note})` : ''}`,
    `  every ${m.every ?? '?'}, ${m.mode ?? '?'} windows of ${m.windowMs === null ? '?' : `${m.windowMs / 1000}s`}${m.nextStart ? `, next window starts ${m.nextStart}` : ''}`,
    `  next runs: ${m.nextRuns.join(', ') || '-'}`,
    ...m.recentRuns.map((r) => `  ran ${r.takenAt}: ${r.workflowId}`),
  ].join('\n') + '\n';

/** Creating, showing, running and deleting monitors, and their checks. */
export function registerMonitorCommands(
  program: Command,
  { io, withClient, withBoth, print }: CliContext,
): void {
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
                    `${r.window.start} .. ${r.window.end}\t${r.route}\tstreak ${r.streak}${r.persistent ? ' (persistent)' : ''}\t${r.cycleId ?? r.suppressed ?? '-'}\t${r.reason}`,
                )
                .join('\n') + '\n';
        print(o.json, rows, text);
      } finally {
        await close();
      }
    });
}
