/**
 * `remedy start`, `status`, `wait`, `list`: starting cycles and following them.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Pool } from 'pg';
import * as db from '../db/index.js';
import { UserError } from '../ops/user-error.js';
import { cycleStatus, listCycles, startCycle, waitForCycle } from '../ops/cycles.js';
import { renderSummary } from '../ops/render.js';
import { STAGES, OUTCOMES } from '../workflows/messages.js';
import { type CliContext, isoDate, positiveInt } from './shared.js';

/** A cycle started with --candidate needs a candidate version no other cycle has taken. */
async function checkExternalCandidate(pool: Pool, model: string, version: number): Promise<void> {
  const versions = await db.listModelVersions(pool, model);
  const v = versions.find((x) => x.version === version);
  if (!v || v.status !== 'candidate' || v.cycle_id !== null)
    throw new UserError(
      `${model} v${version} ${!v ? 'does not exist' : v.status !== 'candidate' ? `is ${v.status}, not a candidate` : `was already evaluated by ${v.cycle_id}`}: add a model with "remedy models add-version ${model} <file.onnx>" and pass the version it prints`,
    );
}

/** Starting a cycle, its status, waiting for it, and listing cycles. */
export function registerCycleCommands(program: Command, { withClient, withBoth, print }: CliContext): void {
  program
    .command('start')
    .description('start a remediation cycle for a model over a window of its production log')
    .argument('<model>', 'model ID')
    .requiredOption('--from <date>', 'window start (YYYY-MM-DD or ISO timestamp)', isoDate)
    .requiredOption('--to <date>', 'window end, exclusive', isoDate)
    .option('--trigger <text>', 'why the cycle starts, kept in the audit trail', 'manual')
    .option(
      '--candidate <version>',
      'evaluate and roll out this version (added with "remedy models add-version") instead of training one',
      positiveInt,
    )
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        o: { from: string; to: string; trigger: string; candidate?: number; json?: boolean },
      ) => {
        const reviewBase = process.env['REMEDY_REVIEW_URL']?.trim();
        const started = await withBoth(async ({ client, queues, pool }) => {
          if (o.candidate !== undefined) await checkExternalCandidate(pool, model, o.candidate);
          return startCycle(
            client,
            queues,
            {
              modelId: model,
              window: { start: o.from, end: o.to },
              trigger: o.trigger,
              ...(o.candidate !== undefined ? { candidateVersion: o.candidate } : {}),
            },
            reviewBase ? { reviewBase } : {},
          );
        });
        print(o.json, started, `started ${started.cycleId}\n`);
      },
    );

  program
    .command('status')
    .description("show a cycle's stage and the key numbers of every stage so far")
    .argument('<cycle>', 'cycle ID (remediation-<model>-<n>)')
    .option('--json', 'print JSON')
    .action(async (cycle: string, o: { json?: boolean }) => {
      const s = await withBoth(async ({ client, pool }) => ({
        ...(await cycleStatus(client, cycle)),
        policyVersion: await db.cyclePolicyVersion(pool, cycle),
      }));
      const policy =
        s.policyVersion === null ? '' : `policy: v${s.policyVersion} (the version the cycle started with)\n`;
      print(o.json, s, renderSummary(s) + policy);
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
}
