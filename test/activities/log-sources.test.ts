/**
 * Prediction-log sources: the same weather log (2013–2015, real observations) held in Remedy's records
 * table, in a second database as a table with other column names and as a VIEW over it with one column
 * per feature, and in a directory of Parquet files partitioned by day. A drift check over each gives the
 * same report; a cycle's confirm stage and the monitor read the team's sources; the reference a promotion
 * builds and the label-free estimate's calibration read the span from them; bad mappings are named.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { parquetWriteFile } from 'hyparquet-writer';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { windowReport } from '../../activities/drift.js';
import { servingReference } from '../../activities/reference.js';
import type { DriftReport } from '../../core/drift.js';
import type { LogSourcePolicy } from '../../core/log-source.js';
import { ModelDefinition, Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { ident, param, quoteIdent, sql, sqlText } from '../../db/sql.js';
import { SCENARIO, prepareWeatherModel } from '../../dev/scenario.js';
import { weatherModel, type WeatherRow } from '../../dev/weather.js';
import { createDatabase } from '../../infra/postgres.js';
import { freePort } from '../../infra/ports.js';
import { abortCycle, cycleStatus } from '../../ops/cycles.js';
import { createMonitor, triggerMonitor } from '../../ops/monitor.js';
import { registerModelWithChampion } from '../../ops/setup.js';
import { cliRunner, uniqueSuffix, until, useStack } from '../helpers.js';

const stack = useStack('logsrc');
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));

/** The window the monitor test finds drifted: from April 2013 many wet days are labeled fog or sun. */
const SPRING = { start: '2013-04-01T00:00:00.000Z', end: '2013-06-30T00:00:00.000Z' };
const ENV = 'TEAM_LOG_URL';
const TABLE = 'Weather Predictions';
const NUMERIC = ['precipitation', 'temp_max', 'temp_min', 'wind', 'season_sin', 'season_cos'] as const;

let rows: WeatherRow[] = [];
let production: WeatherRow[] = [];
let team: pg.Client;
let dir: string;
let csvDir: string;

const tableSource = (columns: Partial<Record<string, unknown>> = {}): LogSourcePolicy => ({
  kind: 'postgres',
  connectionEnv: ENV,
  table: TABLE,
  columns: {
    key: 'Request ID',
    time: 'served_at',
    features: 'inputs',
    prediction: 'predicted',
    label: 'truth',
    ...columns,
  },
});

/** The view's columns: one per feature, under names of the team's own. */
const VIEW_FEATURES = { location: 'loc', ...Object.fromEntries(NUMERIC.map((f) => [f, `f_${f}`])) };
const viewSource: LogSourcePolicy = {
  kind: 'postgres',
  connectionEnv: ENV,
  schema: 'analytics',
  table: 'weather_flat',
  columns: { key: 'req', time: 'at', features: VIEW_FEATURES, label: 'outcome' },
};
const filesSource = (): LogSourcePolicy => ({
  kind: 'files',
  directory: dir,
  columns: { key: 'request_id', time: 'served', features: [...NUMERIC, 'location'], label: 'observed' },
});

/** A model with the weather champion (trained on 2012) whose log is read from `logSource`. */
async function register(modelId: string, logSource?: LogSourcePolicy, policy: Record<string, unknown> = {}) {
  const def = weatherModel(modelId, { ...policy, ...(logSource ? { logSource } : {}) });
  const reference = rows.filter((r) => r.date < SCENARIO.referenceEnd);
  await registerModelWithChampion(
    stack.pool,
    def,
    reference.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
  );
}

/** The team's second database: the log as a table under other names, and a view with a column per feature. */
async function fillTeamDatabase(): Promise<void> {
  const url = await createDatabase(inject('databaseUrl'), `team_log_${uniqueSuffix()}`);
  process.env[ENV] = url;
  team = new pg.Client({ connectionString: url });
  await team.connect();
  await team.query(`CREATE TABLE "Weather Predictions" (
    "Request ID" text PRIMARY KEY, served_at timestamptz NOT NULL, inputs jsonb NOT NULL,
    predicted text, truth text)`);
  await team.query(
    `INSERT INTO "Weather Predictions"
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[], $4::text[], $5::text[])`,
    [
      production.map((r) => r.recordKey),
      production.map((r) => r.ts),
      production.map((r) => JSON.stringify(r.features)),
      production.map(() => 'sun'),
      production.map((r) => r.label),
    ],
  );
  await team.query('CREATE SCHEMA analytics');
  await team.query(`CREATE VIEW analytics.weather_flat AS SELECT "Request ID" AS req, served_at AS at,
    inputs->>'location' AS loc, ${NUMERIC.map((f) => `(inputs->>'${f}')::float8 AS f_${f}`).join(', ')},
    truth AS outcome FROM "Weather Predictions"`);
}

