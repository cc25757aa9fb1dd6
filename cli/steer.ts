/**
 * `remedy rollback`, `promote`, `approve-full`, `resolve`, `abort`: steering a running cycle's rollout.
 */
import { Command } from 'commander';
import { abortCycle, approveFull, forceRollback, promoteNow, resolvePause } from '../ops/cycles.js';
import { type CliContext } from './shared.js';

/** Decisions people take on a running cycle. */
export function registerSteeringCommands(program: Command, { io, withClient }: CliContext): void {
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
}
