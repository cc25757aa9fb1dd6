import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Context, log } from '@temporalio/activity';
import type pg from 'pg';
import {
  evaluate,
  evaluateBySlice,
  evaluationGates,
  type GateResult,
  type ModelMetrics,
  type Scored,
} from '../core/evaluation.js';
import { modelCardHtml } from '../core/model-card-html.js';
import { modelCardMarkdown } from '../core/model-card.js';
import { canonicalJson, predict, type ModelArtifact, type Prediction } from '../core/model.js';
import { blobsIn, scorerFor } from '../scoring/index.js';
import { accuracy } from '../core/metrics.js';
import { trafficBucket } from '../core/policy.js';
import type { Policy } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import type { Tree } from '../core/forest.js';
import type { TrainingState } from '../core/model.js';
import { announceApprovalWait } from './cycle-events.js';
import { runTrainer, type Checkpoint, type ForestSearch, type TrainingRow } from './trainers.js';

export const CODE_VERSION = 'remedy-trainers-2';

export interface TrainResult {
  version: number;
  trainer: string;
  trainRows: number;
  historyRows: number;
  resumedFrom: number;
  trainAccuracy: number;
  artifactSha256: string;
  configHash: string;
  details: Record<string, unknown>;
}

/**
 * Retraining scope from the diagnosis: a mild drift refits on the cycle's labeled data alone; a severe
 * one adds a share of the champion's reference data (chosen by key, so the same share every time),
 * and the drifted window's rows weigh more than history.
 */
export async function trainingRows(
  pool: pg.Pool,
  input: {
    datasetId: number;
    modelId: string;
    championVersion: number;
    severity: 'mild' | 'severe';
    config: Policy['training'];
  },
): Promise<{ rows: TrainingRow[]; historyRows: number }> {
  const recent = (await db.getDatasetRows(pool, input.datasetId))
    .filter((r) => r.split === 'train' && r.label !== null)
    .map((r) => ({ features: r.features, label: r.label!, weight: input.config.driftedWeight }));
  if (input.severity === 'mild' || input.config.historyShare === 0) {
    return { rows: recent.map((r) => ({ ...r, weight: 1 })), historyRows: 0 };
  }
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  const history =
    champion.datasetId === null
      ? []
      : (await db.getDatasetRows(pool, champion.datasetId))
          .filter(
            (r) =>
              r.split === 'train' &&
              r.label !== null &&
              trafficBucket(`history:${r.recordKey}`) < input.config.historyShare * 100,
          )
          .map((r) => ({ features: r.features, label: r.label!, weight: 1 }));
  return { rows: [...recent, ...history], historyRows: history.length };
}

/** What a training attempt heartbeats. */
type Progress =
  | { configHash: string; kind: 'forest'; trees: number; searched: ForestSearch }
  | { configHash: string; kind: 'softmax'; state: TrainingState };

async function saveTrees(pool: pg.Pool, key: string, from: number, trees: readonly Tree[]): Promise<void> {
  if (from >= trees.length) return;
  const fresh = trees.slice(from);
  await db.insertCheckpointTrees(pool, key, from, fresh);
}

async function loadCheckpoint(
  pool: pg.Pool,
  key: string,
  progress: Progress,
): Promise<Checkpoint | undefined> {
  if (progress.kind === 'softmax') return { kind: 'softmax', state: progress.state };
  const trees = await db.checkpointTrees(pool, key, progress.trees);
  // A gap (rows lost) means starting over: a forest must not silently miss trees.
  return trees.length === progress.trees ? { kind: 'forest', trees, searched: progress.searched } : undefined;
}

/**
 * Registers a cycle's trained candidate with what the training activity returns stored beside it, so a
 * retry after a lost completion returns the same. One transaction: a crash between the insert and the
 * stored result would leave a row whose result says version null, which a retry would return.
 */
export function registerCandidate(
  pool: pg.Pool,
  c: {
    modelId: string;
    cycleId: string;
    datasetId: number;
    configHash: string;
    codeVersion: string;
    artifactJson: string;
    artifactSha256: string;
    metrics: Record<string, unknown>;
    result: (version: number) => TrainResult;
  },
): Promise<TrainResult> {
  return withTransaction(pool, async (client) => {
    const version = await db.insertModelVersion(client, {
      modelId: c.modelId,
      idempotencyKey: `${c.cycleId}:candidate`,
      status: 'candidate',
      datasetId: c.datasetId,
      cycleId: c.cycleId,
      configHash: c.configHash,
      codeVersion: c.codeVersion,
      artifact: c.artifactJson,
      artifactSha256: c.artifactSha256,
      metrics: { ...c.metrics, result: { ...c.result(0), version: null } },
    });
    await db.mergeVersionMetrics(client, c.modelId, version, { result: c.result(version) });
    await db.setAlias(client, c.modelId, 'candidate', version);
    return c.result(version);
  });
}

