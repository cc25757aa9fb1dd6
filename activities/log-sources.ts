/**
 * The production log behind the monitor's and the cycle's window reads, chosen by the model's policy
 * (`policy.logSource`, core/log-source.ts): Remedy's own `records` table (the default), a table or view in
 * the team's Postgres, or a directory of date-partitioned Parquet or CSV files. Each adapter streams a
 * window a page at a time and says how many records the window held and how many it handed over; none
 * copies the log first.
 */
import type pg from 'pg';
import {
  describeLogSource,
  LogSourceError,
  RECORDS_SOURCE,
  type LogSourcePolicy,
} from '../core/log-source.js';
import type { FeatureSpec } from '../core/schemas.js';
import {
  checkLogTable,
  logTableBound,
  readLogTableFeatures,
  readLogTableWindow,
  type LogTable,
} from '../db/external-log.js';
import * as db from '../db/index.js';
import { createPool } from '../db/pool.js';
import type { RecordRow } from '../db/records.js';
import {
  readWindow,
  readWindowFeatures,
  type FeaturePage,
  type WindowRead,
  type WindowReadResult,
} from '../db/windows.js';
import { businessFailure } from './failures.js';
import { filesBound, readFilesWindow, type FilesLog } from './log-files.js';

/** A window of a model's production log, whichever adapter holds it. */
export interface LogSource {
  kind: LogSourcePolicy['kind'];
  /** The adapter and what it reads, for messages and reports. */
  name: string;
  /** Whole records (key, time, features, label), page by page. */
  readWindow(q: WindowRead, onPage: (rows: RecordRow[]) => void | Promise<void>): Promise<WindowReadResult>;
  /** Only the features' JSON text and the labels, page by page: what a drift check parses. */
  readWindowFeatures(
    q: WindowRead,
    onPage: (page: FeaturePage) => void | Promise<void>,
  ): Promise<WindowReadResult>;
  /** The earliest or latest time the log holds (null when it is empty): the monitor's cursor. */
  bound(modelId: string, which: 'first' | 'last'): Promise<string | null>;
}

function recordsSource(pool: pg.Pool): LogSource {
  return {
    kind: 'records',
    name: describeLogSource(RECORDS_SOURCE),
    readWindow: (q, onPage) => readWindow(pool, q, onPage),
    readWindowFeatures: (q, onPage) => readWindowFeatures(pool, q, onPage),
    bound: (modelId, which) =>
      which === 'first' ? db.firstRecordTs(pool, modelId) : db.lastRecordTs(pool, modelId),
  };
}

/** One pool per team database (by connection string), shared by every model that reads from it. */
const teamPools = new Map<string, pg.Pool>();

function postgresSource(
  spec: Extract<LogSourcePolicy, { kind: 'postgres' }>,
  env: NodeJS.ProcessEnv,
): LogSource {
  const name = describeLogSource(spec);
  const url = env[spec.connectionEnv];
  if (!url)
    throw new LogSourceError(
      `${name}: the environment variable ${spec.connectionEnv} is not set on this worker: set it to the team database's connection string (postgres://user@host:5432/db) on every worker`,
    );
  let pool = teamPools.get(url);
  if (!pool) {
    pool = createPool(url, 4);
    teamPools.set(url, pool);
  }
  const team = pool;
  const table: LogTable = { schema: spec.schema, table: spec.table, columns: spec.columns };
  // Checked once per source, before its first read: a missing column is named rather than a SQL error.
  let checked: Promise<void> | undefined;
  const reach = <T>(work: () => Promise<T>) =>
    (checked ??= checkLogTable(team, table).catch((err: unknown) => {
      checked = undefined;
      throw err;
    })).then(work);
  return {
    kind: 'postgres',
    name,
    readWindow: (q, onPage) => reach(() => readLogTableWindow(team, table, q, onPage)),
    readWindowFeatures: (q, onPage) => reach(() => readLogTableFeatures(team, table, q, onPage)),
    bound: (_modelId, which) => reach(() => logTableBound(team, table, which)),
  };
}

function filesSource(spec: Extract<LogSourcePolicy, { kind: 'files' }>, features: FeatureSpec): LogSource {
  const log: FilesLog = { directory: spec.directory, columns: spec.columns, features };
  return {
    kind: 'files',
    name: describeLogSource(spec),
    readWindow: (q, onPage) => readFilesWindow(log, q, (rows) => rows.map((r) => r.record), onPage),
    readWindowFeatures: (q, onPage) =>
      readFilesWindow(
        log,
        q,
        (rows) => ({ features: rows.map((r) => r.json), feedback: rows.map((r) => r.record.feedback) }),
        onPage,
      ),
    bound: (_modelId, which) => filesBound(log, which),
  };
}

/** The adapter a policy's `logSource` names (unset: the records table). */
export function logSourceFrom(
  pool: pg.Pool,
  spec: LogSourcePolicy | undefined,
  features: FeatureSpec,
  env: NodeJS.ProcessEnv = process.env,
): LogSource {
  const s = spec ?? RECORDS_SOURCE;
  try {
    const source =
      s.kind === 'records'
        ? recordsSource(pool)
        : s.kind === 'postgres'
          ? postgresSource(s, env)
          : filesSource(s, features);
    return withClearFailures(source);
  } catch (err) {
    throw asFailure(err);
  }
}

/** The log source of a registered model, by its current policy. */
export async function logSourceOf(pool: pg.Pool, modelId: string): Promise<LogSource> {
  const model = await db.getModel(pool, modelId);
  if (!model) throw businessFailure('ModelNotFound', `model "${modelId}" is not registered`);
  return logSourceFrom(pool, model.policy.logSource, model.features);
}

/**
 * A source whose configuration refusals (LogSourceError) end the activity as `LogSourceFailed`, naming
 * the adapter; other errors (an unreachable database) stay retryable, with the adapter's name in front.
 */
function withClearFailures(source: LogSource): LogSource {
  // The caller's own failures (thrown by onPage) pass through as they are.
  const callers = new WeakSet<object>();
  const passOn =
    <P>(onPage: (page: P) => void | Promise<void>) =>
    async (page: P) => {
      try {
        await onPage(page);
      } catch (err) {
        if (typeof err === 'object' && err !== null) callers.add(err);
        throw err;
      }
    };
  const guard = <T>(work: () => Promise<T>): Promise<T> =>
    work().catch((err: unknown) => {
      throw typeof err === 'object' && err !== null && callers.has(err) ? err : asFailure(err, source);
    });
  return {
    ...source,
    readWindow: (q, onPage) => guard(() => source.readWindow(q, passOn(onPage))),
    readWindowFeatures: (q, onPage) => guard(() => source.readWindowFeatures(q, passOn(onPage))),
    bound: (modelId, which) => guard(() => source.bound(modelId, which)),
  };
}

function asFailure(err: unknown, source?: LogSource): unknown {
  if (err instanceof LogSourceError) return businessFailure('LogSourceFailed', err.message);
  if (source === undefined || source.kind === 'records' || !(err instanceof Error)) return err;
  // A read of the team's source that failed (unreachable, refused): retried, with the adapter named.
  return new Error(`${source.name}: ${err.message}`, { cause: err });
}