/** The log as Parquet files, one `dt=<day>/part-0.parquet` per day. */
async function writePartitions(): Promise<void> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-log-files-'));
  const byDay = new Map<string, WeatherRow[]>();
  for (const r of production) byDay.set(r.date, [...(byDay.get(r.date) ?? []), r]);
  for (const [day, part] of byDay) {
    await mkdir(path.join(dir, `dt=${day}`));
    parquetWriteFile({
      filename: path.join(dir, `dt=${day}`, 'part-0.parquet'),
      columnData: [
        { name: 'request_id', data: part.map((r) => r.recordKey), type: 'STRING' },
        { name: 'served', data: part.map((r) => new Date(r.ts)), type: 'TIMESTAMP' },
        { name: 'location', data: part.map((r) => r.features.location), type: 'STRING' },
        ...NUMERIC.map((f) => ({
          name: f,
          data: Float64Array.from(part, (r) => r.features[f]),
          type: 'DOUBLE' as const,
        })),
        { name: 'observed', data: part.map((r) => r.label), type: 'STRING' },
      ],
    });
  }
}

/** The same log as flat CSV files, one `<day>.csv` per day (text values: numbers are read as the model's). */
async function writeCsvDays(): Promise<void> {
  csvDir = await mkdtemp(path.join(os.tmpdir(), 'remedy-log-csv-'));
  const header = `request_id,served,location,${NUMERIC.join(',')},observed\n`;
  const byDay = new Map<string, string>();
  for (const r of production) {
    const line = `${r.recordKey},${r.ts},${r.features.location},${NUMERIC.map((f) => r.features[f]).join(',')},${r.label}\n`;
    byDay.set(r.date, (byDay.get(r.date) ?? header) + line);
  }
  for (const [day, text] of byDay) await writeFile(path.join(csvDir, `${day}.csv`), text);
}

beforeAll(async () => {
  const prepared = await prepareWeatherModel(stack.pool, 'wx-records', {}, 'all');
  rows = prepared.rows;
  production = rows.filter((r) => r.date >= SCENARIO.referenceEnd);
  await fillTeamDatabase();
  await writePartitions();
  await writeCsvDays();
  await register('wx-table', tableSource());
  await register('wx-view', viewSource);
  await register('wx-files', filesSource());
  await register('wx-csv', { ...filesSource(), directory: csvDir } as LogSourcePolicy);
}, 120_000);

afterAll(async () => {
  await team?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (csvDir) await rm(csvDir, { recursive: true, force: true });
});

/** The log's records in the spring window (two cities a day). */
const inSpring = () => production.filter((r) => r.ts >= SPRING.start && r.ts < SPRING.end).length;
const policy = (drift: Record<string, unknown> = {}) => Policy.parse({ drift }).drift;
const reportOf = (modelId: string, drift: Policy['drift'] = policy()) =>
  windowReport(stack.pool, { modelId, championVersion: 1, window: SPRING, policy: drift });

/** What a person reads off a report: every number that does not depend on the order records came in. */
const numbers = (r: DriftReport) => ({
  window: r.window,
  windowRows: r.windowRows,
  driftedShare: r.driftedShare,
  features: r.features.map((f) => ({
    feature: f.feature,
    psi: f.psi,
    statistic: f.statistic,
    drifted: f.drifted,
  })),
  labelShiftPsi: r.labelShiftPsi,
  performance: {
    labeledRows: r.performance.labeledRows,
    currentAccuracy: r.performance.currentAccuracy,
    degraded: r.performance.degraded,
  },
});

