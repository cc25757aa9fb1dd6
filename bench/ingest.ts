/**
 * `npm run bench:ingest`: `remedy ingest` of a 1,000,000-row CSV and the same rows as Parquet, through the
 * real CLI in a child process, into an embedded Postgres. The rows are the real weather table
 * (vega-datasets weather.csv, 2,922 rows) repeated with new keys and times (dev/weather-log.ts). Measures
 * rows/s (wall time of the whole command, start-up included) and the CLI process's peak RSS (from
 * /usr/bin/time -v), and, as the reference, a bare `\copy` of the same CSV by psql into a table of text
 * columns. `--quick`: 50,000 rows; `--only csv|parquet`: one format (the reference still runs);
 * `--cli-heap <MiB>`: the CLI's V8 old-space limit (`--max-old-space-size`), to tell the memory the CLI
 * needs from the heap V8 lets grow; `--cli-heap-growing <percent>`: the CLI's heap growth
 * (`--heap-growing-percent`) instead of the 20 % `remedy ingest` sets itself, 0 for V8's default.
 * Targets: ≥ 100,000 rows/s, CLI peak RSS ≤ 300 MiB.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as db from '../db/index.js';
import { createPool, migrate } from '../db/pool.js';
import { writeParquetLog, writeTextLog } from '../dev/weather-log.js';
import { loadWeather, weatherModel } from '../dev/weather.js';
import { dataDir, projectRoot } from '../infra/paths.js';
import { createDatabase, startPostgres } from '../infra/postgres.js';
import { log, machine, writeReport } from './harness.js';

const run = promisify(execFile);
const quick = process.argv.includes('--quick');
const ROWS = quick ? 50_000 : 1_000_000;
const onlyAt = process.argv.indexOf('--only');
const heapAt = process.argv.indexOf('--cli-heap');
const cliHeap = heapAt > 0 ? Number(process.argv[heapAt + 1]) : undefined;
if (cliHeap !== undefined && !(cliHeap >= 64)) {
  console.error('--cli-heap takes a size in MiB, at least 64');
  process.exit(2);
}
const growingAt = process.argv.indexOf('--cli-heap-growing');
const cliGrowing = growingAt > 0 ? Number(process.argv[growingAt + 1]) : undefined;
if (cliGrowing !== undefined && !(Number.isInteger(cliGrowing) && cliGrowing >= 0)) {
  console.error('--cli-heap-growing takes a whole percent, 0 for V8 default');
  process.exit(2);
}
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && only !== 'csv' && only !== 'parquet') {
  console.error(`--only takes csv or parquet, not "${only ?? ''}"`);
  process.exit(2);
}
const TARGET_RATE = 100_000;
const TARGET_RSS_MIB = 300;
const TIME = '/usr/bin/time';

interface Measured {
  file: string;
  bytes: number;
  rows: number;
  added: number;
  wallSeconds: number;
  rowsPerSecond: number;
  /** The CLI's own figure: from opening the file to the commit, without Node's start-up. */
  ingestRowsPerSecond: number;
  peakRssMiB: number | null;
  /** How the rows reached the log (`direct`: copied straight in; `merged`: through the staging table). */
  route: string;
}

async function ingest(url: string, model: string, file: string): Promise<Measured> {
  const heap = [
    ...(cliHeap === undefined ? [] : [`--max-old-space-size=${cliHeap}`]),
    ...(cliGrowing === undefined ? [] : [`--heap-growing-percent=${cliGrowing}`]),
  ];
  const cli = [
    ...heap,
    '--import',
    'tsx',
    path.join(projectRoot, 'cli/main.ts'),
    'ingest',
    model,
    file,
    '--json',
  ];
  const timed = existsSync(TIME);
  const started = Date.now();
  const { stdout, stderr } = await run(
    timed ? TIME : process.execPath,
    timed ? ['-v', process.execPath, ...cli] : cli,
    {
      env: { ...process.env, DATABASE_URL: url },
      cwd: projectRoot,
      maxBuffer: 64 * 1024 ** 2,
    },
  );
  const wallSeconds = (Date.now() - started) / 1000;
  const result = JSON.parse(stdout) as {
    rows: number;
    added: number;
    seconds: number;
    bytes: number;
    route: string;
  };
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return {
    file: path.basename(file),
    bytes: result.bytes,
    rows: result.rows,
    added: result.added,
    wallSeconds,
    rowsPerSecond: Math.round(result.rows / wallSeconds),
    ingestRowsPerSecond: Math.round(result.rows / result.seconds),
    peakRssMiB: rss ? Math.round(Number(rss[1]) / 1024) : null,
    route: result.route,
  };
}

