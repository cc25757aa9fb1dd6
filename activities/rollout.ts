import type pg from 'pg';
import { buildReferenceProfile, type ReferenceProfile } from '../core/drift.js';
import { analyzeStep, type StepAnalysis } from '../core/policy.js';
import { regressionTrainingProfile } from '../core/regression-reference.js';
import { isRegression, type ModelDefinition, type Policy } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { durationMs } from '../core/inputs.js';
import {
  analyzeMeasured,
  routerName,
  TrafficRouter,
  type PrometheusMetrics,
} from '../core/rollout-adapters.js';
import { businessFailure } from './failures.js';
import { recordEvent } from './notifications.js';
import { servingReference } from './reference.js';
import { regressionLogAnalysis, regressionPrometheusAnalysis } from './regression-rollout.js';
import { measureArm, MetricsRefused, MetricsUnavailable, prometheusName } from './rollout-metrics.js';
import { applySplit, RouterRefused } from './traffic-router.js';

type RolloutDeps = { pool: pg.Pool };

/** The staged rollout's activities: moving traffic, analysing each step, and its three endings. */
export function createRolloutActivities(deps: RolloutDeps) {
  return { ...stepActivities(deps), ...endingActivities(deps) };
}

/** One step of the rollout: the traffic split and its analysis. */
function stepActivities({ pool }: RolloutDeps) {
  return {
    /**
     * Moves the split: in the gateway's table (one statement), or through the team's `http` router, which
     * must read the same split back. Returns when it took effect (the database clock), which is where
     * this step's traffic starts. A retry with the same weight moves nothing (the router gets the same
     * Idempotency-Key). A router that refuses, never answers or holds another split ends the rollout:
     * the champion is restored and the failure names the router and what differed.
     */
    async setTrafficWeight(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      weight: number;
      /** The policy's router and the step's number (absent in rollouts started before routers). */
      router?: TrafficRouter;
      step?: number;
    }): Promise<{ since: string }> {
      const router = input.router ?? { kind: 'gateway' };
      if (router.kind === 'http') {
        try {
          await applySplit(router, { ...input, step: input.step ?? 0 }, process.env);
        } catch (err) {
          if (!(err instanceof RouterRefused)) throw err;
          await restoreChampion(
            pool,
            { ...input, actor: 'remedy', evidence: { reason: err.message } },
            router,
          );
          throw businessFailure('TrafficRouterFailed', err.message, { router: routerName(router) });
        }
      } else {
        await db.setTraffic(pool, input.modelId, {
          championVersion: input.championVersion,
          candidateVersion: input.candidateVersion,
          candidateWeight: input.weight,
        });
      }
      await db.audit(pool, {
        key: `${input.cycleId}:traffic:${input.weight}`,
        cycleId: input.cycleId,
        modelId: input.modelId,
        actor: 'remedy',
        action: 'traffic.set',
        details: { candidateVersion: input.candidateVersion, weight: input.weight, router },
      });
      const since = await db.auditTime(pool, `${input.cycleId}:traffic:${input.weight}`);
      return { since: since!.toISOString() };
    },

    /**
     * Analysis of one step: the candidate's and the champion's requests served since the step began,
     * with their feedback. At 100% the champion serves nothing, so its arm is the whole rollout's.
     */
    async analyzeRolloutStep(input: {
      cycleId: string;
      modelId: string;
      stepIndex: number;
      attempt: number;
      weight: number;
      stepSince: string;
      rolloutSince: string;
      candidateVersion: number;
      championVersion: number;
      policy: Policy['rollout'];
      /** An analysis while the promoted candidate bakes: it never pauses, so no pause is announced. */
      bake?: boolean;
    }): Promise<StepAnalysis & { decidedAt: string }> {
      const metrics = input.policy.metrics;
      const analysis =
        metrics?.kind === 'prometheus'
          ? await prometheusAnalysis(pool, metrics, input)
          : await predictionLogAnalysis(pool, input);
      const decidedAt = await db.upsertRolloutStep(pool, {
        cycleId: input.cycleId,
        stepIndex: input.stepIndex,
        attempt: input.attempt,
        weight: input.weight,
        analysis,
      });
      // The workflow pauses for a person on an inconclusive step once the step's sample wait is over
      // (workflows/rollout.ts); the same test here tells the channels, once per step.
      if (
        !input.bake &&
        analysis.decision === 'inconclusive' &&
        decidedAt.getTime() - Date.parse(input.stepSince) >= durationMs(input.policy.sampleWait)
      )
        await recordEvent(pool, {
          eventKey: `${input.cycleId}:paused:${input.stepIndex}`,
          kind: 'paused',
          modelId: input.modelId,
          cycleId: input.cycleId,
          recipients: input.policy.approvers,
          message: `rollout of ${input.modelId} v${input.candidateVersion} paused at ${input.weight}%: ${analysis.reason}; resolve within ${input.policy.decisionTimeout} with "remedy resolve ${input.cycleId} continue|rollback --actor <name>"`,
          details: { weight: input.weight, stepIndex: input.stepIndex, reason: analysis.reason },
        });
      return { ...analysis, decidedAt: decidedAt.toISOString() };
    },
  };
}

