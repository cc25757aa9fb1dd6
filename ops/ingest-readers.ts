/**
 * Reading a production-log file a batch of rows at a time, whatever its size: CSV through csv-parse's
 * stream, NDJSON line by line, Parquet one row group (or a slice of one) at a time. Memory stays bounded
 * by the batch size (and, for Parquet, by the file's row-group size), never by the file's.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { fileSize } from '../drift/tables.js';
import { UserError } from './cycles.js';
import type { RawRow } from './ingest.js';

/** Rows handed on at once: large enough for COPY to be efficient, small enough to be nothing in memory. */
export const BATCH_ROWS = 5_000;
/** The most Parquet rows decoded at once; a larger row group is read in slices of this size. */
export const PARQUET_SLICE_ROWS = 65_536;

export interface RowSource {
  file: string;
  format: 'csv' | 'ndjson' | 'parquet';
  /** The file's size in bytes. */
  totalBytes: number;
  /** Bytes of the file read so far (Parquet: the compressed size of the row groups read). */
  bytesRead: () => number;
  batches: AsyncIterable<RawRow[]>;
}

export async function openRowSource(
  file: string,
  opts: { batchRows?: number; parquetSliceRows?: number } = {},
): Promise<RowSource> {
  const batchRows = opts.batchRows ?? BATCH_ROWS;
  const totalBytes = await fileSize(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return csvSource(file, totalBytes, batchRows);
  if (ext === '.ndjson' || ext === '.jsonl') return ndjsonSource(file, totalBytes, batchRows);
  if (ext === '.parquet')
    return parquetSource(file, totalBytes, batchRows, opts.parquetSliceRows ?? PARQUET_SLICE_ROWS);
  throw new UserError(
    `${file}: unknown file type "${ext || '(none)'}"; use .csv, .ndjson, .jsonl or .parquet`,
  );
}

function csvSource(file: string, totalBytes: number, batchRows: number): RowSource {
  const input = createReadStream(file);
  async function* batches(): AsyncGenerator<RawRow[]> {
    const parser = input.pipe(parse({ columns: true, skip_empty_lines: true, bom: true, info: true }));
    input.on('error', (err) => parser.destroy(err));
    let batch: RawRow[] = [];
    try {
      for await (const r of parser as AsyncIterable<{
        record: Record<string, string>;
        info: { lines: number };
      }>) {
        batch.push({ line: r.info.lines, values: r.record });
        if (batch.length >= batchRows) {
          yield batch;
          batch = [];
        }
      }
    } catch (err) {
      throw new UserError(`${file}: not a valid CSV file: ${(err as Error).message}`);
    } finally {
      input.destroy();
    }
    if (batch.length > 0) yield batch;
  }
  return { file, format: 'csv', totalBytes, bytesRead: () => input.bytesRead, batches: batches() };
}

function ndjsonSource(file: string, totalBytes: number, batchRows: number): RowSource {
  const input = createReadStream(file);
  async function* batches(): AsyncGenerator<RawRow[]> {
    const lines = createInterface({ input, crlfDelay: Infinity });
    let batch: RawRow[] = [];
    let lineNo = 0;
    try {
      for await (const raw of lines) {
        lineNo++;
        const line = raw.trim();
        if (line === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (err) {
          throw new UserError(
            `${file}:${lineNo}: not JSON (${(err as Error).message}); each line is one JSON object`,
          );
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new UserError(
            `${file}:${lineNo}: each line must be a JSON object, found ${JSON.stringify(value)}`,
          );
        batch.push({ line: lineNo, values: value as Record<string, unknown> });
        if (batch.length >= batchRows) {
          yield batch;
          batch = [];
        }
      }
    } finally {
      lines.close();
      input.destroy();
    }
    if (batch.length > 0) yield batch;
  }
  return { file, format: 'ndjson', totalBytes, bytesRead: () => input.bytesRead, batches: batches() };
}

/** Parquet values as the row checks read them: times as ISO text, 64-bit integers as numbers. */
function plainValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return Number(v);
  return v;
}

async function parquetSource(
  file: string,
  totalBytes: number,
  batchRows: number,
  sliceRows: number,
): Promise<RowSource> {
  const buffer = await asyncBufferFromFile(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new UserError(`${file} is not a readable Parquet file: ${(err as Error).message}`);
  }
  for (const el of metadata.schema.slice(1))
    if (el.num_children)
      throw new UserError(`${file}: nested column "${el.name}" is not supported; flatten it first`);
  let bytes = 0;
  async function* batches(): AsyncGenerator<RawRow[]> {
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      for (let start = 0; start < groupRows; start += sliceRows) {
        const rowStart = groupStart + start;
        const rowEnd = groupStart + Math.min(groupRows, start + sliceRows);
        let rows: Record<string, unknown>[] = [];
        try {
          await parquetRead({
            file: buffer,
            metadata,
            compressors,
            rowStart,
            rowEnd,
            rowFormat: 'object',
            onComplete: (r) => (rows = r),
          });
        } catch (err) {
          throw new UserError(
            `${file}: cannot decode rows ${rowStart + 1}..${rowEnd}: ${(err as Error).message}`,
          );
        }
        for (let i = 0; i < rows.length; i += batchRows) {
          yield rows.slice(i, i + batchRows).map((values, j) => {
            for (const k of Object.keys(values)) values[k] = plainValue(values[k]);
            // Parquet has no lines: a row is named by its 1-based position in the file.
            return { line: rowStart + i + j + 1, values };
          });
        }
      }
      bytes += Number(group.total_compressed_size ?? group.total_byte_size);
      groupStart += groupRows;
    }
  }
  return { file, format: 'parquet', totalBytes, bytesRead: () => bytes, batches: batches() };
}