export function createTrainingActivities({ pool }: { pool: pg.Pool }) {
  return {
    /**
     * Trains a candidate on a pinned dataset version. Heartbeats its progress (epochs or trees); a
     * retry after a worker crash resumes from the last heartbeat instead of from zero, and a
     * cancellation stops it before anything is registered.
     */
    async trainCandidate(input: {
      cycleId: string;
      modelId: string;
      datasetId: number;
      championVersion: number;
      severity: 'mild' | 'severe';
      config: Policy['training'];
    }): Promise<TrainResult> {
      const ctx = Context.current();
      // Re-send the previous attempt's progress at once: loading data takes a while, and an empty
      // heartbeat would erase what a retry of this attempt needs.
      if (ctx.info.heartbeatDetails !== undefined) ctx.heartbeat(ctx.info.heartbeatDetails);
      // An earlier attempt that the server gave up on may still have finished and registered the
      // candidate; its result stands.
      const done = await db.getVersionByKey(pool, `${input.cycleId}:candidate`);
      if (done) return done.metrics.result as TrainResult;
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw new Error(`model ${input.modelId} not found`);
      const { rows, historyRows } = await trainingRows(pool, input);
      const configHash = createHash('sha256')
        .update(
          canonicalJson({
            config: input.config,
            features: model.features,
            datasetId: input.datasetId,
            severity: input.severity,
            code: CODE_VERSION,
          }),
        )
        .digest('hex');
      // Forest trees live in Postgres (a forest outgrows a heartbeat); the heartbeat says how many.
      const checkpointKey = `${input.cycleId}:${configHash}`;
      const previous = ctx.info.heartbeatDetails as Progress | undefined;
      const checkpoint =
        previous?.configHash === configHash ? await loadCheckpoint(pool, checkpointKey, previous) : undefined;
      if (previous && !checkpoint) {
        log.warn('heartbeat details not usable: training starts over', {
          sameConfig: previous.configHash === configHash,
          kind: previous.kind,
        });
      }
      let storedTrees = checkpoint?.kind === 'forest' ? checkpoint.trees.length : 0;
      const out = await runTrainer(model.features, model.labelSet, rows, input.config, {
        checkpoint,
        save: async (c) => {
          if (c.kind === 'forest') {
            await saveTrees(pool, checkpointKey, storedTrees, c.trees);
            storedTrees = c.trees.length;
            ctx.heartbeat({
              configHash,
              kind: 'forest',
              trees: c.trees.length,
              searched: c.searched,
            } satisfies Progress);
          } else {
            ctx.heartbeat({ configHash, kind: 'softmax', state: c.state } satisfies Progress);
          }
        },
        heartbeat: () => ctx.heartbeat(),
        cancelled: () => ctx.cancellationSignal.aborted,
        signal: ctx.cancellationSignal,
      });
      if (out.resumedFrom > 0)
        log.info('training resumed from heartbeat', { resumedFrom: out.resumedFrom, trainer: out.trainer });

      const artifactJson = canonicalJson(out.artifact);
      const artifactSha256 = createHash('sha256').update(artifactJson).digest('hex');
      const trainAccuracy = accuracy(
        rows.map((r) => r.label),
        rows.map((r) => predict(out.artifact, r.features).label),
      );
      const result = (version: number): TrainResult => ({
        version,
        trainer: out.trainer,
        trainRows: rows.length,
        historyRows,
        resumedFrom: out.resumedFrom,
        trainAccuracy,
        artifactSha256,
        configHash,
        details: out.details,
      });
      return registerCandidate(pool, {
        modelId: input.modelId,
        cycleId: input.cycleId,
        datasetId: input.datasetId,
        configHash,
        codeVersion: CODE_VERSION,
        artifactJson,
        artifactSha256,
        metrics: {
          trainer: out.trainer,
          config: input.config,
          trainAccuracy,
          trainRows: rows.length,
          historyRows,
          resumedFrom: out.resumedFrom,
          ...out.details,
        },
        result,
      });
    },
  };
}

export interface EvaluationResult {
  holdoutRows: number;
  candidate: Omit<ModelMetrics, 'calibration'>;
  champion: Omit<ModelMetrics, 'calibration'>;
  slices: Record<string, { candidate: number; champion: number; rows: number }>;
  go: boolean;
  gates: GateResult[];
  reason: string;
}

