/**
 * Performance without labels, checked on real data no one here made: NannyML's shipped ACS employment
 * split (Massachusetts; 68,785 reference rows with labels, 208,892 analysis rows whose labels ship
 * separately), the model's `predicted_probability` and `prediction`. Remedy's CBPE and NannyML's own
 * CBPE estimate accuracy and F1 on the same chunks in the same run; the analysis labels are used only to
 * measure each estimate's error.
 *
 *   npm run bench:estimation [-- --chunk 5000]
 *
 * Target: Remedy's mean absolute estimation error <= NannyML's + 0.5 points (accuracy and F1).
 * First use downloads the nannyml 0.13.1 wheel (for its data files) into <data dir>/nannyml and creates a
 * venv at <data dir>/venv-nannyml (pip install nannyml==0.13.1 statsmodels); later runs reuse both.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { estimatePerformance, fitCbpe, type BinaryScores } from '../core/estimation.js';
import { dataDir } from '../infra/paths.js';
import { machine, writeReport } from './report.js';

const TARGET_POINTS = 0.5;
const args = process.argv.slice(2);
const chunkArg = args.indexOf('--chunk');
const CHUNK = chunkArg >= 0 ? Number(args[chunkArg + 1]) : 5000;
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function run(cmd: string, argv: string[]): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 ** 2 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/** The employment files from the nannyml wheel, downloaded and unpacked once. */
function dataFiles(): string {
  const dir = path.join(dataDir(), 'nannyml');
  const data = path.join(dir, 'nannyml', 'datasets', 'data');
  if (existsSync(path.join(data, 'employment_MA_analysis_target.pq'))) return data;
  log(`downloading the nannyml 0.13.1 wheel into ${dir}`);
  run('python3', ['-m', 'pip', 'download', 'nannyml==0.13.1', '--no-deps', '-d', dir]);
  const unpack = `import glob, zipfile
w = zipfile.ZipFile(glob.glob(${JSON.stringify(dir)} + '/nannyml-0.13.1-*.whl')[0])
w.extractall(${JSON.stringify(dir)}, [n for n in w.namelist() if '/employment_MA_' in n])`;
  run('python3', ['-c', unpack]);
  return data;
}

/** A venv with nannyml 0.13.1, created once. */
function python(): string {
  const venv = path.join(dataDir(), 'venv-nannyml');
  const bin = path.join(venv, 'bin', 'python');
  const ready = () =>
    existsSync(bin) && spawnSync(bin, ['-c', 'import nannyml'], { stdio: 'ignore' }).status === 0;
  if (!ready()) {
    log(`creating ${venv} (pip install nannyml==0.13.1 statsmodels; a few minutes)`);
    if (!existsSync(bin)) run('python3', ['-m', 'venv', venv]);
    // nannyml 0.13.1 imports statsmodels without declaring it.
    run(bin, ['-m', 'pip', 'install', '-q', 'nannyml==0.13.1', 'statsmodels']);
  }
  return bin;
}

async function readColumns(file: string, names: string[]): Promise<Record<string, Float64Array>> {
  const buffer = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buffer);
  const rows = Number(metadata.num_rows);
  const out: Record<string, Float64Array> = Object.fromEntries(names.map((n) => [n, new Float64Array(rows)]));
  await parquetRead({
    file: buffer,
    metadata,
    compressors,
    columns: names,
    onChunk: ({ columnName, columnData, rowStart }) => {
      const col = out[columnName]!;
      for (let i = 0; i < columnData.length; i++)
        col[rowStart + i] = Number(columnData[i] as number | bigint);
    },
  });
  return out;
}

interface NannyChunk {
  start: number;
  end: number;
  accuracy: { estimate: number; band: [number, number]; realized: number };
  f1: { estimate: number; band: [number, number]; realized: number };
}

