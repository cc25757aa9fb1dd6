/**
 * Reading a production-log file for `remedy ingest` a batch of rows at a time, whatever its size: the
 * readers of infra/row-files.ts (CSV through csv-parse's stream, NDJSON line by line, Parquet one row
 * group at a time, column by column), with their refusals as errors a person can act on.
 */
import { openRowFile, RowFileError, type RowSource } from '../infra/row-files.js';
import { UserError } from './user-error.js';

export { BATCH_ROWS, type RowSource } from '../infra/row-files.js';

const asUserError = (err: unknown): unknown =>
  err instanceof RowFileError ? new UserError(err.message) : err;

async function* refusalsAsUserErrors<T>(batches: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* batches;
  } catch (err) {
    throw asUserError(err);
  }
}

export async function openRowSource(file: string, opts: { batchRows?: number } = {}): Promise<RowSource> {
  try {
    const source = await openRowFile(file, opts);
    return { ...source, batches: refusalsAsUserErrors(source.batches) };
  } catch (err) {
    throw asUserError(err);
  }
}
