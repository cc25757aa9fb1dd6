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
 * histories recorded before it was declared replay unchanged.
 *
 * It is declared only on a versioned worker: an unversioned one must not send it (the SDK then fails
 * every workflow task: "versioning behavior cannot be specified without deployment options being set
 * with versioned mode"). The workflow sees which kind of worker runs its first task in
 * `workflowInfo().currentDeploymentVersion`: a deployment name only on a versioned one (an unversioned
 * worker reports a build ID of its own and no deployment name). A run that a versioned worker picks up from an unversioned
 * history (the first switch to versioning) declares nothing and gets the worker's default, PINNED.
 */
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import type { VersioningBehavior } from '@temporalio/common';
import { remediationCycle } from './cycle.js';
import { labelingCampaign } from './labeling.js';
import { driftCheck } from './monitor.js';
import { revertChampion } from './revert.js';
import { stagedRollout } from './rollout.js';
import { scheduledCycle, volumeCheck } from './triggers.js';

/** The behaviour each workflow type declares on a versioned worker. */
export const VERSIONING_BEHAVIORS = {
  remediationCycle: 'PINNED',
  labelingCampaign: 'PINNED',
  stagedRollout: 'PINNED',
  revertChampion: 'PINNED',
  driftCheck: 'AUTO_UPGRADE',
  volumeCheck: 'AUTO_UPGRADE',
  scheduledCycle: 'AUTO_UPGRADE',
} as const satisfies Record<string, VersioningBehavior>;

/** Read once, just before the workflow function first runs, inside the workflow. */
const onVersionedWorker = (versioningBehavior: VersioningBehavior) => () =>
  workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior } : {};

setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.remediationCycle), remediationCycle);
setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.labelingCampaign), labelingCampaign);
setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.stagedRollout), stagedRollout);
setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.revertChampion), revertChampion);
setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.driftCheck), driftCheck);
setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.volumeCheck), volumeCheck);
setWorkflowOptions(onVersionedWorker(VERSIONING_BEHAVIORS.scheduledCycle), scheduledCycle);
