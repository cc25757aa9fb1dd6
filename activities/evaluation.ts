/**
 * Evaluation of a trained candidate against the champion: both scored on the cycle dataset's holdout,
 * the paired bootstrap interval of their difference, the backtest on the champion's reference holdout,
 * the policy's gates, and the model card that records it all.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { DEFAULT_BOOTSTRAP_SEED, pairedBootstrap, type PairedDifferences } from '../core/bootstrap.js';
import {
  evaluate,
  evaluateBySlice,
  evaluationGates,
  type Backtest,
  type EvaluatedModel,
  type GateResult,
  type ModelMetrics,
  type Scored,
} from '../core/evaluation.js';
import { modelCardHtml } from '../core/model-card-html.js';
import { judgingPolicy } from '../core/recalibration.js';
import { modelCardMarkdown, type ModelCardInput } from '../core/model-card.js';
import { isTrainingSet } from '../core/training-scope.js';
import { isRegressorArtifact, type ModelArtifact, type Prediction } from '../core/model.js';
import type { Policy } from '../core/schemas.js';
import * as db from '../db/index.js';
import * as ref from '../db/reference.js';
import { blobsIn, scoreRows, scorerFor } from '../scoring/index.js';
import { announceApprovalWait } from './cycle-events.js';
import { evaluateRegressionCandidate, type RegressionEvaluationResult } from './regression-evaluation.js';
import { CODE_VERSION } from './training.js';

/** What evaluateCandidate returns: a classifier's evaluation, or a regressor's (task: 'regression'). */
export type EvaluationResult = ClassificationEvaluationResult | RegressionEvaluationResult;

export interface ClassificationEvaluationResult {
  /** Unset for a classifier (a regressor's result says task: 'regression'). */
  task?: undefined;
  holdoutRows: number;
  /** How the holdout was chosen: by key (random) or the window's latest part (latest). */
  holdout: Policy['evaluation']['holdout'];
  candidate: Omit<ModelMetrics, 'calibration'>;
  champion: Omit<ModelMetrics, 'calibration'>;
  slices: Record<string, { candidate: number; champion: number; rows: number }>;
  /** Paired bootstrap of candidate − champion on the holdout. */
  intervals: PairedDifferences;
  /** On the champion's reference holdout; null when the champion has none. */
  backtest: (Omit<Backtest, 'difference'> & { difference: PairedDifferences['accuracy'] }) | null;
  go: boolean;
  gates: GateResult[];
  reason: string;
}

interface EvaluationInput {
  cycleId: string;
  modelId: string;
  datasetId: number;
  candidateVersion: number;
  championVersion: number;
  policy: Policy['evaluation'];
  driftReportId: number | null;
  campaignId: string | null;
}

type HoldoutRow = Awaited<ReturnType<typeof db.getDatasetRows>>[number];

const bootstrapOptions = (policy: Policy['evaluation']) => ({
  resamples: policy.resamples,
  confidence: policy.confidence,
  seed: DEFAULT_BOOTSTRAP_SEED,
});

/** One row per call, as the gateway serves, so the latency gate compares like with like. */
async function scoreHoldout(
  pool: pg.Pool,
  artifact: ModelArtifact,
  rows: readonly HoldoutRow[],
  sliceBy: string | undefined,
): Promise<Scored[]> {
  const scorer = await scorerFor(artifact, blobsIn(pool));
  const scored: Scored[] = [];
  for (const r of rows) {
    const t0 = performance.now();
    const [p] = (await scorer.score([r.features])) as [Prediction];
    const latencyUs = (performance.now() - t0) * 1000;
    const slice = sliceBy === undefined ? undefined : String(r.features[sliceBy]);
    scored.push({
      truth: r.label!,
      probabilities: p.probabilities,
      latencyUs,
      ...(slice === undefined ? {} : { slice }),
    });
  }
  return scored;
}

function measured(scored: readonly Scored[], sliceBy: string | undefined): EvaluatedModel {
  return { overall: evaluate(scored), slices: sliceBy === undefined ? {} : evaluateBySlice(scored) };
}

/**
 * The backtest: candidate and champion on the champion version's own labeled holdout (for the first
 * champion, the reference it was registered with; data from before the drift neither trained on).
 */
async function backtestOnReference(
  pool: pg.Pool,
  champion: { datasetId: number | null; artifact: ModelArtifact },
  candidate: ModelArtifact,
  policy: Policy['evaluation'],
): Promise<Backtest | null> {
  if (champion.datasetId === null) return null;
  const rows = await ref.labeledHoldout(pool, champion.datasetId);
  if (rows.length === 0) return null;
  const features = rows.map((r) => r.features);
  const truth = rows.map((r) => r.label);
  const cand = await scoreRows(pool, candidate, features);
  const champ = await scoreRows(pool, champion.artifact, features);
  const difference = pairedBootstrap(
    truth,
    cand.map((p) => p.probabilities),
    champ.map((p) => p.probabilities),
    bootstrapOptions(policy),
  );
  const correct = (ps: Prediction[]) => ps.filter((p, i) => p.label === truth[i]).length / rows.length;
  return {
    datasetId: champion.datasetId,
    rows: rows.length,
    candidateAccuracy: correct(cand),
    championAccuracy: correct(champ),
    difference,
  };
}

