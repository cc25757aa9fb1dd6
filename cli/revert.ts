/**
 * `remedy revert <model> --to <version> --reason …`: back to a former champion after a promotion, as a
 * durable workflow (traffic, aliases, the drift reference, audit, notification).
 */
import type { Command } from 'commander';
import { loadIdentityConfig } from '../infra/identity.js';
import { renderRevert, revertModel } from '../ops/revert.js';
import { actingPerson, defaultPerson } from './identity.js';
import { positiveInt, type CliContext } from './shared.js';

export function registerRevertCommand(program: Command, { io, withClient, print }: CliContext): void {
  program
    .command('revert')
    .description(
      'put a former champion back: traffic, aliases and drift reference; the current one is marked reverted',
    )
    .argument('<model>', 'model ID')
    .requiredOption('--to <version>', 'the former champion to go back to', positiveInt)
    .requiredOption('--reason <text>', 'why, kept in the audit trail and sent to the channels')
    .option(
      '--actor <name>',
      'who reverts, kept in the audit trail (REMEDY_AUTH=jwt: taken from REMEDY_TOKEN, and given it must match; open: default your user name)',
    )
    .option('--json', 'print JSON')
    .action(async (model: string, o: { to: number; reason: string; actor?: string; json?: boolean }) => {
      const env = io.env ?? process.env;
      // As for every command that acts for a person (cli/identity.ts); open mode keeps its default name.
      const typed = o.actor ?? (loadIdentityConfig(env).mode === 'open' ? defaultPerson() : undefined);
      const who = await actingPerson(env, typed, '--actor');
      const result = await withClient(({ client, queues }) =>
        revertModel(client, queues, {
          modelId: model,
          toVersion: o.to,
          reason: o.reason,
          actor: who.name,
          verifiedBy: who.verifiedBy,
        }),
      );
      print(o.json, result, renderRevert(result));
    });
}
