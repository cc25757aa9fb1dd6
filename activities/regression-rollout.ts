/**
 * A regressor's rollout step on Remedy's prediction log: the candidate's and the champion's predicted
 * values against the feedback that arrived for them, judged by core/regression-rollout.ts (Welch's t-test
 * on the absolute errors). As for classifiers, the candidate's arm is the step's traffic, and the
 * champion's is the step's too unless it has fewer than minSamples rows with feedback (at 100% it serves
 * nothing), in which case it is the whole rollout's.
 */
import type pg from 'pg';
import { analyzeRegressionStep, type RegressionStepAnalysis } from '../core/regression-rollout.js';
import type { Policy } from '../core/schemas.js';
import * as db from '../db/index.js';

export interface RegressionStepInput {
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
