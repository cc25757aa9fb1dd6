/**
 * Production-log files of any length made from the real weather table (vega-datasets weather.csv, 2,922
 * rows): the table is repeated, each copy with new keys (`c<copy>:<key>`) and its rows moved by <copy>
 * minutes within their day, so every row is unique and every value is a real observation. Written as CSV,
 * NDJSON or Parquet for the ingest benchmark and tests.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { parquetWriteFile } from 'hyparquet-writer';
import type { WeatherRow } from './weather.js';

export const LOG_FEATURES = [
  'location',
  'precipitation',
  'temp_max',
  'temp_min',
  'wind',
  'season_sin',
  'season_cos',
] as const;

export interface LogLine {
  record_key: string;
  ts: string;
  features: WeatherRow['features'];
  feedback: string;
}

/** Row `i` of a log of repeated weather rows. */
export function logLine(table: readonly WeatherRow[], i: number): LogLine {
  const copy = Math.floor(i / table.length);
  const r = table[i % table.length]!;
  const ts = new Date(Date.parse(r.ts) + copy * 60_000).toISOString();
  return { record_key: `c${copy}:${r.recordKey}`, ts, features: r.features, feedback: r.label };
}

function csvLine(l: LogLine): string {
  return `${l.record_key},${l.ts},${LOG_FEATURES.map((f) => l.features[f]).join(',')},${l.feedback}\n`;
}

function ndjsonLine(l: LogLine): string {
  return `${JSON.stringify({ record_key: l.record_key, ts: l.ts, ...l.features, feedback: l.feedback })}\n`;
}

/**
 * Writes `rows` rows as CSV or NDJSON; `edit` may replace a row's text (a bad row for a test).
 * Streams, so a million rows take no memory.
 */
export async function writeTextLog(
  file: string,
  format: 'csv' | 'ndjson',
  table: readonly WeatherRow[],
  rows: number,
  edit?: (i: number, l: LogLine) => LogLine,
): Promise<void> {
  const out = createWriteStream(file);
  const line = format === 'csv' ? csvLine : ndjsonLine;
  if (format === 'csv') out.write(`record_key,ts,${LOG_FEATURES.join(',')},feedback\n`);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const l = logLine(table, i);
    chunk += line(edit ? edit(i, l) : l);
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await finished(out);
}

/** Writes `rows` rows as Parquet (times as TIMESTAMP), in row groups of `rowGroupSize`. */
export function writeParquetLog(
  file: string,
  table: readonly WeatherRow[],
  rows: number,
  rowGroupSize: number,
): void {
  const lines = Array.from({ length: rows }, (_, i) => logLine(table, i));
  parquetWriteFile({
    filename: file,
    rowGroupSize,
    columnData: [
      { name: 'record_key', data: lines.map((l) => l.record_key), type: 'STRING' },
      { name: 'ts', data: lines.map((l) => new Date(l.ts)), type: 'TIMESTAMP' },
      { name: 'location', data: lines.map((l) => l.features.location), type: 'STRING' },
      ...LOG_FEATURES.slice(1).map((f) => ({
        name: f,
        data: Float64Array.from(lines, (l) => l.features[f] as number),
        type: 'DOUBLE' as const,
      })),
      { name: 'feedback', data: lines.map((l) => l.feedback), type: 'STRING' },
    ],
  });
}
