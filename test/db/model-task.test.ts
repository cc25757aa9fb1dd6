/**
 * A regression model's definition in the registry: its task and target range are stored and read back,
 * kept in its policy versions, and a change of range is a new version with the diff. A classifier's
 * definition and versions read back as before (no task in its versions, so nothing looks changed).
 * Handing a regression model to the classifier registration is refused before anything is written.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { ModelDefinition } from '../../core/schemas.js';
import { registerDefinition, registerModelWithChampion } from '../../ops/setup.js';
import { runCli } from '../../cli/main.js';
import type { CliIo } from '../../cli/shared.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;

beforeAll(async () => {
  ({ pool } = await freshDatabase('modeltask'));
});
afterAll(async () => {
  await pool?.end();
});

const features = { numeric: ['Weight_in_lbs', 'Horsepower'], categorical: ['Origin'] };

describe('model task in the registry', () => {
  it('given a regression definition, then task and target read back, and a new range is a new version', async () => {
    const def = ModelDefinition.parse({
      modelId: 'cars-mpg',
      task: 'regression',
      target: { min: 0, max: 60 },
      features,
    });
    expect(await registerDefinition(pool, def, 'alice')).toEqual({ version: 1, created: true, changes: [] });
    expect(await db.getModel(pool, 'cars-mpg')).toEqual(def);

    const wider = ModelDefinition.parse({ ...def, labelSet: undefined, target: { min: 0, max: 80 } });
    expect(await registerDefinition(pool, wider, 'bob')).toEqual({
      version: 2,
      created: true,
      changes: ['target.max: 60 → 80'],
    });
    const back = await db.getModel(pool, 'cars-mpg');
    expect(back?.task).toBe('regression');
    expect(back?.target).toEqual({ min: 0, max: 80 });
    expect(back?.labelSet).toEqual([]);
    const versions = await db.listPolicyVersions(pool, 'cars-mpg');
    expect(versions.map((v) => v.definition.task)).toEqual(['regression', 'regression']);
  });

  it('given a regression model stored with the classifier’s default metric, accuracy, then it reads back judging on MAE', async () => {
    const def = ModelDefinition.parse({ modelId: 'cars-old', task: 'regression', features });
    await registerDefinition(pool, def, 'alice');
    // What a registration stored before regression models had error metrics.
    await pool.query(
      `UPDATE models SET policy = jsonb_set(policy, '{drift,performanceMetric}', '"accuracy"') WHERE model_id = $1`,
      ['cars-old'],
    );
    expect((await db.getModel(pool, 'cars-old'))?.policy.drift.performanceMetric).toBe('mae');
  });

  it('given a classifier, then it reads back as a classifier and its version has no task field', async () => {
    const def = ModelDefinition.parse({ modelId: 'churn', labelSet: ['no', 'yes'], features });
    await registerDefinition(pool, def, 'alice');
    expect(await db.getModel(pool, 'churn')).toEqual(def);
    const [v1] = await db.listPolicyVersions(pool, 'churn');
    expect(Object.keys(v1!.definition).sort()).toEqual(['features', 'labelSet', 'policy']);
    // Registering the same classifier again is no new version.
    expect((await registerDefinition(pool, def, 'bob')).created).toBe(false);
  });

  it('given a regression model with a label set in the table, then the database refuses it', async () => {
    await expect(
      pool.query(
        `INSERT INTO models (model_id, label_set, feature_spec, policy, task) VALUES ('bad', '{a,b}', '{}', '{}', 'regression')`,
      ),
    ).rejects.toThrow(/models_regression_labels_check/);
  });

  it('given a regression model handed to the classifier registration, or a definition mixing the kinds, then it is refused and nothing is written', async () => {
    const def = ModelDefinition.parse({ modelId: 'cars-later', task: 'regression', features });
    await expect(registerModelWithChampion(pool, def, [])).rejects.toThrow(
      'registerModelWithChampion: cars-later is a regression model; register it with registerRegressionModel',
    );
    expect(await db.getModel(pool, 'cars-later')).toBeNull();

    // The CLI names the field when the definition mixes the two kinds.
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-task-'));
    const file = path.join(dir, 'cars.json');
    const reference = path.join(dir, 'cars.csv');
    await writeFile(reference, 'record_key,ts,Weight_in_lbs,Horsepower,Origin,label\n');
    const cli = async (raw: unknown) => {
      await writeFile(file, JSON.stringify(raw));
      let err = '';
      const io: CliIo = {
        out: () => undefined,
        err: (t) => (err += t),
        connect: () => Promise.reject(new Error('no Temporal needed')),
        database: () => Promise.resolve({ pool, close: () => Promise.resolve() }),
      };
      const code = await runCli(['models', 'register', file, '--reference', reference], io);
      return { code, err };
    };
    // A regression reference with no rows is refused like a classifier's (registration itself: regression-registration.test.ts).
    const empty = await cli({ modelId: 'cars-later', task: 'regression', features });
    expect(empty.code).not.toBe(0);
    expect(empty.err).toContain('has 0 rows; a champion needs at least 10');
    const mixed = await cli({ modelId: 'cars-later', task: 'regression', labelSet: ['a', 'b'], features });
    expect(mixed.code).not.toBe(0);
    expect(mixed.err).toContain('labelSet: a regression model predicts a number and has no labelSet');
    expect(await db.getModel(pool, 'cars-later')).toBeNull();
  });
});
