/**
 * `remedy failures …`: the failure catalog.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import * as db from '../db/index.js';
import { CASE_KINDS } from '../core/catalog.js';
import { type CliContext, limit, isoDate } from './shared.js';

/** The catalog's patterns and cases. */
export function registerFailureCommands(program: Command, { io, print }: CliContext): void {
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
}
