/**
 * A regressor's rollout step on Remedy's prediction log: the candidate's and the champion's predicted
 * values against the feedback that arrived for them, judged by core/regression-rollout.ts (Welch's t-test
 * on the absolute errors). As for classifiers, the candidate's arm is the step's traffic, and the
 * champion's is the step's too unless it has fewer than minSamples rows with feedback (at 100% it serves
 * nothing), in which case it is the whole rollout's.
 */
import type pg from 'pg';
import {
  analyzeRegressionStep,
  momentsFromSums,
  type RegressionStepAnalysis,
} from '../core/regression-rollout.js';
import type { PrometheusMetrics } from '../core/rollout-adapters.js';
import type { StepAnalysis } from '../core/policy.js';
import type { Policy } from '../core/schemas.js';
import * as db from '../db/index.js';
import { measureRegressionArm, prometheusName } from './rollout-metrics.js';

export interface RegressionStepInput {
  weight?: number;
  /** rollout.stepSamples: the fixed sample of each arm this analysis judges (activities/rollout.ts). */
  sample?: db.ArmSample;
  modelId: string;
  stepSince: string;
  rolloutSince: string;
  candidateVersion: number;
  championVersion: number;
  policy: Policy['rollout'];
}

export async function regressionLogAnalysis(
  pool: pg.Pool,
  input: RegressionStepInput,
): Promise<RegressionStepAnalysis> {
  const { modelId, candidateVersion: cand, championVersion: champ } = input;
  if (input.sample) return sampledRegressionAnalysis(pool, input, input.sample);
  const versions = [cand, champ];
  const [pairs, stats] = await Promise.all([
    db.armFeedbackValuesSince(pool, modelId, input.stepSince, versions),
    db.armStatsSince(pool, modelId, input.stepSince, versions),
  ]);
  let championPairs = pairs.get(champ)!;
  let championP95 = stats.get(champ)?.p95LatencyMs ?? null;
  if (championPairs.length < input.policy.minSamples) {
    championPairs = (await db.armFeedbackValuesSince(pool, modelId, input.rolloutSince, [champ])).get(champ)!;
    championP95 =
      (await db.armStatsSince(pool, modelId, input.rolloutSince, [champ])).get(champ)?.p95LatencyMs ?? null;
  }
  return analyzeRegressionStep(
    { pairs: pairs.get(cand)!, p95LatencyMs: stats.get(cand)?.p95LatencyMs ?? null },
    { pairs: championPairs, p95LatencyMs: championP95 },
    input.policy,
  );
}

/**
 * A regressor's step on a fixed sample per arm: the candidate's from the step, the champion's from the
 * step too unless the step is at 100%, then from the rollout; inconclusive until both have the whole sample.
 */
async function sampledRegressionAnalysis(
  pool: pg.Pool,
  input: RegressionStepInput,
  sample: db.ArmSample,
): Promise<RegressionStepAnalysis> {
  const { modelId, candidateVersion: cand, championVersion: champ } = input;
  const championSince = input.weight === 100 ? input.rolloutSince : input.stepSince;
  const arm = async (version: number, since: string) => {
    const [pairs, stats] = await Promise.all([
      db.armFeedbackValuesSince(pool, modelId, since, [version], sample),
      db.armStatsSince(pool, modelId, since, [version], sample),
    ]);
    return { pairs: pairs.get(version)!, p95LatencyMs: stats.get(version)?.p95LatencyMs ?? null };
  };
  return analyzeRegressionStep(await arm(cand, input.stepSince), await arm(champ, championSince), {
    ...input.policy,
    minSamples: sample.limit,
  });
}

/**
 * A regressor's step on Prometheus: each version's p95 latency and the running sums of its errors (how
 * many answers had their true value arrive, the sum of absolute errors, the sum of squared errors), since
 * the step began (the champion's since the rollout began when the step has too few), judged by the same
 * Welch test on the moments those sums give. Bias is not known from sums, so it is not reported. A query
 * with no data makes the step inconclusive, naming it, as for classifiers.
 */
export async function regressionPrometheusAnalysis(
  m: PrometheusMetrics,
  input: RegressionStepInput,
): Promise<RegressionStepAnalysis | StepAnalysis> {
  const endMs = Date.now();
  const arm = (version: number, since: string) =>
    measureRegressionArm(m, { model: input.modelId, version, startMs: Date.parse(since), endMs });
  const candidate = await arm(input.candidateVersion, input.stepSince);
  let champion = await arm(input.championVersion, input.stepSince);
  if ((champion.errorCount ?? 0) < input.policy.minSamples)
    champion = await arm(input.championVersion, input.rolloutSince);
  const missing = (
    [
      ['candidate', candidate],
      ['champion', champion],
    ] as const
  ).flatMap(([name, a]) =>
    (['errorCount', 'absoluteErrorSum', 'squaredErrorSum', 'latencyP95Ms'] as const)
      .filter((k) => a[k] === null)
      .map((k) => `the ${name}'s ${k}`),
  );
  if (missing.length > 0) {
    const none = { pairs: [], p95LatencyMs: null };
    return {
      ...analyzeRegressionStep(none, none, input.policy),
      reason: `no data from ${prometheusName(m)} for ${missing.join(', ')}: the step waits for data as for too few samples`,
    };
  }
  const summary = (a: typeof candidate) => ({
    absoluteErrors: momentsFromSums({
      count: a.errorCount!,
      sum: a.absoluteErrorSum!,
      squaredSum: a.squaredErrorSum!,
    }),
    p95LatencyMs: a.latencyP95Ms,
  });
  return analyzeRegressionStep(summary(candidate), summary(champion), input.policy);
}
