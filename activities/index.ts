import type pg from 'pg';
import { createCatalogActivities } from './catalog.js';
import { createCycleActivities } from './cycle.js';
import { createDriftActivities } from './drift.js';
import { createLabelingActivities } from './labeling.js';
import { createLabelStudioActivities } from './label-studio.js';
import type { Pseudonymiser } from './pseudonym.js';
import { createPythonTrainingActivities } from './outside-training.js';
import { createRevertActivities } from './revert.js';
import { createRolloutActivities } from './rollout.js';
import { createEvaluationActivities } from './evaluation.js';
import { createTrainingActivities } from './training.js';

export interface ActivityDeps {
  pool: pg.Pool;
  /** Keyed pseudonymisation for `collection.pii.mask` (REMEDY_PII_KEYS); unset, masking policies fail clearly. */
  pseudonymise?: Pseudonymiser;
}

/** Activities for the main task queue. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCycleActivities(deps),
    ...createDriftActivities(deps),
    ...createCatalogActivities(deps),
    ...createLabelingActivities(deps),
    ...createLabelStudioActivities(),
    ...createRolloutActivities(deps),
    ...createRevertActivities(deps),
    ...createEvaluationActivities(deps),
    ...createPythonTrainingActivities(deps),
  };
}

export { createTrainingActivities };
export type { PythonTrainingActivities } from './outside-training.js';
export type Activities = ReturnType<typeof createActivities>;
export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
