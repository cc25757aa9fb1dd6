import type pg from 'pg';
import { buildReferenceProfile, type ReferenceProfile } from '../core/drift.js';
import { analyzeStep, type StepAnalysis } from '../core/policy.js';
import type { ModelDefinition, Policy } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { durationMs } from '../core/inputs.js';
import { recordEvent } from './notifications.js';
import { servingReference } from './reference.js';

type RolloutDeps = { pool: pg.Pool };

/** The staged rollout's activities: moving traffic, analysing each step, and its three endings. */
export function createRolloutActivities(deps: RolloutDeps) {
  return { ...stepActivities(deps), ...endingActivities(deps) };
}

/** One step of the rollout: the traffic split and its analysis. */
function stepActivities({ pool }: RolloutDeps) {
  return {
    /**
     * Moves the split in one statement. Returns when it took effect (the database clock), which is
     * where this step's traffic starts. A retry with the same weight moves nothing.
     */
    async setTrafficWeight(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      weight: number;
    }): Promise<{ since: string }> {
      await db.setTraffic(pool, input.modelId, {
        championVersion: input.championVersion,
        candidateVersion: input.candidateVersion,
        candidateWeight: input.weight,
      });
      await db.audit(pool, {
        key: `${input.cycleId}:traffic:${input.weight}`,
        cycleId: input.cycleId,
        modelId: input.modelId,
        actor: 'remedy',
        action: 'traffic.set',
        details: { candidateVersion: input.candidateVersion, weight: input.weight },
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
    }): Promise<StepAnalysis & { decidedAt: string }> {
      const versions = [input.candidateVersion, input.championVersion];
      const step = await db.armStatsSince(pool, input.modelId, input.stepSince, versions);
      let champion = step.get(input.championVersion);
      if (!champion || champion.n < input.policy.minSamples) {
        champion = (
          await db.armStatsSince(pool, input.modelId, input.rolloutSince, [input.championVersion])
        ).get(input.championVersion);
      }
      const none = { served: 0, n: 0, correct: 0, meanConfidence: null, p95LatencyMs: null };
      const analysis = analyzeStep(step.get(input.candidateVersion) ?? none, champion ?? none, input.policy);
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
    /** Traffic back to the champion, aliases restored, the candidate marked rolled back with the evidence. */
    async rollback(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      actor: string;
      evidence: unknown;
    }): Promise<{ restoredAt: string }> {
      return withTransaction(pool, async (client) => {
        await db.setTraffic(client, input.modelId, {
          championVersion: input.championVersion,
          candidateVersion: null,
          candidateWeight: 0,
        });
        await db.setAlias(client, input.modelId, 'champion', input.championVersion);
        await db.clearAlias(client, input.modelId, 'candidate');
        await db.setVersionStatus(
          client,
          input.modelId,
          input.candidateVersion,
          'rolled_back',
          input.evidence,
        );
        await db.audit(client, {
          key: `${input.cycleId}:rollback`,
          cycleId: input.cycleId,
          modelId: input.modelId,
          actor: input.actor,
          action: 'rollout.rolled_back',
          details: { candidateVersion: input.candidateVersion, evidence: input.evidence },
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
    }): Promise<void> {
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
          },
        });
      });
    },
  };
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
