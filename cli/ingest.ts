/**
 * `remedy ingest`: adding rows to a model's production log from a file of any size, streamed.
 */
import type { Command } from 'commander';
import { UserError } from '../ops/user-error.js';
import * as db from '../db/index.js';
import { rejectionReport, type Columns } from '../ops/ingest.js';
import { openRowSource, type RowSource } from '../ops/ingest-readers.js';
import { ingestFile, type IngestProgress, type IngestResult } from '../ops/ingest-stream.js';
import { type CliContext, type CliIo, PartialFailure } from './shared.js';

const MIB = 1024 ** 2;

function rate(rows: number, ms: number): string {
  return `${Math.round(rows / Math.max(ms / 1000, 0.001)).toLocaleString('en-US')} rows/s`;
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal (at most ten times a second), otherwise a
 * plain line every ten seconds, so logs of long ingests show it is moving.
 */
export function progressReporter(
  io: CliIo,
  terminal: boolean,
): {
  update: (p: IngestProgress) => void;
  done: () => void;
} {
  let last = 0;
  let drawn = false;
  return {
    update: (p) => {
      const every = terminal ? 100 : 10_000;
      if (p.elapsedMs - last < every) return;
      last = p.elapsedMs;
      const share = p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : 0;
      const text = `${p.rows.toLocaleString('en-US')} rows, ${(p.bytes / MIB).toFixed(1)} of ${(p.totalBytes / MIB).toFixed(1)} MiB, ${rate(p.rows, p.elapsedMs)}`;
      if (terminal) {
        const width = 30;
        const full = Math.round(share * width);
        io.err(
          `\r\x1b[K[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(share * 100).toFixed(0)}% ${text}`,
        );
        drawn = true;
      } else io.err(`remedy: ingest: ${text}\n`);
    },
    done: () => {
      if (drawn) io.err('\r\x1b[K');
      drawn = false;
    },
  };
}

function summary(r: IngestResult, model: string): string {
  const read = `${r.file}: ${r.rows} rows read (${(r.bytes / MIB).toFixed(1)} MiB, ${r.seconds.toFixed(1)} s, ${rate(r.rows, r.seconds * 1000)})`;
  return (
    `${read}, ${r.added} rows added to ${model}'s log, ${r.alreadyLogged} already there` +
    (r.refused > 0
      ? `, ${r.refused} refused:\n${rejectionReport(r.file, r.rejected, r.rejected.length)}${more(r)}`
      : '\n')
  );
}

function more(r: IngestResult): string {
  return r.refused > r.rejected.length ? `  … and ${r.refused - r.rejected.length} more\n` : '';
}

/** Ingesting CSV, NDJSON or Parquet rows. */
export function registerIngestCommand(program: Command, { io, print }: CliContext): void {
  program
    .command('ingest')
    .description(
      "add rows to a model's production log from CSV, NDJSON or Parquet, streamed; every row is checked, a bad one refuses the file",
    )
    .argument('<model>', 'model ID')
    .argument(
      '<file>',
      '.csv, .ndjson, .jsonl or .parquet: a key, a time, the features and optionally the ground truth',
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
        // Opened before connecting, so a file that cannot be read is reported first.
        let opened: RowSource | undefined = await openRowSource(file);
        const open = async (): Promise<RowSource> => {
          const source = opened ?? (await openRowSource(file));
          opened = undefined;
          return source;
        };
        const { pool, close } = await io.database();
        try {
          const def = await db.getModel(pool, model);
          if (!def)
            throw new UserError(`no model "${model}": register it first with "remedy models register"`);
          const columns: Columns = { key: o.keyColumn, time: o.timeColumn, label: o.labelColumn };
          const progress = progressReporter(io, io.tty === true && process.stderr.isTTY === true);
          let result: IngestResult;
          try {
            result = await ingestFile(pool, model, def, open, columns, {
              skipInvalid: o.skipInvalid === true,
              progress: progress.update,
              onMerge: () => {
                progress.done();
                io.err(
                  `remedy: ingest: ${file} holds keys already in ${model}'s log or repeated in the file; reading it again to add only its new keys\n`,
                );
              },
            });
          } finally {
            progress.done();
          }
          if (!result.written) {
            if (o.json) print(true, result, '');
            io.err(
              `remedy: ${file}: ${result.refused} of ${result.rows} rows refused; nothing was written (fix them, or pass --skip-invalid):\n${rejectionReport(file, result.rejected, result.rejected.length)}${more(result)}`,
            );
            throw new PartialFailure('ingest refused');
          }
          print(o.json, result, summary(result, model));
          if (result.refused > 0) throw new PartialFailure('some rows refused');
        } finally {
          await close();
        }
      },
    );
}
