/**
 * The production rows of a reference span, read from wherever the model's log is (activities/log-sources.ts).
 * With Remedy's `records` table, the log and the registration's rows in one statement (db/reference.ts).
 * With a team's table, view or files, the span is read from that source, since `records` holds only the
 * rows a cycle collected; the registration's rows fill the span before the team's log begins. Either way
 * a uniform sample ordered by md5 of the record key (the records table's order, so the same rows draw the
 * same sample wherever they are held), the span's full count, and which rows the given datasets trained on.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import * as ref from '../db/reference.js';
import type { SpanRow } from '../db/reference.js';
import type { LogSource } from './log-sources.js';

/** The sample's seed: none, so the order is md5 of the key alone, as `ref.sampleSpanRows` draws. */
const SPAN_SEED = '';

const md5 = (key: string) => createHash('md5').update(key).digest('hex');

/** md5 of the key, then the key: `ORDER BY md5(record_key), record_key`. */
function byHashThenKey(
  a: { h: string; r: { recordKey: string } },
  b: { h: string; r: { recordKey: string } },
) {
  if (a.h !== b.h) return a.h < b.h ? -1 : 1;
  return a.r.recordKey < b.r.recordKey ? -1 : a.r.recordKey > b.r.recordKey ? 1 : 0;
}

/** The earliest production row known: the log's (through its source) or the registration's. */
export async function earliestProduction(
  pool: pg.Pool,
  source: LogSource,
  modelId: string,
): Promise<Date | null> {
  if (source.kind === 'records') return ref.earliestRow(pool, modelId);
  const [logged, registered] = await Promise.all([
    source.bound(modelId, 'first'),
    ref.earliestRegistrationRow(pool, modelId),
  ]);
  const times = [logged ? new Date(logged) : null, registered].filter((t): t is Date => t !== null);
  return times.length === 0 ? null : new Date(Math.min(...times.map((t) => t.getTime())));
}

/**
 * The production rows of [start, end): at most `limit`, a uniform sample beyond it, and how many the
 * span holds. `trained` marks rows in the train split of `trainedDatasetIds`.
 */
export async function productionSpanRows(
  pool: pg.Pool,
  source: LogSource,
  input: { modelId: string; start: string; end: string; limit: number; trainedDatasetIds: number[] },
): Promise<{ rows: SpanRow[]; total: number }> {
  if (source.kind === 'records') return ref.sampleSpanRows(pool, input);
  const logged: Omit<SpanRow, 'trained'>[] = [];
  const read = await source.readWindow(
    {
      modelId: input.modelId,
      start: input.start,
      end: input.end,
      sample: { size: input.limit, seed: SPAN_SEED },
      ordered: false,
    },
    (page) => {
      for (const r of page)
        logged.push({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.feedback });
    },
  );
  // The registration's rows count where the team's log has nothing yet: before its first row.
  const first = await source.bound(input.modelId, 'first');
  const registered = await ref.registrationSpanRows(pool, { ...input, before: first });
  const drawn = [...logged, ...registered.rows]
    .map((r) => ({ r, h: md5(SPAN_SEED + r.recordKey) }))
    .sort(byHashThenKey)
    .slice(0, input.limit)
    .map((d) => d.r);
  const trained = await ref.trainedKeys(
    pool,
    input.trainedDatasetIds,
    drawn.map((r) => r.recordKey),
  );
  return {
    rows: drawn.map((r) => ({ ...r, trained: trained.has(r.recordKey) })),
    total: read.held + registered.total,
  };
}
