/**
 * The names of the performance metrics a policy may judge on, by task. Kept apart from core/schemas.ts
 * (which re-exports them): core/policy.ts, which the workflow worker preloads and freezes, reads them,
 * and must not pull the zod schemas into its frozen modules.
 */

/** The metrics a classifier's performance signal may judge on. */
export const CLASSIFICATION_METRICS = ['accuracy', 'macroF1', 'auc', 'logLoss'] as const;
/** The error metrics a regression model's performance signal may judge on. */
export const REGRESSION_METRICS = ['mae', 'rmse', 'r2', 'mape'] as const;
export type RegressionMetric = (typeof REGRESSION_METRICS)[number];

/** Whether a performance metric is one of a regression model's (mae, rmse, r2, mape). */
export function isRegressionMetric(metric: string): metric is RegressionMetric {
  return (REGRESSION_METRICS as readonly string[]).includes(metric);
}
