/**
 * `remedy card`, `watch`, `report`: reading what a cycle did.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { UserError } from '../ops/user-error.js';
import * as db from '../db/index.js';
import { loadCycleReport, renderReport, writeReport, type ReportOptions } from '../ops/report.js';
import { watchCycle } from '../ops/watch.js';
import { writeFile } from 'node:fs/promises';
import { type CliContext, seconds, type CliIo } from './shared.js';

/** A candidate's model card. */
export function registerCardCommand(program: Command, { io }: CliContext): void {
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
}

/** A cycle's live stage view and its report. */
export function registerReportCommands(program: Command, { io, withClient, print }: CliContext): void {
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
}
