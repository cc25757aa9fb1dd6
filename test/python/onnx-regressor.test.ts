/**
 * ONNX regressors on real data (vega-datasets' cars, miles per gallon): scikit-learn regressors trained
 * on the 1970–74 cars and exported with skl2onnx (test/fixtures/onnx_regressors.py) are scored by Remedy
 * as sklearn predicts them, adopted as a regression model's champion through `remedy models register
 * --artifact` with holdout errors Remedy measures itself, and a classifier's file or one that yields NaN
 * is refused with what was wrong, nothing written.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import type { CliIo } from '../../cli/shared.js';
import { isOnnxRegressor } from '../../core/model.js';
import { conformalRank, storedInterval } from '../../core/regression-interval.js';
import { regressionErrors } from '../../core/regression-metrics.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import * as db from '../../db/index.js';
import { adoptOnnxRegressor } from '../../scoring/onnx-regressor.js';
import { describeOnnx, openSession } from '../../scoring/onnx.js';
import { scoreRows } from '../../scoring/index.js';
import { freshDatabase, startGateway } from '../helpers.js';
import { buildRegressorFixtures, type RegressorFixtures } from './onnx-regressor-fixtures.js';

let fx: RegressorFixtures;
let pool: pg.Pool;
let dir: string;

beforeAll(async () => {
  fx = await buildRegressorFixtures();
  ({ pool } = await freshDatabase('onnxreg'));
  dir = await mkdtemp(path.join(tmpdir(), 'remedy-onnxreg-'));
}, 600_000); // the first run creates the Python environment (pip install), which can take minutes
afterAll(async () => {
  await pool?.end();
  await fx?.remove();
});

const columns = [...CAR_MEASUREMENTS.numeric, ...CAR_MEASUREMENTS.categorical];
const early = labeledCars().filter((c) => c.year <= 1974);
/** The tensor files read the five numeric measurements, in this order. */
const layout = CAR_MEASUREMENTS.numeric.map((feature) => ({ feature }));

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    connect: () => Promise.reject(new Error('no Temporal needed')),
    database: () => Promise.resolve({ pool, close: () => Promise.resolve() }),
  };
  const code = await runCli(args, io);
  return { code, out, err };
}

async function definition(modelId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(dir, `${modelId}.json`);
  await writeFile(
    file,
    JSON.stringify({ modelId, task: 'regression', features: CAR_MEASUREMENTS, ...extra }),
  );
  return file;
}

async function reference(): Promise<string> {
  const file = path.join(dir, 'cars-early.csv');
  const header = ['record_key', 'ts', ...columns, 'label'].join(',');
  const lines = early.map((c) =>
    [c.recordKey, `${c.year}-01-01`, ...columns.map((f) => String(c.features[f])), String(c.value)].join(','),
  );
  await writeFile(file, `${header}\n${lines.join('\n')}\n`);
  return file;
}

describe('scoring an ONNX regressor', () => {
  it.each([
    ['rf_reg', {}],
    ['lin_reg', { tensor: { layout } }],
  ] as const)(
    'given %s exported by skl2onnx, then Remedy predicts every car as sklearn does',
    async (name, hints) => {
      const doc = await fx.doc(name);
      const adopted = await adoptOnnxRegressor(await fx.bytes(name), CAR_MEASUREMENTS, doc.rows, {
        producer: `${name}.onnx`,
        hints,
      });
      expect(adopted.artifact).toMatchObject({
        kind: 'onnx',
        task: 'regression',
        outputs: { value: 'variable' },
      });
      const values = adopted.predictions.map((p) => p.value!);
      expect(values).toHaveLength(392);
      // Measured: 4.4e-6 (forest) and 1.5e-6 (linear), float32 inside the graph against sklearn's float64.
      expect(maxAbsDiff(values, doc.sklearn)).toBeLessThan(1e-4);
      expect(maxAbsDiff(values, doc.onnxruntime)).toBeLessThan(1e-5);
      // A regressor's prediction: the value, as its label too, and no class probabilities.
      expect(adopted.predictions[0]).toEqual({
        label: String(values[0]),
        confidence: 1,
        probabilities: {},
        value: values[0],
      });
    },
  );

  it('given the forest regressor for a classification model, then it is still refused as a regressor', async () => {
    const bytes = await fx.bytes('rf_reg');
    const { session } = await openSession(bytes);
    expect(() => describeOnnx(session, bytes, CAR_MEASUREMENTS, ['low', 'high'])).toThrow(
      /output "variable" is one number per row, not a probability per class: the model looks like a regressor/,
    );
  });
});

