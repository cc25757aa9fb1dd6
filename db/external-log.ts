/**
 * A team's own prediction log in their Postgres: a table or view read through a column mapping. Names
 * from the policy only ever reach SQL through `ident` (db/sql.ts: checked, then double-quoted with inner
 * quotes doubled); every value (the window, the seed, the feature names) is a bound parameter.
 */
import type pg from 'pg';
import { featureColumns, LogSourceError, type LogColumns } from '../core/log-source.js';
import type { Queryable } from './pool.js';
import {
  streamCursor,
  toRecord,
  type BoundQuery,
  type FeaturePage,
  type RawRecord,
  type WindowRead,
  type WindowReadResult,
} from './windows.js';
import type { RecordRow } from './records.js';
import { ident, IdentifierError, joinSql, param, quoteIdent, sql, sqlText, type Sql } from './sql.js';

export interface LogTable {
  schema?: string | undefined;
  table: string;
  columns: LogColumns;
}

const qualified = (t: LogTable): Sql =>
  t.schema === undefined ? ident(t.table) : sql`${ident(t.schema)}.${ident(t.table)}`;
const tableName = (t: LogTable) => (t.schema === undefined ? t.table : `${t.schema}.${t.table}`);

/** The columns of a table or view and their types (the current schema when none is named). */
export async function logTableColumns(q: Queryable, t: LogTable): Promise<Map<string, string>> {
  const { rows } = await q.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
    [t.schema ?? null, t.table],
  );
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

const TIME_TYPES = ['timestamp with time zone', 'timestamp without time zone', 'date'];
const JSON_TYPES = ['jsonb', 'json', 'text', 'character varying'];

/** Every mapped column exists with a type the reads can use, or an error naming the first that does not. */
export async function checkLogTable(q: Queryable, t: LogTable): Promise<void> {
  const where = `postgres log source ${tableName(t)}`;
  const names = [t.schema, t.table, t.columns.key, t.columns.time, t.columns.label];
  const features = t.columns.features;
  names.push(...(typeof features === 'string' ? [features] : Object.values(features)));
  for (const name of names)
    if (name !== undefined) {
      try {
        quoteIdent(name);
      } catch (err) {
        if (err instanceof IdentifierError) throw new LogSourceError(`${where}: ${err.message}`);
        throw err;
      }
    }
  const have = await logTableColumns(q, t);
  if (have.size === 0)
    throw new LogSourceError(
      `${where}: no such table or view${t.schema ? '' : ' in the current schema'} (or the connection's role cannot see it): check "table"${t.schema ? ' and "schema"' : ''} in policy.logSource`,
    );
  const mapped = featureColumns(t.columns);
  const wanted: [string, string][] = [
    ['key', t.columns.key],
    ['time', t.columns.time],
    ...(mapped ? [...mapped].map(([f, c]): [string, string] => [`features.${f}`, c]) : []),
    ...(typeof t.columns.features === 'string' ? [['features', t.columns.features] as [string, string]] : []),
    ...(['prediction', 'probabilities', 'label'] as const)
      .filter((k) => t.columns[k] !== undefined)
      .map((k): [string, string] => [k, t.columns[k]!]),
  ];
  for (const [role, column] of wanted) {
    if (!have.has(column))
      throw new LogSourceError(
        `${where} has no column "${column}" (columns.${role}); it has ${[...have.keys()].join(', ')}`,
      );
  }
  const timeType = have.get(t.columns.time)!;
  if (!TIME_TYPES.includes(timeType))
    throw new LogSourceError(
      `${where}: the time column "${t.columns.time}" is ${timeType}; it must be a timestamp (or date)`,
    );
  if (typeof t.columns.features === 'string' && !JSON_TYPES.includes(have.get(t.columns.features)!))
    throw new LogSourceError(
      `${where}: the features column "${t.columns.features}" is ${have.get(t.columns.features)}; it must hold a JSON object (jsonb, json or text)`,
    );
}

