/**
 * Reading production-log rows and reference data from CSV or NDJSON files, checked against a model's
 * definition row by row. A file with a bad row is refused whole (nothing written) unless the caller asks
 * to skip bad rows; either way every refused row is reported with its line and the reason.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Features, ModelDefinition, TargetRange } from '../core/schemas.js';
import { canonicalNumericLabel, numericLabelProblem, numericLabelRange } from '../core/regression-labels.js';
import { UserError } from './user-error.js';
import { fileSize } from '../drift/tables.js';

/** Larger files are refused with a message: split them, each part is ingested on its own. */
export const MAX_INGEST_BYTES = 512 * 1024 ** 2;

export interface RawRow {
  /** 1-based line of the file the row starts on (the header is line 1 in a CSV). */
  line: number;
  values: Record<string, unknown>;
}

/** What rows are checked against: the features, and the labels (classes, or a regression's number). */
export type CheckedModel = Pick<ModelDefinition, 'features' | 'labelSet'> &
  Partial<Pick<ModelDefinition, 'task' | 'target'>>;

export interface Columns {
  key: string;
  time: string;
  /** The ground truth column: optional in the production log, required in reference data. */
  label: string;
}

export interface LogRow {
  recordKey: string;
  ts: string;
  features: Features;
  feedback: string | null;
}

export interface Rejection {
  line: number;
  reason: string;
}

export async function readRows(file: string): Promise<RawRow[]> {
  const size = await fileSize(file);
  if (size > MAX_INGEST_BYTES)
    throw new UserError(
      `${file} is ${(size / 1024 ** 2).toFixed(0)} MiB; the limit is ${MAX_INGEST_BYTES / 1024 ** 2} MiB: split it into parts`,
    );
  const text = await readFile(file, 'utf8');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.ndjson' || ext === '.jsonl') return ndjsonRows(file, text);
  if (ext === '.csv') return csvRows(file, text);
  throw new UserError(`${file}: unknown file type "${ext || '(none)'}"; use .csv, .ndjson or .jsonl`);
}

function ndjsonRows(file: string, text: string): RawRow[] {
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new UserError(
        `${file}:${i + 1}: not JSON (${(err as Error).message}); each line is one JSON object`,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new UserError(
        `${file}:${i + 1}: each line must be a JSON object, found ${JSON.stringify(value)}`,
      );
    rows.push({ line: i + 1, values: value as Record<string, unknown> });
  });
  return rows;
}

