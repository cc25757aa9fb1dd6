/**
 * Business outcomes raised by activities: one closed list of ApplicationFailure types. Each is
 * non-retryable (retrying cannot change the answer); activity presets and the cycle read this list.
 */
export const FailureTypes = [
  'ModelNotFound',
  'CycleAlreadyRunning',
  'EmptyWindow',
  'DatasetQualityGateFailed',
  'NoChampion',
  'TrainerLimitExceeded',
  'PseudonymKeyMissing',
] as const;
export type FailureType = (typeof FailureTypes)[number];
