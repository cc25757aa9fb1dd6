/**
 * The drift reference of a champion being promoted: the production population it will serve, over a
 * span that keeps the seasons the previous reference covered (core/reference.ts chooses it), with
 * baseline metrics the new champion earns on labeled rows it was not trained on.
 */
import type pg from 'pg';
import {
  buildReferenceProfile,
  upgradeProfile,
  type ReferenceProfile,
  type TargetProfile,
} from '../core/drift.js';
import { scoreRows } from '../scoring/index.js';
import { chooseReferenceSpan, measureBaseline, REFERENCE_MAX_ROWS, type Span } from '../core/reference.js';
import { durationMs, isRegression, type ModelDefinition } from '../core/schemas.js';
import * as ref from '../db/reference.js';
import * as db from '../db/index.js';
import { logSourceFrom } from './log-sources.js';
import { regressionReferenceProfile } from './regression-reference.js';
import { earliestProduction, productionSpanRows } from './span-rows.js';

export interface ServingReference {
  profile: ReferenceProfile;
  /** What the version's metrics and the audit keep about it. */
  summary: {
    span: ReferenceProfile['span'];
    rows: number;
    of: number;
    labeledRows: number;
    baseline: ReferenceProfile['baseline'];
    baselineEvidence: ReferenceProfile['baselineEvidence'] | null;
    /** A regressor's target profile, with the new champion's errors on rows it did not train on. */
    target?: TargetProfile | null;
    /** Which rows those errors were measured on. */
    holdoutSource?: string;
  };
}

/** How the profiled rows relate to the span's. */
function sampleOf(sample: { rows: readonly unknown[]; total: number }): ReferenceProfile['sample'] {
  return {
    rows: sample.rows.length,
    of: sample.total,
    method:
      sample.total > sample.rows.length
        ? 'uniform sample by a hash of the record key'
        : 'every row of the span',
  };
}

/** The old champion's span: from its profile, else the window of the data it was trained on. */
async function previousSpan(
  pool: pg.Pool,
  model: ModelDefinition,
  championVersion: number,
): Promise<{ span: Span; source: 'profile' | 'training-data' } | null> {
  const stored = await db.getReferenceProfile(pool, model.modelId, championVersion);
  const profile = stored ? upgradeProfile(stored) : null;
  if (profile?.span) return { span: profile.span, source: 'profile' };
  const champion = await db.getModelVersion(pool, model.modelId, championVersion);
  if (champion.datasetId === null) return null;
  const w = await ref.datasetWindow(pool, champion.datasetId);
  if (!w) return null;
  // A registration's reference data stores its first and last row; a cycle's window its exclusive end.
  const end = w.kind === 'reference' ? new Date(w.end.getTime() + 1) : w.end;
  return { span: { start: w.start.toISOString(), end: end.toISOString() }, source: 'training-data' };
}

export async function servingReference(
  pool: pg.Pool,
  input: {
    model: ModelDefinition;
    championVersion: number;
    candidateVersion: number;
    /** At most this many rows are profiled (a uniform sample beyond it, the count stated). */
    maxRows?: number;
  },
): Promise<ServingReference | null> {
  const { model } = input;
  const candidate = await db.getModelVersion(pool, model.modelId, input.candidateVersion);
  const champion = await db.getModelVersion(pool, model.modelId, input.championVersion);
  const windowOf = candidate.datasetId === null ? null : await ref.datasetWindow(pool, candidate.datasetId);
  const window =
    windowOf && windowOf.kind !== 'reference'
      ? { start: windowOf.start.toISOString(), end: windowOf.end.toISOString() }
      : null;
  const previous =
    input.championVersion === input.candidateVersion
      ? null
      : await previousSpan(pool, model, input.championVersion);
  if (!previous && !window) return null;
  // The span is read from the model's log wherever it is held: with a team's source, `records` holds
  // only the rows a cycle collected (a biased sample of the drifted region).
  const source = logSourceFrom(pool, model.policy.logSource, model.features);
  const earliest = await earliestProduction(pool, source, model.modelId);
  const span = chooseReferenceSpan({
    previous,
    window,
    referenceSpanMs: model.policy.drift.referenceSpan ? durationMs(model.policy.drift.referenceSpan) : null,
    earliest: earliest?.toISOString() ?? null,
  });
  const trainedDatasetIds = [candidate.datasetId, champion.datasetId].filter((d): d is number => d !== null);
  const sample = await productionSpanRows(pool, source, {
    modelId: model.modelId,
    start: span.start,
    end: span.end,
    limit: input.maxRows ?? REFERENCE_MAX_ROWS,
    trainedDatasetIds,
  });
  if (sample.rows.length === 0) return null;
  const labeled = sample.rows.filter((r) => r.label !== null);

  // The baseline: labeled rows neither the candidate nor its data's parent trained on, or the candidate's
  // own holdout when that is larger. After a cycle only rows from its window on count: older rows may carry
  // labels from before a change of meaning the new champion rightly disagrees with, and would set its
  // baseline so low that the monitoring after it never sees a drop.
  const unseen = labeled.filter(
    (r) => !r.trained && (window === null || r.ts.getTime() >= Date.parse(window.start)),
  );
  const holdout = candidate.datasetId === null ? [] : await ref.labeledHoldout(pool, candidate.datasetId);
  const useSpan = unseen.length >= holdout.length;
  const evalRows = useSpan ? unseen.map((r) => ({ features: r.features, label: r.label! })) : holdout;
  const evalSource = useSpan
    ? `labeled rows ${window ? "from the cycle's window on that" : 'of the span'} the champion was not trained on${sample.total > sample.rows.length ? ' (within the sample)' : ''}`
    : "the candidate's holdout (larger than the span's unseen labeled rows)";
  if (isRegression(model)) {
    const built = await regressionReferenceProfile(pool, {
      model,
      artifact: candidate.artifact,
      rows: sample.rows,
      evalRows,
    });
    const profile = { ...built.profile, span, sample: sampleOf(sample) };
    return {
      profile,
      summary: {
        span,
        rows: sample.rows.length,
        of: sample.total,
        labeledRows: labeled.length,
        baseline: profile.baseline,
        baselineEvidence: null,
        target: built.target,
        ...(built.target?.holdout ? { holdoutSource: evalSource } : {}),
      },
    };
  }
  const measured =
    evalRows.length === 0
      ? null
      : measureBaseline(
          evalRows.map((r) => r.label),
          await scoreRows(
            pool,
            candidate.artifact,
            evalRows.map((r) => r.features),
          ),
          evalSource,
        );
  const fallback = candidate.metrics.holdout as
    { candidate?: { accuracy?: number; macroF1?: number; logLoss?: number } } | undefined;
  const baseline = measured?.baseline ?? {
    accuracy: fallback?.candidate?.accuracy ?? Number(candidate.metrics.trainAccuracy ?? NaN),
  };
  const profile: ReferenceProfile = {
    ...buildReferenceProfile(
      model.features,
      sample.rows.map((r) => r.features),
      labeled.map((r) => r.label!),
      baseline,
      { psiBins: model.policy.drift.psiBins },
    ),
    span,
    sample: sampleOf(sample),
    ...(measured ? { baselineEvidence: measured.evidence } : {}),
  };
  return {
    profile,
    summary: {
      span,
      rows: sample.rows.length,
      of: sample.total,
      labeledRows: labeled.length,
      baseline,
      baselineEvidence: measured?.evidence ?? null,
    },
  };
}
