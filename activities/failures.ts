/**
 * Business outcomes raised by activities: a closed list of ApplicationFailure types. Each is
 * non-retryable (retrying cannot change the answer), and the cycle turns it into an outcome.
 */
import { ApplicationFailure } from '@temporalio/common';

export const FailureTypes = [
  'ModelNotFound',
  'CycleAlreadyRunning',
  'EmptyWindow',
  'DatasetQualityGateFailed',
  'InsufficientLabels',
  'NoChampion',
] as const;
export type FailureType = (typeof FailureTypes)[number];

export function businessFailure(type: FailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? [] : [details],
  });
}
