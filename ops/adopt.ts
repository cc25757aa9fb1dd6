/**
 * Bringing a model from outside: reading an ONNX file and the original model's probabilities, and
 * adding a version a cycle can evaluate and roll out (`remedy models add-version`, `remedy start
 * --candidate`). Registering an adopted champion is `registerModelWithChampion` with `onnx`.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import { accuracy } from '../core/metrics.js';
import { canonicalJson, type OnnxArtifact, type OnnxRegressorArtifact } from '../core/model.js';
import { isRegression } from '../core/schemas.js';
import { createHash } from 'node:crypto';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { adoptOnnx } from '../scoring/adopt.js';
import { OnnxModelError, type OnnxHints } from '../scoring/onnx.js';
import { UserError } from './user-error.js';
import { readRows } from './ingest.js';

/** Larger files are refused: a model this size does not belong in the registry's database. */
export const MAX_ONNX_BYTES = 512 * 1024 ** 2;

/** The bytes of an ONNX file, with a clear error when it cannot be read. */
export async function readOnnxFile(file: string): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new UserError(
      `cannot read the model file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  if (size === 0) throw new UserError(`${file} is empty: pass the .onnx file your converter wrote`);
  if (size > MAX_ONNX_BYTES)
    throw new UserError(
      `${file} is ${(size / 1024 ** 2).toFixed(0)} MiB; the registry takes models up to 512 MiB`,
    );
  return new Uint8Array(await readFile(file));
}

const OnnxHintsSchema = z
  .object({
    tensor: z
      .object({
        input: z.string().min(1).optional(),
        layout: z
          .array(
            z.union([
              z.object({ feature: z.string().min(1), oneHot: z.array(z.string()).min(1) }).strict(),
              z.object({ feature: z.string().min(1) }).strict(),
            ]),
          )
          .min(1),
      })
      .optional(),
    classes: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** The definition's optional `onnx` section: how a single-tensor input is laid out, the output's classes. */
export function onnxHintsOf(definition: unknown, file: string): OnnxHints | undefined {
  const raw = (definition as { onnx?: unknown } | null)?.onnx;
  if (raw === undefined) return undefined;
  const parsed = OnnxHintsSchema.safeParse(raw);
  if (!parsed.success)
    throw new UserError(
      `${file}: "onnx" must be { "tensor"?: { "input"?, "layout": [{"feature"} | {"feature", "oneHot": [values]}] }, "classes"?: [..] }: ${parsed.error.issues[0]?.message ?? ''} at onnx.${parsed.error.issues[0]?.path.join('.') ?? ''}`,
    );
  return parsed.data;
}

/**
 * The original model's probabilities, one row per record: a key column and one column per class
 * (CSV, NDJSON or JSONL). Used to measure how far the ONNX file is from the model it was converted from.
 */
export async function readOriginalProbabilities(
  file: string,
  classes: readonly string[],
  keyColumn = 'record_key',
): Promise<Map<string, Record<string, number>>> {
  const rows = await readRows(file);
  const out = new Map<string, Record<string, number>>();
  rows.forEach(({ line, values: row }) => {
    const key = row[keyColumn];
    if (key === undefined || key === null || key === '')
      throw new UserError(`${file} line ${line}: no "${keyColumn}": each row needs the record's key`);
    const probabilities: Record<string, number> = {};
    for (const c of classes) {
      const v = Number(row[c]);
      if (row[c] === undefined || !Number.isFinite(v) || v < 0 || v > 1)
        throw new UserError(
          `${file} line ${line}: column "${c}" must be a probability in [0, 1], got ${JSON.stringify(row[c])}; give one column per class (${classes.join(', ')})`,
        );
      probabilities[c] = v;
    }
    out.set(typeof key === 'string' ? key : JSON.stringify(key), probabilities);
  });
  return out;
}

export interface AddedVersion {
  modelId: string;
  version: number;
  /** false when the same file was added before: the version it got then. */
  created: boolean;
  holdoutRows: number;
  holdoutAccuracy: number;
  championAccuracy: number;
  converterGap: number | null;
}

/**
 * Adds an ONNX file as a candidate version: checked on the champion's reference holdout (the rows
 * the champion's baseline was measured on), so its accuracy there is known before any cycle. The same
 * file added twice is the same version.
 */
