/**
 * Reading tables from disk (CSV and Parquet) into typed columns for the drift engine, with errors that
 * name the file, the line and the column.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { Column } from '../core/drift.js';
import { UserError } from '../ops/user-error.js';

export interface Table {
  file: string;
  rows: number;
  /** Columns in file order: text values (CSV) or typed values (Parquet) before typing for the engine. */
  columns: Map<string, RawColumn>;
}

export type RawColumn =
  | { source: 'text'; values: string[] }
  | { source: 'number'; values: Float64Array }
  | { source: 'string'; values: (string | null)[] }
  /** Timestamps as epoch milliseconds, read only when asked (they are not features). */
  | { source: 'timestamp'; values?: Float64Array };

/** Files larger than this are refused with a message, rather than exhausting memory. */
export const MAX_TABLE_BYTES = 2 * 1024 ** 3;

/** The size of a file a person named, or an error saying why it cannot be read. */
export async function fileSize(file: string): Promise<number> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new UserError(`${file} is not a file`);
    return s.size;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err)}`,
    );
  }
}

export async function readTable(file: string, opts: { timestamps?: boolean } = {}): Promise<Table> {
  const size = await fileSize(file);
  if (size > MAX_TABLE_BYTES)
    throw new UserError(
      `${file} is ${(size / 1024 ** 3).toFixed(1)} GiB; the limit is 2 GiB: pass a sample or a shorter window`,
    );
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return readParquet(file, opts.timestamps === true);
  if (ext === '.csv' || ext === '.txt') return readCsv(file);
  throw new UserError(`${file}: unknown file type "${ext || '(none)'}"; use .csv or .parquet`);
}

async function readCsv(file: string): Promise<Table> {
  let records: string[][];
  try {
    records = parse(await readFile(file, 'utf8'), {
      skip_empty_lines: true,
      relax_column_count: false,
      bom: true,
    });
  } catch (err) {
    throw new UserError(`${file} is not valid CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  const header = records[0];
  if (!header || header.length === 0)
    throw new UserError(`${file} is empty: it needs a header line and rows`);
  const seen = new Set<string>();
  for (const h of header) {
    if (h.trim() === '') throw new UserError(`${file}: the header has an empty column name`);
    if (seen.has(h)) throw new UserError(`${file}: column "${h}" appears twice in the header`);
    seen.add(h);
  }
  const body = records.slice(1);
  const columns = new Map<string, RawColumn>();
  header.forEach((h, j) => columns.set(h, { source: 'text', values: body.map((r) => r[j]!) }));
  return { file, rows: body.length, columns };
}

async function readParquet(file: string, timestamps: boolean): Promise<Table> {
  const buffer = await asyncBufferFromFile(file);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new UserError(
      `${file} is not a readable Parquet file: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const rows = Number(metadata.num_rows);
  const columns = new Map<string, RawColumn>();
  const kinds = new Map<string, 'number' | 'string' | 'timestamp' | 'boolean'>();
  for (const el of metadata.schema.slice(1)) {
    if (el.num_children)
      throw new UserError(`${file}: nested column "${el.name}" is not supported; flatten it first`);
    const logical = el.logical_type?.type;
    const kind =
      logical === 'TIMESTAMP' || logical === 'DATE' || el.converted_type === 'DATE' || el.type === 'INT96'
        ? 'timestamp'
        : el.type === 'BOOLEAN'
          ? 'boolean'
          : el.type === 'BYTE_ARRAY' || el.type === 'FIXED_LEN_BYTE_ARRAY'
            ? 'string'
            : 'number';
    kinds.set(el.name, kind);
    columns.set(
      el.name,
      kind === 'timestamp'
        ? timestamps
          ? { source: 'timestamp', values: new Float64Array(rows) }
          : { source: 'timestamp' }
        : kind === 'number'
          ? { source: 'number', values: new Float64Array(rows) }
          : { source: 'string', values: new Array<string | null>(rows).fill(null) },
    );
  }
  const wanted = [...kinds].filter(([, k]) => timestamps || k !== 'timestamp').map(([n]) => n);
  try {
    await parquetRead({
      file: buffer,
      metadata,
      compressors,
      columns: wanted,
      onChunk: ({ columnName, columnData, rowStart }) => {
        const col = columns.get(columnName)!;
        if (col.source === 'timestamp' && col.values) {
          for (let i = 0; i < columnData.length; i++) {
            const v = columnData[i] as Date | number | bigint | null | undefined;
            col.values[rowStart + i] =
              v instanceof Date ? v.getTime() : v === null || v === undefined ? NaN : Number(v);
          }
        } else if (col.source === 'number') {
          for (let i = 0; i < columnData.length; i++) {
            const v = columnData[i] as number | bigint | null | undefined;
            col.values[rowStart + i] = v === null || v === undefined ? NaN : Number(v);
          }
        } else if (col.source === 'string') {
          for (let i = 0; i < columnData.length; i++) {
            const v = columnData[i] as string | number | bigint | boolean | null | undefined;
            col.values[rowStart + i] = v === null || v === undefined ? null : String(v);
          }
        }
      },
    });
  } catch (err) {
    throw new UserError(
      `${file}: cannot decode its data: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return { file, rows, columns };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(text: string): number | null {
  const t = text.trim();
  if (t === '') return NaN; // missing
  if (!NUMBER.test(t)) return null;
  return Number(t);
}

/** Numeric when every non-empty value parses as a finite number (CSV) or the column is numeric (Parquet). */
export function inferType(col: RawColumn): 'numeric' | 'categorical' | 'timestamp' {
  if (col.source === 'timestamp') return 'timestamp';
  if (col.source === 'number') return 'numeric';
  if (col.source === 'string') return 'categorical';
  if (
    col.values.some((v) => v.trim() !== '') &&
    col.values.every((v) => v.trim() === '' || ISO_DATE.test(v.trim()))
  )
    return 'timestamp';
  let any = false;
  for (const v of col.values) {
    const n = parseNumber(v);
    if (n === null) return 'categorical';
    if (!Number.isNaN(n)) any = true;
  }
  return any ? 'numeric' : 'categorical';
}

/** Types a raw column for the engine; a value that is not a number in a numeric column is an error. */
export function toColumn(table: Table, name: string, type: 'numeric' | 'categorical'): Column {
  const col = table.columns.get(name)!;
  if (col.source === 'timestamp' || (type === 'numeric' && inferType(col) === 'timestamp'))
    throw new UserError(`${table.file}: column "${name}" holds timestamps, which are not tested`);
  if (type === 'categorical') {
    if (col.source === 'number')
      return {
        type: 'categorical',
        values: Array.from(col.values, (v) => (Number.isNaN(v) ? null : String(v))),
      };
    return {
      type: 'categorical',
      values: col.source === 'text' ? col.values.map((v) => (v.trim() === '' ? null : v)) : col.values,
    };
  }
  if (col.source === 'number') return { type: 'numeric', values: col.values };
  if (col.source === 'string')
    throw new UserError(`${table.file}: column "${name}" holds text, but it is numeric in the reference`);
  const values = new Float64Array(col.values.length);
  for (let i = 0; i < col.values.length; i++) {
    const n = parseNumber(col.values[i]!);
    if (n === null || (!Number.isFinite(n) && !Number.isNaN(n)))
      throw new UserError(
        `${table.file} line ${i + 2}: column "${name}" is numeric, but the value is ${JSON.stringify(col.values[i])}; fix the value or declare the column with --categorical ${name}`,
      );
    values[i] = n;
  }
  return { type: 'numeric', values };
}