describe('prediction-log sources', () => {
  it('given the same log in records, a team table, a view, Parquet partitions and daily CSV files, then each drift check gives the same report', async () => {
    const expected = numbers(await reportOf('wx-records'));
    // The spring of 2013 is the drifted window: the champion's accuracy fell, on every record of it.
    expect(expected.window).toEqual({ held: inSpring(), tested: inSpring(), selection: 'all' });
    expect(expected.performance).toMatchObject({ labeledRows: inSpring(), degraded: true });
    for (const modelId of ['wx-table', 'wx-view', 'wx-files', 'wx-csv'])
      expect({ modelId, ...numbers(await reportOf(modelId)) }).toEqual({ modelId, ...expected });
  });

  it('given a policy that samples the window, then every source draws the same records and says so', async () => {
    const sampled = policy({ maxWindowRows: 50 });
    const expected = numbers(await reportOf('wx-records', sampled));
    expect(expected.window).toEqual({
      held: inSpring(),
      tested: 50,
      selection: 'uniform-sample',
      seed: `wx-records|${SPRING.start}|${SPRING.end}`,
    });
    for (const modelId of ['wx-table', 'wx-view', 'wx-files']) {
      const r = numbers(await reportOf(modelId, sampled));
      // The seed names the model; the records drawn by it are each source's own, counted the same way.
      expect(r.window).toEqual({ ...expected.window, seed: `${modelId}|${SPRING.start}|${SPRING.end}` });
      expect(r.performance).toEqual(expected.performance);
    }
  });

  it('given a cycle over the team view, then its confirm stage reads the view and collection copies only its rows', async () => {
    const started = await remedy('start', 'wx-view', '--from', SPRING.start, '--to', SPRING.end);
    expect(started.code).toBe(0);
    const cycleId = started.out.trim().replace(/^started /, '');
    await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => s.stages.some((st) => st.stage === 'collect' && Boolean(st.endedAt)),
    );
    const { rows: reports } = await stack.pool.query<{ report: DriftReport }>(
      'SELECT report FROM drift_reports WHERE cycle_id = $1',
      [cycleId],
    );
    expect(numbers(reports[0]!.report)).toEqual(numbers(await reportOf('wx-records')));
    const status = await remedy('status', cycleId);
    expect(status.out).toContain(`all ${inSpring()} records of the window tested`);
    // Only the collected rows are in Remedy's records table: the log itself stayed where it was.
    const { rows: counts } = await stack.pool.query<{ records: string; collected: string }>(
      `SELECT (SELECT count(*) FROM records WHERE model_id = 'wx-view') AS records,
              (SELECT count(*) FROM dataset_rows r JOIN dataset_versions d USING (dataset_id)
                WHERE d.cycle_id = $1 AND d.kind = 'collected') AS collected`,
      [cycleId],
    );
    expect(Number(counts[0]!.collected)).toBeGreaterThan(0);
    expect(counts[0]!.records).toBe(counts[0]!.collected);
    await abortCycle(stack.h.client, cycleId);
  });

  it('given a monitor in cursor mode over the Parquet files, then it finds the first window from the files and checks it', async () => {
    await createMonitor(stack.h.client, stack.pool, stack.h, {
      modelId: 'wx-files',
      every: '24h',
      window: '30d',
      mode: 'cursor',
      start: '2013-01-01',
    });
    const s = (await triggerMonitor(stack.h.client, 'wx-files', { wait: true }))!;
    expect(s.state).toBe('checked');
    expect(s.check!.window).toEqual({ start: '2013-01-01T00:00:00.000Z', end: '2013-01-31T00:00:00.000Z' });
    // Two cities a day for 30 days.
    expect(s.reason).toContain('all 60 records of the window tested');
  });
});

/** A cycle over the spring window run until its collect stage ended, then aborted: its id. */
async function collectedCycle(modelId: string): Promise<string> {
  const started = await remedy('start', modelId, '--from', SPRING.start, '--to', SPRING.end);
  expect(started.code).toBe(0);
  const cycleId = started.out.trim().replace(/^started /, '');
  await until(
    () => cycleStatus(stack.h.client, cycleId),
    (s) => s.stages.some((st) => st.stage === 'collect' && Boolean(st.endedAt)),
  );
  await abortCycle(stack.h.client, cycleId);
  return cycleId;
}

/** A candidate trained on `datasetId` (the champion's artifact will do), as a cycle registers one. */
async function candidateOn(modelId: string, datasetId: number, tag: string): Promise<number> {
  const champion = await db.getModelVersion(stack.pool, modelId, 1);
  return db.insertModelVersion(stack.pool, {
    modelId,
    idempotencyKey: `${tag}:candidate`,
    status: 'candidate',
    datasetId,
    cycleId: tag,
    configHash: champion.configHash,
    codeVersion: 'test',
    artifact: JSON.stringify(champion.artifact),
    artifactSha256: champion.artifactSha256,
    metrics: {},
  });
}

