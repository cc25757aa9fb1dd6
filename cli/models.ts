/**
 * `remedy models …`: registering models and seeing their versions.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../ops/user-error.js';
import * as db from '../db/index.js';
import type pg from 'pg';
import { checkRows, readRows, rejectionReport, type Columns, type LogRow } from '../ops/ingest.js';
import { registerRegressionModel } from '../ops/register-regression.js';
import { addOnnxRegressorVersion } from '../ops/add-regression-version.js';
import { refuseUnsupportedTask, registerModelWithChampion, type OnnxChampion } from '../ops/setup.js';
import { addOnnxVersion, onnxHintsOf, readOnnxFile, readOriginalProbabilities } from '../ops/adopt.js';
import { OnnxModelError } from '../scoring/onnx.js';
import path from 'node:path';
import { ModelDefinition, describeZodError, isRegression } from '../core/schemas.js';
import { storedInterval } from '../core/regression-interval.js';
import { type CliContext, PartialFailure } from './shared.js';
import { policyHistoryCommand } from './policy-history.js';
import { defaultPerson } from './identity.js';

/** Registering models, showing one, listing them. */
export function registerModelCommands(program: Command, ctx: CliContext): void {
  const models = program.command('models').description('register models and see their versions');
  registerModel(models, ctx);
  addVersion(models, ctx);
  modelViews(models, ctx);
  policyHistoryCommand(models, ctx);
}

