/**
 * `remedy audit verify <model>`: checks a model's tamper-evident audit chain (db/audit-chain.ts) and
 * prints what it found; the exit code is 1 when anything is wrong, so a scheduled job can alert on it.
 */
import type { Command } from 'commander';
import { verifyAuditChain } from '../db/audit-chain.js';
import * as db from '../db/index.js';
import { UserError } from '../ops/user-error.js';
import type { CliContext } from './shared.js';

/** The chain has problems: the report is printed, the exit code says so. */
export class AuditChainBroken extends Error {
  override name = 'AuditChainBroken';
}

export function registerAuditCommands(program: Command, { io, print }: CliContext): void {
  const audit = program.command('audit').description("the audit trail: verify a model's hash chain");
  audit
    .command('verify')
    .description(
      "recompute a model's audit chain: every event's hash, every link and the recorded head; exit 1 on any problem",
    )
    .argument('<model>', 'model ID')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const result = await verifyAuditChain(pool, model);
        if (result.events === 0 && result.recorded === 0 && !(await db.getModel(pool, model)))
          throw new UserError(
            `model "${model}" is not registered and has no audit events: check the ID with "remedy models list"`,
          );
        const lines = [
          `audit chain of ${model}: ${result.events} events checked (${result.recorded} recorded)`,
          result.ok ? 'ok: every hash and link verifies' : `${result.problems.length} problem(s):`,
          ...result.problems.map((p) => `  event #${p.eventId}: ${p.problem}`),
          `head hash: ${result.headHash ?? 'none (no events)'}`,
          ...(result.ok && result.headHash
            ? [
                'keep the head hash outside this database: a later run showing an earlier hash here means the chain was rewritten',
              ]
            : []),
        ];
        print(o.json, result, `${lines.join('\n')}\n`);
        if (!result.ok)
          throw new AuditChainBroken(
            `the audit chain of ${model} has ${result.problems.length} problem(s): see above`,
          );
      } finally {
        await close();
      }
    });
}
