/**
 * The label-free estimate a drift check makes while labels are too few: the champion's estimator is
 * calibrated on labeled rows of its reference span it was not trained on (its registration holdout, or
 * the promoted reference's unseen rows, read through the model's log source), else on its own dataset's
 * holdout. The fit is kept per process for each champion and reference, so a monitor's checks score the
 * reference once, then only the window.
 */
import type pg from 'pg';
import {
  CALIBRATION_MAX_ROWS,
  estimateWindow,
  fitWindowEstimator,
  spanText,
  type EstimateOutcome,
  type ReferenceProfile,
  type WindowEstimator,
} from '../core/drift.js';
import type { Features } from '../core/schemas.js';
import * as db from '../db/index.js';
import * as ref from '../db/reference.js';
import type { Scorer } from '../scoring/index.js';
import { logSourceOf } from './log-sources.js';
import { productionSpanRows } from './span-rows.js';

type Fit = WindowEstimator | { unavailable: string };

/** Fitted estimators by pool, then by model, version and the reference they were fitted for. */
const fits = new WeakMap<pg.Pool, Map<string, Promise<Fit>>>();
const KEPT = 32;

async function calibrationRows(
  pool: pg.Pool,
  input: { modelId: string; championVersion: number; profile: ReferenceProfile },
): Promise<{ rows: { features: Features; label: string }[]; source: string }> {
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  const span = input.profile.span;
  if (span) {
    // The span's rows from the model's log source: with a team's source `records` holds only collected rows.
    const sample = await productionSpanRows(pool, await logSourceOf(pool, input.modelId), {
      modelId: input.modelId,
      start: span.start,
      end: span.end,
      limit: CALIBRATION_MAX_ROWS,
      trainedDatasetIds: champion.datasetId === null ? [] : [champion.datasetId],
    });
    const unseen = sample.rows.filter((r) => r.label !== null && !r.trained);
    if (unseen.length > 0)
      return {
        rows: unseen.map((r) => ({ features: r.features, label: r.label! })),
        source: `labeled rows of the reference span (${spanText(span)}) the champion was not trained on`,
      };
  }
  const holdout = champion.datasetId === null ? [] : await ref.labeledHoldout(pool, champion.datasetId);
  return {
    rows: holdout.slice(0, CALIBRATION_MAX_ROWS),
    source: `champion v${input.championVersion}'s holdout`,
  };
}

async function fit(
  pool: pg.Pool,
  scorer: Scorer,
  input: { modelId: string; championVersion: number; profile: ReferenceProfile },
): Promise<Fit> {
  const { rows, source } = await calibrationRows(pool, input);
  const scored = rows.length === 0 ? [] : await scorer.score(rows.map((r) => r.features));
  return fitWindowEstimator(
    scorer.classes,
    scored.map((p, i) => ({ predicted: p.label, probabilities: p.probabilities, truth: rows[i]!.label })),
    source,
  );
}

/** The champion's estimator for this reference, fitted once per process. */
function estimatorFor(
  pool: pg.Pool,
  scorer: Scorer,
  input: { modelId: string; championVersion: number; profile: ReferenceProfile },
): Promise<Fit> {
  const byPool = fits.get(pool) ?? new Map<string, Promise<Fit>>();
  fits.set(pool, byPool);
  const { span, rows, baselineAccuracy } = input.profile;
  const key = [input.modelId, input.championVersion, span?.start, span?.end, rows, baselineAccuracy].join(
    '|',
  );
  let found = byPool.get(key);
  if (!found) {
    if (byPool.size >= KEPT) byPool.delete(byPool.keys().next().value!);
    found = fit(pool, scorer, input);
    // A failed fit (a database hiccup) is not kept: the next check tries again.
    found.catch(() => byPool.delete(key));
    byPool.set(key, found);
  }
  return found;
}

/** The window's estimate from the champion's scores on its rows (or a uniform sample of them). */
export async function estimateWindowPerformance(
  pool: pg.Pool,
  scorer: Scorer,
  input: {
    modelId: string;
    championVersion: number;
    profile: ReferenceProfile;
    /** Feature texts (jsonb) of the window's rows, or a uniform sample of them. */
    texts: readonly string[];
    windowRows: number;
  },
): Promise<EstimateOutcome> {
  const estimator = await estimatorFor(pool, scorer, input);
  if ('unavailable' in estimator) return estimator;
  const predictions = await scorer.score(input.texts.map((t) => JSON.parse(t) as Features));
  return estimateWindow(
    estimator,
    predictions.map((p) => ({ predicted: p.label, probabilities: p.probabilities })),
    input.windowRows,
  );
}