function registerModel(models: Command, { io, print }: CliContext): void {
  models
    .command('register')
    .description(
      'register a model (or update its policy) from a JSON definition, training its first champion on reference data',
    )
    .argument(
      '<definition>',
      'JSON file: { modelId, labelSet, features: { numeric, categorical }, policy } (a regression model: task "regression", no labelSet, optional target { min, max })',
    )
    .requiredOption(
      '--reference <file>',
      'labeled reference data (.csv, .ndjson or .jsonl), needed the first time',
    )
    .option('--key-column <name>', "column holding each row's unique key", 'record_key')
    .option('--time-column <name>', "column holding each row's time", 'ts')
    .option('--label-column <name>', 'column holding the label', 'label')
    .option(
      '--author <name>',
      'who registers this version of the policy, kept in its history',
      defaultPerson(),
    )
    .option(
      '--artifact <file.onnx>',
      'adopt this ONNX file as the champion instead of training one (the reference data still gives the drift profile and the baseline)',
    )
    .option(
      '--original-probabilities <file>',
      "with --artifact: the original model's probabilities on the reference rows (a record_key column and one column per class), to record the converter's gap",
    )
    .option('--json', 'print JSON')
    .action(
      async (
        file: string,
        o: {
          artifact?: string;
          originalProbabilities?: string;
          reference: string;
          keyColumn: string;
          timeColumn: string;
          labelColumn: string;
          author: string;
          json?: boolean;
        },
      ) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          throw new UserError(
            `cannot read the definition ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
          );
        }
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch (err) {
          throw new UserError(
            `${file} is not JSON (${(err as Error).message.split('\n')[0]}): a definition is one JSON object, { "modelId", "labelSet", "features", "policy" }`,
          );
        }
        const parsed = ModelDefinition.safeParse(raw);
        if (!parsed.success)
          throw new UserError(`${file} is not a valid model definition: ${describeZodError(parsed.error)}`);
        const def = parsed.data;
        refuseUnsupportedTask(
          def,
          o.originalProbabilities ? { originalProbabilities: o.originalProbabilities } : {},
        );
        if (o.originalProbabilities && !o.artifact)
          throw new UserError('--original-probabilities goes with --artifact <file.onnx>');
        const onnx = o.artifact
          ? {
              bytes: await readOnnxFile(o.artifact),
              producer: path.basename(o.artifact),
              file: o.artifact,
              ...(onnxHintsOf(raw, file) ? { hints: onnxHintsOf(raw, file)! } : {}),
              ...(o.originalProbabilities
                ? { original: await readOriginalProbabilities(o.originalProbabilities, def.labelSet) }
                : {}),
            }
          : undefined;
        const columns: Columns = { key: o.keyColumn, time: o.timeColumn, label: o.labelColumn };
        const checked = checkRows(await readRows(o.reference), def, columns, { labelRequired: true });
        if (checked.rejected.length > 0) {
          io.err(
            `remedy: ${o.reference}: ${checked.rejected.length} rows refused, nothing registered:\n${rejectionReport(o.reference, checked.rejected)}`,
          );
          throw new PartialFailure('reference refused');
        }
        if (checked.rows.length < 10)
          throw new UserError(`${o.reference} has ${checked.rows.length} rows; a champion needs at least 10`);
        const { pool, close } = await io.database();
        if (isRegression(def))
          return registerRegression(
            pool,
            close,
            def,
            checked.rows,
            { file, author: o.author, json: o.json, ...(onnx ? { onnx } : {}) },
            print,
          );
        try {
          const r = await registerModelWithChampion(
            pool,
            def,
            checked.rows.map((x) => ({
              recordKey: x.recordKey,
              ts: x.ts,
              features: x.features,
              label: x.feedback!,
            })),
            { author: o.author, ...(onnx ? { onnx } : {}) },
          ).catch((err: unknown) => {
            if (err instanceof OnnxModelError)
              throw new UserError(`${o.artifact}: refused, nothing registered: ${err.message}`);
            throw err;
          });
          print(
            o.json,
            { modelId: def.modelId, ...r },
            `registered ${def.modelId}: ${championLine(r, o.artifact)}, holdout accuracy ${(r.baselineAccuracy * 100).toFixed(1)}% (${r.trainRows} train, ${r.holdoutRows} holdout rows); policy from ${file}, ${r.policy.created ? `policy v${r.policy.version}${r.policy.changes.length ? ` (${r.policy.changes.length} change${r.policy.changes.length === 1 ? '' : 's'}: ${r.policy.changes.join('; ')})` : ''}` : `policy unchanged (v${r.policy.version})`}\n`,
          );
        } finally {
          await close();
        }
      },
    );
}

/** `models register` for a regression model: trains the forest regressor and prints its holdout errors. */
async function registerRegression(
  pool: pg.Pool,
  close: () => Promise<void>,
  def: ModelDefinition,
  rows: readonly LogRow[],
  o: { file: string; author: string; json: boolean | undefined; onnx?: OnnxChampion },
  print: CliContext['print'],
): Promise<void> {
  try {
    const r = await registerRegressionModel(
      pool,
      def,
      rows.map((x) => ({ recordKey: x.recordKey, ts: x.ts, features: x.features, label: x.feedback! })),
      { author: o.author, ...(o.onnx ? { onnx: o.onnx } : {}) },
    ).catch((err: unknown) => {
      if (err instanceof OnnxModelError)
        throw new UserError(
          `${o.onnx?.file ?? 'the ONNX file'}: refused, nothing registered: ${err.message}`,
        );
      throw err;
    });
    const e = r.holdoutErrors;
    const errors = e
      ? `holdout MAE ${fmt(e.mae)}, RMSE ${fmt(e.rmse)}, R² ${e.r2 === null ? '-' : e.r2.toFixed(3)}`
      : 'no holdout rows';
    const policy = r.policy.created
      ? `policy v${r.policy.version}${r.policy.changes.length ? ` (${r.policy.changes.join('; ')})` : ''}`
      : `policy unchanged (v${r.policy.version})`;
    print(
      o.json,
      { modelId: def.modelId, ...r },
      `registered ${def.modelId}: ${championLine(r, o.onnx?.file)} (${o.onnx ? 'ONNX regressor' : 'forest regressor'}), ${errors} (${r.trainRows} train, ${r.holdoutRows} holdout rows; target ${fmt(r.target.min)} to ${fmt(r.target.max)}); policy from ${o.file}, ${policy}\n`,
    );
  } finally {
    await close();
  }
}

function holdoutMaeOf(metrics: Record<string, unknown>): number | null {
  const e = metrics['holdoutErrors'];
  if (e === null || typeof e !== 'object') return null;
  const mae = (e as Record<string, unknown>)['mae'];
  return typeof mae === 'number' ? mae : null;
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

/** What registering did to the champion: adopted the file, trained one, or kept the one it had. */
function championLine(r: { version: number; champion: 'created' | 'kept' }, artifact?: string): string {
  if (r.champion === 'kept')
    return artifact
      ? `champion v${r.version} kept, unchanged (${artifact} is the same file)`
      : `champion v${r.version} kept`;
  return `champion v${r.version}${artifact ? ` adopted from ${artifact}` : ''}`;
}

function addVersion(models: Command, { io, print }: CliContext): void {
  models
    .command('add-version')
    .description(
      'add an ONNX model trained outside Remedy as a candidate version; start a cycle with --candidate <version> to evaluate and roll it out',
    )
    .argument('<model>', 'model ID')
    .argument(
      '<file.onnx>',
      'the ONNX file (per-column inputs named after the features, or one float tensor)',
    )
    .option(
      '--definition <file>',
      'read the "onnx" section (tensor layout, classes) from this model definition',
    )
    .option(
      '--original-probabilities <file>',
      "the original model's probabilities on the reference holdout (record_key + one column per class): records the converter's gap",
    )
    .option('--author <name>', 'who adds the version, kept in the audit trail', defaultPerson())
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        file: string,
        o: { definition?: string; originalProbabilities?: string; author: string; json?: boolean },
      ) => {
        const bytes = await readOnnxFile(file);
        const hints = o.definition
          ? onnxHintsOf(JSON.parse(await readFile(o.definition, 'utf8')), o.definition)
          : undefined;
        const { pool, close } = await io.database();
        try {
          const def = await db.getModel(pool, model);
          if (!def) throw new UserError(`no model "${model}": see "remedy models list" or register it`);
          if (isRegression(def)) {
            if (o.originalProbabilities)
              throw new UserError(
                `${model} is a regression model: --original-probabilities gives a classifier's class probabilities, and a regressor has none; add the file without it`,
              );
            const r = await addOnnxRegressorVersion(pool, model, bytes, {
              fileName: file,
              author: o.author,
              ...(hints ? { hints } : {}),
            });
            const champion = r.championErrors ? `; champion MAE ${fmt(r.championErrors.mae)}` : '';
            print(
              o.json,
              r,
              `${r.created ? 'added' : 'already added:'} ${model} v${r.version} from ${file}: MAE ${fmt(r.holdoutErrors.mae)}, RMSE ${fmt(r.holdoutErrors.rmse)} on the reference holdout (${r.holdoutRows} rows${champion})\n` +
                `evaluate and roll it out: remedy start ${model} --from <date> --to <date> --candidate ${r.version}\n`,
            );
            return;
          }
          const original = o.originalProbabilities
            ? await readOriginalProbabilities(o.originalProbabilities, def.labelSet)
            : undefined;
          const r = await addOnnxVersion(pool, model, bytes, {
            fileName: file,
            author: o.author,
            ...(hints ? { hints } : {}),
            ...(original ? { original } : {}),
          });
          const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
          print(
            o.json,
            r,
            `${r.created ? 'added' : 'already added:'} ${model} v${r.version} from ${file}: accuracy ${pct(r.holdoutAccuracy)} on the reference holdout (${r.holdoutRows} rows; champion ${pct(r.championAccuracy)})` +
              `${r.converterGap === null ? '' : `, converter gap ${r.converterGap.toExponential(2)}`}\n` +
              `evaluate and roll it out: remedy start ${model} --from <date> --to <date> --candidate ${r.version}\n`,
          );
        } finally {
          await close();
        }
      },
    );
}

