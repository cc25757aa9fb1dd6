import type { ActivityOptions } from '@temporalio/workflow';
import type { Activities, TrainingActivities } from '../activities/index.js';
import { FailureTypes } from '../core/failures.js';

const nonRetryableErrorTypes = [...FailureTypes];

/** Database reads and writes: short, retried with backoff (a Postgres restart is a few seconds). */
export const quickIo: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes },
};

/**
 * Training: its own task queue; heartbeats its progress, so a dead worker is noticed within the policy's
 * heartbeat timeout and the retry resumes from the last checkpoint.
 */
export const training = (taskQueue: string, heartbeatTimeout: string): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout,
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes,
  },
});

/** Reads and writes that score or copy a training set: longer than quickIo allows. */
export const slowIo: ActivityOptions = { ...quickIo, startToCloseTimeout: '10 minutes' };

/**
 * The Python worker's training: its own task queue, heartbeats, a bounded number of attempts so that a
 * trainer that keeps hanging past its timeout ends the cycle instead of retrying for ever.
 */
export const pythonTraining = (
  taskQueue: string,
  heartbeatTimeout: string,
  limits: { timeout: string; maxAttempts: number },
): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: limits.timeout,
  heartbeatTimeout,
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: limits.maxAttempts,
    nonRetryableErrorTypes,
  },
  summary: 'Train the candidate on the Python worker (scikit-learn, exported to ONNX)',
});

/**
 * One line per activity, shown beside its events in the Temporal Web UI (the command's user metadata),
 * so a person reading a history sees what each step does without opening its payloads. Typed against
 * the activity interfaces: a new activity without a summary (or a summary of none) fails the typecheck.
 */
export const ACTIVITY_SUMMARIES = {
  openCycle: 'Open the cycle: load the policy, reserve the model',
  confirmDrift: "Drift report: the window against the champion's reference profile",
  collectDataset: 'Collection: sample the drifted region, run the quality gates, write a dataset version',
  openLabelTasks: 'Labeling: choose the items people label, auto-label the confident ones',
  recordLabel: 'Store a label answer',
  recordVote: "Store one reviewer's answer to an overlapped item",
  nextLabelBatch: 'Active learning: retrain a quick forest on the labels so far and pick the next batch',
  publishLabelStudioTasks: "Label Studio: the campaign's items as tasks, the model's guess pre-selected",
  notify: 'Notify reviewers (reminder, escalation or decision)',
  freezeLabeledDataset: 'Freeze the labeled dataset version',
  trainCandidate: 'Train the candidate on its own task queue (heartbeats, resumes from checkpoints)',
  exportTrainingSet: "Hand the cycle's training rows to the Python worker (a content-addressed blob)",
  registerPythonCandidate: "Check the Python worker's ONNX model on the training rows and register it",
  useExternalCandidate: 'Take the version added from outside (models add-version) as the candidate',
  evaluateCandidate: 'Evaluate the candidate against the champion: gates and model card',
  setTrafficWeight: 'Move traffic to the candidate',
  analyzeRolloutStep: 'Canary analysis of this rollout step on feedback',
  promote: 'Promote the candidate to champion',
  rollback: 'Roll traffic back to the champion',
  rejectCandidate: 'Reject the candidate',
  checkRevert: 'Check that the model may go back to this former champion',
  applyRevert: 'Revert: traffic, aliases and statuses to the former champion; audit and notify',
  recordAudit: 'Record an audit event',
  closeCycle: 'Close the cycle with its outcome',
  targetPatterns: "The champion's most frequent error patterns in the window",
  traceRemedy: 'Did the candidate fix the targeted patterns? Error rates on its served traffic',
  runDriftCheck: 'Drift check of the next window',
  nextMonitorWindow: "The monitor's next window",
  latestWindow: 'The latest window of the production log',
  linkCheckToCycle: 'Attach this check to the cycle it started or joined',
  reserveCycle: 'Reserve the next cycle of this model (one open cycle per model)',
  releaseCycle: 'Give back a reservation whose cycle did not start',
  volumeEvidence: 'Count labeled failures since the last cycle',
} as const satisfies Record<keyof Activities | keyof TrainingActivities, string>;

const summaries: ReadonlyMap<string, string> = new Map(Object.entries(ACTIVITY_SUMMARIES));

/**
 * The same activities, each scheduled with its summary from ACTIVITY_SUMMARIES. A summary is metadata
 * on the command, not part of what replay compares, so histories recorded without one still replay.
 */
export function summarized<T extends object>(acts: T): T {
  return new Proxy(acts, {
    get(target, name, receiver) {
      const fn: unknown = Reflect.get(target, name, receiver);
      const summary = typeof name === 'string' ? summaries.get(name) : undefined;
      if (typeof fn !== 'function' || summary === undefined) return fn;
      const withOptions = (fn as { executeWithOptions?: (o: ActivityOptions, a: unknown[]) => unknown })
        .executeWithOptions;
      if (!withOptions) return fn;
      return (...args: unknown[]) => withOptions({ summary }, args);
    },
  });
}
