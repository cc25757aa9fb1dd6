/**
 * `remedy ingest` at sizes beyond its batches, against a real Postgres: files larger than every chunk
 * land whole; a bad row after the first batches were already streamed refuses the file and leaves the
 * log as it was; --skip-invalid reports what it skipped; the same file again adds nothing; Parquet (in
 * several row groups, read in slices) and NDJSON take the same path.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../cli/main.js';
import * as db from '../../db/index.js';
import { logLine, writeParquetLog, writeTextLog } from '../../dev/weather-log.js';
import { loadWeather, weatherModel, type WeatherRow } from '../../dev/weather.js';
import { openRowSource, BATCH_ROWS } from '../../ops/ingest-readers.js';
import { ingestFile, type IngestProgress } from '../../ops/ingest-stream.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let url: string;
let dir: string;
let table: WeatherRow[];
/** More rows than a batch (5,000) several times over, and more than the weather table (2,922 rows). */
const ROWS = 4 * BATCH_ROWS + 1234;
const COLUMNS = { key: 'record_key', time: 'ts', label: 'feedback' };

beforeAll(async () => {
  ({ pool, url } = await freshDatabase('ingest'));
  dir = await mkdtemp(path.join(tmpdir(), 'remedy-ingest-'));
  table = await loadWeather();
  for (const m of ['w-csv', 'w-bad', 'w-skip', 'w-parquet', 'w-ndjson'])
    await db.upsertModel(pool, weatherModel(m));
});
afterAll(async () => {
  await pool?.end();
});

async function remedy(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    connect: () => Promise.reject(new Error('ingest needs no Temporal')),
    database: () => Promise.resolve({ pool, close: () => Promise.resolve() }),
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}

async function logged(model: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM records WHERE model_id = $1', [
    model,
  ]);
  return Number(rows[0]!.n);
}