export async function addOnnxVersion(
  pool: pg.Pool,
  modelId: string,
  bytes: Uint8Array,
  opts: {
    fileName: string;
    author: string;
    hints?: OnnxHints;
    original?: ReadonlyMap<string, Record<string, number>>;
  },
): Promise<AddedVersion> {
  const def = await db.getModel(pool, modelId);
  if (!def) throw new UserError(`no model "${modelId}": register it first with "remedy models register"`);
  if (isRegression(def))
    throw new Error(
      `addOnnxVersion: ${modelId} is a regression model; add its ONNX regressor with addOnnxRegressorVersion (ops/add-regression-version.ts)`,
    );
  const championVersion = await db.getAlias(pool, modelId, 'champion');
  if (championVersion === null) throw new UserError(`model "${modelId}" has no champion yet`);
  const champion = await db.getModelVersion(pool, modelId, championVersion);
  const holdout =
    champion.datasetId === null
      ? []
      : (await db.getDatasetRows(pool, champion.datasetId)).filter(
          (r) => r.split === 'holdout' && r.label !== null,
        );
  if (holdout.length === 0)
    throw new UserError(
      `champion v${championVersion} of "${modelId}" has no labeled holdout to check the file on`,
    );
  let adopted;
  try {
    adopted = await adoptOnnx(
      bytes,
      def.features,
      def.labelSet,
      holdout.map((r) => r.features),
      {
        ...(opts.hints ? { hints: opts.hints } : {}),
        producer: path.basename(opts.fileName),
        ...(opts.original ? { original: holdout.map((r) => opts.original!.get(r.recordKey) ?? null) } : {}),
      },
    );
  } catch (err) {
    if (err instanceof OnnxModelError)
      throw new UserError(`${opts.fileName} refused, nothing added: ${err.message}`);
    throw err;
  }
  const { artifact, predictions } = adopted;
  const truth = holdout.map((r) => r.label!);
  const holdoutAccuracy = accuracy(
    truth,
    predictions.map((p) => p.label),
  );
  const championAccuracy = Number(champion.metrics['holdoutAccuracy']);
  const key = `${modelId}:external:${artifact.sha256}`;
  const known = await db.getVersionByKey(pool, key);
  if (known)
    return {
      modelId,
      version: known.version,
      created: false,
      holdoutRows: holdout.length,
      holdoutAccuracy,
      championAccuracy,
      converterGap: artifact.source.converterGap,
    };
  const version = await insertExternalVersion(pool, {
    modelId,
    key,
    bytes,
    artifact,
    hints: opts.hints,
    author: opts.author,
    metrics: {
      converterGap: artifact.source.converterGap,
      holdoutAccuracy,
      referenceHoldout: { rows: holdout.length, championVersion, championAccuracy },
    },
    details: { holdoutAccuracy, converterGap: artifact.source.converterGap },
  });
  return {
    modelId,
    version,
    created: true,
    holdoutRows: holdout.length,
    holdoutAccuracy,
    championAccuracy,
    converterGap: artifact.source.converterGap,
  };
}

/**
 * Adds an ONNX file given from outside as a candidate version, once per file (keyed by its hash): the
 * file stored in the registry, the version with the given metrics, the audit event, in one transaction.
 */
export async function insertExternalVersion(
  pool: pg.Pool,
  v: {
    modelId: string;
    key: string;
    bytes: Uint8Array;
    artifact: OnnxArtifact | OnnxRegressorArtifact;
    hints: OnnxHints | undefined;
    author: string;
    /** What was measured, beside the trainer, producer and who added it. */
    metrics: Record<string, unknown>;
    /** The audit event's details, beside the version and the file's hash. */
    details: Record<string, unknown>;
  },
): Promise<number> {
  return withTransaction(pool, async (client) => {
    await db.putBlob(client, v.bytes, 'application/onnx');
    const version = await db.insertModelVersion(client, {
      modelId: v.modelId,
      idempotencyKey: v.key,
      status: 'candidate',
      datasetId: null,
      cycleId: null,
      configHash: createHash('sha256')
        .update(canonicalJson(v.hints ?? {}))
        .digest('hex'),
      codeVersion: 'adopted-onnx',
      artifact: canonicalJson(v.artifact),
      artifactSha256: v.artifact.sha256,
      metrics: {
        trainer: 'external',
        producer: v.artifact.source.producer,
        ...v.metrics,
        addedBy: v.author,
      },
    });
    await db.audit(client, {
      key: `${v.modelId}:version-added:${v.artifact.sha256}`,
      modelId: v.modelId,
      actor: v.author,
      action: 'model.version-added',
      details: { version, sha256: v.artifact.sha256, ...v.details },
    });
    return version;
  });
}
