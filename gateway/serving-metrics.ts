/**
 * The gateway's own serving metrics, added to the registry `/metrics` serves: prediction latency per
 * model and version (a histogram, so a dashboard compares champion and candidate percentiles), how many
 * prediction rows wait to be written, and a regression model's errors as its true values arrive as
 * feedback: per version, the count, the sum of absolute errors and the sum of squared errors (so
 * Prometheus gives MAE, RMSE and what a rollout step's Welch test needs; README "Rollout metrics").
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PredictionLog } from './prediction-log.js';

/** From 0.25 ms to 1 s: an in-process forest answers in well under a millisecond. */
const BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export function servingMetrics(registry: Registry, log: PredictionLog) {
  const latency = new Histogram({
    name: 'remedy_gateway_predict_seconds',
    help: 'Time to answer a prediction request in the gateway, by model and version.',
    labelNames: ['model', 'version'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'remedy_gateway_log_queued',
    help: 'Prediction rows answered and waiting to be written to Postgres.',
    registers: [registry],
    collect() {
      this.set(log.size);
    },
  });
  new Gauge({
    name: 'remedy_gateway_log_write_failures',
    help: 'Failed writes of the prediction log since start (each one retried).',
    registers: [registry],
    collect() {
      this.set(log.stats.failures);
    },
  });
  const labelNames = ['model', 'version'] as const;
  const errorCount = new Counter({
    name: 'remedy_gateway_regression_errors_total',
    help: "A regression model's answers whose true value arrived as feedback, by model and version.",
    labelNames,
    registers: [registry],
  });
  const absoluteSum = new Counter({
    name: 'remedy_gateway_regression_absolute_error_sum',
    help: 'Sum of |predicted − true| over those answers, by model and version.',
    labelNames,
    registers: [registry],
  });
  const squaredSum = new Counter({
    name: 'remedy_gateway_regression_squared_error_sum',
    help: 'Sum of (predicted − true)² over those answers, by model and version.',
    labelNames,
    registers: [registry],
  });
  const children = new Map<string, ReturnType<typeof latency.labels>>();
  return {
    /** A regression answer's true value arrived: its error counted for its version. */
    observeError(model: string, version: number, predicted: number, actual: number): void {
      const error = predicted - actual;
      if (!Number.isFinite(error)) return;
      const labels = { model, version: String(version) };
      errorCount.inc(labels);
      absoluteSum.inc(labels, Math.abs(error));
      squaredSum.inc(labels, error * error);
    },
    observe(model: string, version: number, seconds: number): void {
      const k = `${model}@${version}`;
      let child = children.get(k);
      if (!child) {
        child = latency.labels({ model, version: String(version) });
        children.set(k, child);
      }
      child.observe(seconds);
    },
  };
}
