/**
 * `remedy models add-version` for a regression model: an ONNX regressor trained outside Remedy becomes a
 * candidate version, checked and measured on the champion's reference holdout (MAE, RMSE, R², MAPE by
 * Remedy's scorer) before any cycle. The same file added twice is the same version.
 */
import path from 'node:path';
import type pg from 'pg';
import { readNumericLabel } from '../core/regression-labels.js';
import { calibrateInterval, intervalLevel, type StoredInterval } from '../core/regression-interval.js';
import { regressionErrors, type RegressionErrors } from '../core/regression-metrics.js';
import { isRegression } from '../core/schemas.js';
import * as db from '../db/index.js';
import { OnnxModelError, type OnnxHints } from '../scoring/onnx.js';
import { adoptOnnxRegressor } from '../scoring/onnx-regressor.js';
import { insertExternalVersion } from './adopt.js';
import { UserError } from './user-error.js';

export interface AddedRegressionVersion {
  modelId: string;
  version: number;
  /** false when the same file was added before: the version it got then. */
  created: boolean;
  holdoutRows: number;
  holdoutErrors: RegressionErrors;
  /**
   * Its prediction interval calibrated on the reference holdout (null: too few rows for the level). A
   * cycle that evaluates the version calibrates it again on the cycle's holdout.
   */
  interval: StoredInterval | null;
  /** The champion's errors on the same holdout, as stored at its registration (null if none were). */
  championErrors: RegressionErrors | null;
}

/** The champion's labeled reference holdout, its labels as numbers. */
async function championHoldout(
  pool: pg.Pool,
  modelId: string,
): Promise<{
  championVersion: number;
  championErrors: RegressionErrors | null;
  rows: { features: Record<string, number | string>; value: number }[];
}> {
  const championVersion = await db.getAlias(pool, modelId, 'champion');
  if (championVersion === null) throw new UserError(`model "${modelId}" has no champion yet`);
  const champion = await db.getModelVersion(pool, modelId, championVersion);
  const stored = champion.metrics['holdoutErrors'];
  const rows = (champion.datasetId === null ? [] : await db.getDatasetRows(pool, champion.datasetId))
    .filter((r) => r.split === 'holdout' && r.label !== null)
    .flatMap((r) => {
      const read = readNumericLabel(r.label!);
      return 'problem' in read ? [] : [{ features: r.features, value: read.value }];
    });
  if (rows.length === 0)
    throw new UserError(
      `champion v${championVersion} of "${modelId}" has no labeled holdout to check the file on`,
    );
  return {
    championVersion,
    championErrors: stored && typeof stored === 'object' ? (stored as RegressionErrors) : null,
    rows,
  };
}

/** Adds an ONNX regressor as a candidate version of a regression model, measured on the reference holdout. */
export async function addOnnxRegressorVersion(
  pool: pg.Pool,
  modelId: string,
  bytes: Uint8Array,
  opts: { fileName: string; author: string; hints?: OnnxHints },
): Promise<AddedRegressionVersion> {
  const def = await db.getModel(pool, modelId);
  if (!def) throw new UserError(`no model "${modelId}": register it first with "remedy models register"`);
  if (!isRegression(def))
    throw new Error(`addOnnxRegressorVersion: ${modelId} is a classifier; add its file with addOnnxVersion`);
  const { championVersion, championErrors, rows } = await championHoldout(pool, modelId);
  let adopted;
  try {
    adopted = await adoptOnnxRegressor(
      bytes,
      def.features,
      rows.map((r) => r.features),
      { producer: path.basename(opts.fileName), ...(opts.hints ? { hints: opts.hints } : {}) },
    );
  } catch (err) {
    if (err instanceof OnnxModelError)
      throw new UserError(`${opts.fileName} refused, nothing added: ${err.message}`);
    throw err;
  }
  const { artifact, predictions } = adopted;
  const holdoutErrors = regressionErrors(
    rows.map((r) => r.value),
    predictions.map((p) => p.value!),
  );
  const interval = calibrateInterval(
    rows.map((r) => r.value),
    predictions.map((p) => p.value!),
    intervalLevel(def.policy.evaluation),
    `the reference holdout of champion v${championVersion}`,
  );
  const summary = { modelId, holdoutRows: rows.length, holdoutErrors, interval, championErrors };
  const key = `${modelId}:external:${artifact.sha256}`;
  const known = await db.getVersionByKey(pool, key);
  if (known) return { ...summary, version: known.version, created: false };
  const version = await insertExternalVersion(pool, {
    modelId,
    key,
    bytes,
    artifact,
    hints: opts.hints,
    author: opts.author,
    metrics: {
      holdoutErrors,
      ...(interval ? { interval } : {}),
      referenceHoldout: { rows: rows.length, championVersion, championErrors },
    },
    details: { task: 'regression', holdoutErrors },
  });
  return { ...summary, version, created: true };
}
