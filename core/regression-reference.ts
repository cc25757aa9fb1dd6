/**
 * A promoted regressor's reference when no production rows are known (activities/rollout.ts promote):
 * its training rows' features, without class labels, and its target on their values with the holdout
 * errors its evaluation recorded. Pure.
 */
import { buildReferenceProfile, buildTargetProfile, type ReferenceProfile } from './drift.js';
import { readNumericLabel } from './regression-labels.js';
import type { Features, ModelDefinition } from './schemas.js';

/** The profile of `train`; the target's holdout errors are null when the evaluation recorded none. */
export function regressionTrainingProfile(
  model: ModelDefinition,
  train: readonly { features: Features; label: string | null }[],
  holdoutErrors: unknown,
): ReferenceProfile {
  const values = train.flatMap((r) => {
    const read = r.label === null ? null : readNumericLabel(r.label);
    return read && 'value' in read ? [read.value] : [];
  });
  const h = holdoutErrors as { rows?: unknown; mae?: unknown } | undefined;
  const holdout =
    h && typeof h.rows === 'number' && typeof h.mae === 'number'
      ? (holdoutErrors as Parameters<typeof buildTargetProfile>[1])
      : null;
  const profile = buildReferenceProfile(
    model.features,
    train.map((r) => r.features),
    [],
    {},
  );
  return values.length > 0 ? { ...profile, target: buildTargetProfile(values, holdout) } : profile;
}
