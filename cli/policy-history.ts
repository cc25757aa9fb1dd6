/**
 * `remedy models policy-history <model>`: every registered version of a model's definition, with who
 * registered it, when, and what changed from the version before.
 */
import type { Command } from 'commander';
import { describeChanges } from '../core/policy-diff.js';
import * as db from '../db/index.js';
import { UserError } from '../ops/user-error.js';
import type { CliContext } from './shared.js';

/** The text `policy-history` prints: a header per version and an indented line per change. */
export function renderPolicyHistory(modelId: string, versions: readonly db.PolicyVersionRow[]): string {
  const lines = [`${modelId}: ${versions.length} policy version${versions.length === 1 ? '' : 's'}`];
  for (const v of versions) {
    lines.push(`v${v.version}  ${v.createdAt}  by ${v.author}`);
    if (v.version === 1 && v.diff.length === 0) lines.push('    first registration');
    else if (v.diff.length === 0) lines.push('    no recorded changes');
    else for (const change of describeChanges(v.diff)) lines.push(`    ${change}`);
  }
  return `${lines.join('\n')}\n`;
}

export function policyHistoryCommand(models: Command, { io, print }: CliContext): void {
  models
    .command('policy-history')
    .description("a model's policy versions: author, time and what changed in each")
    .argument('<model>', 'model ID')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const versions = await db.listPolicyVersions(pool, model);
        if (versions.length === 0) {
          if (!(await db.getModel(pool, model)))
            throw new UserError(`no model "${model}": see "remedy models list" or register it`);
        }
        print(o.json, versions, renderPolicyHistory(model, versions));
      } finally {
        await close();
      }
    });
}
