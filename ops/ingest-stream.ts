/**
 * `remedy ingest` end to end at any size: a file read a batch at a time (ops/ingest-readers.ts), each row
 * checked against the model, the valid rows streamed with COPY into a staging table and added to the log
 * in one statement, all inside one transaction. A bad row anywhere (or a key the file repeats) refuses the
 * whole file and the transaction rolls back, so the log is left as it was; with `skipInvalid` the bad rows
 * are left out and reported. Memory stays constant: only the first few refusals are kept for the report.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import * as db from '../db/index.js';
import { withTransaction } from '../db/pool.js';
import { checkRow, type CheckedModel, type Columns, type LogRow, type Rejection } from './ingest.js';
import type { RowSource } from './ingest-readers.js';

/** Refusals kept for the report; the rest are counted. */
export const REPORTED_REFUSALS = 20;

export interface IngestProgress {
  rows: number;
  bytes: number;
  totalBytes: number;
  elapsedMs: number;
}

export interface IngestResult {
  file: string;
  format: RowSource['format'];
  /** Rows read from the file. */
  rows: number;
  /** Rows that passed every check (and were not a repeat of an earlier key of the file). */
  valid: number;
  /** How many rows were refused; `rejected` holds the first of them, in file order. */
  refused: number;
  rejected: Rejection[];
  /** Whether anything was written: false when a refusal refused the file. */
  written: boolean;
  added: number;
  /** Valid rows whose key the log already held: left as they were. */
  alreadyLogged: number;
  bytes: number;
  seconds: number;
}

/** One value of a COPY CSV line: always quoted, so any text (commas, quotes, new lines) is data. */
function csvField(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

function copyLine(line: number, row: LogRow): string {
  return `${line},${csvField(row.recordKey)},${row.ts},${csvField(JSON.stringify(row.features))},${
    row.feedback === null ? '' : csvField(row.feedback)
  }\n`;
}

async function write(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  // once() rejects if the stream emits 'error' (Postgres refused the COPY) while we wait.
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** Streams the checked rows of `source` into the staging table of the client's open transaction. */
async function stageRows(
  client: pg.PoolClient,
  source: RowSource,
  model: CheckedModel,
  columns: Columns,
  tally: { rows: number; refused: number; rejected: Rejection[] },
  progress: (p: IngestProgress) => void,
  started: number,
): Promise<number> {
  const copy = db.openStagingCopy(client);
  const done = finished(copy);
  done.catch(() => undefined);
  let staged = 0;
  try {
    for await (const batch of source.batches) {
      let chunk = '';
      for (const raw of batch) {
        tally.rows++;
        const checked = checkRow(raw, model, columns, { labelRequired: false });
        if ('reason' in checked) {
          tally.refused++;
          if (tally.rejected.length < REPORTED_REFUSALS) tally.rejected.push(checked);
          continue;
        }
        chunk += copyLine(raw.line, checked);
        staged++;
      }
      if (chunk !== '') await write(copy, chunk);
      progress({
        rows: tally.rows,
        bytes: source.bytesRead(),
        totalBytes: source.totalBytes,
        elapsedMs: Date.now() - started,
      });
    }
  } catch (err) {
    copy.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  copy.end();
  await done;
  return staged;
}

/**
 * Ingests one file into a model's log. Throws a UserError for a file it cannot read; returns the counts
 * (with `written: false` when refusals refused the file and `skipInvalid` was not asked for).
 */
export async function ingestFile(
  pool: pg.Pool,
  modelId: string,
  model: CheckedModel,
  source: RowSource,
  columns: Columns,
  opts: { skipInvalid: boolean; progress?: (p: IngestProgress) => void },
): Promise<IngestResult> {
  const started = Date.now();
  const progress = opts.progress ?? (() => undefined);
  const tally = { rows: 0, refused: 0, rejected: [] as Rejection[] };
  let refusedResult: IngestResult | undefined;
  try {
    const written = await withTransaction(pool, async (client) => {
      await db.prepareIngestTransaction(client);
      const staged = await stageRows(client, source, model, columns, tally, progress, started);
      const repeats = await db.repeatedStagingKeys(client, REPORTED_REFUSALS);
      tally.refused += repeats.count;
      tally.rejected = [
        ...tally.rejected,
        ...repeats.first.map((r) => ({
          line: r.line,
          reason: `${columns.key} "${r.recordKey}" repeats line ${r.firstLine}`,
        })),
      ]
        .sort((a, b) => a.line - b.line)
        .slice(0, REPORTED_REFUSALS);
      const valid = staged - repeats.count;
      const result: IngestResult = {
        file: source.file,
        format: source.format,
        rows: tally.rows,
        valid,
        refused: tally.refused,
        rejected: tally.rejected,
        written: false,
        added: 0,
        alreadyLogged: 0,
        bytes: source.totalBytes,
        seconds: 0,
      };
      if (tally.refused > 0 && !opts.skipInvalid) {
        // Rolled back: the log is left exactly as it was.
        refusedResult = result;
        throw new FileRefused();
      }
      result.added = await db.insertStagedRecords(client, modelId, repeats.count > 0);
      result.alreadyLogged = valid - result.added;
      result.written = true;
      await db.clearStaging(client);
      return result;
    });
    return { ...written, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    if (err instanceof FileRefused && refusedResult)
      return { ...refusedResult, seconds: (Date.now() - started) / 1000 };
    throw err;
  }
}

/** Thrown inside the transaction to roll it back when the file is refused. */
class FileRefused extends Error {
  override name = 'FileRefused';
}