/** How a candidate leaves the rollout: rolled back, rejected, or promoted. */
function endingActivities({ pool }: RolloutDeps) {
  return {
    /**
     * Traffic back to the champion (through the router the cycle's traffic last went through, which must
     * confirm it, or the activity is retried), aliases restored, the candidate marked rolled back.
     */
    async rollback(input: Restore): Promise<{ restoredAt: string }> {
      const router = TrafficRouter.safeParse(await db.lastTrafficRouter(pool, input.cycleId));
      return restoreChampion(pool, input, router.success ? router.data : { kind: 'gateway' }, {
        routerMustConfirm: true,
      });
    },

    /** A candidate that failed its gate: never served, alias removed, evidence kept. */
    async rejectCandidate(input: {
      cycleId: string;
      modelId: string;
      candidateVersion: number;
      evidence: unknown;
    }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await db.clearAlias(client, input.modelId, 'candidate');
        await db.setVersionStatus(client, input.modelId, input.candidateVersion, 'rejected', input.evidence);
        await db.audit(client, {
          key: `${input.cycleId}:rejected`,
          cycleId: input.cycleId,
          modelId: input.modelId,
          actor: 'remedy',
          action: 'candidate.rejected',
          details: input.evidence,
        });
      });
    },

    /**
     * The candidate becomes champion. Its drift reference is the production population it will serve
     * (activities/reference.ts): the previous reference's span combined with the cycle's window, or the
     * policy's `drift.referenceSpan`, with baseline metrics measured on labeled rows it was not trained
     * on. Only when no production rows are known does it fall back to the candidate's training rows.
     */
    async promote(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      actor: string;
      /** How a person's name was established (absent: Remedy acted itself). */
      verifiedBy?: string;
    }): Promise<{ promotedAt: string }> {
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw new Error(`model ${input.modelId} not found`);
      const already = await db.getReferenceProfile(pool, input.modelId, input.candidateVersion);
      const serving = already
        ? null
        : await servingReference(pool, {
            model,
            championVersion: input.championVersion,
            candidateVersion: input.candidateVersion,
          });
      // A retry finds the profile its first attempt stored: nothing is rebuilt.
      const profile = already
        ? null
        : (serving?.profile ?? (await trainingRowsProfile(pool, model, input.candidateVersion)));
      await withTransaction(pool, async (client) => {
        if (profile) await db.upsertReferenceProfile(client, input.modelId, input.candidateVersion, profile);
        if (serving)
          await db.mergeVersionMetrics(client, input.modelId, input.candidateVersion, {
            reference: serving.summary,
          });
        await db.setTraffic(client, input.modelId, {
          championVersion: input.candidateVersion,
          candidateVersion: null,
          candidateWeight: 0,
        });
        await db.setAlias(client, input.modelId, 'champion', input.candidateVersion);
        await db.clearAlias(client, input.modelId, 'candidate');
        if (input.championVersion !== input.candidateVersion) {
          await db.setVersionStatus(client, input.modelId, input.championVersion, 'retired');
        }
        await db.setVersionStatus(client, input.modelId, input.candidateVersion, 'champion');
        await db.audit(client, {
          key: `${input.cycleId}:promoted`,
          cycleId: input.cycleId,
          modelId: input.modelId,
          actor: input.actor,
          action: 'rollout.promoted',
          details: {
            from: input.championVersion,
            to: input.candidateVersion,
            ...(serving ? { reference: serving.summary } : {}),
            ...(input.verifiedBy ? { verifiedBy: input.verifiedBy } : {}),
          },
        });
      });
      // When the candidate took all traffic as champion (the database clock): a bake's window starts here.
      const at = await db.auditTime(pool, `${input.cycleId}:promoted`);
      return { promotedAt: at!.toISOString() };
    },
  };
}

interface Restore {
  cycleId: string;
  modelId: string;
  championVersion: number;
  candidateVersion: number;
  actor: string;
  /** How a person's name was established (absent: Remedy acted itself). */
  verifiedBy?: string;
  evidence: unknown;
}