describe('the reference after a promotion, from the team log', () => {
  it('given a cycle over the Parquet files, then the promoted reference covers the span from the files, as from the same rows in records', async () => {
    const cycleId = await collectedCycle('wx-files');
    const { rows: found } = await stack.pool.query<{ dataset_id: string }>(
      "SELECT dataset_id FROM dataset_versions WHERE cycle_id = $1 AND kind = 'collected'",
      [cycleId],
    );
    const collectedId = Number(found[0]!.dataset_id);
    const collected = await db.getDatasetRows(stack.pool, collectedId);
    const filesCandidate = await candidateOn('wx-files', collectedId, cycleId);
    // The same collected rows as a dataset of the model whose whole log is in records.
    const recordsChampion = await db.getModelVersion(stack.pool, 'wx-records', 1);
    const { datasetId: copyId } = await withTransaction(stack.pool, (client) =>
      db.insertDatasetVersion(client, {
        modelId: 'wx-records',
        idempotencyKey: `${cycleId}:records-copy`,
        parentId: recordsChampion.datasetId,
        kind: 'collected',
        cycleId: `${cycleId}-records`,
        windowStart: SPRING.start,
        windowEnd: SPRING.end,
        samplingPlan: {},
        contentHash: `${cycleId}-records`,
        rows: collected.map((r) => ({ ...r, labelSource: r.label === null ? null : 'feedback' })),
      }),
    );
    const recordsCandidate = await candidateOn('wx-records', copyId, `${cycleId}-records`);

    const build = async (modelId: string, candidateVersion: number, maxRows?: number) =>
      (await servingReference(stack.pool, {
        model: (await db.getModel(stack.pool, modelId))!,
        championVersion: 1,
        candidateVersion,
        ...(maxRows ? { maxRows } : {}),
      }))!;
    const fromFiles = await build('wx-files', filesCandidate);
    const fromRecords = await build('wx-records', recordsCandidate);
    const span = fromFiles.profile.span!;
    expect(span).toEqual({
      start: '2012-01-01T12:00:00.000Z',
      end: SPRING.end,
      rule: "the previous reference's span combined with the cycle's window",
    });
    // Every row of the span: the registration's 2012 and the files' 2013, not only the collected ones
    // (the only rows of wx-files in Remedy's records table).
    const inSpan = rows.filter(
      (r) => Date.parse(r.ts) >= Date.parse(span.start) && Date.parse(r.ts) < Date.parse(span.end),
    ).length;
    const copied = await stack.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM records WHERE model_id = 'wx-files'",
    );
    expect(Number(copied.rows[0]!.n)).toBe(collected.length);
    expect(collected.length).toBeLessThan(inSpan / 4);
    expect(fromFiles.profile.sample).toEqual({ rows: inSpan, of: inSpan, method: 'every row of the span' });
    expect(fromFiles.summary.labeledRows).toBe(inSpan);
    // The same counts, bins, baseline and evidence as the reference built from records.
    expect(fromFiles.profile).toEqual(fromRecords.profile);
    expect(fromFiles.summary).toEqual(fromRecords.summary);

    // Beyond the row limit, both draw the same uniform sample (md5 of the key) and state the count.
    const sampled = await build('wx-files', filesCandidate, 300);
    expect(sampled.profile.sample).toEqual({
      rows: 300,
      of: inSpan,
      method: 'uniform sample by a hash of the record key',
    });
    expect(sampled.profile).toEqual((await build('wx-records', recordsCandidate, 300)).profile);

    // The label-free estimate over that reference is calibrated on the span's rows from the files too.
    await db.upsertReferenceProfile(stack.pool, 'wx-files', filesCandidate, fromFiles.profile);
    await db.upsertReferenceProfile(stack.pool, 'wx-records', recordsCandidate, fromRecords.profile);
    const estimating = policy({ minLabeledRows: 1_000_000 });
    const estimateOf = async (modelId: string, version: number) =>
      (
        await windowReport(stack.pool, {
          modelId,
          championVersion: version,
          window: SPRING,
          policy: estimating,
        })
      ).performance.estimate;
    const filesEstimate = await estimateOf('wx-files', filesCandidate);
    const trainedOn = collected.filter((r) => r.split === 'train').length;
    expect(filesEstimate).toMatchObject({ method: 'cbpe', calibrationRows: inSpan - trainedOn });
    expect(filesEstimate!.calibrationSource).toContain('labeled rows of the reference span');
    // The window's rows arrive in another order from files than from records (partition by partition),
    // so sums may differ in their last bits: equal to 12 significant digits.
    expect(rounded(filesEstimate)).toEqual(rounded(await estimateOf('wx-records', recordsCandidate)));
  });
});

