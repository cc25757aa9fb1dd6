/**
 * `remedy ingest` end to end at any size: a file read a batch at a time (ops/ingest-readers.ts), each row
 * checked against the model, the valid rows streamed with COPY, all inside one transaction. First straight
 * into the log, so Postgres writes the rows while the next ones are read; should a key be one the log
 * already holds or an earlier line repeats, Postgres refuses that copy, it is rolled back, and the file is
 * read again into a staging table and added to the log in one statement that leaves logged keys as they
 * are and takes a repeated key's first line (the merged route). A bad row anywhere (or a key the file
 * repeats) refuses the whole file and the transaction rolls back, so the log is left as it was; with
 * `skipInvalid` the bad rows are left out and reported. Memory stays constant: only the first few
 * refusals are kept for the report.
 */
import type { Writable } from 'node:stream';
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
  /**
   * How the rows reached the log: `direct`, copied straight in (the file's keys were all new); `merged`,
   * through the staging table (some key was logged already or repeated in the file: the file was read twice).
   */
  route: 'direct' | 'merged';
}

/** One value of a COPY CSV line: always quoted, so any text (commas, quotes, new lines) is data. */
function csvField(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

function stagingLine(line: number, row: LogRow): string {
  return `${line},${csvField(row.recordKey)},${row.ts},${csvField(JSON.stringify(row.features))},${
    row.feedback === null ? '' : csvField(row.feedback)
  }\n`;
}

/** A line of the direct route; `model` is the model's ID as a CSV field already. */
function logLine(model: string, feedbackAt: string, row: LogRow): string {
  return `${model},${csvField(row.recordKey)},${row.ts},${csvField(JSON.stringify(row.features))},${
    row.feedback === null ? ',' : `${csvField(row.feedback)},${feedbackAt}`
  }\n`;
}

interface Tally {
  rows: number;
  refused: number;
  rejected: Rejection[];
}

/**
 * Streams the rows of `source` that pass the job's checks into an open COPY, one chunk in flight at a
 * time, and waits until Postgres has taken them all; returns how many rows were sent (the refused ones go
 * to `tally`). Postgres refusing the COPY rejects it with Postgres's error. The COPY is cancelled
 * (CopyFail) only when the failure is this side's (a file that cannot be read): after Postgres's own error
 * the connection has already left the COPY.
 */
async function copyRows(
  job: Job,
  copy: Writable,
  source: RowSource,
  toLine: (line: number, row: LogRow) => string,
  tally: Tally,
): Promise<number> {
  const progress = job.opts.progress ?? (() => undefined);
  let refusedByPostgres: Error | undefined;
  copy.on('error', (err: Error) => (refusedByPostgres ??= err));
  const done = finished(copy);
  done.catch(() => undefined);
  const send = (chunk: string): Promise<void> => {
    if (refusedByPostgres) return Promise.reject(refusedByPostgres);
    const written = new Promise<void>((resolve, reject) =>
      copy.write(chunk, (err) => (err ? reject(err) : resolve())),
    );
    return Promise.race([written, done]);
  };
  let sent = 0;
  try {
    for await (const batch of source.batches) {
      let chunk = '';
      for (const raw of batch) {
        tally.rows++;
        const checked = checkRow(raw, job.model, job.columns, { labelRequired: false });
        if ('reason' in checked) {
          tally.refused++;
          if (tally.rejected.length < REPORTED_REFUSALS) tally.rejected.push(checked);
          continue;
        }
        chunk += toLine(raw.line, checked);
        sent++;
      }
      if (chunk !== '') await send(chunk);
      progress({
        rows: tally.rows,
        bytes: source.bytesRead(),
        totalBytes: source.totalBytes,
        elapsedMs: Date.now() - job.started,
      });
    }
  } catch (err) {
    // Postgres's refusal, when it came first; otherwise this side's error, not the CopyFail it causes.
    const first = refusedByPostgres ?? err;
    if (!refusedByPostgres) copy.destroy(err as Error);
    await done.catch(() => undefined);
    throw first;
  }
  // Ending a COPY Postgres has refused already would write to a connection that has left it.
  if (refusedByPostgres) throw refusedByPostgres;
  copy.end();
  await done;
  return sent;
}

export interface IngestOptions {
  skipInvalid: boolean;
  progress?: (p: IngestProgress) => void;
  /** Called when the file is read a second time, for the merged route. */
  onMerge?: () => void;
}

/** What both routes work from. */
interface Job {
  pool: pg.Pool;
  modelId: string;
  model: CheckedModel;
  columns: Columns;
  opts: IngestOptions;
  started: number;
}

/**
 * Ingests one file into a model's log. `open` opens the file (once, or twice for the merged route).
 * Throws a UserError for a file it cannot read; returns the counts (with `written: false` when refusals
 * refused the file and `skipInvalid` was not asked for).
 */
export async function ingestFile(
  pool: pg.Pool,
  modelId: string,
  model: CheckedModel,
  open: () => Promise<RowSource>,
  columns: Columns,
  opts: IngestOptions,
): Promise<IngestResult> {
  const job: Job = { pool, modelId, model, columns, opts, started: Date.now() };
  const direct = await ingestDirect(job, await open());
  if (direct !== KEY_MET) return direct;
  opts.onMerge?.();
  return ingestMerged(job, await open());
}

const KEY_MET = Symbol('a key the log holds or the file repeats');

/**
 * One route in its own transaction. A result with `written: false` (the file refused) rolls it back,
 * so the log is left exactly as it was, and is still returned with its counts.
 */
async function inTransaction(
  job: Job,
  work: (client: pg.PoolClient) => Promise<IngestResult>,
): Promise<IngestResult> {
  const timed = (r: IngestResult): IngestResult => ({ ...r, seconds: (Date.now() - job.started) / 1000 });
  try {
    return timed(
      await withTransaction(job.pool, async (client) => {
        await db.prepareIngestTransaction(client);
        const result = await work(client);
        if (!result.written) throw new FileRefused(result);
        return result;
      }),
    );
  } catch (err) {
    if (err instanceof FileRefused) return timed(err.result);
    throw err;
  }
}

function result(source: RowSource, tally: Tally, route: IngestResult['route']): IngestResult {
  return {
    file: source.file,
    format: source.format,
    rows: tally.rows,
    valid: 0,
    refused: tally.refused,
    rejected: tally.rejected,
    written: false,
    added: 0,
    alreadyLogged: 0,
    bytes: source.totalBytes,
    seconds: 0,
    route,
  };
}

/** Whether the rows refused so far refuse the whole file (they do unless --skip-invalid). */
const refusesFile = (job: Job, tally: Tally): boolean => tally.refused > 0 && !job.opts.skipInvalid;

/** The direct route: every valid row copied straight into the log; KEY_MET when Postgres refuses a key. */
async function ingestDirect(job: Job, source: RowSource): Promise<IngestResult | typeof KEY_MET> {
  const tally: Tally = { rows: 0, refused: 0, rejected: [] };
  try {
    return await inTransaction(job, async (client) => {
      const feedbackAt = await db.transactionTime(client);
      const modelField = csvField(job.modelId);
      const sent = await copyRows(
        job,
        db.openLogCopy(client),
        source,
        (_line, row) => logLine(modelField, feedbackAt, row),
        tally,
      );
      const done = { ...result(source, tally, 'direct'), valid: sent };
      return refusesFile(job, tally) ? done : { ...done, added: sent, written: true };
    });
  } catch (err) {
    if (db.isLoggedKeyConflict(err)) return KEY_MET;
    throw err;
  }
}

/** The merged route: the valid rows staged, repeated keys found, and the new keys added to the log. */
function ingestMerged(job: Job, source: RowSource): Promise<IngestResult> {
  const tally: Tally = { rows: 0, refused: 0, rejected: [] };
  return inTransaction(job, async (client) => {
    const staged = await copyRows(job, db.openStagingCopy(client), source, stagingLine, tally);
    const repeats = await db.repeatedStagingKeys(client, REPORTED_REFUSALS);
    tally.refused += repeats.count;
    tally.rejected = [
      ...tally.rejected,
      ...repeats.first.map((r) => ({
        line: r.line,
        reason: `${job.columns.key} "${r.recordKey}" repeats line ${r.firstLine}`,
      })),
    ]
      .sort((a, b) => a.line - b.line)
      .slice(0, REPORTED_REFUSALS);
    const valid = staged - repeats.count;
    const done = { ...result(source, tally, 'merged'), valid };
    if (refusesFile(job, tally)) return done;
    const added = await db.insertStagedRecords(client, job.modelId, repeats.count > 0);
    await db.clearStaging(client);
    return { ...done, added, alreadyLogged: valid - added, written: true };
  });
}

/** Thrown inside the transaction to roll it back when the file is refused; carries the counts. */
class FileRefused extends Error {
  override name = 'FileRefused';
  constructor(readonly result: IngestResult) {
    super(`${result.file}: ${result.refused} rows refused`);
  }
}
