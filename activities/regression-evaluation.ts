/**
 * Evaluation of a regression candidate against the champion: both scored on the cycle dataset's holdout
 * (one row per call, as the gateway serves, so latency compares like with like), every error metric with
 * its bootstrap interval, the paired bootstrap of the MAE difference, the backtest on the champion's
 * reference holdout, errors per slice, residual bias by decile, the prediction interval (calibrated on the
 * holdout and stored with the version; its coverage two-fold, the champion's stored one's on every row),
 * the regression gates and the model card.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { DEFAULT_BOOTSTRAP_SEED } from '../core/bootstrap.js';
import type { GateResult } from '../core/gates.js';
import type { ModelArtifact } from '../core/model.js';
import { regressionCardHtml } from '../core/regression-card-html.js';
import { plottedPoints, regressionCardMarkdown, type RegressionCardInput } from '../core/regression-card.js';
import {
  evaluatedSide,
  measureRegression,
  pointErrors,
  type RegressionScoredRow,
  type RegressionMeasures,
} from '../core/regression-evaluation.js';
import { regressionGates, type RegressionBacktest } from '../core/regression-gates.js';
import { intervalEvidence, intervalLevel, storedInterval } from '../core/regression-interval.js';
import { readNumericLabel } from '../core/regression-labels.js';
import {
  pairedErrorBootstrap,
  regressionErrors,
  type RegressionErrors,
  type RegressionIntervals,
  type PairedErrorDifferences,
} from '../core/regression-metrics.js';
import type { Features, Policy } from '../core/schemas.js';
import { psi } from '../core/stattests.js';
import * as db from '../db/index.js';
import * as ref from '../db/reference.js';
import { blobsIn, scoreRows, scorerFor } from '../scoring/index.js';

/** What evaluateCandidate returns for a regression model. */
export interface RegressionEvaluationResult {
  task: 'regression';
  holdoutRows: number;
  holdout: Policy['evaluation']['holdout'];
  /** Point errors on the holdout, with p95 one-row latency. */
  candidate: RegressionErrors & { p95LatencyMs: number | null };
  champion: RegressionErrors & { p95LatencyMs: number | null };
  /** Per slice of evaluation.sliceBy: each model's MAE. */
  slices: Record<string, { candidate: number; champion: number; rows: number }>;
  /** Each model's metrics with their bootstrap intervals, and the paired difference (candidate − champion). */
  intervals: {
    candidate: RegressionIntervals;
    champion: RegressionIntervals;
    difference: PairedErrorDifferences;
  };
  /** On the champion's reference holdout; null when the champion has none. */
  backtest: RegressionBacktest | null;
  /** PSI of the window's labeled values against the reference's (null: no reference values). */
  targetShiftPsi: number | null;
  /** The candidate's largest decile bias (mean predicted − actual) and the champion's. */
  largestDecileBias: { candidate: number; champion: number };
  go: boolean;
  gates: GateResult[];
  reason: string;
}

export interface RegressionEvaluationInput {
  cycleId: string;
  modelId: string;
  datasetId: number;
  candidateVersion: number;
  championVersion: number;
  policy: Policy['evaluation'];
  driftReportId: number | null;
  campaignId: string | null;
}

type DatasetRow = Awaited<ReturnType<typeof db.getDatasetRows>>[number];
type VersionRow = Awaited<ReturnType<typeof db.getModelVersion>>;

const bootstrapOptions = (policy: Policy['evaluation']) => ({
  resamples: policy.resamples,
  confidence: policy.confidence,
  seed: DEFAULT_BOOTSTRAP_SEED,
});

/** A labeled value as a number; a label that is not one names its dataset row. */
function valueOf(where: string, label: string): number {
  const read = readNumericLabel(label);
  if ('problem' in read)
    throw new Error(`${where}: ${read.problem}; correct the label (it is not a number) and evaluate again`);
  return read.value;
}

/** One row per call; the value and how long the call took. */
async function timedValues(
  pool: pg.Pool,
  artifact: ModelArtifact,
  rows: readonly Features[],
): Promise<{ value: number; latencyUs: number }[]> {
  const scorer = await scorerFor(artifact, blobsIn(pool));
  const out: { value: number; latencyUs: number }[] = [];
  for (const features of rows) {
    const t0 = performance.now();
    const [p] = await scorer.score([features]);
    const latencyUs = (performance.now() - t0) * 1000;
    if (p?.value === undefined) throw new Error('a regression model returned a prediction without a value');
    out.push({ value: p.value, latencyUs });
  }
  return out;
}

async function scoredHoldout(
  pool: pg.Pool,
  rows: readonly DatasetRow[],
  candidate: VersionRow,
  champion: VersionRow,
  sliceBy: string | undefined,
): Promise<RegressionScoredRow[]> {
  const features = rows.map((r) => r.features);
  const cand = await timedValues(pool, candidate.artifact, features);
  const champ = await timedValues(pool, champion.artifact, features);
  return rows.map((r, i) => ({
    actual: valueOf(`holdout row ${r.recordKey}`, r.label!),
    candidate: cand[i]!.value,
    champion: champ[i]!.value,
    candidateLatencyUs: cand[i]!.latencyUs,
    championLatencyUs: champ[i]!.latencyUs,
    ...(sliceBy === undefined ? {} : { slice: String(r.features[sliceBy]) }),
  }));
}

