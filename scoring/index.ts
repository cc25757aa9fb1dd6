/**
 * One way to score any model version, whatever its artifact: Remedy's own JSON models in TypeScript,
 * ONNX files with onnxruntime. Everything that scores (gateway, drift checks, evaluation, active
 * learning, the failure catalog, the labeling page) asks for a Scorer and scores rows in batches.
 */
import type ort from 'onnxruntime-node';
import {
  isForestRegressor,
  isOnnxRegressor,
  type ModelArtifact,
  type OnnxArtifact,
  type Prediction,
} from '../core/model.js';
import { predictValue, regressionPrediction } from '../core/regression-forest.js';
import { calibratePrediction } from '../core/recalibration.js';
import type { Features } from '../core/schemas.js';
import { windowPredictor } from '../core/window.js';
import { getBlob } from '../db/blobs.js';
import type { Queryable } from '../db/pool.js';
import { OnnxModelError, openSession, scoreOnnx } from './onnx.js';
import { scoreOnnxRegressor } from './onnx-regressor.js';

export { OnnxModelError } from './onnx.js';

export interface Scorer {
  readonly kind: ModelArtifact['kind'];
  readonly classes: readonly string[];
  /** Predictions for the rows, in order. */
  score(rows: readonly Features[]): Promise<Prediction[]>;
}

/** Reads a content-addressed blob (an ONNX file). */
export type BlobReader = (sha256: string) => Promise<Uint8Array | null>;

export const blobsIn =
  (q: Queryable): BlobReader =>
  (sha256) =>
    getBlob(q, sha256);

/** Sessions by file hash: a file never changes, so a session is opened once per process. */
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const MAX_SESSIONS = 32;

async function sessionFor(
  artifact: Pick<OnnxArtifact, 'sha256'>,
  blobs: BlobReader,
): Promise<ort.InferenceSession> {
  let session = sessions.get(artifact.sha256);
  if (!session) {
    session = (async () => {
      const bytes = await blobs(artifact.sha256);
      if (!bytes)
        throw new OnnxModelError(
          `the ONNX file ${artifact.sha256} of this version is not in the registry (model_blobs): register the version again with its file`,
        );
      return (await openSession(bytes)).session;
    })();
    session.catch(() => sessions.delete(artifact.sha256));
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    sessions.set(artifact.sha256, session);
  }
  return session;
}

export async function scorerFor(artifact: ModelArtifact, blobs: BlobReader): Promise<Scorer> {
  if (artifact.kind === 'calibrated') {
    // The champion's own scorer, then its calibrator: what the gateway serves is the calibrated answer.
    const base = await scorerFor(artifact.base, blobs);
    const { calibrator } = artifact;
    return {
      kind: 'calibrated',
      classes: artifact.classes,
      score: async (rows) => (await base.score(rows)).map((p) => calibratePrediction(calibrator, p)),
    };
  }
  if (isOnnxRegressor(artifact)) {
    const session = await sessionFor(artifact, blobs);
    return {
      kind: 'onnx',
      // A regressor has no classes: each prediction carries its value (and the value as its label).
      classes: [],
      score: (rows) => scoreOnnxRegressor(session, artifact, rows),
    };
  }
  if (artifact.kind === 'onnx') {
    const session = await sessionFor(artifact, blobs);
    return {
      kind: 'onnx',
      classes: artifact.classes,
      score: (rows) => scoreOnnx(session, artifact, rows),
    };
  }
  if (isForestRegressor(artifact)) {
    const model = artifact;
    return {
      kind: artifact.kind,
      // A regressor has no classes: each prediction carries its value (and the value as its label).
      classes: [],
      score: (rows) => Promise.resolve(rows.map((r) => regressionPrediction(predictValue(model, r)))),
    };
  }
  const predict = windowPredictor(artifact);
  return {
    kind: artifact.kind,
    classes: artifact.classes,
    score: (rows) => Promise.resolve(rows.map((r) => predict(r))),
  };
}

/** Scores rows with a version's artifact, reading an ONNX file from the registry when it needs one. */
export async function scoreRows(
  q: Queryable,
  artifact: ModelArtifact,
  rows: readonly Features[],
): Promise<Prediction[]> {
  return (await scorerFor(artifact, blobsIn(q))).score(rows);
}
