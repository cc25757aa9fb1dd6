/**
 * Reading a table file (a production log for `remedy ingest`, a partition of a team's prediction log) a
 * batch of rows at a time, whatever its size: CSV split as it streams (infra/csv-records.ts), NDJSON
 * line by line, Parquet one row group at a time, decoded column by column and turned into rows a batch at
 * a time. Memory stays bounded by the batch size (and, for Parquet, by one row group's
 * decoded columns), never by the file's size.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { CsvError, CsvSplitter, type CsvRecord } from './csv-records.js';

/** A file that cannot be read as a table of rows: the message names the file and what to do. */
export class RowFileError extends Error {
  override name = 'RowFileError';
}

/** One row of a file: its values by column, and its line (Parquet: its 1-based position in the file). */
export interface RawRow {
  line: number;
  values: Record<string, unknown>;
}

/** The size of a file, or an error naming it and why it cannot be read. */
async function fileSize(file: string): Promise<number> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new RowFileError(`${file} is not a file`);
    return s.size;
  } catch (err) {
    if (err instanceof RowFileError) throw err;
    throw new RowFileError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err)}`,
    );
  }
}

/** Rows handed on at once: large enough for COPY to be efficient, small enough to be nothing in memory. */
export const BATCH_ROWS = 5_000;

export interface RowSource {
  file: string;
  format: 'csv' | 'ndjson' | 'parquet';
  /** The file's size in bytes. */
  totalBytes: number;
  /** Bytes of the file read so far (Parquet: the compressed size of the row groups read). */
  bytesRead: () => number;
  batches: AsyncIterable<RawRow[]>;
}

export async function openRowFile(file: string, opts: { batchRows?: number } = {}): Promise<RowSource> {
  const batchRows = opts.batchRows ?? BATCH_ROWS;
  const totalBytes = await fileSize(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return csvSource(file, totalBytes, batchRows);
  if (ext === '.ndjson' || ext === '.jsonl') return ndjsonSource(file, totalBytes, batchRows);
  if (ext === '.parquet') return parquetSource(file, totalBytes, batchRows);
  throw new RowFileError(
    `${file}: unknown file type "${ext || '(none)'}"; use .csv, .ndjson, .jsonl or .parquet`,
  );
}

function csvSource(file: string, totalBytes: number, batchRows: number): RowSource {
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  async function* batches(): AsyncGenerator<RawRow[]> {
    const splitter = new CsvSplitter();
    let header: string[] | null = null;
    let batch: RawRow[] = [];
    // The records of one chunk as rows keyed by the header's names; the first record is the header.
    const take = (records: CsvRecord[]): void => {
      for (const r of records) {
        if (header === null) {
          header = checkedHeader(file, r.fields);
          continue;
        }
        if (r.fields.length !== header.length)
          throw new RowFileError(
            `${file}:${r.line}: ${r.fields.length} field${r.fields.length === 1 ? '' : 's'} where the header has ${header.length} columns; every line needs one value per column (quote a value that holds a comma)`,
          );
        const values: Record<string, string> = {};
        for (let k = 0; k < header.length; k++) values[header[k]!] = r.fields[k]!;
        batch.push({ line: r.line, values });
      }
    };
    try {
      for await (const chunk of input as AsyncIterable<string>) {
        take(splitter.push(chunk));
        while (batch.length >= batchRows) {
          yield batch.slice(0, batchRows);
          batch = batch.slice(batchRows);
        }
      }
      take(splitter.end());
    } catch (err) {
      if (err instanceof RowFileError) throw err;
      if (err instanceof CsvError) throw new RowFileError(`${file}: not a valid CSV file: ${err.message}`);
      throw new RowFileError(`cannot read ${file}: ${String(err)}`);
    } finally {
      input.destroy();
    }
    while (batch.length > 0) {
      yield batch.slice(0, batchRows);
      batch = batch.slice(batchRows);
    }
  }
  return { file, format: 'csv', totalBytes, bytesRead: () => input.bytesRead, batches: batches() };
}

/** A CSV header's column names: none empty, none twice (a row's values are keyed by them). */
function checkedHeader(file: string, names: string[]): string[] {
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (name === '')
      throw new RowFileError(`${file}:1: column ${i + 1} of the header has no name; name every column`);
    if (seen.has(name))
      throw new RowFileError(
        `${file}:1: the header names column "${name}" twice; each column needs its own name`,
      );
    seen.add(name);
  }
  return names;
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
          throw new RowFileError(
            `${file}:${lineNo}: not JSON (${(err as Error).message}); each line is one JSON object`,
          );
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new RowFileError(
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

async function parquetSource(file: string, totalBytes: number, batchRows: number): Promise<RowSource> {
  const buffer = await asyncBufferFromFile(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new RowFileError(`${file} is not a readable Parquet file: ${(err as Error).message}`);
  }
  const names: string[] = [];
  for (const el of metadata.schema.slice(1)) {
    if (el.num_children)
      throw new RowFileError(`${file}: nested column "${el.name}" is not supported; flatten it first`);
    names.push(el.name);
  }
  let bytes = 0;
  async function* batches(): AsyncGenerator<RawRow[]> {
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupEnd = groupStart + Number(group.num_rows);
      const decoded = await readRowGroup(file, buffer, metadata, groupStart, groupEnd);
      const columns = names.map((name) => decoded.get(name));
      for (let start = groupStart; start < groupEnd; start += batchRows) {
        const end = Math.min(groupEnd, start + batchRows);
        const batch: RawRow[] = [];
        for (let row = start; row < end; row++) {
          const values: Record<string, unknown> = {};
          for (let c = 0; c < names.length; c++) values[names[c]!] = plainValue(columns[c]?.valueAt(row));
          // Parquet has no lines: a row is named by its 1-based position in the file.
          batch.push({ line: row + 1, values });
        }
        yield batch;
      }
      bytes += Number(group.total_compressed_size ?? group.total_byte_size);
      groupStart = groupEnd;
    }
  }
  return { file, format: 'parquet', totalBytes, bytesRead: () => bytes, batches: batches() };
}

/** One column of a row group as hyparquet decoded it: its pages, each with the file row it starts at. */
class DecodedColumn {
  private readonly pages: { start: number; end: number; data: ArrayLike<unknown> }[] = [];
  private at = 0;

  add(start: number, end: number, data: ArrayLike<unknown>): void {
    this.pages.push({ start, end, data });
    this.pages.sort((a, b) => a.start - b.start);
  }

  /** The value of a file row; rows are asked for in order, so the page cursor only moves forward. */
  valueAt(row: number): unknown {
    while (this.at < this.pages.length && this.pages[this.at]!.end <= row) this.at++;
    const page = this.pages[this.at];
    return page && page.start <= row ? page.data[row - page.start] : undefined;
  }
}

/**
 * A row group decoded column by column (hyparquet's chunks), with no row objects built for it: rows are
 * assembled a batch at a time from these columns, so memory holds one group's columns and one batch.
 */
async function readRowGroup(
  file: string,
  buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>,
  metadata: FileMetaData,
  rowStart: number,
  rowEnd: number,
): Promise<Map<string, DecodedColumn>> {
  const columns = new Map<string, DecodedColumn>();
  try {
    await parquetRead({
      file: buffer,
      metadata,
      compressors,
      rowStart,
      rowEnd,
      onChunk: (chunk) => {
        let column = columns.get(chunk.columnName);
        if (!column) columns.set(chunk.columnName, (column = new DecodedColumn()));
        column.add(chunk.rowStart, chunk.rowEnd, chunk.columnData);
      },
    });
  } catch (err) {
    throw new RowFileError(
      `${file}: cannot decode rows ${rowStart + 1}..${rowEnd}: ${(err as Error).message}`,
    );
  }
  return columns;
}
