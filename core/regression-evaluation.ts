/**
 * Holdout evaluation of a regression candidate against the champion, from the labeled values and both
 * models' predictions on the same rows: each model's MAE, RMSE, R², MAPE and mean error with bootstrap
 * intervals, the paired bootstrap of the difference, errors per slice, residual bias by decile of the
 * prediction and p95 latency. Pure and deterministic (seeded bootstrap): the activity does the I/O.
 */
import { percentileOf, type BootstrapOptions } from './bootstrap.js';
import {
  bootstrapRegressionErrors,
  pairedErrorBootstrap,
  regressionErrors,
  residualBiasByDecile,
  type DecileBias,
  type PairedErrorDifferences,
  type RegressionErrors,
  type RegressionIntervals,
} from './regression-metrics.js';
import type { RegressionEvaluated } from './regression-gates.js';

/** One holdout row as both models predicted it. */
export interface RegressionScoredRow {
  actual: number;
  candidate: number;
  champion: number;
  /** The row's value of evaluation.sliceBy, when the policy names one. */
  slice?: string;
  /** How long each model took on this row alone, in microseconds. */
  candidateLatencyUs?: number;
  championLatencyUs?: number;
}

/** One model on the holdout: every metric with its interval, and its p95 one-row latency. */
export interface RegressionModelEvaluation {
  errors: RegressionIntervals;
  p95LatencyMs: number | null;
}

export interface RegressionSlice {
  slice: string;
  rows: number;
  candidate: RegressionErrors;
  champion: RegressionErrors;
}

export interface RegressionMeasures {
  candidate: RegressionModelEvaluation;
  champion: RegressionModelEvaluation;
  /** Candidate − champion, paired: negative MAE means the candidate errs less. */
  difference: PairedErrorDifferences;
  /** In slice-name order; empty without evaluation.sliceBy. */
  slices: RegressionSlice[];
  residualBias: { candidate: DecileBias[]; champion: DecileBias[] };
}

/** The p95 of the latencies in milliseconds; null when no row was timed. */
function p95Ms(latenciesUs: readonly (number | undefined)[]): number | null {
  const timed = latenciesUs.filter((l): l is number => l !== undefined);
  if (timed.length === 0) return null;
  return percentileOf(Float64Array.from(timed).sort(), 95) / 1000;
}

function bySlice(rows: readonly RegressionScoredRow[]): RegressionSlice[] {
  const groups = new Map<string, RegressionScoredRow[]>();
  for (const r of rows) {
    if (r.slice === undefined) continue;
    const g = groups.get(r.slice);
    if (g) g.push(r);
    else groups.set(r.slice, [r]);
  }
  return [...groups.keys()].sort().map((slice) => {
    const g = groups.get(slice)!;
    const actual = g.map((r) => r.actual);
    return {
      slice,
      rows: g.length,
      candidate: regressionErrors(
        actual,
        g.map((r) => r.candidate),
      ),
      champion: regressionErrors(
        actual,
        g.map((r) => r.champion),
      ),
    };
  });
}

/** Every measure the gates and the model card read, from the scored holdout. */
export function measureRegression(
  rows: readonly RegressionScoredRow[],
  options: BootstrapOptions,
): RegressionMeasures {
  const actual = rows.map((r) => r.actual);
  const candidate = rows.map((r) => r.candidate);
  const champion = rows.map((r) => r.champion);
  return {
    candidate: {
      errors: bootstrapRegressionErrors(actual, candidate, options),
      p95LatencyMs: p95Ms(rows.map((r) => r.candidateLatencyUs)),
    },
    champion: {
      errors: bootstrapRegressionErrors(actual, champion, options),
      p95LatencyMs: p95Ms(rows.map((r) => r.championLatencyUs)),
    },
    difference: pairedErrorBootstrap(actual, candidate, champion, options),
    slices: bySlice(rows),
    residualBias: {
      candidate: residualBiasByDecile(actual, candidate),
      champion: residualBiasByDecile(actual, champion),
    },
  };
}

/** The point estimates of an interval set: what the gates compare. */
export function pointErrors(i: RegressionIntervals): RegressionErrors {
  return {
    rows: i.rows,
    mae: i.mae.estimate,
    rmse: i.rmse.estimate,
    r2: i.r2?.estimate ?? null,
    mape: i.mape?.estimate ?? null,
    meanError: i.meanError.estimate,
  };
}

/** One side of the measures in the shape the gates judge. */
export function evaluatedSide(m: RegressionMeasures, side: 'candidate' | 'champion'): RegressionEvaluated {
  return {
    overall: { ...pointErrors(m[side].errors), p95LatencyMs: m[side].p95LatencyMs },
    slices: Object.fromEntries(m.slices.map((s) => [s.slice, s[side]])),
  };
}
