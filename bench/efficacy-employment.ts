/**
 * The stable control: NannyML 0.13.1's ACS employment split for Massachusetts (real census rows; the
 * wheel is downloaded from PyPI once with `pip download nannyml==0.13.1 --no-deps`). The champion is
 * trained on the 2015 reference split; the stream is the 2016 analysis split with its targets. The rows
 * carry no timestamps: they are spread evenly over 2016 in file order, the order NannyML chunks them in.
 * Nothing shifts that a retrained model would fix, so every cycle counts as a false alarm.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ModelDefinition, type Features } from '../core/schemas.js';
import { hasFeedback } from '../dev/weather.js';
import { dataDir } from '../infra/paths.js';
import type { Dataset } from './efficacy-data.js';

const NANNYML = 'nannyml==0.13.1';
const NUMERIC = ['AGEP', 'SCHL'];
const CATEGORICAL = [
  ...['MAR', 'RELP', 'DIS', 'ESP', 'CIT', 'MIG', 'MIL', 'ANC', 'NATIVITY'],
  ...['DEAR', 'DEYE', 'DREM', 'SEX', 'RAC1P'],
];
/** Reference rows the champion trains on (every k-th of 68,785), and the stream's share of 208,892. */
const REFERENCE_ROWS = 6000;
const STREAM_EVERY = { quick: 20, full: 5 };

function run(cmd: string, argv: string[]): void {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${argv.join(' ')} failed (exit ${r.status}): python3 with pip is needed once to fetch ${NANNYML}`,
    );
}

async function employmentFiles(): Promise<{ reference: string; analysis: string; target: string }> {
  const root = path.join(dataDir(), 'bench', 'nannyml');
  const dir = path.join(root, 'nannyml', 'datasets', 'data');
  const files = {
    reference: path.join(dir, 'employment_MA_reference.pq'),
    analysis: path.join(dir, 'employment_MA_analysis.pq'),
    target: path.join(dir, 'employment_MA_analysis_target.pq'),
  };
  if (Object.values(files).every((f) => existsSync(f))) return files;
  await mkdir(root, { recursive: true });
  process.stderr.write(`[bench] downloading ${NANNYML} from PyPI for its ACS employment dataset\n`);
  run('python3', ['-m', 'pip', 'download', NANNYML, '--no-deps', '-d', root]);
  const wheel = (await readdir(root)).find((f) => f.startsWith('nannyml-') && f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip download ${NANNYML} left no wheel in ${root}`);
  const unpack =
    'import sys, zipfile\nw = zipfile.ZipFile(sys.argv[1])\nw.extractall(sys.argv[2], [n for n in w.namelist() if "/employment_MA_" in n])';
  run('python3', ['-c', unpack, path.join(root, wheel), root]);
  return files;
}

async function readParquet(file: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
}

function toFeatures(row: Record<string, unknown>): Features {
  const f: Features = {};
  for (const name of NUMERIC) f[name] = Number(row[name]);
  for (const name of CATEGORICAL) f[name] = String(row[name]);
  return f;
}

const labelOf = (employed: unknown) => (Number(employed) === 1 ? 'employed' : 'not-employed');

export async function employmentDataset(quick: boolean): Promise<Dataset> {
  const files = await employmentFiles();
  const ref = await readParquet(files.reference);
  const refEvery = Math.max(1, Math.floor(ref.length / REFERENCE_ROWS));
  const reference = ref
    .filter((_, i) => i % refEvery === 0)
    .map((r, i) => ({
      recordKey: `ref-${i}`,
      // Spread over 2015: the reference's span, before the stream.
      ts: new Date(Date.parse('2015-01-01T00:00:00Z') + i * 5_000_000).toISOString(),
      features: toFeatures(r),
      label: labelOf(r.employed),
    }));
  const truth = new Map((await readParquet(files.target)).map((t) => [Number(t.id), labelOf(t.employed)]));
  const every = quick ? STREAM_EVERY.quick : STREAM_EVERY.full;
  const analysis = (await readParquet(files.analysis)).filter((_, i) => i % every === 0);
  const start = Date.parse('2016-01-01T00:00:00Z');
  const span = 12 * 30 * 86_400_000;
  const stream = analysis.map((r, i) => {
    const recordKey = `acs-${Number(r.id)}`;
    const label = truth.get(Number(r.id));
    if (label === undefined) throw new Error(`${files.target} has no target for id ${String(r.id)}`);
    return {
      recordKey,
      ts: new Date(start + Math.floor(((i + 0.5) * span) / analysis.length)).toISOString(),
      features: toFeatures(r),
      label,
      feedback: hasFeedback(recordKey),
    };
  });
  return {
    name: 'employment',
    description: `NannyML 0.13.1 ACS employment, Massachusetts (${reference.length} reference rows of 2015; every ${every}th of the 208,892 rows of 2016, spread over the year in file order): a stable control`,
    reference,
    stream,
    start: new Date(start).toISOString(),
    windowDays: 30,
    windows: 12,
    shiftOnset: null,
    model: (modelId, policy) =>
      ModelDefinition.parse({
        modelId,
        labelSet: ['employed', 'not-employed'],
        features: { numeric: NUMERIC, categorical: CATEGORICAL },
        policy,
      }),
  };
}
