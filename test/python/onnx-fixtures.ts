/**
 * Builds the ONNX fixtures (test/fixtures/onnx_models.py) into a temp dir with the project's Python
 * environment: real scikit-learn models trained on the weather data, exported with skl2onnx, plus the
 * files Remedy must refuse. Takes about 20 s; each test file builds them once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Features } from '../../core/schemas.js';
import { weatherCsvPath } from '../../dev/weather.js';
import { ensurePythonEnv } from '../../infra/python-env.js';

const script = fileURLToPath(new URL('../fixtures/onnx_models.py', import.meta.url));

export const WEATHER_SPEC = {
  numeric: ['precipitation', 'temp_max', 'temp_min', 'wind', 'season_sin', 'season_cos'],
  categorical: ['location'],
};
/** The tensor-mode fixtures read the six numeric features only. */
export const NUMERIC_SPEC = { numeric: WEATHER_SPEC.numeric, categorical: [] };
export const LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun'];

/** A model the script wrote beside its .onnx file: the 2015 holdout and both runtimes' probabilities. */
export interface FixtureDoc {
  rows: Features[];
  classes: string[];
  onnxruntime: number[][];
  sklearn: number[][];
}

export interface OnnxFixtures {
  dir: string;
  python: string;
  /** Seconds the script took. */
  seconds: number;
  bytes(name: string): Promise<Buffer>;
  doc(name: string): Promise<FixtureDoc>;
  remove(): Promise<void>;
}

export async function buildOnnxFixtures(): Promise<OnnxFixtures> {
  const { python } = await ensurePythonEnv();
  const dir = await mkdtemp(join(tmpdir(), 'remedy-onnx-'));
  const started = Date.now();
  await promisify(execFile)(python, [script, dir, weatherCsvPath()], { maxBuffer: 16 * 1024 * 1024 });
  return {
    dir,
    python,
    seconds: (Date.now() - started) / 1000,
    bytes: (name) => readFile(join(dir, `${name}.onnx`)),
    doc: async (name) => JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as FixtureDoc,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The largest |a - b| over rows and classes; `a` is keyed by class, `b` is in `classes` order. */
export function maxAbsDiff(
  a: readonly Record<string, number>[],
  b: readonly number[][],
  classes: readonly string[],
): number {
  if (a.length !== b.length) throw new Error(`${a.length} rows against ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < classes.length; j++) {
      const d = Math.abs(a[i]![classes[j]!]! - b[i]![j]!);
      if (Number.isNaN(d)) return NaN;
      if (d > max) max = d;
    }
  return max;
}
