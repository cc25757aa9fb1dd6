/**
 * The drift engine's speed and agreement: a full default report (the tests Remedy picks per feature) with
 * a cached reference profile, on 1,000,000 rows × 50 numeric features and on the real flights file
 * (vega-datasets 3.2.1, 3M flights: January–March 2001 as the reference, April–June as the window), next
 * to scipy and Evidently on the same data in the same run.
 *
 *   npm run bench:drift [-- --rows 1000000 --features 50 --skip-evidently]
 *
 * Targets: >= 20× faster than Evidently with the same numbers (±1e-6), <= 3 s on a 2-core machine, peak
 * memory <= 1 GB. Each Remedy report runs in a fresh process (its peak RSS is the report's) and streams
 * every feature's values from the cache when it tests it. The Python reference runs in a venv at
 * <data dir>/bench-venv-drift, created on first use (pip install evidently scipy "pandas<3" pyarrow).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultThreads } from '../drift/parallel.js';
import { dataDir } from '../infra/paths.js';
import { machine, percentile, writeReport } from './report.js';

const TARGET = { ratio: 20, seconds: 3, peakMiB: 1024, tolerance: 1e-6 };
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const ROWS = Number(arg('rows', '1000000'));
const FEATURES = Number(arg('features', '50'));
const SKIP_EVIDENTLY = args.includes('--skip-evidently');
const REPEATS = 3;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(dataDir(), 'bench', 'drift');
// vega-datasets 3 exports only its JS entry (build/index.js): the data folder sits beside build/.
const flightsFile = path.join(
  path.dirname(createRequire(import.meta.url).resolve('vega-datasets-v3')),
  '..',
  'data',
  'flights-3m.parquet',
);
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

interface RunResult {
  mode: string;
  threads: number;
  seconds: number[];
  peakRssMiB: number;
  dataset: { drifted: boolean; share: number };
  features: { feature: string; test: string; statistic: number; pValue: number | null; drifted: boolean }[];
}
interface Reference {
  rows: { reference: number; current: number };
  scipy: { seconds: number; features: Record<string, number> };
  evidently?: {
    version: string;
    seconds: number;
    features: Record<string, { method: string; value: number }>;
  };
}

function tsx(script: string, scriptArgs: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, script), ...scriptArgs], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}`);
  return r.stdout;
}

async function prepare(name: string, prepareArgs: string[]): Promise<string> {
  const dir = path.join(root, name);
  const stamp = path.join(dir, 'dataset.json');
  const want = JSON.stringify(prepareArgs);
  if (
    existsSync(stamp) &&
    existsSync(path.join(dir, 'args.json')) &&
    (await readFile(path.join(dir, 'args.json'), 'utf8')) === want
  ) {
    log(`${name}: using the cached profile and window in ${dir}`);
    return dir;
  }
  log(`${name}: building the reference profile and the window (once)`);
  tsx('drift-prepare.ts', [prepareArgs[0]!, dir, ...prepareArgs.slice(1)]);
  await (await import('node:fs/promises')).writeFile(path.join(dir, 'args.json'), want);
  return dir;
}

function python(): string | null {
  const venv = path.join(dataDir(), 'bench-venv-drift');
  const bin = path.join(venv, 'bin', 'python');
  const ready = () =>
    existsSync(bin) &&
    spawnSync(bin, ['-c', 'import evidently, scipy, pandas, pyarrow'], { stdio: 'ignore' }).status === 0;
  if (ready()) return bin;
  try {
    if (!existsSync(bin)) {
      log(`creating a Python venv at ${venv}`);
      run('python3', ['-m', 'venv', venv]);
    }
    log('installing evidently, scipy, pandas<3 and pyarrow into it (pip)');
    run(bin, [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      'evidently',
      'scipy',
      'pandas<3',
      'pyarrow',
    ]);
  } catch (err) {
    log(`no Python reference: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
  return ready() ? bin : null;
}

function run(command: string, runArgs: string[]): void {
  const r = spawnSync(command, runArgs, { stdio: ['ignore', 2, 2] });
  if (r.error) throw new Error(`${command}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${runArgs.slice(0, 2).join(' ')} exited with ${r.status}`);
}

function reference(py: string, refArgs: string[]): Reference {
  const r = spawnSync(
    py,
    [path.join(here, 'drift_reference.py'), ...refArgs, ...(SKIP_EVIDENTLY ? ['--skip-evidently'] : [])],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (r.status !== 0) throw new Error(`drift_reference.py exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout) as Reference;
}

const threads = defaultThreads();
const datasets = [
  {
    name: `synthetic-${ROWS}x${FEATURES}`,
    prepare: ['synthetic', String(ROWS), String(FEATURES)],
    python: (dir: string) => ['--dataset', 'synthetic', '--cache', dir],
  },
  {
    name: 'flights-3m',
    prepare: ['flights', flightsFile, '2001-04-01'],
    python: () => ['--dataset', 'flights', '--parquet', flightsFile, '--cutoff', '2001-04-01'],
  },
];
const py = python();
const results = [];
for (const d of datasets) {
  const dir = await prepare(d.name, d.prepare);
  const info = JSON.parse(await readFile(path.join(dir, 'dataset.json'), 'utf8')) as Record<string, unknown>;
  const runs: RunResult[] = [];
  for (const t of [...new Set([threads, 1])]) {
    log(`${d.name}: Remedy report, ${t} thread(s), ${REPEATS} runs`);
    runs.push(JSON.parse(tsx('drift-run.ts', [dir, String(t), String(REPEATS), 'stream'])) as RunResult);
  }
  const best = runs[0]!;
  let ref: Reference | null = null;
  if (py) {
    log(`${d.name}: scipy${SKIP_EVIDENTLY ? '' : ' and Evidently'} on the same data`);
    ref = reference(py, d.python(dir));
  }
  const remedySeconds = percentile(best.seconds, 50);
  const diff = (other: Record<string, number>) =>
    Math.max(...best.features.map((f) => Math.abs(f.statistic - (other[f.feature] ?? NaN))));
  const evidentlyValues = ref?.evidently
    ? Object.fromEntries(Object.entries(ref.evidently.features).map(([k, v]) => [k, v.value]))
    : null;
  results.push({
    dataset: d.name,
    info,
    remedy: runs.map((r) => ({
      threads: r.threads,
      medianSeconds: percentile(r.seconds, 50),
      seconds: r.seconds,
      peakRssMiB: r.peakRssMiB,
    })),
    tests: [...new Set(best.features.map((f) => f.test))],
    drifted: best.dataset,
    scipy: ref
      ? {
          seconds: ref.scipy.seconds,
          maxAbsDiff: diff(ref.scipy.features),
          ratio: ref.scipy.seconds / remedySeconds,
        }
      : null,
    evidently:
      ref?.evidently && evidentlyValues
        ? {
            version: ref.evidently.version,
            seconds: ref.evidently.seconds,
            maxAbsDiff: diff(evidentlyValues),
            ratio: ref.evidently.seconds / remedySeconds,
            sameDecisions: best.features.every((f) => evidentlyValues[f.feature]! >= 0.1 === f.drifted),
          }
        : null,
    targets: {
      seconds: { target: TARGET.seconds, measured: remedySeconds, met: remedySeconds <= TARGET.seconds },
      peakMiB: { target: TARGET.peakMiB, measured: best.peakRssMiB, met: best.peakRssMiB <= TARGET.peakMiB },
      ratioVsEvidently: ref?.evidently
        ? {
            target: TARGET.ratio,
            measured: ref.evidently.seconds / remedySeconds,
            met: ref.evidently.seconds / remedySeconds >= TARGET.ratio,
          }
        : null,
      sameNumbers: evidentlyValues
        ? {
            target: TARGET.tolerance,
            measured: diff(evidentlyValues),
            met: diff(evidentlyValues) <= TARGET.tolerance,
          }
        : null,
    },
  });
}

const m = machine();
console.log(`\nDrift engine — ${m.date}, ${m.cpus}× ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}\n`);
console.log(
  'dataset                    | Remedy (threads) | Remedy 1 thread | peak RSS  | scipy          | Evidently               | max |Δ| vs Evidently',
);
console.log(
  '---------------------------|------------------|-----------------|-----------|----------------|-------------------------|---------------------',
);
for (const r of results) {
  const multi = r.remedy[0]!;
  const single = r.remedy.find((x) => x.threads === 1) ?? multi;
  const sc = r.scipy ? `${r.scipy.seconds.toFixed(2)} s (${r.scipy.ratio.toFixed(1)}×)` : 'n/a';
  const ev = r.evidently
    ? `${r.evidently.seconds.toFixed(1)} s (${r.evidently.ratio.toFixed(0)}× slower)`
    : 'n/a';
  console.log(
    `${r.dataset.padEnd(27)}| ${`${multi.medianSeconds.toFixed(2)} s (${multi.threads})`.padEnd(17)}| ${`${single.medianSeconds.toFixed(2)} s`.padEnd(16)}| ${`${multi.peakRssMiB.toFixed(0)} MiB`.padEnd(10)}| ${sc.padEnd(15)}| ${ev.padEnd(24)}| ${r.evidently ? r.evidently.maxAbsDiff.toExponential(1) : 'n/a'}`,
  );
}
console.log('');
for (const r of results) {
  for (const [k, t] of Object.entries(r.targets)) {
    if (!t) continue;
    const by =
      k === 'ratioVsEvidently'
        ? `${(t.target / t.measured).toFixed(2)}× short`
        : `over by ${(t.measured / t.target).toFixed(2)}×`;
    console.log(
      `${r.dataset} ${k}: ${t.met ? 'met' : `MISSED (${by})`} — measured ${t.measured.toPrecision(3)}, target ${t.target}`,
    );
  }
}
const file = await writeReport('drift', { machine: m, targets: TARGET, results });
console.log(`\nreport: ${file}`);
