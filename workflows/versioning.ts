/**
 * How each workflow type behaves under Worker Versioning (docs/operations.md section 5), when the worker
 * runs as a worker deployment version (REMEDY_DEPLOYMENT_NAME + REMEDY_BUILD_ID):
 *
 * - PINNED: a run stays on the build that started it until it closes, whatever build becomes current.
 *   Cycles, labeling campaigns and rollouts wait days on people, so they finish on the code that started
 *   them; a fix to that code for runs already in flight still goes behind `patched()`.
 * - AUTO_UPGRADE: a run moves to the current build at its next workflow task. The checks (drift, volume,
 *   the scheduled trigger) live seconds and only start cycles, so the newest build serves them.
 *
 * The behaviour travels with each workflow task's completion, not in the commands the workflow issues:
 * histories recorded before it was declared replay unchanged. An unversioned worker ignores it.
 */
import { setWorkflowOptions } from '@temporalio/workflow';
import { remediationCycle } from './cycle.js';
import { labelingCampaign } from './labeling.js';
import { driftCheck } from './monitor.js';
import { stagedRollout } from './rollout.js';
import { scheduledCycle, volumeCheck } from './triggers.js';

/** The behaviour each workflow type declares; a worker's default applies to none of them. */
export const VERSIONING_BEHAVIORS = {
  remediationCycle: 'PINNED',
  labelingCampaign: 'PINNED',
  stagedRollout: 'PINNED',
  driftCheck: 'AUTO_UPGRADE',
  volumeCheck: 'AUTO_UPGRADE',
  scheduledCycle: 'AUTO_UPGRADE',
} as const;

setWorkflowOptions({ versioningBehavior: VERSIONING_BEHAVIORS.remediationCycle }, remediationCycle);
setWorkflowOptions({ versioningBehavior: VERSIONING_BEHAVIORS.labelingCampaign }, labelingCampaign);
setWorkflowOptions({ versioningBehavior: VERSIONING_BEHAVIORS.stagedRollout }, stagedRollout);
setWorkflowOptions({ versioningBehavior: VERSIONING_BEHAVIORS.driftCheck }, driftCheck);
setWorkflowOptions({ versioningBehavior: VERSIONING_BEHAVIORS.volumeCheck }, volumeCheck);
setWorkflowOptions({ versioningBehavior: VERSIONING_BEHAVIORS.scheduledCycle }, scheduledCycle);