describe('registering an ONNX regressor as champion', () => {
  it('given the cars forest from skl2onnx, then it is champion v1 with the holdout errors Remedy measures, and the same file again keeps it', async () => {
    const ref = await reference();
    const file = fx.path('rf_reg');
    const r = await cli([
      'models',
      'register',
      await definition('cars-onnx'),
      '--reference',
      ref,
      '--artifact',
      file,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `^registered cars-onnx: champion v1 adopted from ${file.replace(/[.]/g, '\\.')} \\(ONNX regressor\\), holdout MAE [\\d.]+, RMSE [\\d.]+, R² [\\d.]+ \\(\\d+ train, \\d+ holdout rows; target 9 to [\\d.]+\\)`,
      ),
    );

    const v = await db.getModelVersion(pool, 'cars-onnx', 1);
    expect(v.status).toBe('champion');
    if (!isOnnxRegressor(v.artifact))
      throw new Error(`champion is ${v.artifact.kind}, not an ONNX regressor`);
    expect(v.artifact.source.producer).toBe('rf_reg.onnx');
    expect(v.artifactSha256).toBe(v.artifact.sha256);

    // The stored errors are sklearn's predictions' errors on the stored holdout, up to float32.
    const rows = await db.getDatasetRows(pool, v.datasetId!);
    const holdout = rows.filter((x) => x.split === 'holdout');
    const train = rows.filter((x) => x.split === 'train');
    expect(holdout.length).toBeGreaterThan(10);
    expect(holdout.length + train.length).toBe(early.length);
    const doc = await fx.doc('rf_reg');
    const sklearn = new Map(doc.keys.map((k, i) => [k, doc.sklearn[i]!]));
    const truth = holdout.map((x) => Number(x.label));
    const expected = regressionErrors(
      truth,
      holdout.map((x) => sklearn.get(x.recordKey)!),
    );
    const stored = v.metrics['holdoutErrors'] as typeof expected;
    expect(stored.rows).toBe(holdout.length);
    expect(Math.abs(stored.mae - expected.mae)).toBeLessThan(1e-4);
    expect(Math.abs(stored.rmse - expected.rmse)).toBeLessThan(1e-4);
    expect(Math.abs(stored.r2! - expected.r2!)).toBeLessThan(1e-5);
    // Its 90 % conformal interval: the ⌈(n + 1) · 0.9⌉-th of sklearn's absolute errors on the same holdout.
    const interval = storedInterval(v.metrics)!;
    expect(interval).toMatchObject({
      level: 0.9,
      rows: holdout.length,
      calibratedOn: "the registration's reference holdout",
    });
    const absolute = holdout
      .map((x, i) => Math.abs(sklearn.get(x.recordKey)! - truth[i]!))
      .sort((a, b) => a - b);
    expect(Math.abs(interval.halfWidth - absolute[conformalRank(holdout.length, 0.9)! - 1]!)).toBeLessThan(
      1e-4,
    );

    // The version scores from the registry (its file read back from model_blobs), as registered: up to
    // onnxruntime summing the trees in another order for another batch size (measured 5e-8 on the MAE).
    const scored = await scoreRows(
      pool,
      v.artifact,
      holdout.map((x) => x.features),
    );
    expect(
      regressionErrors(
        truth,
        scored.map((p) => p.value!),
      ).mae,
    ).toBeCloseTo(stored.mae, 6);

    const profile = await db.getReferenceProfile(pool, 'cars-onnx', 1);
    const values = train.map((x) => Number(x.label));
    expect(profile?.target).toMatchObject({
      rows: train.length,
      min: Math.min(...values),
      max: Math.max(...values),
      holdout: { rows: holdout.length, mae: stored.mae, rmse: stored.rmse, r2: stored.r2 },
    });

    const shown = await cli(['models', 'show', 'cars-onnx']);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('  predicts: a number\n');
    expect(shown.out).toMatch(
      new RegExp(
        `v1\\tchampion\\tholdout MAE ${Number(stored.mae.toPrecision(4))}\\t90% interval ± ${Number(interval.halfWidth.toPrecision(4))}\\tregistered`,
      ),
    );

    const again = await cli([
      'models',
      'register',
      await definition('cars-onnx'),
      '--reference',
      ref,
      '--artifact',
      file,
    ]);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`champion v1 kept, unchanged (${file} is the same file)`);

    const other = fx.path('lin_reg');
    const replaced = await cli([
      'models',
      'register',
      await definition('cars-onnx'),
      '--reference',
      ref,
      '--artifact',
      other,
    ]);
    expect(replaced.code).toBe(2);
    expect(replaced.err).toContain(`cars-onnx already has champion v1, and ${other} is a different model`);
    expect((await db.listModelVersions(pool, 'cars-onnx')).map((x) => x.version)).toEqual([1]);
  });

  it('given the adopted forest as champion, then the gateway answers a later car with sklearn’s prediction', async () => {
    const gateway = await startGateway(pool);
    try {
      const doc = await fx.doc('rf_reg');
      const at = doc.keys.findIndex((k) => k === labeledCars().find((c) => c.year >= 1980)!.recordKey);
      const res = await fetch(`${gateway.url}/v1/models/cars-onnx/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestId: 'later-car', features: doc.rows[at] }),
      });
      expect(res.status).toBe(200);
      const json = (await res.json()) as {
        prediction: number;
        version: number;
        interval: { low: number; high: number; level: number };
      };
      expect(json.version).toBe(1);
      expect(typeof json.prediction).toBe('number');
      expect(Math.abs(json.prediction - doc.sklearn[at]!)).toBeLessThan(1e-4);
      // The adopted file's answer carries the interval its registration calibrated, as the forest's does.
      const { halfWidth } = storedInterval((await db.getModelVersion(pool, 'cars-onnx', 1)).metrics)!;
      expect(json.interval).toEqual({
        low: json.prediction - halfWidth,
        high: json.prediction + halfWidth,
        level: 0.9,
      });
    } finally {
      await gateway.close();
    }
  });

  it('given the linear regressor added as a version, then it is a candidate measured on the champion’s holdout; a classifier’s file is refused', async () => {
    const def = await definition('cars-onnx', { onnx: { tensor: { layout } } });
    const file = fx.path('lin_reg');
    const r = await cli(['models', 'add-version', 'cars-onnx', file, '--definition', def]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const champion = (await db.getModelVersion(pool, 'cars-onnx', 1)).metrics['holdoutErrors'] as {
      mae: number;
    };
    expect(r.out).toMatch(
      new RegExp(
        `^added cars-onnx v2 from ${file.replace(/[.]/g, '\\.')}: MAE [\\d.]+, RMSE [\\d.]+ on the reference holdout \\(35 rows; champion MAE ${Number(champion.mae.toPrecision(4))}\\)\n` +
          'evaluate and roll it out: remedy start cars-onnx --from <date> --to <date> --candidate 2\n$',
      ),
    );
    const v = await db.getModelVersion(pool, 'cars-onnx', 2);
    expect(v.status).toBe('candidate');
    expect(v.artifact).toMatchObject({ kind: 'onnx', task: 'regression', inputs: { mode: 'tensor' } });
    // Its errors are sklearn's linear regression's on the champion's holdout, up to float32.
    const holdout = (
      await db.getDatasetRows(pool, (await db.getModelVersion(pool, 'cars-onnx', 1)).datasetId!)
    ).filter((x) => x.split === 'holdout');
    const doc = await fx.doc('lin_reg');
    const sklearn = new Map(doc.keys.map((k, i) => [k, doc.sklearn[i]!]));
    const expected = regressionErrors(
      holdout.map((x) => Number(x.label)),
      holdout.map((x) => sklearn.get(x.recordKey)!),
    );
    expect(Math.abs((v.metrics['holdoutErrors'] as typeof expected).mae - expected.mae)).toBeLessThan(1e-4);
    // Its interval is calibrated on the same 35 rows, which the file (trained on the train split) never saw.
    const interval = storedInterval(v.metrics)!;
    expect(interval).toMatchObject({
      level: 0.9,
      rows: 35,
      calibratedOn: 'the reference holdout of champion v1',
    });
    const absolute = holdout
      .map((x) => Math.abs(sklearn.get(x.recordKey)! - Number(x.label)))
      .sort((a, b) => a - b);
    expect(Math.abs(interval.halfWidth - absolute[conformalRank(35, 0.9)! - 1]!)).toBeLessThan(1e-4);

    const again = await cli(['models', 'add-version', 'cars-onnx', file, '--definition', def]);
    expect(again.out).toMatch(/^already added: cars-onnx v2 from /);

    const bad = fx.path('bad_classifier');
    const refused = await cli(['models', 'add-version', 'cars-onnx', bad]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${bad} refused, nothing added:`);
    expect(refused.err).toContain('the file looks like a classifier');
    expect((await db.listModelVersions(pool, 'cars-onnx')).map((x) => x.version)).toEqual([1, 2]);
  });

  it('given the linear regressor as one float tensor described in the definition, then it is adopted', async () => {
    const def = await definition('cars-linear', { onnx: { tensor: { layout } } });
    const r = await cli([
      'models',
      'register',
      def,
      '--reference',
      await reference(),
      '--artifact',
      fx.path('lin_reg'),
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('registered cars-linear: champion v1 adopted from');
    const v = await db.getModelVersion(pool, 'cars-linear', 1);
    expect(v.artifact).toMatchObject({
      kind: 'onnx',
      task: 'regression',
      inputs: { mode: 'tensor', name: 'float_input' },
    });
  });

  it.each([
    [
      'bad_classifier',
      {},
      /the file looks like a classifier, and this is a regression model\. Export a regressor/,
    ],
    [
      'bad_nan_reg',
      { onnx: { tensor: { layout } } },
      /the model predicted NaN for row \d+ .*: it yields NaN or infinity/,
    ],
  ] as const)(
    'given %s, then it is refused with the reason and nothing is written',
    async (name, extra, message) => {
      const modelId = `cars-${name.replace(/_/g, '-')}`;
      const file = fx.path(name);
      const r = await cli([
        'models',
        'register',
        await definition(modelId, extra),
        '--reference',
        await reference(),
        '--artifact',
        file,
      ]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${file}: refused, nothing registered:`);
      expect(r.err).toMatch(message);
      expect(await db.getAlias(pool, modelId, 'champion')).toBeNull();
      expect(await db.getModel(pool, modelId)).toBeNull();
    },
  );

  it('given --original-probabilities for a regression model, then it is refused: a regressor has no class probabilities', async () => {
    const r = await cli([
      'models',
      'register',
      await definition('cars-probs'),
      '--reference',
      await reference(),
      '--artifact',
      fx.path('rf_reg'),
      '--original-probabilities',
      'probs.csv',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('cars-probs is a regression model: --original-probabilities (probs.csv)');
    expect(await db.getModel(pool, 'cars-probs')).toBeNull();
  });
});
