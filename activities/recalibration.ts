/**
 * The cheaper remedy, decided at the training stage: when the champion still ranks the cycle's new
 * labels as well as its reference but its calibration or the label mix moved, the candidate is the
 * champion with a calibrator fitted on those labels (core/recalibration.ts), registered like any trained
 * candidate so the same gates and rollout judge it. Otherwise training goes on, and the reason is kept.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { expectedCalibrationError, macroAucOvo, predictedLabel } from '../core/evaluation.js';
import { accuracy, logLoss } from '../core/metrics.js';
import {
  canonicalJson,
  isRegressorArtifact,
  type CalibratedArtifact,
  type ModelArtifact,
  type RegressorArtifact,
} from '../core/model.js';
import {
  applyCalibrator,
  decideRecalibration,
  describeCalibrator,
  fitCalibrator,
  type RecalibrationEvidence,
} from '../core/recalibration.js';
import type { Policy } from '../core/schemas.js';
import { categoricalPsi, countCategories } from '../core/stattests.js';
import * as db from '../db/index.js';
import * as ref from '../db/reference.js';
import { blobsIn, scorerFor } from '../scoring/index.js';

export interface RecalibrationInput {
  cycleId: string;
  modelId: string;
  datasetId: number;
  championVersion: number;
  config: Policy['training'];
}

/** A recalibrated champion ready to register, with the numbers its report and card show. */
export interface RecalibratedCandidate {
  artifact: CalibratedArtifact;
  artifactJson: string;
  artifactSha256: string;
  configHash: string;
  trainRows: number;
  /** Accuracy of the calibrated champion on the rows the calibrator was fitted on. */
  trainAccuracy: number;
  /** Flat numbers and the sentence, for the stage summary, the report and the model card. */
  details: Record<string, string | number>;
}

export type RecalibrationOutcome =
  { recalibrated: RecalibratedCandidate; remedy: string } | { recalibrated: null; remedy: string };

type Row = { features: Record<string, number | string>; label: string };

const round = (v: number | null) => (v === null ? null : Math.round(v * 10_000) / 10_000);

/** The base model's probabilities for the rows (an already calibrated champion is recalibrated from its base). */
async function baseProbabilities(
  pool: pg.Pool,
  base: Exclude<ModelArtifact, CalibratedArtifact>,
  rows: readonly Row[],
): Promise<Record<string, number>[]> {
  if (rows.length === 0) return [];
  const scorer = await scorerFor(base, blobsIn(pool));
  return (await scorer.score(rows.map((r) => r.features))).map((p) => p.probabilities);
}

function measure(truth: readonly string[], probs: readonly Record<string, number>[]) {
  return {
    rows: truth.length,
    auc: truth.length === 0 ? null : macroAucOvo(truth, probs),
    ece: truth.length === 0 ? null : expectedCalibrationError(truth, probs),
  };
}

/** The label mix's move: the drift report's (the window's feedback against the reference), else the rows'. */
async function labelPsi(
  pool: pg.Pool,
  cycleId: string,
  reference: readonly Row[],
  current: readonly Row[],
): Promise<number | null> {
  const reportId = await db.driftReportIdOfCycle(pool, cycleId);
  const stored = reportId === undefined ? null : await db.getDriftReport(pool, Number(reportId));
  const fromReport = stored?.report.labelShiftPsi ?? null;
  if (fromReport !== null) return fromReport;
  if (reference.length === 0 || current.length === 0) return null;
  return categoricalPsi(
    countCategories(reference.map((r) => r.label)),
    countCategories(current.map((r) => r.label)),
  ).statistic;
}

/**
 * Decides, and when the decision is to recalibrate, fits the calibrator on the cycle dataset's labeled
 * training rows (the holdout stays for the gates). Deterministic: the same dataset and champion give
 * the same candidate byte for byte.
 */