/**
 * Gives production back to the champion: the team's router first (weight 0), then Remedy's records in one
 * transaction. When a router adapter just failed (`routerMustConfirm` off), the router is asked on a best
 * effort and its answer kept in the evidence; the rollback activity insists (a retry asks again).
 */
async function restoreChampion(
  pool: pg.Pool,
  input: Restore,
  router: TrafficRouter,
  o: { routerMustConfirm?: boolean } = {},
): Promise<{ restoredAt: string }> {
  if (router.kind === 'http') {
    try {
      await applySplit(router, { ...input, weight: 0, step: 0 }, process.env);
    } catch (err) {
      if (o.routerMustConfirm || !(err instanceof RouterRefused)) throw err;
      const evidence = (input.evidence ?? {}) as Record<string, unknown>;
      input = { ...input, evidence: { ...evidence, routerRestore: `not confirmed: ${err.message}` } };
    }
  }
  return withTransaction(pool, async (client) => {
    await db.setTraffic(client, input.modelId, {
      championVersion: input.championVersion,
      candidateVersion: null,
      candidateWeight: 0,
    });
    await db.setAlias(client, input.modelId, 'champion', input.championVersion);
    await db.clearAlias(client, input.modelId, 'candidate');
    // After a promotion (a breach while the candidate baked) the old champion was retired: it serves again.
    await db.setVersionStatus(client, input.modelId, input.championVersion, 'champion');
    await db.setVersionStatus(client, input.modelId, input.candidateVersion, 'rolled_back', input.evidence);
    await db.audit(client, {
      key: `${input.cycleId}:rollback`,
      cycleId: input.cycleId,
      modelId: input.modelId,
      actor: input.actor,
      action: 'rollout.rolled_back',
      details: {
        candidateVersion: input.candidateVersion,
        evidence: input.evidence,
        ...(input.verifiedBy ? { verifiedBy: input.verifiedBy } : {}),
      },
    });
    // The rollout's evidence: the breaching analysis (its reason), an approval refused, or an abort.
    const evidence = (input.evidence ?? {}) as { reason?: unknown; aborted?: unknown };
    const why = evidence.aborted === true ? 'the cycle was aborted' : evidence.reason;
    await recordEvent(client, {
      eventKey: `${input.cycleId}:rollback`,
      kind: 'rollback',
      modelId: input.modelId,
      cycleId: input.cycleId,
      message: `${input.modelId} rolled back to champion v${input.championVersion}: candidate v${input.candidateVersion} withdrawn by ${input.actor}${typeof why === 'string' ? ` (${why})` : ''}`,
      details: {
        championVersion: input.championVersion,
        candidateVersion: input.candidateVersion,
        actor: input.actor,
      },
    });
    const at = await db.auditTime(client, `${input.cycleId}:rollback`);
    return { restoredAt: at!.toISOString() };
  });
}

type StepInput = {
  cycleId: string;
  stepIndex: number;
  attempt: number;
  weight: number;
  modelId: string;
  stepSince: string;
  rolloutSince: string;
  candidateVersion: number;
  championVersion: number;
  policy: Policy['rollout'];
};

/**
 * The prediction log: the candidate's and the champion's requests served since the step began, with
 * their feedback. At 100% the champion serves nothing, so its arm is the whole rollout's. A regressor's
 * step compares the arms' absolute errors instead of their right answers.
 */
async function predictionLogAnalysis(pool: pg.Pool, input: StepInput): Promise<StepAnalysis> {
  const sample = await stepSample(pool, input);
  // A regressor's step compares errors, not right answers (activities/regression-rollout.ts).
  const model = await db.getModel(pool, input.modelId);
  if (model && isRegression(model)) return regressionLogAnalysis(pool, { ...input, sample });
  if (sample) return sampledAnalysis(pool, input, sample);
  const versions = [input.candidateVersion, input.championVersion];
  const step = await db.armStatsSince(pool, input.modelId, input.stepSince, versions);
  let champion = step.get(input.championVersion);
  if (!champion || champion.n < input.policy.minSamples) {
    champion = (await db.armStatsSince(pool, input.modelId, input.rolloutSince, [input.championVersion])).get(
      input.championVersion,
    );
  }
  const none = { served: 0, n: 0, correct: 0, meanConfidence: null, p95LatencyMs: null };
  return analyzeStep(step.get(input.candidateVersion) ?? none, champion ?? none, input.policy);
}

/**
 * rollout.stepSamples: the fixed sample this analysis judges, the step's first one, or the next after
 * each failed analysis of the step (a retried analysis counts the same failures: its own row is its own
 * attempt). Undefined when the policy judges every sample so far.
 */