function csvRows(file: string, text: string): RawRow[] {
  try {
    const records: { record: Record<string, string>; info: { lines: number } }[] = parse(text, {
      columns: true,
      skip_empty_lines: true,
      bom: true,
      info: true,
    });
    return records.map((r) => ({ line: r.info.lines, values: r.record }));
  } catch (err) {
    throw new UserError(`${file}: not a valid CSV file: ${(err as Error).message}`);
  }
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * One row checked against the model: a key, a time, every feature with the right type (numbers finite,
 * categories non-empty), and a label from the model's label set when there is one. Returns the row or
 * the reason it is refused.
 */
export function checkRow(
  row: RawRow,
  model: CheckedModel,
  columns: Columns,
  opts: { labelRequired: boolean },
): LogRow | Rejection {
  const v = row.values;
  const refuse = (reason: string): Rejection => ({ line: row.line, reason });
  const key = v[columns.key];
  if ((typeof key !== 'string' && typeof key !== 'number') || String(key).trim() === '')
    return refuse(`no ${columns.key}: every row needs a unique key`);
  const recordKey = String(key).trim();
  if (recordKey.length > 200) return refuse(`${columns.key} is longer than 200 characters`);
  const rawTime = v[columns.time];
  if (typeof rawTime !== 'string' || !ISO_TIME.test(rawTime.trim()) || Number.isNaN(Date.parse(rawTime)))
    return refuse(
      `${columns.time} ${JSON.stringify(rawTime ?? null)} is not a date: use ISO 8601, e.g. 2013-04-01T12:00:00Z`,
    );
  const ts = new Date(
    rawTime.trim().length === 10 ? `${rawTime.trim()}T00:00:00Z` : rawTime.trim(),
  ).toISOString();
  const features: Features = {};
  for (const name of model.features.numeric) {
    const raw = v[name];
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (raw === undefined || raw === null || raw === '') return refuse(`${name} is missing`);
    if (!Number.isFinite(n)) return refuse(`${name} ${JSON.stringify(raw)} is not a finite number`);
    features[name] = n;
  }
  for (const name of model.features.categorical) {
    const raw = v[name];
    if (raw === undefined || raw === null) return refuse(`${name} is missing`);
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')
      return refuse(`${name} must be text, found ${JSON.stringify(raw)}`);
    if (String(raw).trim() === '') return refuse(`${name} is missing`);
    features[name] = String(raw);
  }
  const rawLabel = v[columns.label];
  if (model.task === 'regression') {
    const numeric = numericLabelOf(rawLabel, model.target, columns.label, opts.labelRequired);
    return 'reason' in numeric
      ? refuse(numeric.reason)
      : { recordKey, ts, features, feedback: numeric.value };
  }
  let feedback: string | null = null;
  if (rawLabel !== undefined && rawLabel !== null && typeof rawLabel !== 'string')
    return refuse(`${columns.label} must be text, found ${JSON.stringify(rawLabel)}`);
  if (typeof rawLabel === 'string' && rawLabel.trim() !== '') {
    feedback = rawLabel.trim();
    if (!model.labelSet.includes(feedback))
      return refuse(
        `${columns.label} "${feedback}" is not one of the model's labels (${model.labelSet.join(', ')})`,
      );
  } else if (opts.labelRequired)
    return refuse(`${columns.label} is missing: reference rows need their label`);
  return { recordKey, ts, features, feedback };
}

/**
 * A regression model's label: a finite number (a JSON number, or decimal text in a CSV) inside the
 * model's target range when it sets one, stored in one form ("23.50" as "23.5"); empty is no label.
 */
function numericLabelOf(
  raw: unknown,
  target: TargetRange | undefined,
  column: string,
  required: boolean,
): { value: string | null } | { reason: string } {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === ''))
    return required
      ? { reason: `${column} is missing: reference rows need their label (a number)` }
      : { value: null };
  const problem = numericLabelProblem(raw, numericLabelRange(target, null, 0));
  // The shared rules name the field "label"; here it is the file's column.
  if (problem !== null) return { reason: `${column}${problem.slice('label'.length)}` };
  return { value: canonicalNumericLabel(raw as string | number) };
}

export interface CheckedFile {
  rows: LogRow[];
  rejected: Rejection[];
}

/** Every row of a file checked; a key seen twice in the file is refused the second time. */
export function checkRows(
  raw: readonly RawRow[],
  model: CheckedModel,
  columns: Columns,
  opts: { labelRequired: boolean },
): CheckedFile {
  const rows: LogRow[] = [];
  const rejected: Rejection[] = [];
  const seen = new Map<string, number>();
  for (const r of raw) {
    const checked = checkRow(r, model, columns, opts);
    if ('reason' in checked) {
      rejected.push(checked);
      continue;
    }
    const first = seen.get(checked.recordKey);
    if (first !== undefined) {
      rejected.push({ line: r.line, reason: `${columns.key} "${checked.recordKey}" repeats line ${first}` });
      continue;
    }
    seen.set(checked.recordKey, r.line);
    rows.push(checked);
  }
  return { rows, rejected };
}

/** The rejected rows as a person reads them, at most `limit` lines and a count of the rest. */
export function rejectionReport(file: string, rejected: readonly Rejection[], limit = 20): string {
  const lines = rejected.slice(0, limit).map((r) => `  ${file}:${r.line}: ${r.reason}`);
  if (rejected.length > limit) lines.push(`  … and ${rejected.length - limit} more`);
  return `${lines.join('\n')}\n`;
}
