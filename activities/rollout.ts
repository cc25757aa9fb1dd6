import type pg from 'pg';
import { buildReferenceProfile } from '../core/drift.js';
import { analyzeStep, type StepAnalysis } from '../core/policy.js';
import type { Policy } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/queries.js';
import { serveRecords, type ServeResult } from './gateway.js';

export function createRolloutActivities({ pool }: { pool: pg.Pool }) {
  return {
    /** Moves the split in one statement; repeating it with the same weight changes nothing. */
    async setTrafficWeight(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      weight: number;
    }): Promise<void> {
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
    },

    /** Serves the next `limit` production requests after the cursor through the gateway. */
    async serveTraffic(input: {
      modelId: string;
      batchKey: string;
      cursor: { ts: string; recordKey: string };
      limit: number;
    }): Promise<ServeResult> {
      const records = await db.recordsAfter(pool, input.modelId, input.cursor, input.limit);
      const result = await serveRecords(pool, input.modelId, input.batchKey, records);
      const last = records[records.length - 1];
      return {
        ...result,
        cursor: last ? { ts: last.ts.toISOString(), recordKey: last.recordKey } : input.cursor,
      };
    },

    /** Analysis over all the rollout's batches so far, recorded once per step. */
    async analyzeRolloutStep(input: {
      cycleId: string;
      modelId: string;
      stepIndex: number;
      weight: number;
      batchKeys: string[];
      candidateVersion: number;
      championVersion: number;
      policy: Policy['rollout'];
    }): Promise<StepAnalysis> {
      const counts = await db.armCounts(pool, input.modelId, input.batchKeys);
      const zero = { n: 0, correct: 0 };
      const analysis = analyzeStep(
        counts.get(input.candidateVersion) ?? zero,
        counts.get(input.championVersion) ?? zero,
        input.policy,
      );
      await pool.query(
        `INSERT INTO rollout_steps (cycle_id, step_index, weight, analysis, decision) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (cycle_id, step_index) DO UPDATE SET analysis = EXCLUDED.analysis, decision = EXCLUDED.decision`,
        [input.cycleId, input.stepIndex, input.weight, JSON.stringify(analysis), analysis.decision],
      );
      return analysis;
    },

    /** Traffic back to the champion, aliases restored, the candidate marked rolled back with the evidence. */
    async rollback(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      actor: string;
      evidence: unknown;
    }): Promise<void> {
      await withTransaction(pool, async (client) => {
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

    /** The candidate becomes champion; its training data becomes the drift reference. */
    async promote(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      candidateVersion: number;
      actor: string;
    }): Promise<void> {
      const candidate = await db.getModelVersion(pool, input.modelId, input.candidateVersion);
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw new Error(`model ${input.modelId} not found`);
      const rows = candidate.datasetId === null ? [] : await db.getDatasetRows(pool, candidate.datasetId);
      const train = rows.filter((r) => r.split === 'train' && r.label !== null);
      const holdout = candidate.metrics.holdout as { candidate?: { accuracy?: number } } | undefined;
      const profile =
        train.length > 0
          ? buildReferenceProfile(
              model.features,
              train.map((r) => r.features),
              train.map((r) => r.label!),
              holdout?.candidate?.accuracy ?? Number(candidate.metrics.trainAccuracy ?? 0),
            )
          : null;
      await withTransaction(pool, async (client) => {
        if (profile) await db.upsertReferenceProfile(client, input.modelId, input.candidateVersion, profile);
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
          details: { from: input.championVersion, to: input.candidateVersion },
        });
      });
    },
  };
}
