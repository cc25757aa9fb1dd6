/**
 * Reading a window of the production log whole: every record, streamed page by page through a
 * server-side cursor, or a uniform sample of the whole window drawn by a hash of each record's key
 * with a seed (the same seed draws the same records). Either way the caller learns how many records
 * the window held and how many it was given, so no read ever truncates a window without saying so.
 */
import type pg from 'pg';
import type { Features } from '../core/schemas.js';
import type { RecordRow } from './records.js';
import { sql, sqlText, type Sql } from './sql.js';

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
  /** Records per page handed to `onPage` (a FETCH of the cursor). */
  /** Records per page (one FETCH of the cursor): 5,000 or 20,000. */
  pageSize?: PageSize;
}

export interface WindowReadResult {
  /** Records in the window (labeled ones with `labeledOnly`). */
  held: number;
  /** Records handed to `onPage`. */
  read: number;
  selection: 'all' | 'uniform-sample';
  seed?: string;
}

export interface RawRecord {
  record_key: string;
  ts: Date;
  features: Features;
  feedback: string | null;
}

export function toRecord(r: RawRecord): RecordRow {
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
  return streamWindow(pool, q, { columns: 'records' }, (rows: RawRecord[]) => onPage(rows.map(toRecord)));
}

/** A page of `readWindowFeatures`: per record, its features' jsonb as text, and its feedback. */
export interface FeaturePage {
  features: string[];
  feedback: (string | null)[];
}

/**
 * The same records as `readWindow` (the same snapshot, order and sample), but only their features as
 * jsonb text and their feedback: no row object, timestamp or parsed features, so the caller parses only
 * what it needs.
 */
export async function readWindowFeatures(
  pool: pg.Pool,
  q: WindowRead,
  onPage: (page: FeaturePage) => void | Promise<void>,
): Promise<WindowReadResult> {
  return streamWindow(
    pool,
    q,
    { columns: 'features', rowMode: 'array' },
    (rows: [string, string | null][]) => {
      const features = new Array<string>(rows.length);
      const feedback = new Array<string | null>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        features[i] = rows[i]![0];
        feedback[i] = rows[i]![1];
      }
      return onPage({ features, feedback });
    },
  );
}

/** The page sizes a read may ask for, each with its fixed FETCH text. */
export type PageSize = 5000 | 20000;
const FETCH_PAGE: Record<PageSize, string> = {
  5000: 'FETCH FORWARD 5000 FROM window_records',
  20000: 'FETCH FORWARD 20000 FROM window_records',
};
/** The columns a read selects: whole records, or only the features' JSON text and the feedback. */
const WINDOW_COLUMNS = {
  records: sql`record_key, ts, features, feedback`,
  features: sql`features::text AS f, feedback`,
} as const;
/** The window's filter, fixed SQL: every record, or only those whose feedback has arrived. */
const WINDOW_FILTER = {
  all: sql`model_id = $1 AND ts >= $2 AND ts < $3`,
  labeled: sql`model_id = $1 AND ts >= $2 AND ts < $3 AND feedback IS NOT NULL`,
} as const;
/** In time order, or as Postgres finds them. */
const WINDOW_ORDER = { time: sql` ORDER BY ts, record_key`, found: sql`` } as const;

/** One statement with its bound values. */
export interface BoundQuery {
  text: Sql;
  values: unknown[];
}

/**
 * The statements of one window's read over some table: the count of the records it holds, and the
 * SELECT a cursor walks (every record, or the first `size` by a keyed hash of the key: a uniform sample).
 */
export interface WindowStatements {
  count: BoundQuery;
  select: (sample?: { seed: string; size: number }) => BoundQuery;
}

function recordsStatements(q: WindowRead, columns: keyof typeof WINDOW_COLUMNS): WindowStatements {
  const filter = q.labeledOnly ? 'labeled' : 'all';
  const order = q.ordered === false ? 'found' : 'time';
  const range = [q.modelId, q.start, q.end];
  return {
    count: { text: sql`SELECT count(*) AS n FROM records WHERE ${WINDOW_FILTER[filter]}`, values: range },
    select: (sample) =>
      sample
        ? // Ordering by a keyed hash is a random permutation fixed by the seed; its first `size` records
          // are a uniform sample of the whole window, wherever in time they lie.
          {
            text: sql`SELECT ${WINDOW_COLUMNS[columns]} FROM records WHERE ${WINDOW_FILTER[filter]}
         ORDER BY md5($4 || record_key), record_key LIMIT $5`,
            values: [...range, sample.seed, sample.size],
          }
        : {
            text: sql`SELECT ${WINDOW_COLUMNS[columns]} FROM records WHERE ${WINDOW_FILTER[filter]}${WINDOW_ORDER[order]}`,
            values: range,
          },
  };
}

async function streamWindow<Row>(
  pool: pg.Pool,
  q: WindowRead,
  select: { columns: keyof typeof WINDOW_COLUMNS; rowMode?: 'array' },
  onPage: (rows: Row[]) => void | Promise<void>,
): Promise<WindowReadResult> {
  return streamCursor(pool, q, recordsStatements(q, select.columns), select.rowMode, onPage);
}

/**
 * Streams a window's rows through a server-side cursor, one page at a time, in one read-only snapshot:
 * the statements say which table and columns; the count is taken only when a sample is asked for.
 */
export async function streamCursor<Row>(
  pool: pg.Pool,
  q: Pick<WindowRead, 'sample' | 'pageSize'>,
  statements: WindowStatements,
  rowMode: 'array' | undefined,
  onPage: (rows: Row[]) => void | Promise<void>,
): Promise<WindowReadResult> {
  if (q.sample && !(Number.isInteger(q.sample.size) && q.sample.size > 0))
    throw new Error(`a window sample needs a positive whole number of records, got ${q.sample.size}`);
  const pageSize: PageSize = q.pageSize ?? 5000;
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let held: number | null = null;
    let sampled = false;
    if (q.sample) {
      const { rows } = await client.query<{ n: string }>(
        sqlText(statements.count.text),
        statements.count.values,
      );
      held = Number(rows[0]!.n);
      sampled = held > q.sample.size;
    }
    const chosen = statements.select(sampled ? q.sample : undefined);
    await client.query(
      sqlText(sql`DECLARE window_records NO SCROLL CURSOR FOR ${chosen.text}`),
      chosen.values,
    );
    let read = 0;
    const fetchArraysQuery: pg.QueryArrayConfig = { text: FETCH_PAGE[pageSize], rowMode: 'array' };
    const fetchObjectsQuery: pg.QueryConfig = { text: FETCH_PAGE[pageSize] };
    const fetchPage = async (): Promise<Row[]> =>
      (rowMode
        ? await client.query<Row & unknown[]>(fetchArraysQuery)
        : await client.query<Row & pg.QueryResultRow>(fetchObjectsQuery)
      ).rows;
    // Postgres reads the next page while this one is handed over, so both sides work at once.
    let next = fetchPage();
    for (;;) {
      const rows = await next;
      const more = rows.length === pageSize;
      if (more) {
        next = fetchPage();
        // A failure surfaces when awaited (or, if onPage throws first, the rollback below follows it).
        next.catch(() => {});
      }
      if (rows.length > 0) {
        read += rows.length;
        await onPage(rows);
      }
      if (!more) break;
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
