import { createHash } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import type pg from 'pg';
import { canonicalJson, predict } from '../core/model.js';
import { accuracy } from '../core/metrics.js';
import { LABEL_SHIFT_PSI, trafficBucket } from '../core/policy.js';
import type { RegressionErrors } from '../core/regression-metrics.js';
import { durationMs, isRegression, type ModelDefinition, type Policy } from '../core/schemas.js';
import { scopeTrainingRows, type TrainingSetSummary } from '../core/training-scope.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import type { Tree } from '../core/forest.js';
import type { TrainingState } from '../core/model.js';
import { considerRecalibration, type RecalibratedCandidate } from './recalibration.js';
import { requireBuiltInRegressionTrainer, trainRegressionCandidate } from './regression-training.js';
import { runTrainer, type Checkpoint, type ForestSearch, type TrainingRow } from './trainers.js';

export const CODE_VERSION = 'remedy-trainers-3';

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
  /** Which rows it learned from and what each weighed; results from before it was recorded lack it. */
  trainingSet?: TrainingSetSummary;
  /** A regression candidate's errors on its own training rows (its trainAccuracy is NaN: it has no classes). */
  trainErrors?: RegressionErrors;
}

/**
 * Retraining scope from the diagnosis (core/training-scope.ts decides the weights): a mild drift trains on
 * all of the champion's training rows, weighted by recency, plus the window's labels; a severe one on the
 * window plus a share of the champion's rows (chosen by key, so the same share every time).
 */
export async function trainingRows(
  pool: pg.Pool,
  input: {
    cycleId: string;
    datasetId: number;
    modelId: string;
    championVersion: number;
    severity: 'mild' | 'severe';
    config: Policy['training'];
    /** A regression model's labels are numbers: the label-shift rule (classes) does not apply. */
    regression?: boolean;
  },
): Promise<{ rows: TrainingRow[]; historyRows: number; trainingSet: TrainingSetSummary }> {
  const labeledTrain = (rows: Awaited<ReturnType<typeof db.getDatasetRows>>) =>
    rows
      .filter((r) => r.split === 'train' && r.label !== null)
      .map((r) => ({ recordKey: r.recordKey, features: r.features, label: r.label!, ts: new Date(r.ts) }));
  const window = labeledTrain(await db.getDatasetRows(pool, input.datasetId));
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  // A severe drift whose labels shifted (the cycle's drift report: label PSI at or over LABEL_SHIFT_PSI)
  // leaves the champion's rows out: they carry the labels' old mix or meaning, which the window's
  // labels replace (bench:efficacy on the weather: 71.3 % prequential accuracy with them out, 62.9 % in).
  const shifted =
    input.severity === 'severe' && input.regression !== true ? await labelShiftOf(pool, input.cycleId) : null;
  const share = input.severity === 'mild' ? 1 : shifted !== null ? 0 : input.config.historyShare;
  const history =
    champion.datasetId === null || share === 0
      ? []
      : labeledTrain(await db.getDatasetRows(pool, champion.datasetId)).filter(
          (r) => share === 1 || trafficBucket(`history:${r.recordKey}`) < share * 100,
        );
  const { rows, summary } = scopeTrainingRows({
    severity: input.severity,
    window,
    history,
    driftedWeight: input.config.driftedWeight,
    halfLife: { ms: durationMs(input.config.recencyHalfLife), text: input.config.recencyHalfLife },
  });
  const trainingSet =
    shifted !== null && input.config.historyShare > 0
      ? {
          ...summary,
          withoutHistory: `the labels shifted: label PSI ${shifted.toFixed(2)} ≥ ${LABEL_SHIFT_PSI}`,
        }
      : summary;
  return { rows, historyRows: summary.referenceRows, trainingSet };
}

