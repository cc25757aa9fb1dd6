// Declares each workflow type's Worker Versioning behaviour (pinned cycles, auto-upgrading checks).
import './versioning.js';

export { remediationCycle, labelingWorkflowId, rolloutWorkflowId } from './cycle.js';
export { labelingCampaign } from './labeling.js';
export { stagedRollout } from './rollout.js';
export { revertChampion, revertWorkflowId } from './revert.js';
export { driftCheck } from './monitor.js';
export { scheduledCycle, volumeCheck } from './triggers.js';