/** psql's `\copy` of the same CSV into a table of text columns: what Postgres takes at best. */
async function bareCopy(url: string, file: string): Promise<{ seconds: number; rowsPerSecond: number }> {
  const columns =
    'record_key text, ts text, location text, precipitation text, temp_max text, temp_min text, wind text, season_sin text, season_cos text, feedback text';
  await run('psql', [url, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE TABLE bench_bare_copy (${columns})`]);
  const started = Date.now();
  await run('psql', [
    url,
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `\\copy bench_bare_copy FROM '${file}' CSV HEADER`,
  ]);
  const seconds = (Date.now() - started) / 1000;
  return { seconds, rowsPerSecond: Math.round(ROWS / seconds) };
}

async function main(): Promise<void> {
  const pgServer = await startPostgres({
    log,
    dataDir: path.join(dataDir(), 'bench', 'pg'),
    databaseName: 'bench',
  });
  const url = await createDatabase(pgServer.url, `ingest_${Date.now()}`);
  const pool = createPool(url, 2);
  const dir = await mkdtemp(path.join(tmpdir(), 'remedy-bench-ingest-'));
  try {
    await migrate(pool);
    for (const m of ['bench-csv', 'bench-parquet']) await db.upsertModel(pool, weatherModel(m));
    const table = await loadWeather();
    log(
      `writing ${ROWS.toLocaleString('en-US')} rows: the weather table (${table.length} rows) repeated with new keys and times`,
    );
    const csv = path.join(dir, 'log.csv');
    const parquet = path.join(dir, 'log.parquet');
    await writeTextLog(csv, 'csv', table, ROWS);
    writeParquetLog(parquet, table, ROWS, 100_000);
    log(
      `CSV ${((await stat(csv)).size / 1024 ** 2).toFixed(1)} MiB, Parquet ${((await stat(parquet)).size / 1024 ** 2).toFixed(1)} MiB`,
    );
    const runs: Measured[] = [];
    if (only !== 'parquet') {
      log('remedy ingest (CSV)…');
      runs.push(await ingest(url, 'bench-csv', csv));
    }
    if (only !== 'csv') {
      log('remedy ingest (Parquet)…');
      runs.push(await ingest(url, 'bench-parquet', parquet));
    }
    log('psql \\copy of the same CSV (reference)…');
    const bare = await bareCopy(url, csv);
    const report = {
      machine: {
        ...machine(),
        note: '2 cores shared with other jobs running at the same time; numbers vary run to run',
      },
      cliHeapMiB: cliHeap ?? null,
      cliHeapGrowingPercent: cliGrowing ?? null,
      data: `vega-datasets weather.csv (${table.length} rows) repeated to ${ROWS} rows with new keys and times`,
      rows: ROWS,
      runs,
      bareCopy: bare,
      targets: { rowsPerSecond: TARGET_RATE, peakRssMiB: TARGET_RSS_MIB },
      met: runs.every(
        (r) => r.rowsPerSecond >= TARGET_RATE && r.peakRssMiB !== null && r.peakRssMiB <= TARGET_RSS_MIB,
      ),
    };
    const out = await writeReport(quick ? 'ingest-quick' : 'ingest', report);
    for (const r of runs)
      console.log(
        `${r.file}: ${r.rows.toLocaleString('en-US')} rows (${(r.bytes / 1024 ** 2).toFixed(1)} MiB) in ${r.wallSeconds.toFixed(1)} s: ${r.rowsPerSecond.toLocaleString('en-US')} rows/s end to end (${r.ingestRowsPerSecond.toLocaleString('en-US')} rows/s after start-up), CLI peak RSS ${r.peakRssMiB ?? '?'} MiB, ${r.route} route`,
      );
    console.log(
      `reference: psql \\copy of the same CSV into text columns: ${bare.seconds.toFixed(1)} s, ${bare.rowsPerSecond.toLocaleString('en-US')} rows/s`,
    );
    console.log(
      `targets ≥ ${TARGET_RATE.toLocaleString('en-US')} rows/s and ≤ ${TARGET_RSS_MIB} MiB: ${report.met ? 'met' : 'MISSED'}`,
    );
    console.log(`data: ${report.data}; machine: ${report.machine.note}; report: ${out}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await pool.end();
    await pgServer.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
