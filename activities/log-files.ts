/**
 * A team's prediction log as a directory of Parquet or CSV files partitioned by date: `dt=2024-05-01/`
 * subdirectories (any `name=YYYY-MM-DD`) or files named `2024-05-01.parquet` / `.csv`. A window opens only
 * the partitions whose UTC day overlaps it and keeps the rows whose time lies in it, read a batch at a time
 * with the same readers as `remedy ingest` (infra/row-files.ts): memory is one batch and one page, or the
 * sample the policy asks for, never the window.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { featureColumns, LogSourceError, type LogColumns } from '../core/log-source.js';
import type { FeatureSpec, Features } from '../core/schemas.js';
import type { RecordRow } from '../db/records.js';
import type { WindowRead, WindowReadResult } from '../db/windows.js';
import { openRowFile, RowFileError, type RawRow } from '../infra/row-files.js';

const DAY_MS = 86_400_000;
const PARTITION_DIR = /^[^=]+=(\d{4}-\d{2}-\d{2})$/;
const PARTITION_FILE = /^(\d{4}-\d{2}-\d{2})\.(parquet|csv)$/i;
const DATA_FILE = /\.(parquet|csv)$/i;

export interface FilesLog {
  directory: string;
  columns: LogColumns;
  features: FeatureSpec;
}

interface Partition {
  day: string;
  start: number;
  files: string[];
}

const where = (log: FilesLog) => `files log source ${log.directory}`;

async function entries(dir: string, log: FilesLog) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LogSourceError(
      `${where(log)}: cannot read ${dir} (${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : String(err)}): check policy.logSource.directory and that every worker can read it`,
    );
  }
}

/** The directory's date partitions, by day. */
export async function listPartitions(log: FilesLog): Promise<Partition[]> {
  const byDay = new Map<string, Partition>();
  const add = (day: string, file: string) => {
    const start = Date.parse(`${day}T00:00:00.000Z`);
    if (Number.isNaN(start)) return;
    const p = byDay.get(day) ?? { day, start, files: [] };
    p.files.push(file);
    byDay.set(day, p);
  };
  for (const e of await entries(log.directory, log)) {
    const full = path.join(log.directory, e.name);
    const dirDay = PARTITION_DIR.exec(e.name)?.[1];
    if (e.isDirectory() && dirDay) {
      for (const f of await entries(full, log))
        if (f.isFile() && DATA_FILE.test(f.name)) add(dirDay, path.join(full, f.name));
    } else if (e.isFile()) {
      const fileDay = PARTITION_FILE.exec(e.name)?.[1];
      if (fileDay) add(fileDay, full);
    }
  }
  const out = [...byDay.values()].sort((a, b) => a.start - b.start);
  for (const p of out) p.files.sort();
  return out;
}

/** A row of a partition file as a record, or null when its time lies outside [from, to). */
type RowReader = (row: RawRow, file: string) => { record: RecordRow; json: string } | null;

function timeOf(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') return v;
  return typeof v === 'string' && v !== '' ? Date.parse(v) : NaN;
}

/** A numeric feature's value from a file: CSV gives text, Parquet typed values. */
function numeric(v: unknown): unknown {
  if (v === '' || v === undefined) return null;
  if (typeof v !== 'string') return v;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/** A value as text; null, absent and '' are no value. */
function asText(v: unknown): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return v instanceof Date ? v.toISOString() : JSON.stringify(v);
}

function rowReader(log: FilesLog, from: number, to: number): RowReader {
  const c = log.columns;
  const mapped = featureColumns(c);
  const numericFeatures = new Set(log.features.numeric);
  const checked = new Set<string>();
  const needed = [
    ['key', c.key],
    ['time', c.time],
    ...(mapped
      ? [...mapped].map(([f, col]) => [`features.${f}`, col])
      : [['features', c.features as string]]),
    ...(c.label ? [['label', c.label]] : []),
  ];
  return (row, file) => {
    if (!checked.has(file)) {
      for (const [role, column] of needed)
        if (!(column! in row.values))
          throw new LogSourceError(
            `${where(log)}: ${file} has no column "${column}" (columns.${role}); it has ${Object.keys(row.values).join(', ')}`,
          );
      checked.add(file);
    }
    const v = row.values;
    const t = timeOf(v[c.time]);
    if (Number.isNaN(t))
      throw new LogSourceError(
        `${where(log)}: ${file} row ${row.line}: "${String(v[c.time])}" in "${c.time}" is not a time`,
      );
    if (t < from || t >= to) return null;
    let features: Features;
    let json: string;
    if (mapped) {
      features = {};
      for (const [f, column] of mapped) {
        const value = numericFeatures.has(f) ? numeric(v[column]) : v[column];
        // A missing value is an absent key, as in the records table.
        if (value !== null && value !== undefined && value !== '') features[f] = value as Features[string];
      }
      json = JSON.stringify(features);
    } else {
      const raw = v[c.features as string];
      json = typeof raw === 'string' ? raw : JSON.stringify(raw ?? null);
      try {
        features = JSON.parse(json) as Features;
      } catch {
        throw new LogSourceError(
          `${where(log)}: ${file} row ${row.line}: "${c.features as string}" does not hold a JSON object`,
        );
      }
      if (typeof features !== 'object' || features === null || Array.isArray(features))
        throw new LogSourceError(
          `${where(log)}: ${file} row ${row.line}: "${c.features as string}" does not hold a JSON object`,
        );
    }
    const feedback = c.label === undefined ? null : asText(v[c.label]);
    return { record: { recordKey: asText(v[c.key]) ?? '', ts: new Date(t), features, feedback }, json };
  };
}

