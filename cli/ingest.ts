/**
 * `remedy ingest`: adding rows to a model's production log.
 */
import type { Command } from 'commander';
import { UserError } from '../ops/cycles.js';
import * as db from '../db/index.js';
import { checkRows, readRows, rejectionReport, type Columns } from '../ops/ingest.js';
import { withTransaction } from '../db/pool.js';
import { type CliContext, PartialFailure } from './shared.js';

/** Ingesting CSV or NDJSON rows. */
export function registerIngestCommand(program: Command, { io, print }: CliContext): void {
  program
    .command('ingest')
    .description(
      "add rows to a model's production log from CSV or NDJSON; every row is checked, a bad one refuses the file",
    )
    .argument('<model>', 'model ID')
    .argument(
      '<file>',
      '.csv, .ndjson or .jsonl: a key, a time, the features and optionally the ground truth',
    )
    .option('--key-column <name>', "column holding each row's unique key", 'record_key')
    .option('--time-column <name>', "column holding each row's time", 'ts')
    .option('--label-column <name>', 'column holding the ground truth, when known', 'feedback')
    .option(
      '--skip-invalid',
      'write the valid rows and report the refused ones, instead of refusing the file',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        file: string,
        o: {
          keyColumn: string;
          timeColumn: string;
          labelColumn: string;
          skipInvalid?: boolean;
          json?: boolean;
        },
      ) => {
        const raw = await readRows(file);
        const { pool, close } = await io.database();
        try {
          const def = await db.getModel(pool, model);
          if (!def)
            throw new UserError(`no model "${model}": register it first with "remedy models register"`);
          const columns: Columns = { key: o.keyColumn, time: o.timeColumn, label: o.labelColumn };
          const checked = checkRows(raw, def, columns, { labelRequired: false });
          const result = {
            file,
            rows: raw.length,
            valid: checked.rows.length,
            rejected: checked.rejected,
            added: 0,
            alreadyLogged: 0,
          };
          if (checked.rejected.length > 0 && !o.skipInvalid) {
            if (o.json) print(true, result, '');
            io.err(
              `remedy: ${file}: ${checked.rejected.length} of ${raw.length} rows refused; nothing was written (fix them, or pass --skip-invalid):\n${rejectionReport(file, checked.rejected)}`,
            );
            throw new PartialFailure('ingest refused');
          }
          // One transaction: the file lands whole or not at all. Keys already logged are left as they are.
          result.added = await withTransaction(pool, (c) => db.insertRecords(c, model, checked.rows));
          result.alreadyLogged = checked.rows.length - result.added;
          print(
            o.json,
            result,
            `${file}: ${result.added} rows added to ${model}'s log, ${result.alreadyLogged} already there` +
              (checked.rejected.length > 0
                ? `, ${checked.rejected.length} refused:\n${rejectionReport(file, checked.rejected)}`
                : '\n'),
          );
          if (checked.rejected.length > 0) throw new PartialFailure('some rows refused');
        } finally {
          await close();
        }
      },
    );
}