async function stepSample(pool: pg.Pool, input: StepInput): Promise<db.ArmSample | undefined> {
  const n = input.policy.stepSamples;
  if (n === undefined) return undefined;
  const failed = await db.failedAnalysesBefore(pool, input.cycleId, input.stepIndex, input.attempt);
  return { offset: failed * n, limit: n };
}

/**
 * A classifier's step on a fixed sample per arm: the candidate's from the step, the champion's from the
 * step too unless the step is at 100% (it serves nothing), then from the rollout; inconclusive until
 * both arms have the whole sample.
 */
async function sampledAnalysis(pool: pg.Pool, input: StepInput, sample: db.ArmSample): Promise<StepAnalysis> {
  const { modelId, candidateVersion: cand, championVersion: champ } = input;
  const championSince = input.weight === 100 ? input.rolloutSince : input.stepSince;
  const [candidateArm, championArm] = await Promise.all([
    db.armStatsSince(pool, modelId, input.stepSince, [cand], sample),
    db.armStatsSince(pool, modelId, championSince, [champ], sample),
  ]);
  const candidate = candidateArm.get(cand);
  const champion = championArm.get(champ);
  const none = { served: 0, n: 0, correct: 0, meanConfidence: null, p95LatencyMs: null };
  return analyzeStep(candidate ?? none, champion ?? none, { ...input.policy, minSamples: sample.limit });
}

/**
 * Prometheus: each version's requests, errors and p95 latency since the step began (the champion's since
 * the rollout began when the step has too few), judged by the same analyzeStep. Prometheus down: the step
 * is inconclusive and waits; a query it refuses ends the rollout with the champion restored.
 */
async function prometheusAnalysis(
  pool: pg.Pool,
  m: PrometheusMetrics,
  input: StepInput & { cycleId: string },
): Promise<StepAnalysis> {
  const endMs = Date.now();
  const arm = (version: number, since: string) =>
    measureArm(m, { model: input.modelId, version, startMs: Date.parse(since), endMs });
  try {
    // A regressor's step is judged on its errors' sums (activities/regression-rollout.ts).
    const model = await db.getModel(pool, input.modelId);
    if (model && isRegression(model)) return await regressionPrometheusAnalysis(m, input);
    const candidate = await arm(input.candidateVersion, input.stepSince);
    let champion = await arm(input.championVersion, input.stepSince);
    if ((champion.requests ?? 0) < input.policy.minSamples)
      champion = await arm(input.championVersion, input.rolloutSince);
    return analyzeMeasured(candidate, champion, input.policy, prometheusName(m));
  } catch (err) {
    if (err instanceof MetricsUnavailable) {
      const none = { requests: null, errors: null, latencyP95Ms: null };
      const waiting = analyzeMeasured(none, none, input.policy, prometheusName(m));
      return { ...waiting, reason: `${err.message}: the step waits as for too few samples` };
    }
    if (!(err instanceof MetricsRefused)) throw err;
    const router = TrafficRouter.safeParse(await db.lastTrafficRouter(pool, input.cycleId));
    await restoreChampion(
      pool,
      { ...input, actor: 'remedy', evidence: { reason: err.message } },
      router.success ? router.data : { kind: 'gateway' },
    );
    throw businessFailure('RolloutMetricsFailed', err.message, { metrics: prometheusName(m) });
  }
}

/** The reference of old: the candidate's labeled training rows (when no production rows are known). */
async function trainingRowsProfile(
  pool: pg.Pool,
  model: ModelDefinition,
  candidateVersion: number,
): Promise<ReferenceProfile | null> {
  const candidate = await db.getModelVersion(pool, model.modelId, candidateVersion);
  const rows = candidate.datasetId === null ? [] : await db.getDatasetRows(pool, candidate.datasetId);
  const train = rows.filter((r) => r.split === 'train' && r.label !== null);
  if (train.length === 0) return null;
  if (isRegression(model)) return regressionTrainingProfile(model, train, candidate.metrics.holdoutErrors);
  const holdout = candidate.metrics.holdout as
    { candidate?: { accuracy?: number; macroF1?: number; logLoss?: number } } | undefined;
  const measured = holdout?.candidate ?? {};
  return buildReferenceProfile(
    model.features,
    train.map((r) => r.features),
    train.map((r) => r.label!),
    {
      accuracy: measured.accuracy ?? Number(candidate.metrics.trainAccuracy ?? 0),
      ...(measured.macroF1 !== undefined ? { macroF1: measured.macroF1 } : {}),
      ...(measured.logLoss !== undefined ? { logLoss: measured.logLoss } : {}),
    },
  );
}