/** The label PSI of the cycle's drift check when it shows a label shift; null otherwise (or no report). */
async function labelShiftOf(pool: pg.Pool, cycleId: string): Promise<number | null> {
  const reports = await db.cycleDriftReports(pool, cycleId);
  const psi = reports
    .map((r) => (r.report as { labelShiftPsi?: number | null }).labelShiftPsi ?? null)
    .filter((p): p is number => p !== null && p >= LABEL_SHIFT_PSI);
  return psi.length > 0 ? Math.max(...psi) : null;
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

/** The recalibrated champion as the cycle's candidate, registered as a trained one is. */
function registerRecalibrated(
  pool: pg.Pool,
  input: { cycleId: string; modelId: string; datasetId: number; config: Policy['training'] },
  c: RecalibratedCandidate,
): Promise<TrainResult> {
  const result = (version: number): TrainResult => ({
    version,
    trainer: 'recalibration',
    trainRows: c.trainRows,
    historyRows: 0,
    resumedFrom: 0,
    trainAccuracy: c.trainAccuracy,
    artifactSha256: c.artifactSha256,
    configHash: c.configHash,
    details: c.details,
  });
  return registerCandidate(pool, {
    modelId: input.modelId,
    cycleId: input.cycleId,
    datasetId: input.datasetId,
    configHash: c.configHash,
    codeVersion: CODE_VERSION,
    artifactJson: c.artifactJson,
    artifactSha256: c.artifactSha256,
    metrics: {
      trainer: 'recalibration',
      config: { recalibration: input.config.recalibration },
      trainAccuracy: c.trainAccuracy,
      trainRows: c.trainRows,
      historyRows: 0,
      ...c.details,
    },
    result,
  });
}

/** A regression model's candidate: the forest regressor on the numeric labels, registered as classes are. */
async function retrainRegressor(
  pool: pg.Pool,
  model: ModelDefinition,
  input: TrainInput,
  remedy: string,
): Promise<TrainResult> {
  requireBuiltInRegressionTrainer(input.modelId, input.config);
  const { rows, historyRows, trainingSet } = await trainingRows(pool, { ...input, regression: true });
  const out = await trainRegressionCandidate(pool, model, { ...input, rows }, CODE_VERSION);
  if (out.resumedFrom > 0) log.info('training resumed from heartbeat', { resumedFrom: out.resumedFrom });
  const trainer = 'forest-regressor';
  const result = (version: number): TrainResult => ({
    version,
    trainer,
    trainRows: rows.length,
    historyRows,
    resumedFrom: out.resumedFrom,
    trainAccuracy: NaN,
    artifactSha256: out.artifactSha256,
    configHash: out.configHash,
    details: { ...out.details, remedy },
    trainingSet,
    trainErrors: out.trainErrors,
  });
  return registerCandidate(pool, {
    modelId: input.modelId,
    cycleId: input.cycleId,
    datasetId: input.datasetId,
    configHash: out.configHash,
    codeVersion: CODE_VERSION,
    artifactJson: out.artifactJson,
    artifactSha256: out.artifactSha256,
    metrics: {
      trainer,
      config: input.config,
      trainErrors: out.trainErrors,
      trainRows: rows.length,
      historyRows,
      trainingSet,
      resumedFrom: out.resumedFrom,
      ...out.details,
      remedy,
    },
    result,
  });
}

interface TrainInput {
  cycleId: string;
  modelId: string;
  datasetId: number;
  championVersion: number;
  severity: 'mild' | 'severe';
  config: Policy['training'];
}

export function createTrainingActivities({ pool }: { pool: pg.Pool }) {
  return {
    /**
     * Trains a candidate on a pinned dataset version. Heartbeats its progress (epochs or trees); a
     * retry after a worker crash resumes from the last heartbeat instead of from zero, and a
     * cancellation stops it before anything is registered.
     */
    async trainCandidate(input: TrainInput): Promise<TrainResult> {
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
      // The cheaper remedy first: the champion recalibrated, when its ranking holds (decided here, in
      // the activity, so the cycle's workflow and its histories are unchanged).
      const recal = await considerRecalibration(pool, input);
      if (recal.recalibrated) return registerRecalibrated(pool, input, recal.recalibrated);
      if (isRegression(model)) return retrainRegressor(pool, model, input, recal.remedy);
      const { rows, historyRows, trainingSet } = await trainingRows(pool, input);
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
        details: { ...out.details, remedy: recal.remedy },
        trainingSet,
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
          trainingSet,
          resumedFrom: out.resumedFrom,
          ...out.details,
          remedy: recal.remedy,
        },
        result,
      });
    },
  };
}