/** Both models on the champion version's own labeled holdout (data from before the drift). */
async function regressionBacktest(
  pool: pg.Pool,
  champion: VersionRow,
  candidate: ModelArtifact,
  policy: Policy['evaluation'],
): Promise<RegressionBacktest | null> {
  if (champion.datasetId === null) return null;
  const rows = await ref.labeledHoldout(pool, champion.datasetId);
  if (rows.length === 0) return null;
  const truth = rows.map((r) => valueOf(`reference holdout row ${r.recordKey}`, r.label));
  const features = rows.map((r) => r.features);
  const values = async (a: ModelArtifact) => (await scoreRows(pool, a, features)).map((p) => p.value!);
  const cand = await values(candidate);
  const champ = await values(champion.artifact);
  return {
    datasetId: champion.datasetId,
    rows: rows.length,
    candidateMae: regressionErrors(truth, cand).mae,
    championMae: regressionErrors(truth, champ).mae,
    difference: pairedErrorBootstrap(truth, cand, champ, bootstrapOptions(policy)),
  };
}

/**
 * How far the target moved: the PSI (10 bins at the reference's deciles, as for numeric features) of the
 * cycle dataset's labeled values against those of the champion's reference dataset.
 */
async function targetShift(pool: pg.Pool, champion: VersionRow, datasetId: number): Promise<number | null> {
  if (champion.datasetId === null) return null;
  const values = async (id: number) =>
    (await db.getDatasetRows(pool, id))
      .filter((r) => r.label !== null)
      .map((r) => valueOf(`dataset #${id} row ${r.recordKey}`, r.label!));
  const reference = await values(champion.datasetId);
  const window = await values(datasetId);
  return reference.length === 0 || window.length === 0 ? null : psi(reference, window).statistic;
}

const largest = (m: RegressionMeasures, side: 'candidate' | 'champion'): number =>
  m.residualBias[side].reduce((a, d) => (Math.abs(d.meanError) > Math.abs(a) ? d.meanError : a), 0);

/**
 * Judges a regression candidate and records the card; `card` supplies what the card shares with the
 * classification card (trainer and data), so both cards describe training and data alike.
 */
export async function evaluateRegressionCandidate(
  pool: pg.Pool,
  input: RegressionEvaluationInput,
  rows: readonly DatasetRow[],
  versions: { candidate: VersionRow; champion: VersionRow },
  card: Pick<RegressionCardInput, 'trainer' | 'data'>,
): Promise<RegressionEvaluationResult> {
  const { sliceBy } = input.policy;
  const scored = await scoredHoldout(pool, rows, versions.candidate, versions.champion, sliceBy);
  const measures = measureRegression(scored, bootstrapOptions(input.policy));
  const backtest = await regressionBacktest(
    pool,
    versions.champion,
    versions.candidate.artifact,
    input.policy,
  );
  const candidate = evaluatedSide(measures, 'candidate');
  const champion = evaluatedSide(measures, 'champion');
  const targetShiftPsi = await targetShift(pool, versions.champion, input.datasetId);
  const decision = regressionGates(candidate, champion, input.policy, {
    difference: measures.difference,
    backtest,
    targetShiftPsi,
  });
  const intervals = intervalEvidence(
    scored,
    intervalLevel(input.policy),
    storedInterval(versions.champion.metrics),
    `cycle ${input.cycleId}'s holdout (dataset #${input.datasetId})`,
  );
  const cardInput: RegressionCardInput = {
    task: 'regression',
    modelId: input.modelId,
    candidateVersion: input.candidateVersion,
    championVersion: input.championVersion,
    cycleId: input.cycleId,
    createdAt: new Date().toISOString(),
    ...card,
    ...measures,
    sliceBy: sliceBy ?? null,
    points: plottedPoints(
      scored.map((s) => ({ actual: s.actual, candidate: s.candidate, champion: s.champion })),
    ),
    backtest,
    targetShiftPsi,
    predictionIntervals: intervals,
    gates: decision,
    lineage: { driftReportId: input.driftReportId, campaignId: input.campaignId },
  };
  await db.upsertModelCard(pool, {
    modelId: input.modelId,
    version: input.candidateVersion,
    cycleId: input.cycleId,
    go: decision.go,
    markdown: regressionCardMarkdown(cardInput),
    html: regressionCardHtml(cardInput),
    input: cardInput,
  });
  await db.mergeVersionMetrics(pool, input.modelId, input.candidateVersion, {
    // As registration stores a regression champion's: its point errors on the holdout.
    holdoutErrors: pointErrors(measures.candidate.errors),
    // The interval the gateway answers with once the version serves: split conformal on this holdout.
    ...(intervals.candidate ? { interval: intervals.candidate } : {}),
    holdout: {
      rows: rows.length,
      datasetId: input.datasetId,
      split: input.policy.holdout,
      candidate: measures.candidate.errors,
      champion: measures.champion.errors,
      difference: measures.difference,
    },
    ...(backtest ? { backtest } : {}),
    gates: decision,
  });
  return {
    task: 'regression',
    holdoutRows: rows.length,
    holdout: input.policy.holdout,
    candidate: candidate.overall,
    champion: champion.overall,
    slices: Object.fromEntries(
      measures.slices.map((s) => [
        s.slice,
        { candidate: s.candidate.mae, champion: s.champion.mae, rows: s.rows },
      ]),
    ),
    intervals: {
      candidate: measures.candidate.errors,
      champion: measures.champion.errors,
      difference: measures.difference,
    },
    backtest,
    targetShiftPsi,
    largestDecileBias: { candidate: largest(measures, 'candidate'), champion: largest(measures, 'champion') },
    go: decision.go,
    gates: decision.gates,
    reason: decision.reason,
  };
}