export async function considerRecalibration(
  pool: pg.Pool,
  input: RecalibrationInput,
): Promise<RecalibrationOutcome> {
  const policy = input.config;
  if (policy.recalibrate === 'off')
    return { recalibrated: null, remedy: 'retrained: training.recalibrate is off' };
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  // A regression model's forest has no probabilities to recalibrate: the remedy is retraining.
  if (isRegressorArtifact(champion.artifact))
    return {
      recalibrated: null,
      remedy: 'retrained: a regression model has no probabilities to recalibrate',
    };
  const calibrated = champion.artifact.kind === 'calibrated' ? champion.artifact : null;
  const base = calibrated
    ? calibrated.base
    : (champion.artifact as Exclude<ModelArtifact, CalibratedArtifact | RegressorArtifact>);
  const classes = new Set(base.classes);
  const rows: Row[] = (await db.getDatasetRows(pool, input.datasetId))
    .filter((r) => r.split === 'train' && r.label !== null)
    .map((r) => ({ features: r.features, label: r.label! }));
  const unknown = rows.find((r) => !classes.has(r.label));
  if (unknown)
    return {
      recalibrated: null,
      remedy: `retrained: the new labels include "${unknown.label}", a class the champion does not predict`,
    };
  const reference = champion.datasetId === null ? [] : await ref.labeledHoldout(pool, champion.datasetId);
  // What the champion serves: its base's probabilities, through its own calibrator if it has one.
  const serve = (ps: Record<string, number>[]) =>
    calibrated ? ps.map((p) => applyCalibrator(calibrated.calibrator, p)) : ps;
  const baseNew = await baseProbabilities(pool, base, rows);
  const servedNew = serve(baseNew);
  const servedRef = serve(await baseProbabilities(pool, base, reference));
  const evidence: RecalibrationEvidence = {
    reference: measure(
      reference.map((r) => r.label),
      servedRef,
    ),
    current: measure(
      rows.map((r) => r.label),
      servedNew,
    ),
    labelPsi: await labelPsi(pool, input.cycleId, reference, rows),
  };
  const decision = decideRecalibration(policy, evidence);
  const numbers = {
    championAucNew: round(evidence.current.auc),
    championAucReference: round(evidence.reference.auc),
    championEceNew: round(evidence.current.ece),
    championEceReference: round(evidence.reference.ece),
    labelPsi: round(evidence.labelPsi),
  };
  if (!decision.recalibrate) return { recalibrated: null, remedy: decision.reason };

  const truth = rows.map((r) => r.label);
  const fit = fitCalibrator(baseNew, truth, base.classes, { method: policy.recalibration.method });
  const after = baseNew.map((p) => applyCalibrator(fit.calibrator, p));
  const artifact: CalibratedArtifact = {
    kind: 'calibrated',
    classes: [...base.classes],
    base,
    calibrator: fit.calibrator,
    baseVersion: calibrated ? calibrated.baseVersion : input.championVersion,
  };
  const artifactJson = canonicalJson(artifact);
  const accuracyBefore = accuracy(truth, servedNew.map(predictedLabel));
  const accuracyAfter = accuracy(truth, after.map(predictedLabel));
  const logLossBefore = logLoss(truth, servedNew);
  const logLossAfter = logLoss(truth, after);
  const remedy = `recalibration of v${input.championVersion} (${describeCalibrator(fit.calibrator)}): ${decision.reason}; on the ${rows.length} rows fitted on, log-loss ${logLossBefore.toFixed(3)} → ${logLossAfter.toFixed(3)}, accuracy ${(accuracyBefore * 100).toFixed(1)}% → ${(accuracyAfter * 100).toFixed(1)}%`;
  const details: Record<string, string | number> = { remedy };
  for (const [k, v] of Object.entries({
    ...numbers,
    temperature: round(fit.calibrator.temperature),
    logLossBefore: round(logLossBefore),
    logLossAfter: round(logLossAfter),
    accuracyBefore: round(accuracyBefore),
  }))
    if (v !== null) details[k] = v;
  return {
    remedy,
    recalibrated: {
      artifact,
      artifactJson,
      artifactSha256: createHash('sha256').update(artifactJson).digest('hex'),
      configHash: createHash('sha256')
        .update(
          canonicalJson({
            remedy: 'recalibration',
            recalibration: policy.recalibration,
            datasetId: input.datasetId,
            championVersion: input.championVersion,
          }),
        )
        .digest('hex'),
      trainRows: rows.length,
      trainAccuracy: accuracyAfter,
      details,
    },
  };
}