/** Evaluation is cheap scoring, so it runs on the main queue; only training has its own. */
export function createEvaluationActivities({ pool }: { pool: pg.Pool }) {
  return {
    /**
     * Candidate vs champion on the dataset's holdout split (rows from the drifted window): metrics,
     * calibration, per-slice accuracy and latency; the policy's gates decide; a model card records it.
     */
    async evaluateCandidate(input: {
      cycleId: string;
      modelId: string;
      datasetId: number;
      candidateVersion: number;
      championVersion: number;
      policy: Policy['evaluation'];
      driftReportId: number | null;
      campaignId: string | null;
    }): Promise<EvaluationResult> {
      const rows = (await db.getDatasetRows(pool, input.datasetId)).filter(
        (r) => r.split === 'holdout' && r.label !== null,
      );
      if (rows.length === 0) throw new Error(`dataset ${input.datasetId} has no labeled holdout rows`);
      const candidateRow = await db.getModelVersion(pool, input.modelId, input.candidateVersion);
      const championRow = await db.getModelVersion(pool, input.modelId, input.championVersion);
      // One row per call, as the gateway serves: the latency gate compares like with like.
      const score = async (artifact: ModelArtifact): Promise<Scored[]> => {
        const scorer = await scorerFor(artifact, blobsIn(pool));
        const scored: Scored[] = [];
        for (const r of rows) {
          const t0 = performance.now();
          const [p] = (await scorer.score([r.features])) as [Prediction];
          const latencyUs = (performance.now() - t0) * 1000;
          const slice =
            input.policy.sliceBy === undefined ? undefined : String(r.features[input.policy.sliceBy]);
          scored.push({
            truth: r.label!,
            probabilities: p.probabilities,
            latencyUs,
            ...(slice === undefined ? {} : { slice }),
          });
        }
        return scored;
      };
      const measure = async (artifact: ModelArtifact) => {
        const scored = await score(artifact);
        return {
          overall: evaluate(scored),
          slices: input.policy.sliceBy === undefined ? {} : evaluateBySlice(scored),
        };
      };
      const candidate = await measure(candidateRow.artifact);
      const champion = await measure(championRow.artifact);
      const decision = evaluationGates(candidate, champion, input.policy);

      const dataset = await db.getDatasetVersion(pool, input.datasetId);
      const { collected } = await db.lineage(pool, input.modelId, input.candidateVersion);
      const allRows = await db.getDatasetRows(pool, input.datasetId);
      const labelSources: Record<string, number> = {};
      for (const r of allRows)
        labelSources[r.labelSource ?? 'none'] = (labelSources[r.labelSource ?? 'none'] ?? 0) + 1;
      const card = {
        modelId: input.modelId,
        candidateVersion: input.candidateVersion,
        championVersion: input.championVersion,
        cycleId: input.cycleId,
        createdAt: new Date().toISOString(),
        trainer: {
          name: typeof candidateRow.metrics.trainer === 'string' ? candidateRow.metrics.trainer : 'unknown',
          config: (candidateRow.metrics.config as Record<string, unknown> | undefined) ?? {},
          configHash: candidateRow.configHash,
          codeVersion: CODE_VERSION,
          artifactSha256: candidateRow.artifactSha256,
          ...(candidateRow.artifact.kind === 'onnx'
            ? {
                artifact: {
                  kind: 'ONNX',
                  producer: candidateRow.artifact.source.producer,
                  converterGap: candidateRow.artifact.source.converterGap,
                },
              }
            : {}),
        },
        data: {
          datasetId: input.datasetId,
          contentHash: dataset.contentHash,
          trainRows: allRows.length - rows.length,
          holdoutRows: rows.length,
          labelSources,
          window:
            collected?.windowStart && collected.windowEnd
              ? { start: collected.windowStart.toISOString(), end: collected.windowEnd.toISOString() }
              : null,
          parentDatasetId: dataset.parentId,
        },
        candidate,
        champion,
        gates: decision,
        lineage: { driftReportId: input.driftReportId, campaignId: input.campaignId },
      };
      await db.upsertModelCard(pool, {
        modelId: input.modelId,
        version: input.candidateVersion,
        cycleId: input.cycleId,
        go: decision.go,
        markdown: modelCardMarkdown(card),
        html: modelCardHtml(card),
        input: card,
      });
      const strip = ({ calibration: _c, ...m }: ModelMetrics) => m;
      await db.mergeVersionMetrics(pool, input.modelId, input.candidateVersion, {
        holdout: {
          rows: rows.length,
          datasetId: input.datasetId,
          candidate: strip(candidate.overall),
          champion: strip(champion.overall),
        },
        gates: decision,
      });
      if (decision.go) await announceApprovalWait(pool, input);
      const slices: EvaluationResult['slices'] = {};
      for (const [name, m] of Object.entries(candidate.slices)) {
        slices[name] = {
          candidate: m.accuracy,
          champion: champion.slices[name]?.accuracy ?? NaN,
          rows: m.rows,
        };
      }
      return {
        holdoutRows: rows.length,
        candidate: strip(candidate.overall),
        champion: strip(champion.overall),
        slices,
        go: decision.go,
        gates: decision.gates,
        reason: decision.reason,
      };
    },
  };
}