/**
 * The SQL of a window over the team's table: the features as one jsonb value (the mapped column, or the
 * feature columns built into an object whose keys are bound values), the label as text or null.
 */
function statements(t: LogTable, q: WindowRead, columns: 'records' | 'features') {
  const key = sql`${ident(t.columns.key)}::text`;
  const time = ident(t.columns.time);
  const label = t.columns.label ? sql`NULLIF(${ident(t.columns.label)}::text, '')` : sql`NULL::text`;
  const range = [q.start, q.end];
  const mapped = featureColumns(t.columns);
  const names = mapped ? [...mapped] : [];
  // Feature names are bound after the window's two values: $3, $4, … (then the sample's seed and size).
  const features = mapped
    ? sql`jsonb_build_object(${joinSql(
        names.map(([, c], i) => sql`${param(i + 3)}::text, ${ident(c)}`),
        sql`, `,
      )})`
    : sql`${ident(t.columns.features as string)}::jsonb`;
  const named = names.map(([f]) => f);
  const inWindow = sql`${time} >= $1 AND ${time} < $2`;
  const filter = q.labeledOnly ? sql`${inWindow} AND ${label} IS NOT NULL` : inWindow;
  const select =
    columns === 'records'
      ? sql`${key} AS record_key, ${time}::timestamptz AS ts, ${features} AS features, ${label} AS feedback`
      : sql`${features}::text AS f, ${label} AS feedback`;
  const from = qualified(t);
  const n = named.length;
  return {
    // The count binds only the window: the feature names are in the select.
    count: { text: sql`SELECT count(*) AS n FROM ${from} WHERE ${filter}`, values: range },
    select: (sample?: { seed: string; size: number }): BoundQuery =>
      sample
        ? {
            text: sql`SELECT ${select} FROM ${from} WHERE ${filter}
               ORDER BY md5(${param(n + 3)} || ${key}), ${key} LIMIT ${param(n + 4)}`,
            values: [...range, ...named, sample.seed, sample.size],
          }
        : {
            text:
              q.ordered === false
                ? sql`SELECT ${select} FROM ${from} WHERE ${filter}`
                : sql`SELECT ${select} FROM ${from} WHERE ${filter} ORDER BY ${time}, ${key}`,
            values: [...range, ...named],
          },
  };
}

/** A window of the team's table as Remedy's records, streamed a page at a time (see db/windows.ts). */
export function readLogTableWindow(
  pool: pg.Pool,
  t: LogTable,
  q: WindowRead,
  onPage: (rows: RecordRow[]) => void | Promise<void>,
): Promise<WindowReadResult> {
  return streamCursor(pool, q, statements(t, q, 'records'), undefined, (rows: RawRecord[]) =>
    onPage(rows.map(toRecord)),
  );
}

/** A window of the team's table as features' JSON text and labels, streamed a page at a time. */
export function readLogTableFeatures(
  pool: pg.Pool,
  t: LogTable,
  q: WindowRead,
  onPage: (page: FeaturePage) => void | Promise<void>,
): Promise<WindowReadResult> {
  return streamCursor(pool, q, statements(t, q, 'features'), 'array', (rows: [string, string | null][]) =>
    onPage({ features: rows.map((r) => r[0]), feedback: rows.map((r) => r[1]) }),
  );
}

/** The earliest or latest time the team's table holds, as ISO text (null when it is empty). */
export async function logTableBound(
  q: Queryable,
  t: LogTable,
  which: 'first' | 'last',
): Promise<string | null> {
  const time = ident(t.columns.time);
  const { rows } = await q.query<{ ts: Date | null }>(
    sqlText(
      which === 'first'
        ? sql`SELECT min(${time})::timestamptz AS ts FROM ${qualified(t)}`
        : sql`SELECT max(${time})::timestamptz AS ts FROM ${qualified(t)}`,
    ),
  );
  return rows[0]?.ts ? rows[0].ts.toISOString() : null;
}