async function main(): Promise<void> {
  const data = dataFiles();
  const py = python();
  const file = (name: string) => path.join(data, `employment_MA_${name}.pq`);

  log('NannyML CBPE');
  const nanny = JSON.parse(
    run(py, [path.join(here, 'estimation_nannyml.py'), '--data', data, '--chunk', String(CHUNK)]),
  ) as { version: string; calibrated: boolean; seconds: number; chunks: NannyChunk[] };

  log('Remedy CBPE');
  const ref = await readColumns(file('reference'), ['predicted_probability', 'prediction', 'employed']);
  const ana = await readColumns(file('analysis'), ['id', 'predicted_probability', 'prediction']);
  const tgt = await readColumns(file('analysis_target'), ['id', 'employed']);
  if (ana['id']!.some((id, i) => id !== tgt['id']![i]))
    throw new Error('analysis and analysis_target rows are not in the same order');
  const t0 = performance.now();
  const reference: BinaryScores = {
    proba: ref['predicted_probability']!,
    predicted: ref['prediction']!,
    labels: ref['employed']!,
  };
  const model = fitCbpe(reference, { chunkSize: CHUNK });
  const chunks = estimatePerformance(model, {
    proba: ana['predicted_probability']!,
    predicted: ana['prediction']!,
    labels: tgt['employed']!,
  });
  const remedySeconds = (performance.now() - t0) / 1000;

  if (chunks.length !== nanny.chunks.length || chunks.some((c, i) => c.start !== nanny.chunks[i]!.start))
    throw new Error('Remedy and NannyML cut the analysis into different chunks');
  const rows = chunks.map((c, i) => {
    const n = nanny.chunks[i]!;
    const realizedAcc = c.metrics.accuracy.realized!;
    const realizedF1 = c.metrics.f1.realized!;
    if (Math.abs(realizedAcc - n.accuracy.realized) > 1e-12 || Math.abs(realizedF1 - n.f1.realized) > 1e-12)
      throw new Error(`chunk ${i}: Remedy and NannyML disagree on the realized values`);
    return {
      chunk: i,
      start: c.start,
      end: c.end,
      accuracy: {
        realized: realizedAcc,
        remedy: c.metrics.accuracy.estimate!,
        remedyBand: c.metrics.accuracy.band!,
        nannyml: n.accuracy.estimate,
        nannymlBand: n.accuracy.band,
      },
      f1: {
        realized: realizedF1,
        remedy: c.metrics.f1.estimate!,
        remedyBand: c.metrics.f1.band!,
        nannyml: n.f1.estimate,
        nannymlBand: n.f1.band,
      },
    };
  });
  const mae = (metric: 'accuracy' | 'f1', who: 'remedy' | 'nannyml') =>
    (100 * rows.reduce((a, r) => a + Math.abs(r[metric][who] - r[metric].realized), 0)) / rows.length;
  const within = (metric: 'accuracy' | 'f1', band: 'remedyBand' | 'nannymlBand') =>
    rows.filter((r) => r[metric].realized >= r[metric][band][0] && r[metric].realized <= r[metric][band][1])
      .length;
  const summary = {
    accuracy: { remedyMae: mae('accuracy', 'remedy'), nannymlMae: mae('accuracy', 'nannyml') },
    f1: { remedyMae: mae('f1', 'remedy'), nannymlMae: mae('f1', 'nannyml') },
  };
  const largestDifference = Math.max(
    ...rows.flatMap((r) => [
      Math.abs(r.accuracy.remedy - r.accuracy.nannyml),
      Math.abs(r.f1.remedy - r.f1.nannyml),
    ]),
  );
  const pass = (['accuracy', 'f1'] as const).every(
    (m) => summary[m].remedyMae <= summary[m].nannymlMae + TARGET_POINTS,
  );

  const pct = (x: number) => (100 * x).toFixed(2);
  const out = [
    `ACS employment (MA), chunks of ${CHUNK}: reference ${model.referenceRows} rows, analysis ${chunks.reduce((a, c) => a + c.rows, 0)} rows`,
    `calibration: Remedy ${model.calibration.applied ? 'isotonic' : 'none'} (${model.calibration.reason}); NannyML ${nanny.version} ${nanny.calibrated ? 'isotonic' : 'none'}`,
    '',
    'chunk  rows           acc realized  Remedy  NannyML   F1 realized  Remedy  NannyML',
    ...rows.map(
      (r) =>
        `${String(r.chunk).padEnd(5)}  ${`${r.start}-${r.end - 1}`.padEnd(13)}  ${pct(r.accuracy.realized).padStart(12)}  ${pct(r.accuracy.remedy).padStart(6)}  ${pct(r.accuracy.nannyml).padStart(7)}  ${pct(r.f1.realized).padStart(11)}  ${pct(r.f1.remedy).padStart(6)}  ${pct(r.f1.nannyml).padStart(7)}`,
    ),
    '',
    `mean absolute estimation error (points): accuracy Remedy ${summary.accuracy.remedyMae.toFixed(3)}, NannyML ${summary.accuracy.nannymlMae.toFixed(3)}; F1 Remedy ${summary.f1.remedyMae.toFixed(3)}, NannyML ${summary.f1.nannymlMae.toFixed(3)}`,
    `largest difference between the two estimates: ${largestDifference.toExponential(1)}`,
    `realized inside the ±3σ band: accuracy Remedy ${within('accuracy', 'remedyBand')}/${rows.length}, NannyML ${within('accuracy', 'nannymlBand')}/${rows.length}; F1 Remedy ${within('f1', 'remedyBand')}/${rows.length}, NannyML ${within('f1', 'nannymlBand')}/${rows.length}`,
    `time (fit + estimate): Remedy ${remedySeconds.toFixed(2)} s, NannyML ${nanny.seconds.toFixed(2)} s`,
    `target (Remedy MAE <= NannyML MAE + ${TARGET_POINTS} points, accuracy and F1): ${pass ? 'met' : 'MISSED'}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = await writeReport('estimation', {
    machine: machine(),
    chunkSize: CHUNK,
    nannyml: { version: nanny.version, calibrated: nanny.calibrated, seconds: nanny.seconds },
    remedy: { calibration: model.calibration.reason, seconds: remedySeconds },
    summary,
    largestDifference,
    pass,
    chunks: rows,
  });
  log(`report written to ${saved}`);
  if (!pass) process.exitCode = 1;
}

await main();