describe('remedy ingest, streamed', () => {
  it('given a CSV larger than every batch, then every row lands, and the same file again adds nothing', async () => {
    const file = path.join(dir, 'log.csv');
    await writeTextLog(file, 'csv', table, ROWS);
    const first = await remedy('ingest', 'w-csv', file);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(
      new RegExp(
        `^${file}: ${ROWS} rows read \\(.+\\), ${ROWS} rows added to w-csv's log, 0 already there\\n$`,
      ),
    );
    expect(await logged('w-csv')).toBe(ROWS);
    const again = await remedy('ingest', 'w-csv', file, '--json');
    expect(JSON.parse(again.out)).toMatchObject({
      rows: ROWS,
      valid: ROWS,
      added: 0,
      alreadyLogged: ROWS,
      route: 'merged',
    });
    expect(again.err).toBe(
      `remedy: ingest: ${file} holds keys already in w-csv's log or repeated in the file; reading it again to add only its new keys\n`,
    );
    expect(await logged('w-csv')).toBe(ROWS);
  });

  it('given new keys, then they are copied straight into the log with what the merged route would write, and a key met on the last line sends the file the merged way', async () => {
    for (const m of ['w-direct', 'w-merged']) await db.upsertModel(pool, weatherModel(m));
    const file = path.join(dir, 'routes.ndjson');
    // Odd rows carry a label (feedback), even ones none; one key and one category hold quotes and commas.
    await writeTextLog(file, 'ndjson', table, ROWS, (i, l) =>
      i === 7
        ? { ...l, record_key: 'k,"7"', features: { ...l.features, location: 'Seattle, "WA"' } }
        : i % 2 === 0
          ? { ...l, feedback: '' }
          : l,
    );
    // w-merged holds the file's last key already (as the file has it): the straight copy meets it on the
    // last line, after every batch was sent, and is rolled back.
    const last = logLine(table, ROWS - 1);
    expect((ROWS - 1) % 2).toBe(1);
    await pool.query(
      `INSERT INTO records (model_id, record_key, ts, features, feedback, feedback_at)
       VALUES ('w-merged', $1, $2, $3, $4, now())`,
      [last.record_key, last.ts, JSON.stringify(last.features), last.feedback],
    );
    const before = Date.now();
    const direct = await ingestFile(
      pool,
      'w-direct',
      weatherModel('w-direct'),
      () => openRowSource(file),
      COLUMNS,
      {
        skipInvalid: false,
      },
    );
    const after = Date.now();
    expect(direct).toMatchObject({ route: 'direct', rows: ROWS, valid: ROWS, added: ROWS, alreadyLogged: 0 });
    let merges = 0;
    const merged = await ingestFile(
      pool,
      'w-merged',
      weatherModel('w-merged'),
      () => openRowSource(file),
      COLUMNS,
      {
        skipInvalid: false,
        onMerge: () => merges++,
      },
    );
    expect(merges).toBe(1);
    expect(merged).toMatchObject({
      route: 'merged',
      rows: ROWS,
      valid: ROWS,
      added: ROWS - 1,
      alreadyLogged: 1,
    });

    const rowsOf = async (model: string) =>
      (
        await pool.query<{
          record_key: string;
          ts: Date;
          features: unknown;
          feedback: string | null;
          labeled_at: boolean;
        }>(
          `SELECT record_key, ts, features, feedback, feedback_at IS NOT NULL AS labeled_at
           FROM records WHERE model_id = $1 ORDER BY record_key`,
          [model],
        )
      ).rows;
    const straight = await rowsOf('w-direct');
    expect(straight).toHaveLength(ROWS);
    expect(straight.filter((r) => r.feedback !== null)).toHaveLength(Math.floor(ROWS / 2));
    expect(straight.every((r) => r.labeled_at === (r.feedback !== null))).toBe(true);
    expect(straight.find((r) => r.record_key === 'k,"7"')?.features).toMatchObject({
      location: 'Seattle, "WA"',
    });
    expect(straight).toEqual(await rowsOf('w-merged'));

    // Labeled rows carry the transaction's time, as the merged insert's now() gives them.
    const { rows: times } = await pool.query<{ at: Date; n: string }>(
      "SELECT feedback_at AS at, count(*) AS n FROM records WHERE model_id = 'w-direct' AND feedback IS NOT NULL GROUP BY 1",
    );
    expect(times).toHaveLength(1);
    expect(times[0]!.at.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(times[0]!.at.getTime()).toBeLessThanOrEqual(after);
  });

  it('given a session whose DateStyle and time zone print times otherwise, then copied rows still carry the right feedback time', async () => {
    await db.upsertModel(pool, weatherModel('w-datestyle'));
    const file = path.join(dir, 'datestyle.csv');
    await writeTextLog(file, 'csv', table, 2_000);
    // In the SQL style a time prints with its zone's abbreviation (IST), which servers before Postgres 18
    // read back as Israel's; the feedback time must not go through that form.
    const odd = new pg.Pool({
      connectionString: url,
      max: 1,
      options: '-c DateStyle=SQL,DMY -c TimeZone=Asia/Kolkata',
    });
    try {
      const before = Date.now();
      const r = await ingestFile(
        odd,
        'w-datestyle',
        weatherModel('w-datestyle'),
        () => openRowSource(file),
        COLUMNS,
        {
          skipInvalid: false,
        },
      );
      const after = Date.now();
      expect(r).toMatchObject({ route: 'direct', added: 2_000 });
      const { rows } = await pool.query<{ at: Date }>(
        "SELECT DISTINCT feedback_at AS at FROM records WHERE model_id = 'w-datestyle' AND feedback IS NOT NULL",
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.at.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(rows[0]!.at.getTime()).toBeLessThanOrEqual(after);
    } finally {
      await odd.end();
    }
  });

  it('given a bad row after the first batches were streamed, then the file is refused and the log unchanged', async () => {
    const file = path.join(dir, 'bad.csv');
    const badAt = 3 * BATCH_ROWS + 17; // row index; its line is index + 2 (after the header)
    await writeTextLog(file, 'csv', table, ROWS, (i, l) =>
      i === badAt ? { ...l, features: { ...l.features, wind: Number.NaN } } : l,
    );
    await db.upsertModel(pool, weatherModel('w-bad'));
    const seen: IngestProgress[] = [];
    const result = await ingestFile(
      pool,
      'w-bad',
      weatherModel('w-bad'),
      () => openRowSource(file),
      COLUMNS,
      {
        skipInvalid: false,
        progress: (p) => seen.push(p),
      },
    );
    // Rows were already streamed to Postgres when the bad one was read.
    expect(seen.filter((p) => p.rows <= badAt).length).toBeGreaterThanOrEqual(3);
    expect(result).toMatchObject({ rows: ROWS, refused: 1, written: false, added: 0 });
    expect(await logged('w-bad')).toBe(0);

    const cli = await remedy('ingest', 'w-bad', file);
    expect(cli.code).toBe(2);
    expect(cli.err).toContain(`1 of ${ROWS} rows refused; nothing was written`);
    expect(cli.err).toContain(`bad.csv:${badAt + 2}: wind "NaN" is not a finite number`);
    // Refused on the straight copy: no second reading.
    expect(cli.err).not.toContain('reading it again');
    expect(await logged('w-bad')).toBe(0);
  });

  it('given a file that stops being readable after several batches were copied, then its own error is reported and the log is unchanged', async () => {
    await db.upsertModel(pool, weatherModel('w-broken'));
    const file = path.join(dir, 'broken.ndjson');
    await writeTextLog(file, 'ndjson', table, ROWS);
    const brokenLine = 3 * BATCH_ROWS + 5;
    const text = (await readFile(file, 'utf8')).split('\n');
    text[brokenLine - 1] = '{"record_key": "half a line';
    await writeFile(file, text.join('\n'));
    const r = await remedy('ingest', 'w-broken', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`broken.ndjson:${brokenLine}: not JSON`);
    expect(r.err).not.toContain('COPY');
    expect(await logged('w-broken')).toBe(0);
  });

  it('given --skip-invalid, then the valid rows land and the skipped ones are counted and named', async () => {
    const file = path.join(dir, 'skip.ndjson');
    const bad = new Set([10, 2 * BATCH_ROWS + 5, 3 * BATCH_ROWS + 9]);
    await writeTextLog(file, 'ndjson', table, ROWS, (i, l) =>
      bad.has(i) ? { ...l, ts: 'yesterday' } : i === ROWS - 1 ? logLineCopy(l, 0) : l,
    );
    const r = await remedy('ingest', 'w-skip', file, '--skip-invalid');
    expect(r.code).toBe(2);
    // Three bad times and the last line repeating the first line's key.
    expect(r.out).toContain(`${ROWS} rows read`);
    expect(r.out).toContain(`${ROWS - 4} rows added to w-skip's log, 0 already there, 4 refused:`);
    expect(r.err).toContain('reading it again to add only its new keys');
    for (const i of bad) expect(r.out).toContain(`skip.ndjson:${i + 1}: ts "yesterday" is not a date`);
    expect(r.out).toMatch(new RegExp(`skip\\.ndjson:${ROWS}: record_key "[^"]+" repeats line 1`));
    expect(await logged('w-skip')).toBe(ROWS - 4);
  });

  it('given a file whose last line repeats an early key and whose first rows are already logged, then the first line wins and the counts add up', async () => {
    await db.upsertModel(pool, weatherModel('w-chunks'));
    const early = path.join(dir, 'early.csv');
    await writeTextLog(early, 'csv', table, 1_000);
    expect((await remedy('ingest', 'w-chunks', early)).code).toBe(0);
    // Rows 0..ROWS-1, the last repeating row 10's key with another time; rows 0..999 already logged.
    const file = path.join(dir, 'chunks.csv');
    await writeTextLog(file, 'csv', table, ROWS, (i, l) =>
      i === ROWS - 1 ? { ...logLineCopy(l, 10), ts: '2030-01-01T00:00:00.000Z' } : l,
    );
    const result = await ingestFile(
      pool,
      'w-chunks',
      weatherModel('w-chunks'),
      () => openRowSource(file),
      COLUMNS,
      { skipInvalid: true },
    );
    expect(result).toMatchObject({
      rows: ROWS,
      valid: ROWS - 1,
      refused: 1,
      added: ROWS - 1 - 1_000,
      alreadyLogged: 1_000,
      written: true,
    });
    expect(result.rejected).toEqual([
      { line: ROWS + 1, reason: `record_key "c0:${table[10]!.recordKey}" repeats line 12` },
    ]);
    expect(await logged('w-chunks')).toBe(ROWS - 1);
    const { rows } = await pool.query<{ ts: Date }>(
      "SELECT ts FROM records WHERE model_id = 'w-chunks' AND record_key = $1",
      [`c0:${table[10]!.recordKey}`],
    );
    expect(rows[0]!.ts.getUTCFullYear()).toBeLessThan(2030);
    // The staging table is left empty.
    const staged = await pool.query<{ n: string }>('SELECT count(*) AS n FROM ingest_staging');
    expect(Number(staged.rows[0]!.n)).toBe(0);
  });

  it('given Parquet in several row groups, then every row lands with its time, and again adds nothing', async () => {
    const file = path.join(dir, 'log.parquet');
    writeParquetLog(file, table, ROWS, 7_000);
    // Row groups larger than a batch are handed on a batch at a time.
    const source = () => openRowSource(file, { batchRows: 3_000 });
    const result = await ingestFile(pool, 'w-parquet', weatherModel('w-parquet'), source, COLUMNS, {
      skipInvalid: false,
    });
    expect(result).toMatchObject({ format: 'parquet', rows: ROWS, valid: ROWS, added: ROWS, refused: 0 });
    const again = await remedy('ingest', 'w-parquet', file, '--json');
    expect(JSON.parse(again.out)).toMatchObject({ rows: ROWS, added: 0, alreadyLogged: ROWS });
    const { rows } = await pool.query<{ ts: Date; wind: number }>(
      "SELECT ts, (features->>'wind')::float8 AS wind FROM records WHERE model_id = 'w-parquet' AND record_key = $1",
      [`c1:${table[0]!.recordKey}`],
    );
    expect(rows).toEqual([
      { ts: new Date(Date.parse(table[0]!.ts) + 60_000), wind: table[0]!.features.wind },
    ]);
  });

  it('given NDJSON larger than every batch, then every row lands', async () => {
    const file = path.join(dir, 'log.ndjson');
    await writeTextLog(file, 'ndjson', table, ROWS);
    const r = await remedy('ingest', 'w-ndjson', file);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${ROWS} rows added to w-ndjson's log, 0 already there`);
    expect(await logged('w-ndjson')).toBe(ROWS);
  });
});

function logLineCopy<T extends { record_key: string }>(l: T, i: number): T {
  return { ...l, record_key: `c0:${table[i]!.recordKey}` };
}
