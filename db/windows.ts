/**
 * Reading a window of the production log whole: every record, streamed page by page through a
 * server-side cursor, or a uniform sample of the whole window drawn by a hash of each record's key
 * with a seed (the same seed draws the same records). Either way the caller learns how many records
 * the window held and how many it was given, so no read ever truncates a window without saying so.
 */
import type pg from 'pg';
import type { Features } from '../core/schemas.js';
import type { RecordRow } from './records.js';

export interface WindowRead {
  modelId: string;
  start: string;
  end: string;
  /** Draw at most `size` records uniformly from the whole window (none: every record). */
  sample?: { size: number; seed: string } | undefined;
  /** Only records whose feedback has arrived. */
  labeledOnly?: boolean;
  /** Hand the records over in time order (the default); false lets Postgres read them as it finds them. */
  ordered?: boolean;
}

/** Records per page handed to `onPage`: one FETCH of the cursor. */
const PAGE_SIZE = 5000;
const FETCH_PAGE = `FETCH FORWARD ${PAGE_SIZE} FROM window_records`;
/** The window's filter, fixed SQL: every record, or only those whose feedback has arrived. */
const WINDOW_FILTER = {
  all: 'model_id = $1 AND ts >= $2 AND ts < $3',
  labeled: 'model_id = $1 AND ts >= $2 AND ts < $3 AND feedback IS NOT NULL',
} as const;
/** In time order, or as Postgres finds them. */
const WINDOW_ORDER = { time: ' ORDER BY ts, record_key', found: '' } as const;

export interface WindowReadResult {
  /** Records in the window (labeled ones with `labeledOnly`). */
  held: number;
  /** Records handed to `onPage`. */
  read: number;
  selection: 'all' | 'uniform-sample';
  seed?: string;
}

interface RawRecord {
  record_key: string;
  ts: Date;
  features: Features;
  feedback: string | null;
}

function toRecord(r: RawRecord): RecordRow {
  if (typeof r.features !== 'object' || r.features === null)
    throw new Error(`record "${r.record_key}" has features that are not an object`);
  return { recordKey: r.record_key, ts: r.ts, features: r.features, feedback: r.feedback };
}

/**
 * Streams a window's records to `onPage` in pages, in one read-only snapshot (the count and the rows
 * agree even while traffic arrives). Memory is one page at a time, whatever the window's size.
 */
export async function readWindow(
  pool: pg.Pool,
  q: WindowRead,
  onPage: (rows: RecordRow[]) => void | Promise<void>,
): Promise<WindowReadResult> {
  if (q.sample && !(Number.isInteger(q.sample.size) && q.sample.size > 0))
    throw new Error(`a window sample needs a positive whole number of records, got ${q.sample.size}`);
  const filter = q.labeledOnly ? 'labeled' : 'all';
  const order = q.ordered === false ? 'found' : 'time';
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let held: number | null = null;
    let sampled = false;
    if (q.sample) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM records WHERE ${WINDOW_FILTER[filter]}`,
        [q.modelId, q.start, q.end],
      );
      held = Number(rows[0]!.n);
      sampled = held > q.sample.size;
    }
    if (sampled) {
      // Ordering by a keyed hash is a random permutation fixed by the seed; its first `size` records
      // are a uniform sample of the whole window, wherever in time they lie.
      await client.query(
        `DECLARE window_records NO SCROLL CURSOR FOR
         SELECT record_key, ts, features, feedback FROM records WHERE ${WINDOW_FILTER[filter]}
         ORDER BY md5($4 || record_key), record_key LIMIT $5`,
        [q.modelId, q.start, q.end, q.sample!.seed, q.sample!.size],
      );
    } else {
      await client.query(
        `DECLARE window_records NO SCROLL CURSOR FOR
         SELECT record_key, ts, features, feedback FROM records WHERE ${WINDOW_FILTER[filter]}${WINDOW_ORDER[order]}`,
        [q.modelId, q.start, q.end],
      );
    }
    let read = 0;
    for (;;) {
      const { rows } = await client.query<RawRecord>(FETCH_PAGE);
      if (rows.length > 0) {
        read += rows.length;
        await onPage(rows.map(toRecord));
      }
      if (rows.length < PAGE_SIZE) break;
    }
    await client.query('COMMIT');
    return sampled
      ? { held: held!, read, selection: 'uniform-sample', seed: q.sample!.seed }
      : { held: held ?? read, read, selection: 'all' };
  } catch (err) {
    // A connection that cannot even roll back is dropped from the pool rather than reused.
    await client.query('ROLLBACK').catch((rollback: Error) => (failed = rollback));
    throw err;
  } finally {
    client.release(failed);
  }
}

/** The seed a window's sample is drawn with: the same model and window draw the same records. */
export function windowSeed(modelId: string, start: string, end: string): string {
  return `${modelId}|${new Date(start).toISOString()}|${new Date(end).toISOString()}`;
}
