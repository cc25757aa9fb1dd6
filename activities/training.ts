import { createHash } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import type pg from 'pg';
import { accuracy, logLoss } from '../core/metrics.js';
import { canonicalJson, encode, fitEncoder, initialState, predict, trainEpochs } from '../core/model.js';
import type { ModelArtifact, TrainingState } from '../core/model.js';
import type { Policy } from '../core/schemas.js';
import * as db from '../db/queries.js';

export const CODE_VERSION = 'remedy-softmax-1';

export interface TrainResult {
  version: number;
  epochs: number;
  resumedFromEpoch: number;
  trainRows: number;
  trainAccuracy: number;
  artifactSha256: string;
  configHash: string;
}

export function createTrainingActivities({ pool }: { pool: pg.Pool }) {
  return {
    /**
     * Trains a candidate on the train split of a pinned dataset version. Heartbeats a checkpoint every
     * few epochs; a retry after a worker crash resumes from the last heartbeat instead of epoch 0.
     */
    async trainCandidate(input: {
      cycleId: string;
      modelId: string;
      datasetId: number;
      config: Policy['training'];
    }): Promise<TrainResult> {
      const ctx = Context.current();
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw new Error(`model ${input.modelId} not found`);
      const rows = (await db.getDatasetRows(pool, input.datasetId)).filter(
        (r) => r.split === 'train' && r.label !== null,
      );
      const features = rows.map((r) => r.features);
      const encoder = fitEncoder(model.features, features);
      const classes = [...new Set(rows.map((r) => r.label!))].sort();
      const x = features.map((f) => encode(encoder, f));
      const y = rows.map((r) => classes.indexOf(r.label!));
      const configHash = createHash('sha256')
        .update(canonicalJson({ ...input.config, features: model.features, datasetId: input.datasetId }))
        .digest('hex');

      const resumed = ctx.info.heartbeatDetails as (TrainingState & { configHash: string }) | undefined;
      const start =
        resumed && resumed.configHash === configHash
          ? resumed
          : initialState(classes.length, x[0]?.length ?? 0);
      if (start.epoch > 0) log.info('resuming training from heartbeat', { epoch: start.epoch });
      const state = trainEpochs(
        x,
        y,
        classes.length,
        input.config,
        start,
        input.config.checkpointEvery,
        (checkpoint) => {
          ctx.heartbeat({ ...checkpoint, configHash });
        },
      );
      // Let a cancellation that arrived with the last heartbeat stop us before we register anything.
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;

      const artifact: ModelArtifact = {
        kind: 'softmax-regression',
        classes,
        encoder,
        weights: state.weights,
        bias: state.bias,
      };
      const artifactJson = canonicalJson(artifact);
      const artifactSha256 = createHash('sha256').update(artifactJson).digest('hex');
      const trainAccuracy = accuracy(
        rows.map((r) => r.label!),
        features.map((f) => predict(artifact, f).label),
      );
      const version = await db.insertModelVersion(pool, {
        modelId: input.modelId,
        idempotencyKey: `${input.cycleId}:candidate`,
        status: 'candidate',
        datasetId: input.datasetId,
        cycleId: input.cycleId,
        configHash,
        codeVersion: CODE_VERSION,
        artifact: artifactJson,
        artifactSha256,
        metrics: { trainAccuracy, trainRows: rows.length, resumedFromEpoch: start.epoch },
      });
      await db.setAlias(pool, input.modelId, 'candidate', version);
      return {
        version,
        epochs: state.epoch,
        resumedFromEpoch: start.epoch,
        trainRows: rows.length,
        trainAccuracy,
        artifactSha256,
        configHash,
      };
    },
  };
}

/** Evaluation is cheap scoring, so it runs on the main queue; only training has its own. */
export function createEvaluationActivities({ pool }: { pool: pg.Pool }) {
  return {
    /** Candidate vs champion on the dataset's holdout split (rows from the drifted window). */
    async evaluateCandidate(input: {
      modelId: string;
      datasetId: number;
      candidateVersion: number;
      championVersion: number;
    }): Promise<{
      holdoutRows: number;
      candidate: { accuracy: number; logLoss: number };
      champion: { accuracy: number; logLoss: number };
    }> {
      const rows = (await db.getDatasetRows(pool, input.datasetId)).filter(
        (r) => r.split === 'holdout' && r.label !== null,
      );
      if (rows.length === 0) throw new Error(`dataset ${input.datasetId} has no labeled holdout rows`);
      const truth = rows.map((r) => r.label!);
      const score = (artifact: ModelArtifact) => {
        const preds = rows.map((r) => predict(artifact, r.features));
        return {
          accuracy: accuracy(
            truth,
            preds.map((p) => p.label),
          ),
          logLoss: logLoss(
            truth,
            preds.map((p) => p.probabilities),
          ),
        };
      };
      const candidate = score(
        (await db.getModelVersion(pool, input.modelId, input.candidateVersion)).artifact,
      );
      const champion = score((await db.getModelVersion(pool, input.modelId, input.championVersion)).artifact);
      await db.mergeVersionMetrics(pool, input.modelId, input.candidateVersion, {
        holdout: { rows: rows.length, datasetId: input.datasetId, candidate, champion },
      });
      return { holdoutRows: rows.length, candidate, champion };
    },
  };
}
