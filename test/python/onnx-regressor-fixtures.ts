/**
 * Builds the ONNX regressor fixtures (test/fixtures/onnx_regressors.py) into a temp dir with the project's
 * Python environment: scikit-learn regressors trained on the 1970–74 cars (the registration's train split),
 * exported with skl2onnx, plus
 * the files a regression model must refuse. Takes a few seconds.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Features } from '../../core/schemas.js';
import { isHoldout } from '../../core/policy.js';
import { ModelDefinition } from '../../core/schemas.js';
import { carsFile, labeledCars } from '../../dev/cars.js';
import { ensurePythonEnv } from '../../infra/python-env.js';

const script = fileURLToPath(new URL('../fixtures/onnx_regressors.py', import.meta.url));

/** What the script wrote beside a regressor: every labeled car, sklearn's and onnxruntime's predictions. */
export interface RegressorDoc {
  keys: string[];
  rows: Features[];
  sklearn: number[];
  onnxruntime: number[];
}

export interface RegressorFixtures {
  dir: string;
  path(name: string): string;
  bytes(name: string): Promise<Buffer>;
  doc(name: string): Promise<RegressorDoc>;
  remove(): Promise<void>;
}

export async function buildRegressorFixtures(): Promise<RegressorFixtures> {
  const { python } = await ensurePythonEnv();
  const dir = await mkdtemp(join(tmpdir(), 'remedy-onnx-reg-'));
  // Trained on what a registration with the default policy trains on: the holdout stays unseen.
  const { holdoutShare } = ModelDefinition.parse({
    modelId: 'cars',
    task: 'regression',
    features: { numeric: ['Weight_in_lbs'], categorical: [] },
  }).policy.collection;
  const holdout = labeledCars()
    .map((c) => c.recordKey)
    .filter((k) => isHoldout(k, holdoutShare));
  const keys = join(dir, 'holdout-keys.json');
  await writeFile(keys, JSON.stringify(holdout));
  await promisify(execFile)(python, [script, dir, carsFile, keys], { maxBuffer: 16 * 1024 * 1024 });
  return {
    dir,
    path: (name) => join(dir, `${name}.onnx`),
    bytes: (name) => readFile(join(dir, `${name}.onnx`)),
    doc: async (name) => JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as RegressorDoc,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