async function cardData(
  pool: pg.Pool,
  input: EvaluationInput,
  holdoutRows: number,
): Promise<ModelCardInput['data']> {
  const dataset = await db.getDatasetVersion(pool, input.datasetId);
  const { collected } = await db.lineage(pool, input.modelId, input.candidateVersion);
  const allRows = await db.getDatasetRows(pool, input.datasetId);
  const labelSources: Record<string, number> = {};
  for (const r of allRows)
    labelSources[r.labelSource ?? 'none'] = (labelSources[r.labelSource ?? 'none'] ?? 0) + 1;
  return {
    datasetId: input.datasetId,
    contentHash: dataset.contentHash,
    trainRows: allRows.length - holdoutRows,
    holdoutRows,
    holdout: input.policy.holdout,
    labelSources,
    window:
      collected?.windowStart && collected.windowEnd
        ? { start: collected.windowStart.toISOString(), end: collected.windowEnd.toISOString() }
        : null,
    parentDatasetId: dataset.parentId,
  };
}

function trainerOf(candidateRow: Awaited<ReturnType<typeof db.getModelVersion>>): ModelCardInput['trainer'] {
  return {
    name: typeof candidateRow.metrics.trainer === 'string' ? candidateRow.metrics.trainer : 'unknown',
    config: (candidateRow.metrics.config as Record<string, unknown> | undefined) ?? {},
    configHash: candidateRow.configHash,
    codeVersion: CODE_VERSION,
    artifactSha256: candidateRow.artifactSha256,
    ...(isTrainingSet(candidateRow.metrics.trainingSet)
      ? { trainingSet: candidateRow.metrics.trainingSet }
      : {}),
    ...(typeof candidateRow.metrics.remedy === 'string' ? { remedy: candidateRow.metrics.remedy } : {}),
    ...(candidateRow.artifact.kind === 'onnx'
      ? {
          artifact: {
            kind: 'ONNX',
            producer: candidateRow.artifact.source.producer,
            converterGap: candidateRow.artifact.source.converterGap,
          },
        }
      : {}),
  };
}

const strip = ({ calibration: _c, ...m }: ModelMetrics) => m;

/** The result of a classifier's evaluation; throws when it is a regressor's. */
export function classificationResult(r: EvaluationResult): ClassificationEvaluationResult {
  if (r.task === 'regression') throw new Error('expected the evaluation of a classification model');
  return r;
}

/** Evaluation is cheap scoring, so it runs on the main queue; only training has its own. */
export function createEvaluationActivities({ pool }: { pool: pg.Pool }) {
  return {
    /**
     * Candidate vs champion on the dataset's holdout split (rows from the drifted window): metrics,
     * calibration, per-slice accuracy and latency, the paired bootstrap interval of the difference and
     * the backtest on the champion's reference; the policy's gates decide; a model card records it.
     */
    async evaluateCandidate(given: EvaluationInput): Promise<EvaluationResult> {
      const rows = (await db.getDatasetRows(pool, given.datasetId)).filter(
        (r) => r.split === 'holdout' && r.label !== null,
      );
      if (rows.length === 0)
        throw new Error(
          `dataset ${given.datasetId} has no labeled holdout rows: label more rows of the window (labeling.budget) or raise collection.holdoutShare`,
        );
      const candidateRow = await db.getModelVersion(pool, given.modelId, given.candidateVersion);
      const input = { ...given, policy: judgingPolicy(given.policy, candidateRow.metrics) };
      const championRow = await db.getModelVersion(pool, input.modelId, input.championVersion);
      if (isRegressorArtifact(candidateRow.artifact)) {
        const result = await evaluateRegressionCandidate(
          pool,
          input,
          rows,
          { candidate: candidateRow, champion: championRow },
          { trainer: trainerOf(candidateRow), data: await cardData(pool, input, rows.length) },
        );
        if (result.go) await announceApprovalWait(pool, input);
        return result;
      }
      const { sliceBy } = input.policy;
      const candidateScored = await scoreHoldout(pool, candidateRow.artifact, rows, sliceBy);
      const championScored = await scoreHoldout(pool, championRow.artifact, rows, sliceBy);
      const candidate = measured(candidateScored, sliceBy);
      const champion = measured(championScored, sliceBy);
      const difference = pairedBootstrap(
        rows.map((r) => r.label!),
        candidateScored.map((s) => s.probabilities),
        championScored.map((s) => s.probabilities),
        bootstrapOptions(input.policy),
      );
      const backtest = await backtestOnReference(pool, championRow, candidateRow.artifact, input.policy);
      const drift =
        input.driftReportId === null ? undefined : await db.getDriftReport(pool, input.driftReportId);
      const labelShiftPsi = drift?.report.labelShiftPsi ?? null;
      const decision = evaluationGates(candidate, champion, input.policy, {
        difference,
        backtest,
        labelShiftPsi,
      });

      const card: ModelCardInput = {
        modelId: input.modelId,
        candidateVersion: input.candidateVersion,
        championVersion: input.championVersion,
        cycleId: input.cycleId,
        createdAt: new Date().toISOString(),
        trainer: trainerOf(candidateRow),
        data: await cardData(pool, input, rows.length),
        candidate,
        champion,
        gates: decision,
        evidence: { difference, backtest, minHoldout: input.policy.minHoldout, metric: input.policy.metric },
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
      await db.mergeVersionMetrics(pool, input.modelId, input.candidateVersion, {
        holdout: {
          rows: rows.length,
          datasetId: input.datasetId,
          split: input.policy.holdout,
          candidate: strip(candidate.overall),
          champion: strip(champion.overall),
          intervals: difference,
        },
        ...(backtest ? { backtest } : {}),
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
        holdout: input.policy.holdout,
        candidate: strip(candidate.overall),
        champion: strip(champion.overall),
        slices,
        intervals: difference,
        backtest: backtest && { ...backtest, difference: backtest.difference.accuracy },
        go: decision.go,
        gates: decision.gates,
        reason: decision.reason,
      };
    },
  };
}
