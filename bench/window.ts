/**
 * One drift check, drift + performance, over a window of 1,000,000 logged records of a 16-feature
 * model, end to end through Postgres: `windowReport` exactly as the monitor's check calls it, in a fresh
 * process (its peak RSS is the check's), next to a plain cursor read of the same rows with no computation
 * measured in the same run.
 *
 *   npm run bench:window [-- --records 1000000 --labeled 0.2 --repeats 3 --quick]
 *
 * Data: NannyML 0.13.1's ACS employment split for Massachusetts (16 features: age and education as
 * numbers, 14 categories), downloaded from PyPI into <data dir>/bench/window on first use. The champion
 * is a built-in random forest of 20 trees trained on 20,000 rows of its 2015 reference split; the window
 * is its 2016 analysis split (208,892 real rows) repeated with new record keys and timestamps until it
 * holds `--records` records spread over 30 days, with the true label as feedback on a `--labeled` share.
 * The log is ingested once and kept (a Postgres of its own in <data dir>/bench/window-pg).
 *
 * Targets: <= 5 s, peak RSS <= 1 GiB, every record of the window used. Each run also reports the CPU
 * seconds of the Node process and of its Postgres backends (from /proc), which a busy machine inflates
 * far less than wall time. BENCH_NODE_ARGS adds node flags to the measured process, e.g.
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile of the check.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { windowReport } from '../activities/drift.js';
import { registerModelWithChampion, type LabeledExample } from '../ops/setup.js';
import { trainForest, type ForestConfig } from '../core/forest.js';
import { canonicalJson, encode, fitEncoder, type ForestArtifact } from '../core/model.js';
import { ModelDefinition } from '../core/schemas.js';
import { describeSelection } from '../core/window.js';
import { createPool, migrate } from '../db/pool.js';
import * as benchDb from '../db/bench.js';
import * as db from '../db/index.js';
import { dataDir } from '../infra/paths.js';
import { startPostgres } from '../infra/postgres.js';
import {
  CATEGORICAL,
  employmentFiles,
  labelOf,
  NUMERIC,
  readParquet,
  toFeatures,
} from './employment-data.js';
import { machine, percentile, writeReport } from './report.js';

const TARGET = { seconds: 5, peakMiB: 1024 };
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const QUICK = args.includes('--quick');
const RECORDS = Number(arg('records', QUICK ? '50000' : '1000000'));
const LABELED = Number(arg('labeled', '0.2'));
const REPEATS = Number(arg('repeats', QUICK ? '1' : '3'));
const TREES = 20;
const REFERENCE_ROWS = 20_000;
const WINDOW = { start: '2016-01-01T00:00:00.000Z', end: '2016-01-31T00:00:00.000Z' };
const here = fileURLToPath(import.meta.url);
const root = path.join(dataDir(), 'bench', 'window');
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const modelId = `acs-employment-${RECORDS}-${Math.round(LABELED * 100)}pct`;

interface ChildResult {
  seconds: number;
  peakRssMiB: number;
  /** CPU seconds of this Node process and of its Postgres backends: less sensitive to a busy machine. */
  nodeCpu: number;
  postgresCpu: number;
  held: number;
  tested: number;
  labeled: number;
  summary: string;
}

