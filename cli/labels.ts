/**
 * `remedy pending`, `label` and `remedy labels …`: answering a campaign's items and steering the campaign.
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import {
  decideCampaign,
  extendDeadline,
  importLabels,
  approveRollout,
  campaignClosed,
  pendingLabels,
  submitLabel,
  UserError,
} from '../ops/cycles.js';
import { actingPerson, WHO_DECIDES } from './identity.js';
import { registerLabelStudioSync } from './label-studio.js';
import type { NumericLabelRange } from '../core/regression-labels.js';
import { agreementText } from '../core/labeling.js';
import { type CliContext, PartialFailure } from './shared.js';

const WHO_ANSWERS = 'who is answering (with REMEDY_AUTH=jwt: taken from REMEDY_TOKEN; given, it must match)';

/** What a campaign's answers may be: one of its labels, or a number in its range. */
function answersText(s: { labelSet: readonly string[]; numeric?: NumericLabelRange }): string {
  if (!s.numeric) return `labels: ${s.labelSet.join(', ')}`;
  const { min, max } = s.numeric;
  if (min === null && max === null) return 'answers: a number';
  if (min === null) return `answers: a number up to ${max}`;
  if (max === null) return `answers: a number from ${min}`;
  return `answers: a number from ${min} to ${max}`;
}

/** The items a campaign asks about, and answering them. */
export function registerAnswerCommands(program: Command, { io, withClient, print }: CliContext): void {
  program
    .command('pending')
    .description('list the label requests of a cycle that still wait for an answer')
    .argument('<cycle>', 'cycle ID')
    .option('--json', 'print JSON')
    .action(async (cycle: string, o: { json?: boolean }) => {
      const [s, closed] = await withClient(async ({ client }) => [
        await pendingLabels(client, cycle),
        await campaignClosed(client, cycle),
      ]);
      const extra = [
        s.batch ? `batch ${s.batch.current} of ${s.batch.of}` : '',
        s.agreement && agreementText(s.agreement) ? `agreement ${agreementText(s.agreement)}` : '',
        s.parkedFor ? `parked for ${s.parkedFor === 'agreement' ? 'low agreement' : 'too few labels'}` : '',
      ].filter(Boolean);
      const head = `campaign ${s.campaignId}: ${s.answered}/${s.requested} answered, deadline ${s.deadlineAt} (${s.state}); ${answersText(s)}${extra.length ? `; ${extra.join('; ')}` : ''}\n`;
      const body = s.pending
        .map(
          (p) =>
            // A regression model's guess is its predicted value: it has no class confidence to show.
            `${p.recordKey}\tguess=${p.guess}${s.numeric ? '' : ` (${(p.confidence * 100).toFixed(0)}%)`}\t${JSON.stringify(p.features)}` +
            (p.needs
              ? `\t${p.needs} reviewers, answered by: ${(p.reviewedBy ?? []).join(', ') || 'nobody yet'}`
              : ''),
        )
        .join('\n');
      // A closed campaign answers with its final state; say it is closed, and that nothing is waiting.
      if (closed) return print(o.json, { ...s, closed: closed.message }, `${head}${closed.message}\n`);
      print(o.json, s, head + (body ? `${body}\n` : ''));
    });

  program
    .command('label')
    .description('answer one label request')
    .argument('<cycle>', 'cycle ID')
    .argument('<recordKey>', 'the item to label (see "remedy pending")')
    .argument(
      '<label>',
      'the label (for a regression model: a number, e.g. 23.5; put -- before a negative one)',
    )
    .option('--reviewer <name>', WHO_ANSWERS)
    .option('--json', 'print JSON')
    .action(
      async (cycle: string, recordKey: string, label: string, o: { reviewer?: string; json?: boolean }) => {
        const who = await actingPerson(io.env ?? process.env, o.reviewer, '--reviewer');
        const r = await withClient(({ client }) =>
          submitLabel(client, cycle, {
            recordKey,
            label,
            reviewer: who.name,
            via: 'cli',
            verifiedBy: who.verifiedBy,
          }),
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
      .option(
        '--approver <name>',
        'who decides (with REMEDY_AUTH=jwt: taken from REMEDY_TOKEN; given, it must match)',
      )
      .option('--reason <text>', 'why, kept in the audit trail')
      .action(async (cycle: string, o: { approver?: string; reason?: string }) => {
        const who = await actingPerson(io.env ?? process.env, o.approver, '--approver');
        await withClient(({ client }) =>
          approveRollout(client, cycle, {
            approver: who.name,
            approve,
            reason: o.reason,
            verifiedBy: who.verifiedBy,
          }),
        );
        io.out(`${approve ? 'approved' : 'rejected'} ${cycle}\n`);
      });
  }
}

/** Importing answers, extending a deadline, deciding a parked campaign. */
export function registerCampaignCommands(program: Command, ctx: CliContext): void {
  const { io, withClient, print } = ctx;
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
    .option('--reviewer <name>', `${WHO_ANSWERS}; with REMEDY_AUTH=open, rows may name their own reviewer`)
    .option('--json', 'print JSON')
    .action(async (cycle: string, file: string, o: { reviewer?: string; json?: boolean }) => {
      const who = await actingPerson(io.env ?? process.env, o.reviewer, '--reviewer');
      let csv: string;
      try {
        csv = await readFile(file, 'utf8');
      } catch (err) {
        throw new UserError(
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err)}`,
        );
      }
      const rows = await withClient(({ client }) => importLabels(client, cycle, csv, who));
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
    .option('--actor <name>', WHO_DECIDES)
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { by: string; actor?: string; reason?: string }) => {
      const who = await actingPerson(io.env ?? process.env, o.actor, '--actor');
      const r = await withClient(({ client }) =>
        extendDeadline(client, cycle, {
          by: o.by,
          actor: who.name,
          verifiedBy: who.verifiedBy,
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
    .option('--actor <name>', WHO_DECIDES)
    .option('--by <duration>', 'with extend: how much more time, e.g. 24h')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(
      async (
        cycle: string,
        decision: 'extend' | 'proceed' | 'abort',
        o: { actor?: string; by?: string; reason?: string },
      ) => {
        const who = await actingPerson(io.env ?? process.env, o.actor, '--actor');
        await withClient(({ client }) =>
          decideCampaign(client, cycle, {
            decision,
            actor: who.name,
            verifiedBy: who.verifiedBy,
            ...(o.by ? { by: o.by } : {}),
            ...(o.reason ? { reason: o.reason } : {}),
          }),
        );
        io.out(`${decision} sent to ${cycle}\n`);
      },
    );
  registerLabelStudioSync(labels, ctx);
}
