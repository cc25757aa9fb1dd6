import type { ActivityOptions } from '@temporalio/workflow';

const nonRetryableErrorTypes = [
  'ModelNotFound',
  'CycleAlreadyRunning',
  'EmptyWindow',
  'DatasetQualityGateFailed',
  'InsufficientLabels',
  'NoChampion',
];

/** Database reads and writes: short, retried with backoff (a Postgres restart is a few seconds). */
export const quickIo: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes },
};

/**
 * Training: its own task queue; heartbeats every few epochs, so a dead worker is noticed in 30 s and the
 * retry resumes from the last checkpoint.
 */
export const training = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes,
  },
});