/** Registers the model with a forest champion and ingests the window, unless a past run already did. */
async function prepare(pool: pg.Pool): Promise<void> {
  if ((await benchDb.countRecords(pool, modelId)) === RECORDS) {
    log(`reusing the ${RECORDS.toLocaleString('en-US')} records ingested by an earlier run`);
    return;
  }
  const files = await employmentFiles(root);
  const def = ModelDefinition.parse({
    modelId,
    labelSet: ['employed', 'not-employed'],
    features: { numeric: NUMERIC, categorical: CATEGORICAL },
  });
  const refRows = (await readParquet(files.reference)).slice(0, REFERENCE_ROWS);
  const reference: LabeledExample[] = refRows.map((r, i) => ({
    recordKey: `ref-${i}`,
    ts: '2015-06-01T00:00:00.000Z',
    features: toFeatures(r),
    label: labelOf(r.employed),
  }));
  log(`registering ${modelId} on ${reference.length} reference rows`);
  const { version } = await registerModelWithChampion(pool, def, reference);
  // The champion becomes a built-in forest trained on the same rows (the registry's artifact, replaced).
  const encoder = fitEncoder(
    def.features,
    reference.map((r) => r.features),
  );
  const classes = [...def.labelSet];
  const config: ForestConfig = {
    trees: TREES,
    maxDepth: 10,
    minSamplesLeaf: 5,
    maxFeatures: 'sqrt',
    seed: 7,
  };
  const trees = trainForest(
    reference.map((r) => encode(encoder, r.features)),
    reference.map((r) => classes.indexOf(r.label)),
    null,
    classes.length,
    config,
  );
  const artifact: ForestArtifact = { kind: 'random-forest', classes, encoder, config, trees };
  const json = canonicalJson(artifact);
  await benchDb.replaceArtifact(
    pool,
    modelId,
    version,
    json,
    createHash('sha256').update(json).digest('hex'),
  );
  const analysis = await readParquet(files.analysis);
  const targets = await readParquet(files.target);
  const truth = new Map(targets.map((t) => [Number(t.id), labelOf(t.employed)]));
  const features = analysis.map((r) => JSON.stringify(toFeatures(r)));
  const labels = analysis.map((r) => truth.get(Number(r.id)) ?? null);
  await benchDb.deleteRecords(pool, modelId);
  const t0 = Date.parse(WINDOW.start);
  const step = (Date.parse(WINDOW.end) - t0) / RECORDS;
  const every = LABELED > 0 ? Math.round(1 / LABELED) : 0;
  const started = performance.now();
  for (let i = 0; i < RECORDS; i += 10_000) {
    const n = Math.min(10_000, RECORDS - i);
    const idx = Array.from({ length: n }, (_, k) => i + k);
    await benchDb.insertGeneratedRecords(pool, modelId, {
      keys: idx.map((j) => `r${j}`),
      ts: idx.map((j) => new Date(t0 + j * step).toISOString()),
      features: idx.map((j) => features[j % features.length]!),
      feedback: idx.map((j) => (every > 0 && j % every === 0 ? labels[j % labels.length]! : null)),
    });
    if ((i / 10_000) % 10 === 0) log(`ingested ${i.toLocaleString('en-US')} records`);
  }
  await benchDb.vacuumRecords(pool);
  log(
    `ingested ${RECORDS.toLocaleString('en-US')} records in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** In a child process: the monitor's check of the window, or the plain read of the same rows. */
async function child(mode: string, url: string): Promise<void> {
  const pool = createPool(url, 4);
  try {
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    let result: Omit<ChildResult, 'seconds' | 'peakRssMiB' | 'nodeCpu' | 'postgresCpu'>;
    if (mode === 'report') {
      const model = await db.getModel(pool, modelId);
      const champion = await db.getAlias(pool, modelId, 'champion');
      const report = await windowReport(pool, {
        modelId,
        championVersion: champion!,
        window: WINDOW,
        policy: model!.policy.drift,
      });
      result = {
        held: report.window!.held,
        tested: report.window!.tested,
        labeled: report.performance.labeledRows,
        summary: `${describeSelection(report.window!)}; ${(report.driftedShare * 100).toFixed(0)} % of features drifted; ${report.performance.metric} ${report.performance.current?.toFixed(4) ?? 'n/a'} (baseline ${report.performance.baseline?.toFixed(4) ?? 'n/a'})`,
      };
    } else {
      result = await plainRead(pool);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const nodeCpu = (cpu.user + cpu.system) / 1e6;
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    const postgresCpu = await backendCpu(pool);
    process.stdout.write(JSON.stringify({ seconds, peakRssMiB, nodeCpu, postgresCpu, ...result }));
  } finally {
    await pool.end();
  }
}

/** CPU seconds used so far by this database's backends (this process's pool), from /proc (Linux). */
async function backendCpu(pool: pg.Pool): Promise<number> {
  let ticks = 0;
  for (const pid of await benchDb.backendPids(pool)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      return NaN; // another machine's Postgres, or not Linux
    }
  }
  return ticks / 100;
}

/** The same rows through a server-side cursor, 5,000 a fetch, parsed by `pg` and dropped. */
async function plainRead(
  pool: pg.Pool,
): Promise<Omit<ChildResult, 'seconds' | 'peakRssMiB' | 'nodeCpu' | 'postgresCpu'>> {
  const { held, labeled } = await benchDb.plainWindowRead(pool, modelId, WINDOW.start, WINDOW.end);
  return { held, tested: held, labeled, summary: 'plain cursor read' };
}

function runChild(mode: string, url: string): ChildResult {
  // BENCH_NODE_ARGS: extra node flags for the measured process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const r = spawnSync(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', here, '--child', mode, '--url', url, ...args],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`the ${mode} run exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout) as ChildResult;
}

