/**
 * Registering a regression model on real data (vega-datasets' cars, 1970–74, miles per gallon) through
 * the CLI: the champion is the built-in forest regressor, its holdout errors and the target's range are
 * stored with the reference profile, and a reference file with a bad label is refused whole, each line
 * named, the registry unchanged. `remedy ingest` checks a regression model's ground truth as numbers.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { runCli } from '../../cli/main.js';
import type { CliIo } from '../../cli/shared.js';
import { CAR_FEATURES, labeledCars } from '../../dev/cars.js';
import { calibrateInterval, conformalRank } from '../../core/regression-interval.js';
import { regressionErrors } from '../../core/regression-metrics.js';
import { scoreRows } from '../../scoring/index.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let dir: string;

beforeAll(async () => {
  ({ pool } = await freshDatabase('regreg'));
  dir = await mkdtemp(path.join(tmpdir(), 'remedy-regression-'));
});
afterAll(async () => {
  await pool?.end();
});

const columns = [...CAR_FEATURES.numeric, ...CAR_FEATURES.categorical];

/** Cars as CSV lines: key, model year as the time, the features, and the label column's text. */
function carsCsv(
  cars: ReturnType<typeof labeledCars>,
  labelColumn: string,
  label: (c: ReturnType<typeof labeledCars>[number], i: number) => string = (c) => String(c.value),
): string {
  const header = ['record_key', 'ts', ...columns, labelColumn].join(',');
  const lines = cars.map((c, i) =>
    [c.recordKey, `${c.year}-01-01`, ...columns.map((f) => String(c.features[f])), label(c, i)].join(','),
  );
  return `${header}\n${lines.join('\n')}\n`;
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
  await writeFile(file, JSON.stringify({ modelId, task: 'regression', features: CAR_FEATURES, ...extra }));
  return file;
}

const early = labeledCars().filter((c) => c.year <= 1974);
const later = labeledCars().filter((c) => c.year >= 1978);

describe('registering a regression model', () => {
  it('given the 1970–74 cars, then the forest regressor is champion v1 with its holdout errors and target range', async () => {
    const reference = path.join(dir, 'cars-early.csv');
    await writeFile(reference, carsCsv(early, 'label'));
    const r = await cli(['models', 'register', await definition('cars'), '--reference', reference]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^registered cars: champion v1 \(forest regressor\), holdout MAE [\d.]+, RMSE [\d.]+, R² [\d.]+ \(\d+ train, \d+ holdout rows; target 9 to [\d.]+\)/,
    );

    const v = await db.getModelVersion(pool, 'cars', 1);
    expect(v.status).toBe('champion');
    expect(v.artifact.kind).toBe('random-forest-regressor');
    // The stored errors are what the stored forest scores on the stored holdout rows.
    const rows = await db.getDatasetRows(pool, v.datasetId!);
    const holdout = rows.filter((x) => x.split === 'holdout');
    const train = rows.filter((x) => x.split === 'train');
    expect(holdout.length + train.length).toBe(early.length);
    const predicted = await scoreRows(
      pool,
      v.artifact,
      holdout.map((x) => x.features),
    );
    const errors = regressionErrors(
      holdout.map((x) => Number(x.label)),
      predicted.map((p) => p.value!),
    );
    // (Summed in the dataset's row order, so equal up to rounding.)
    const stored = v.metrics['holdoutErrors'] as typeof errors;
    expect(stored.rows).toBe(errors.rows);
    for (const m of ['mae', 'rmse', 'r2', 'mape', 'meanError'] as const)
      expect(stored[m]).toBeCloseTo(errors[m]!, 10);
    // The version keeps a 90 % split conformal interval calibrated on the same holdout it never trained on:
    // the ⌈(n + 1) · 0.9⌉-th smallest absolute error.
    const absolute = holdout
      .map((x, i) => Math.abs(predicted[i]!.value! - Number(x.label)))
      .sort((a, b) => a - b);
    const interval = {
      level: 0.9,
      halfWidth: absolute[conformalRank(holdout.length, 0.9)! - 1]!,
      rows: holdout.length,
      calibratedOn: "the registration's reference holdout",
    };
    expect(v.metrics['interval']).toEqual(interval);
    expect(
      calibrateInterval(
        holdout.map((x) => Number(x.label)),
        predicted.map((p) => p.value!),
        0.9,
        "the registration's reference holdout",
      ),
    ).toEqual(interval);
    // Better than predicting the training mean for every car.
    const mean = train.reduce((a, x) => a + Number(x.label), 0) / train.length;
    const naive = regressionErrors(
      holdout.map((x) => Number(x.label)),
      holdout.map(() => mean),
    );
    expect(errors.mae).toBeLessThan(naive.mae * 0.6);
    expect(errors.r2!).toBeGreaterThan(0.6);

    const profile = await db.getReferenceProfile(pool, 'cars', 1);
    const trainValues = train.map((x) => Number(x.label));
    expect(profile?.target).toMatchObject({
      rows: train.length,
      min: Math.min(...trainValues),
      max: Math.max(...trainValues),
      holdout: { rows: holdout.length, mae: stored.mae, rmse: stored.rmse, r2: stored.r2 },
    });
    expect(Object.keys(profile!.features).sort()).toEqual([...columns].sort());
    expect(await db.getTraffic(pool, 'cars')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });

    const shown = await cli(['models', 'show', 'cars']);
    expect(shown.out).toContain('  predicts: a number\n');
    expect(shown.out).toMatch(
      new RegExp(
        `v1\\tchampion\\tholdout MAE ${Number(stored.mae.toPrecision(4))}\\t90% interval ± ${Number(interval.halfWidth.toPrecision(4))}\\tregistered`,
      ),
    );

    // Registering again keeps the champion.
    const again = await cli([
      'models',
      'register',
      await definition('cars'),
      '--reference',
      reference,
      '--json',
    ]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({
      version: 1,
      champion: 'kept',
      holdoutErrors: stored,
      interval,
    });
  });

  it('given a reference with text, missing and non-finite targets, then the file is refused with each line named and nothing is written', async () => {
    const reference = path.join(dir, 'cars-bad.csv');
    const bad: Record<number, string> = { 3: 'fast', 6: '', 9: 'NaN', 12: '"18,5"' };
    await writeFile(
      reference,
      carsCsv(early, 'label', (c, i) => bad[i] ?? String(c.value)),
    );
    const r = await cli(['models', 'register', await definition('cars-bad'), '--reference', reference]);
    expect(r.code).toBe(2);
    // Line 1 is the header: row i is on line i + 2.
    expect(r.err).toContain('4 rows refused, nothing registered');
    expect(r.err).toContain(`${reference}:5: label: "fast" is not a number`);
    expect(r.err).toContain(`${reference}:8: label is missing: reference rows need their label (a number)`);
    expect(r.err).toContain(`${reference}:11: label: "NaN" is not a finite number`);
    expect(r.err).toContain(`${reference}:14: label: "18,5" uses a comma`);
    expect(await db.getModel(pool, 'cars-bad')).toBeNull();
    expect(await db.getAlias(pool, 'cars-bad', 'champion')).toBeNull();
  });

  it('given a target range, then a reference label outside it is refused with the range', async () => {
    const reference = path.join(dir, 'cars-range.csv');
    await writeFile(reference, carsCsv(early, 'label'));
    const file = await definition('cars-range', { target: { min: 10, max: 60 } });
    const r = await cli(['models', 'register', file, '--reference', reference]);
    expect(r.code).toBe(2);
    const below = early.filter((c) => c.value < 10);
    expect(below.length).toBeGreaterThan(0);
    expect(r.err).toContain(`${below.length} rows refused`);
    expect(r.err).toContain(
      `label: ${below[0]!.value} is below the lowest value a label may take, 10 (the model's target)`,
    );
    expect(await db.getModel(pool, 'cars-range')).toBeNull();
  });

  it('given a file that is not ONNX as a later version of a regression model, then it is refused and nothing is added', async () => {
    // (Adopting an ONNX regressor as the champion or a version: test/python/onnx-regressor.test.ts.)
    const onnx = path.join(dir, 'model.onnx');
    await writeFile(onnx, 'not a model: text where an ONNX file should be');
    const added = await cli(['models', 'add-version', 'cars', onnx]);
    expect(added.code).toBe(2);
    expect(added.err).toContain(`${onnx} refused, nothing added: not an ONNX model`);
    expect(added.err).toContain('Export the model with an ONNX converter');
    expect((await db.listModelVersions(pool, 'cars')).map((v) => v.version)).toEqual([1]);
  });
});