/** Every row of the partitions overlapping [from, to) that lies in it, a batch at a time. */
async function* windowRows(
  log: FilesLog,
  from: number,
  to: number,
): AsyncGenerator<{ record: RecordRow; json: string }[]> {
  const read = rowReader(log, from, to);
  for (const p of await listPartitions(log)) {
    if (p.start >= to || p.start + DAY_MS <= from) continue;
    for (const file of p.files) {
      let source;
      try {
        source = await openRowFile(file);
        for await (const batch of source.batches) {
          const rows = [];
          for (const raw of batch) {
            const r = read(raw, file);
            if (r) rows.push(r);
          }
          yield rows;
        }
      } catch (err) {
        if (err instanceof RowFileError) throw new LogSourceError(`${where(log)}: ${err.message}`);
        throw err;
      }
    }
  }
}

const hashOf = (seed: string, key: string) =>
  createHash('md5')
    .update(seed + key)
    .digest('hex');

/**
 * A window of the files, handed over in pages of `pageSize` (partition by partition, file order within
 * one). With a sample, the records with the smallest keyed hashes (the order the records table samples
 * by, so the same keys draw the same records), holding at most twice the sample while it streams.
 */
export async function readFilesWindow<Page>(
  log: FilesLog,
  q: WindowRead,
  toPage: (rows: { record: RecordRow; json: string }[]) => Page,
  onPage: (page: Page) => void | Promise<void>,
): Promise<WindowReadResult> {
  const from = Date.parse(q.start);
  const to = Date.parse(q.end);
  const pageSize = q.pageSize ?? 5000;
  let held = 0;
  let read = 0;
  let page: { record: RecordRow; json: string }[] = [];
  const flush = async () => {
    if (page.length === 0) return;
    read += page.length;
    const full = page;
    page = [];
    await onPage(toPage(full));
  };
  type Drawn = { record: RecordRow; json: string; h: string };
  const byHash = (a: Drawn, b: Drawn) =>
    a.h < b.h ? -1 : a.h > b.h ? 1 : a.record.recordKey < b.record.recordKey ? -1 : 1;
  let drawn: Drawn[] = [];
  for await (const rows of windowRows(log, from, to)) {
    for (const r of rows) {
      if (q.labeledOnly && r.record.feedback === null) continue;
      held++;
      if (q.sample) {
        drawn.push({ ...r, h: hashOf(q.sample.seed, r.record.recordKey) });
        if (drawn.length >= 2 * q.sample.size) drawn = drawn.sort(byHash).slice(0, q.sample.size);
        continue;
      }
      page.push(r);
      if (page.length >= pageSize) await flush();
    }
  }
  if (q.sample) {
    drawn = drawn.sort(byHash).slice(0, q.sample.size);
    for (const d of drawn) {
      page.push(d);
      if (page.length >= pageSize) await flush();
    }
  }
  await flush();
  const sampled = q.sample !== undefined && held > q.sample.size;
  return sampled
    ? { held, read, selection: 'uniform-sample', seed: q.sample!.seed }
    : { held, read, selection: 'all' };
}

/** The earliest or latest time in the directory's first or last partition (null with none). */
export async function filesBound(log: FilesLog, which: 'first' | 'last'): Promise<string | null> {
  const parts = await listPartitions(log);
  const p = which === 'first' ? parts[0] : parts[parts.length - 1];
  if (!p) return null;
  let best: number | null = null;
  for await (const rows of windowRows(log, p.start, p.start + DAY_MS))
    for (const r of rows) {
      const t = r.record.ts.getTime();
      if (best === null || (which === 'first' ? t < best : t > best)) best = t;
    }
  return best === null ? null : new Date(best).toISOString();
}