describe('prediction-log sources: bad input', () => {
  const failureOf = async (modelId: string): Promise<ApplicationFailure> => {
    const err = await reportOf(modelId).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };

  it('given a mapping naming a column the table lacks, then the check fails naming the column and listing those it has', async () => {
    await register('wx-typo', tableSource({ label: 'truht' }));
    const err = await failureOf('wx-typo');
    expect(err.type).toBe('LogSourceFailed');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toBe(
      'postgres log source Weather Predictions has no column "truht" (columns.label); it has Request ID, served_at, inputs, predicted, truth',
    );
  });

  it('given a time column that is not a time, or a database that does not answer, then the check says which source', async () => {
    await register('wx-texttime', tableSource({ time: 'predicted' }));
    const typed = await failureOf('wx-texttime');
    expect(typed.type).toBe('LogSourceFailed');
    expect(typed.message).toContain('the time column "predicted" is text; it must be a timestamp');

    // Nothing listens on the port: a retryable failure (not LogSourceFailed) that names the source.
    const closed = await freePort();
    process.env.TEAM_LOG_DOWN = `postgres://nobody@127.0.0.1:${closed}/nothing`;
    await register('wx-down', { ...tableSource(), connectionEnv: 'TEAM_LOG_DOWN' } as LogSourcePolicy);
    const err = await reportOf('wx-down').then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err!.message).toMatch(
      /^postgres log source Weather Predictions \(via \$TEAM_LOG_DOWN\): .*ECONNREFUSED/,
    );
  });

  it('given a connection variable the worker does not have, then the check fails naming the variable', async () => {
    await register('wx-noenv', {
      ...(tableSource() as { kind: 'postgres' } & LogSourcePolicy),
      connectionEnv: 'TEAM_LOG_URL_UNSET',
    });
    const err = await failureOf('wx-noenv');
    expect(err.type).toBe('LogSourceFailed');
    expect(err.message).toContain('the environment variable TEAM_LOG_URL_UNSET is not set on this worker');
  });

  it('given a directory that does not exist or a partition without the time column, then the check fails naming them', async () => {
    await register('wx-nodir', { ...filesSource(), directory: `${dir}-missing` } as LogSourcePolicy);
    const missing = await failureOf('wx-nodir');
    expect(missing.message).toContain(`cannot read ${dir}-missing (no such directory)`);

    const odd = await mkdtemp(path.join(os.tmpdir(), 'remedy-log-odd-'));
    await writeFile(
      path.join(odd, '2013-04-02.csv'),
      'request_id,when,location\nk1,2013-04-02T12:00:00Z,Seattle\n',
    );
    await register('wx-oddcsv', { ...filesSource(), directory: odd } as LogSourcePolicy);
    const err = await failureOf('wx-oddcsv');
    expect(err.type).toBe('LogSourceFailed');
    expect(err.message).toContain(
      `${path.join(odd, '2013-04-02.csv')} has no column "served" (columns.time)`,
    );
    await rm(odd, { recursive: true, force: true });
  });

  it('given a connection string in the policy, or a feature without a column, then registration refuses it', () => {
    const def = (logSource: unknown) =>
      ModelDefinition.safeParse({ ...weatherModel('wx-bad'), policy: { logSource } });
    const secret = def({ ...tableSource(), connectionEnv: 'postgres://team:hunter2@db:5432/log' });
    expect(secret.success).toBe(false);
    expect(secret.error!.issues[0]!.message).toContain('this looks like a connection string');
    const partial = def({ ...viewSource, columns: { ...viewSource.columns, features: { location: 'loc' } } });
    expect(partial.success).toBe(false);
    expect(partial.error!.issues[0]!.message).toContain(
      "no column for the model's features precipitation, temp_max, temp_min, wind, season_sin, season_cos",
    );
  });

  it('given names with quotes and semicolons, then quoteIdent keeps them one name', async () => {
    expect(quoteIdent('Request ID')).toBe('"Request ID"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(() => quoteIdent('')).toThrow('an empty name');
    expect(() => quoteIdent('x'.repeat(64))).toThrow("longer than Postgres's 63 bytes");
    expect(sqlText(sql`SELECT ${ident('a"; DROP TABLE t; --')} FROM t WHERE k = ${param(1)}`)).toBe(
      'SELECT "a""; DROP TABLE t; --" FROM t WHERE k = $1',
    );
    // A name written to break out of the quotes names a table of that name, which does not exist.
    await register('wx-inject', tableSource({ time: 'served_at"; DROP TABLE "Weather Predictions"; --' }));
    const err = await failureOf('wx-inject');
    expect(err.message).toContain('has no column "served_at"; DROP TABLE');
    const { rows: left } = await team.query<{ n: string }>('SELECT count(*) AS n FROM "Weather Predictions"');
    expect(Number(left[0]!.n)).toBe(production.length);
  });
});

/** Every number of a value to 12 significant digits, for results summed in another order. */
function rounded(value: unknown): unknown {
  if (typeof value === 'number') return Number(value.toPrecision(12));
  if (Array.isArray(value)) return value.map(rounded);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  return value;
}