function modelViews(models: Command, { io, print }: CliContext): void {
  models
    .command('show')
    .description("a model's labels, features, champion, candidate, traffic split, versions and open cycle")
    .argument('<model>', 'model ID')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const def = await db.getModel(pool, model);
        if (!def) throw new UserError(`no model "${model}": see "remedy models list" or register it`);
        const versions = await db.listModelVersions(pool, model);
        const traffic = await db.getTraffic(pool, model);
        const open = await db.openCycle(pool, model);
        const value = {
          ...def,
          versions: versions.map((v) => ({
            version: v.version,
            status: v.status,
            cycleId: v.cycle_id,
            createdAt: v.created_at.toISOString(),
            holdoutAccuracy:
              typeof v.metrics['holdoutAccuracy'] === 'number' ? v.metrics['holdoutAccuracy'] : null,
            // A regression model's version: its mean absolute error on the holdout.
            holdoutMae: holdoutMaeOf(v.metrics),
            // …and the prediction interval the gateway answers with (null: none stored).
            ...(def.task === 'regression' ? { interval: storedInterval(v.metrics) } : {}),
          })),
          traffic,
          openCycle: open ? { cycleId: open.cycle_id, stage: open.stage } : null,
        };
        const t = value.traffic;
        const text = [
          `model ${def.modelId}`,
          def.task === 'regression'
            ? `  predicts: a number${def.target ? ` (target ${def.target.min ?? '-∞'} to ${def.target.max ?? '+∞'})` : ''}`
            : `  labels: ${def.labelSet.join(', ')}`,
          `  numeric features: ${def.features.numeric.join(', ') || '-'}`,
          `  categorical features: ${def.features.categorical.join(', ') || '-'}`,
          `  traffic: ${t ? `champion v${t.championVersion}${t.candidateVersion !== null ? `, candidate v${t.candidateVersion} at ${t.candidateWeight}%` : ''}` : '-'}`,
          `  open cycle: ${value.openCycle ? `${value.openCycle.cycleId} (${value.openCycle.stage})` : 'none'}`,
          '  versions:',
          ...value.versions.map(
            (v) =>
              `    v${v.version}\t${v.status}\t${v.holdoutAccuracy === null ? '' : `holdout ${(v.holdoutAccuracy * 100).toFixed(1)}%\t`}${v.holdoutMae === null ? '' : `holdout MAE ${fmt(v.holdoutMae)}\t`}${v.interval ? `${fmt(v.interval.level * 100)}% interval ± ${fmt(v.interval.halfWidth)}\t` : ''}${v.cycleId ?? 'registered'}\t${v.createdAt}`,
          ),
        ].join('\n');
        print(o.json, value, `${text}\n`);
      } finally {
        await close();
      }
    });
  models
    .command('list')
    .description('registered models with their champion and open cycle')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const rows = await db.listModels(pool);
        const value = rows.map((r) => ({
          modelId: r.model_id,
          champion: r.champion,
          openCycle: r.open_cycle,
        }));
        const text =
          value.length === 0
            ? 'no models: register one with "remedy models register"\n'
            : value
                .map(
                  (m) =>
                    `${m.modelId}\t${m.champion === null ? '-' : `v${m.champion}`}\t${m.openCycle ?? '-'}`,
                )
                .join('\n') + '\n';
        print(o.json, value, text);
      } finally {
        await close();
      }
    });
}
