/**
 * The reference of a regression champion being promoted (activities/reference.ts chooses its span and
 * rows as for classifiers): the span's features profiled without class labels, and its `target` profile,
 * the labeled values of the span with the new champion's errors on labeled rows it was not trained on,
 * so the next window's errors are judged against the champion that serves it.
 */
import type pg from 'pg';
import {
  buildReferenceProfile,
  buildTargetProfile,
  type ReferenceProfile,
  type TargetProfile,
} from '../core/drift.js';
import type { ModelArtifact } from '../core/model.js';
import { readNumericLabel } from '../core/regression-labels.js';
import { regressionErrors } from '../core/regression-metrics.js';
import type { Features, ModelDefinition } from '../core/schemas.js';
import { scoreRows } from '../scoring/index.js';

/** The profile's rows as the serving reference reads them. */
export interface RegressionReferenceRows {
  model: ModelDefinition;
  artifact: ModelArtifact;
  /** The span's rows (a sample when it held more), with their labels where known. */
  rows: readonly { features: Features; label: string | null }[];
  /** The rows the holdout errors are measured on (never trained on). */
  evalRows: readonly { features: Features; label: string }[];
}

/** The profile without its span and sample (added by the caller), and the `target` it holds. */
export async function regressionReferenceProfile(
  pool: pg.Pool,
  r: RegressionReferenceRows,
): Promise<{ profile: ReferenceProfile; target: TargetProfile | null }> {
  // A label that is not a number (never stored for a regressor: the gateway and campaigns check) is left out.
  const value = (label: string | null): number[] => {
    const read = label === null ? null : readNumericLabel(label);
    return read && 'value' in read ? [read.value] : [];
  };
  const values = r.rows.flatMap((row) => value(row.label));
  const scored = r.evalRows.flatMap((row) => value(row.label).map((v) => ({ features: row.features, v })));
  let holdout = null;
  if (scored.length > 0) {
    const predicted = await scoreRows(
      pool,
      r.artifact,
      scored.map((row) => row.features),
    );
    holdout = regressionErrors(
      scored.map((row) => row.v),
      predicted.map((p) => p.value ?? Number(p.label)),
    );
  }
  const target = values.length > 0 ? buildTargetProfile(values, holdout) : null;
  const profile = {
    ...buildReferenceProfile(
      r.model.features,
      r.rows.map((row) => row.features),
      [],
      {},
      { psiBins: r.model.policy.drift.psiBins },
    ),
    ...(target ? { target } : {}),
  };
  return { profile, target };
}
