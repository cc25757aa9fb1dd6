/**
 * Taking in an ONNX file from outside (a registered champion, an added version, the Python worker's
 * candidate): what it is, whether Remedy can score it correctly on real rows, and how far the file's
 * probabilities are from the original model's when those are given.
 */
import type ort from 'onnxruntime-node';
import type { OnnxArtifact, Prediction } from '../core/model.js';
import type { FeatureSpec, Features } from '../core/schemas.js';
import { sha256Hex } from '../db/blobs.js';
import { describeOnnx, OnnxModelError, openSession, scoreFeeds, scoreOnnx, type OnnxHints } from './onnx.js';

export interface Adopted {
  artifact: OnnxArtifact;
  /** The file's predictions on the rows it was checked on, in order. */
  predictions: Prediction[];
}

/** Labels that disagree with the probabilities' argmax, beyond which the class order is wrong. */
const MAX_LABEL_DISAGREEMENT = 0.01;

async function checkClassOrder(
  session: ort.InferenceSession,
  artifact: OnnxArtifact,
  rows: readonly Features[],
  predictions: readonly Prediction[],
): Promise<void> {
  const labelOutput = artifact.outputs.label;
  if (labelOutput === null || rows.length === 0) return;
  const sample = rows.slice(0, 2000);
  const labels = await scoreFeeds(session, artifact, sample, labelOutput);
  let disagree = 0;
  let compared = 0;
  sample.forEach((_, i) => {
    const p = predictions[i]!;
    const sorted = Object.values(p.probabilities).sort((a, b) => b - a);
    // A tie (or near one) may break either way in the graph: only clear winners are compared.
    if ((sorted[0] ?? 0) - (sorted[1] ?? 0) < 1e-4) return;
    compared++;
    if (String(labels[i]) !== p.label) disagree++;
  });
  if (compared > 0 && disagree / compared > MAX_LABEL_DISAGREEMENT)
    throw new OnnxModelError(
      `the label output "${labelOutput}" disagrees with the most probable class on ${disagree} of ${compared} rows: the probability columns are not in the order ${artifact.classes.join(', ')}. Give "onnx.classes" in the output's column order`,
    );
}

/**
 * Reads and checks an ONNX file against a model's features and labels on real rows: refuses a file
 * that is not ONNX, inputs that match no feature, outputs that are not probabilities, NaN, and a class
 * order the label output contradicts. `original` (the original model's probabilities on the same rows)
 * gives the converter's gap: the largest |Δp| over rows and classes.
 */
export async function adoptOnnx(
  bytes: Uint8Array,
  spec: FeatureSpec,
  labelSet: readonly string[],
  rows: readonly Features[],
  opts: { hints?: OnnxHints; producer: string; original?: readonly (Record<string, number> | null)[] },
): Promise<Adopted> {
  const { session } = await openSession(bytes);
  const described = describeOnnx(session, bytes, spec, labelSet, opts.hints);
  let converterGap: number | null = null;
  const base: OnnxArtifact = {
    ...described,
    sha256: sha256Hex(bytes),
    source: { producer: opts.producer, converterGap },
  };
  const predictions = await scoreOnnx(session, base, rows);
  await checkClassOrder(session, base, rows, predictions);
  if (opts.original) {
    converterGap = 0;
    opts.original.forEach((o, i) => {
      if (!o) return;
      for (const c of base.classes) {
        const gap = Math.abs((o[c] ?? 0) - predictions[i]!.probabilities[c]!);
        if (gap > converterGap!) converterGap = gap;
      }
    });
  }
  return { artifact: { ...base, source: { producer: opts.producer, converterGap } }, predictions };
}