async function main(): Promise<void> {
  const pgServer = await startPostgres({
    log,
    dataDir: path.join(dataDir(), 'bench', 'window-pg'),
    databaseName: 'bench_window',
  });
  try {
    const pool = createPool(pgServer.url, 4);
    try {
      await migrate(pool);
      await prepare(pool);
    } finally {
      await pool.end();
    }
    const plain: ChildResult[] = [];
    const reports: ChildResult[] = [];
    for (let i = 0; i < REPEATS; i++) {
      // Alternate which goes first so neither always reads a warmer cache.
      const pair = i % 2 === 0 ? ['plain', 'report'] : ['report', 'plain'];
      for (const mode of pair) {
        const r = runChild(mode, pgServer.url);
        (mode === 'plain' ? plain : reports).push(r);
        log(
          `${mode}: ${r.seconds.toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, CPU node ${r.nodeCpu.toFixed(2)} s + postgres ${r.postgresCpu.toFixed(2)} s`,
        );
      }
    }
    const med = (xs: ChildResult[]) =>
      percentile(
        xs.map((x) => x.seconds),
        50,
      );
    const cpu = (xs: ChildResult[]) =>
      `CPU median node ${percentile(
        xs.map((x) => x.nodeCpu),
        50,
      ).toFixed(2)} s + postgres ${percentile(
        xs.map((x) => x.postgresCpu),
        50,
      ).toFixed(2)} s`;
    const last = reports[reports.length - 1]!;
    const peak = Math.max(...reports.map((r) => r.peakRssMiB));
    const everyRecord = last.held === RECORDS && last.tested === RECORDS;
    const lines = [
      `window of ${RECORDS.toLocaleString('en-US')} logged records (NannyML ACS employment MA 2016, 208,892 real rows repeated with new keys and timestamps), 16 features, ${last.labeled.toLocaleString('en-US')} labeled; champion: built-in forest of ${TREES} trees`,
      `drift check (windowReport, drift + performance): median ${med(reports).toFixed(2)} s of ${REPEATS} (${reports.map((r) => r.seconds.toFixed(2)).join(', ')}), peak RSS ${peak.toFixed(0)} MiB; ${cpu(reports)}`,
      `plain cursor read of the same rows (no computation): median ${med(plain).toFixed(2)} s, peak RSS ${Math.max(...plain.map((r) => r.peakRssMiB)).toFixed(0)} MiB; ${cpu(plain)}`,
      `ratio check / plain read: ${(med(reports) / med(plain)).toFixed(2)}× wall, ${(
        percentile(
          reports.map((r) => r.nodeCpu),
          50,
        ) /
        percentile(
          plain.map((r) => r.nodeCpu),
          50,
        )
      ).toFixed(2)}× node CPU`,
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(', ')} on ${cpus().length} cores`,
      `held ${last.held.toLocaleString('en-US')}, tested ${last.tested.toLocaleString('en-US')}: ${last.summary}`,
      `targets${RECORDS === 1_000_000 ? '' : ' (set for 1,000,000 records)'}: ≤ ${TARGET.seconds} s ${med(reports) <= TARGET.seconds ? 'met' : `missed by ${(med(reports) - TARGET.seconds).toFixed(2)} s`}; RSS ≤ ${TARGET.peakMiB} MiB ${peak <= TARGET.peakMiB ? 'met' : 'missed'}; every record used ${everyRecord ? 'yes' : 'NO'}`,
    ];
    for (const l of lines) process.stdout.write(`${l}\n`);
    const file = await writeReport('window', {
      machine: machine(),
      records: RECORDS,
      labeled: last.labeled,
      trees: TREES,
      reports,
      plain,
      lines,
    });
    log(`report written to ${file}`);
  } finally {
    await pgServer.stop();
  }
}

if (args.includes('--child')) await child(arg('child', 'report'), arg('url', ''));
else await main();
