/**
 * `remedy rollback`, `promote`, `approve-full`, `resolve`, `abort`: steering a running cycle's rollout.
 * Who decides is established as for `remedy approve` (cli/identity.ts): the token's person with
 * REMEDY_AUTH=jwt, the typed name (recorded as unverified) otherwise.
 */
import { Command } from 'commander';
import { abortCycle, approveFull, forceRollback, promoteNow, resolvePause } from '../ops/cycles.js';
import { actingPerson, WHO_DECIDES } from './identity.js';
import { type CliContext } from './shared.js';

/** Decisions people take on a running cycle. */
export function registerSteeringCommands(program: Command, { io, withClient }: CliContext): void {
  const env = () => io.env ?? process.env;
  program
    .command('rollback')
    .description('roll a cycle back to the champion now, at any point of its rollout')
    .argument('<cycle>', 'cycle ID')
    .option('--actor <name>', WHO_DECIDES)
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { actor?: string; reason?: string }) => {
      const who = await actingPerson(env(), o.actor, '--actor');
      await withClient(({ client }) =>
        forceRollback(client, cycle, { actor: who.name, reason: o.reason, verifiedBy: who.verifiedBy }),
      );
      io.out(`rollback requested for ${cycle}\n`);
    });

  program
    .command('promote')
    .description('promote the candidate now, skipping the remaining rollout steps')
    .argument('<cycle>', 'cycle ID')
    .option('--actor <name>', WHO_DECIDES)
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { actor?: string; reason?: string }) => {
      const who = await actingPerson(env(), o.actor, '--actor');
      await withClient(({ client }) =>
        promoteNow(client, cycle, { actor: who.name, reason: o.reason, verifiedBy: who.verifiedBy }),
      );
      io.out(`promotion requested for ${cycle}\n`);
    });

  program
    .command('approve-full')
    .description('approve (or with --deny, refuse) the last rollout step to 100% when the policy asks for it')
    .argument('<cycle>', 'cycle ID')
    .option('--approver <name>', WHO_DECIDES)
    .option('--deny', 'refuse instead: the candidate is rolled back')
    .option('--reason <text>', 'why, kept in the audit trail')
    .action(async (cycle: string, o: { approver?: string; deny?: boolean; reason?: string }) => {
      const who = await actingPerson(env(), o.approver, '--approver');
      await withClient(({ client }) =>
        approveFull(client, cycle, {
          approver: who.name,
          approve: !o.deny,
          reason: o.reason,
          verifiedBy: who.verifiedBy,
        }),
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
    .option('--actor <name>', WHO_DECIDES)
    .action(async (cycle: string, decision: 'continue' | 'rollback', o: { actor?: string }) => {
      const who = await actingPerson(env(), o.actor, '--actor');
      await withClient(({ client }) =>
        resolvePause(client, cycle, { actor: who.name, decision, verifiedBy: who.verifiedBy }),
      );
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
}
