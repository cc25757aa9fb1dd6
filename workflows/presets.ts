import type { ActivityOptions } from '@temporalio/workflow';
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