describe('ingesting a regression model’s log', () => {
  it('given a later log with a text ground truth, then the file is refused whole; fixed, its numbers are stored', async () => {
    const log = path.join(dir, 'cars-later.csv');
    await writeFile(
      log,
      carsCsv(later, 'feedback', (c, i) => (i === 4 ? 'n/a' : i === 7 ? '' : `${c.value}0`)),
    );
    const refused = await cli(['ingest', 'cars', log]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`1 of ${later.length} rows refused; nothing was written`);
    expect(refused.err).toContain(`${log}:6: feedback: "n/a" is not a number`);
    const before = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM records WHERE model_id = 'cars'`,
    );
    expect(before.rows[0]!.n).toBe(0);

    await writeFile(
      log,
      carsCsv(later, 'feedback', (c, i) => (i === 7 ? '' : `${c.value}0`)),
    );
    const ok = await cli(['ingest', 'cars', log]);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const { rows } = await pool.query<{ record_key: string; feedback: string | null }>(
      `SELECT record_key, feedback FROM records WHERE model_id = 'cars' ORDER BY record_key`,
    );
    expect(rows).toHaveLength(later.length);
    const byKey = new Map(rows.map((x) => [x.record_key, x.feedback]));
    // "27.20" is stored as "27.2"; the empty one has no ground truth yet.
    expect(byKey.get(later[0]!.recordKey)).toBe(String(later[0]!.value));
    expect(byKey.get(later[7]!.recordKey)).toBeNull();
  });

  it('given NDJSON with the ground truth as JSON numbers, then numbers are taken and a boolean is refused with the line named', async () => {
    const log = path.join(dir, 'cars-1977.ndjson');
    const cars1977 = labeledCars().filter((c) => c.year === 1977);
    const line = (c: (typeof cars1977)[number], feedback: unknown) =>
      JSON.stringify({ record_key: c.recordKey, ts: '1977-01-01', ...c.features, feedback });
    await writeFile(log, cars1977.map((c, i) => line(c, i === 2 ? true : c.value)).join('\n'));
    const refused = await cli(['ingest', 'cars', log]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${log}:3: feedback: expected a number (such as 23.5), got boolean`);

    await writeFile(log, cars1977.map((c) => line(c, c.value)).join('\n'));
    const ok = await cli(['ingest', 'cars', log]);
    expect(ok.code).toBe(0);
    const { rows } = await pool.query<{ feedback: string }>(
      `SELECT feedback FROM records WHERE model_id = 'cars' AND record_key = $1`,
      [cars1977[0]!.recordKey],
    );
    expect(rows).toEqual([{ feedback: String(cars1977[0]!.value) }]);
  });
});
