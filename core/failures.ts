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
  // The Python training worker refused its data or could not convert its model.
  'TrainingDataError',
  'ConversionError',
  // A model file Remedy cannot score correctly (an ONNX file that is not one, or whose inputs/outputs do not fit).
  'InvalidModel',
  // A rollout adapter that cannot be trusted: the team's traffic router refused, did not answer, or read
  // back a different split; or a rollout metrics query Prometheus refused. The champion is restored first.
  'TrafficRouterFailed',
  'RolloutMetricsFailed',
  // A prediction-log source the policy names that cannot be read as described: a missing environment
  // variable, table, column or directory, or a value of the wrong type (core/log-source.ts).
  'LogSourceFailed',
  // A revert that no longer applies when its records are written (a cycle opened, the champion changed).
  'RevertRefused',
  // Label Studio refused the campaign's project or tasks (a missing or refused token, a bad request).
  'LabelStudioFailed',
] as const;
export type FailureType = (typeof FailureTypes)[number];
