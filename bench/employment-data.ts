/**
 * NannyML 0.13.1's ACS employment split for Massachusetts, as the benchmarks read it: real census rows from
 * the wheel on PyPI (`pip download nannyml==0.13.1 --no-deps`, unpacked once under a benchmark's folder),
 * their features and the employed / not-employed label.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { Features } from '../core/schemas.js';

export const NANNYML = 'nannyml==0.13.1';
export const NUMERIC = ['AGEP', 'SCHL'];
export const CATEGORICAL = [
  ...['MAR', 'RELP', 'DIS', 'ESP', 'CIT', 'MIG', 'MIL', 'ANC', 'NATIVITY'],
  ...['DEAR', 'DEYE', 'DREM', 'SEX', 'RAC1P'],
];

function run(cmd: string, argv: string[]): void {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${argv.join(' ')} failed (exit ${r.status}): python3 with pip is needed once to fetch ${NANNYML}`,
    );
}

/** The employment files of the NannyML wheel under `root`, downloaded and unpacked on first use. */
export async function employmentFiles(
  root: string,
): Promise<{ reference: string; analysis: string; target: string }> {
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

export async function readParquet(file: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
}

export function toFeatures(row: Record<string, unknown>): Features {
  const f: Features = {};
  for (const name of NUMERIC) f[name] = Number(row[name]);
  for (const name of CATEGORICAL) f[name] = String(row[name]);
  return f;
}

export const labelOf = (employed: unknown) => (Number(employed) === 1 ? 'employed' : 'not-employed');
