/** Raises one of the business outcomes listed in core/failures.ts. */
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../core/failures.js';

export function businessFailure(type: FailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? [] : [details],
  });
}
