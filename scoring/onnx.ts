/**
 * ONNX models scored with onnxruntime-node: how a file's inputs map onto a model's features (one input
 * per column, as skl2onnx exports a Pipeline with a ColumnTransformer, or one float tensor after an
 * encoding the model definition describes), which outputs are the probabilities and the label, and the
 * checks that refuse a file Remedy cannot score correctly, each saying what was wrong and what to do.
 */
import ort from 'onnxruntime-node';
import type { OnnxArtifact, OnnxColumnInput, OnnxTensorColumn, Prediction } from '../core/model.js';
import type { FeatureSpec, Features } from '../core/schemas.js';
import { OnnxFormatError, summarizeGraph, withoutZipMap } from './onnx-graph.js';

export { OnnxFormatError };

/** A file Remedy refuses, with the reason and what to do. */
export class OnnxModelError extends Error {
  override name = 'OnnxModelError';
}

/** How the model definition describes a single-tensor input (optional; columns are found by name). */
export interface OnnxHints {
  tensor?: { input?: string; layout: OnnxTensorColumn[] };
  /** The probability columns' classes, when the graph does not carry class labels. */
  classes?: string[];
}

type TensorType = OnnxColumnInput['type'];

interface IoInfo {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** Opens a session on the file's bytes, ZipMap removed. A file that is not ONNX is refused clearly. */
export async function openSession(
  bytes: Uint8Array,
): Promise<{ session: ort.InferenceSession; zipMap: boolean }> {
  let servable: Uint8Array;
  let zipMap: boolean;
  try {
    zipMap = summarizeGraph(bytes).zipMap !== null;
    servable = withoutZipMap(bytes);
  } catch (err) {
    throw new OnnxModelError(
      `${(err as Error).message}. Export the model with an ONNX converter (skl2onnx, torch.onnx, onnxmltools) and pass the .onnx file.`,
    );
  }
  try {
    return { session: await ort.InferenceSession.create(servable), zipMap };
  } catch (err) {
    throw new OnnxModelError(`onnxruntime cannot load the file: ${(err as Error).message}`);
  }
}

export function ioInfo(session: ort.InferenceSession, which: 'input' | 'output'): IoInfo[] {
  const meta = (which === 'input' ? session.inputMetadata : session.outputMetadata) as readonly IoInfo[];
  const names = which === 'input' ? session.inputNames : session.outputNames;
  return names.map((name, i) => meta[i] ?? { name, isTensor: true });
}

const NUMERIC_TYPES = new Set(['float32', 'float64', 'int64']);

function columnInputs(inputs: IoInfo[], spec: FeatureSpec): OnnxArtifact['inputs'] {
  const numeric = new Set(spec.numeric);
  const categorical = new Set(spec.categorical);
  const columns: OnnxColumnInput[] = [];
  for (const input of inputs) {
    const type = input.type ?? '';
    if (numeric.has(input.name)) {
      if (!NUMERIC_TYPES.has(type))
        throw new OnnxModelError(
          `graph input "${input.name}" is a ${type || 'non-tensor'} input, but "${input.name}" is a numeric feature: export it as a float tensor`,
        );
    } else if (categorical.has(input.name)) {
      if (type !== 'string' && type !== 'int64')
        throw new OnnxModelError(
          `graph input "${input.name}" is a ${type || 'non-tensor'} input, but "${input.name}" is a categorical feature: export it as a string tensor`,
        );
    }
    columns.push({ name: input.name, feature: input.name, type: type as TensorType });
  }
  return { mode: 'columns', columns };
}

function tensorInput(inputs: IoInfo[], spec: FeatureSpec, hints: OnnxHints): OnnxArtifact['inputs'] {
  const input = hints.tensor?.input ? inputs.find((i) => i.name === hints.tensor!.input) : inputs[0];
  const features = [...spec.numeric, ...spec.categorical];
  const unmatched = inputs.filter((i) => !features.includes(i.name));
  if (inputs.length > 1 && unmatched.length > 0)
    throw new OnnxModelError(
      `graph input${unmatched.length > 1 ? 's' : ''} ${unmatched.map((i) => `"${i.name}"`).join(', ')} match${unmatched.length > 1 ? '' : 'es'} no feature of the model (${features.join(', ')}): name each input after the feature it reads (skl2onnx: initial_types), or give one float tensor and describe it in the definition's "onnx.tensor.layout"`,
    );
  if (!input || inputs.length !== 1)
    throw new OnnxModelError(
      `the graph's inputs are ${inputs.map((i) => `"${i.name}"`).join(', ')}: name them after the features (${[...spec.numeric, ...spec.categorical].join(', ')}), or give one float tensor and describe it in the definition's "onnx.tensor.layout"`,
    );
  if (input.type !== 'float32' && input.type !== 'float64')
    throw new OnnxModelError(
      `graph input "${input.name}" is ${input.type ?? 'not a tensor'}; one float tensor is expected`,
    );
  const layout: OnnxTensorColumn[] =
    hints.tensor?.layout ??
    (spec.categorical.length === 0 ? spec.numeric.map((feature) => ({ feature })) : []);
  if (layout.length === 0)
    throw new OnnxModelError(
      `graph input "${input.name}" is one float tensor and the model has categorical features: describe its columns in the definition's "onnx.tensor.layout", e.g. [{"feature":"age"},{"feature":"city","oneHot":["Paris","Rome"]}]`,
    );
  const known = new Set([...spec.numeric, ...spec.categorical]);
  for (const col of layout) {
    if (!known.has(col.feature))
      throw new OnnxModelError(
        `onnx.tensor.layout names "${col.feature}", which is not a feature of the model`,
      );
    if (!('oneHot' in col) && !spec.numeric.includes(col.feature))
      throw new OnnxModelError(
        `onnx.tensor.layout: categorical feature "${col.feature}" needs "oneHot": [its values]`,
      );
  }
  const width = layout.reduce((n, c) => n + ('oneHot' in c ? c.oneHot.length : 1), 0);
  const declared = input.shape?.[input.shape.length - 1];
  if (typeof declared === 'number' && declared > 0 && declared !== width)
    throw new OnnxModelError(
      `graph input "${input.name}" has ${declared} columns, but onnx.tensor.layout describes ${width}`,
    );
  return { mode: 'tensor', name: input.name, type: input.type, layout };
}

/** How the file's inputs are fed from a row: one input per feature by name, or one float tensor. */
export function inputMapping(
  session: ort.InferenceSession,
  spec: FeatureSpec,
  hints: OnnxHints,
): OnnxArtifact['inputs'] {
  const inputs = ioInfo(session, 'input');
  const known = new Set([...spec.numeric, ...spec.categorical]);
  const byName = inputs.every((i) => known.has(i.name)) && hints.tensor === undefined;
  return byName ? columnInputs(inputs, spec) : tensorInput(inputs, spec, hints);
}

/**
 * Reads how to feed and read the file for this feature spec and label set. Refuses inputs that match no
 * feature, outputs that are not a probability matrix, and classes outside the label set.
 */
export function describeOnnx(
  session: ort.InferenceSession,
  bytes: Uint8Array,
  spec: FeatureSpec,
  labelSet: readonly string[],
  hints: OnnxHints = {},
): Omit<OnnxArtifact, 'sha256' | 'source'> {
  const mapping = inputMapping(session, spec, hints);

  const graph = summarizeGraph(bytes);
  const outputs = ioInfo(session, 'output').filter((o) => o.isTensor);
  const matrices = outputs.filter(
    (o) => (o.type === 'float32' || o.type === 'float64') && (o.shape?.length ?? 2) === 2,
  );
  const probabilities =
    matrices.find((o) => /prob/i.test(o.name)) ?? (matrices.length === 1 ? matrices[0] : undefined);
  if (!probabilities)
    throw new OnnxModelError(
      `none of the graph's outputs (${ioInfo(session, 'output')
        .map((o) => `"${o.name}"`)
        .join(
          ', ',
        )}) is a float matrix of class probabilities: export the classifier's probabilities (skl2onnx does by default; for PyTorch add a softmax)`,
    );
  const label = outputs.find((o) => o !== probabilities && (o.type === 'string' || o.type === 'int64'));
  const classes = graph.classLabels ?? hints.classes ?? [...labelSet].sort();
  const width = probabilities.shape?.[1];
  if (width === 1 && graph.classLabels === null)
    throw new OnnxModelError(
      `output "${probabilities.name}" is one number per row, not a probability per class: the model looks like a regressor or a scorer. Export a classifier with its class probabilities (skl2onnx does by default; for PyTorch add a softmax)`,
    );
  if (typeof width === 'number' && width > 0 && width !== classes.length)
    throw new OnnxModelError(
      `output "${probabilities.name}" has ${width} columns but the model has ${classes.length} classes (${classes.join(', ')}): give "onnx.classes" in the definition in the output's order`,
    );
  const outside = classes.filter((c) => !labelSet.includes(c));
  if (outside.length > 0)
    throw new OnnxModelError(
      `the model predicts ${outside.map((c) => `"${c}"`).join(', ')}, which the label set (${labelSet.join(', ')}) does not have: add them to labelSet or export the model with its string labels`,
    );
  return {
    kind: 'onnx',
    classes,
    inputs: mapping,
    outputs: { probabilities: probabilities.name, label: label?.name ?? null, zipMap: graph.zipMap !== null },
  };
}

function toFinite(value: Features[string] | undefined, feature: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (value === undefined || value === null || value === '' || !Number.isFinite(n))
    throw new Error(`feature "${feature}" must be a finite number, got ${JSON.stringify(value)}`);
  return n;
}

export function feeds(
  artifact: Pick<OnnxArtifact, 'inputs'>,
  rows: readonly Features[],
): Record<string, ort.Tensor> {
  const n = rows.length;
  const spec = artifact.inputs;
  if (spec.mode === 'tensor') {
    const width = spec.layout.reduce((k, c) => k + ('oneHot' in c ? c.oneHot.length : 1), 0);
    const data = spec.type === 'float64' ? new Float64Array(n * width) : new Float32Array(n * width);
    rows.forEach((row, i) => {
      let j = i * width;
      for (const col of spec.layout) {
        if ('oneHot' in col) {
          const at = col.oneHot.indexOf(String(row[col.feature]));
          if (at >= 0) data[j + at] = 1;
          j += col.oneHot.length;
        } else data[j++] = toFinite(row[col.feature], col.feature);
      }
    });
    return { [spec.name]: new ort.Tensor(spec.type, data, [n, width]) };
  }
  const out: Record<string, ort.Tensor> = {};
  for (const col of spec.columns) {
    const values = rows.map((r) => r[col.feature]);
    if (col.type === 'string')
      out[col.name] = new ort.Tensor(
        'string',
        values.map((v) => String(v)),
        [n, 1],
      );
    else if (col.type === 'int64')
      out[col.name] = new ort.Tensor(
        'int64',
        BigInt64Array.from(values.map((v) => BigInt(Math.round(toFinite(v, col.feature))))),
        [n, 1],
      );
    else {
      const data = col.type === 'float64' ? new Float64Array(n) : new Float32Array(n);
      values.forEach((v, i) => (data[i] = toFinite(v, col.feature)));
      out[col.name] = new ort.Tensor(col.type, data, [n, 1]);
    }
  }
  return out;
}

/** One output's values for the rows (e.g. the label output, to check the class order). */
export async function scoreFeeds(
  session: ort.InferenceSession,
  artifact: OnnxArtifact,
  rows: readonly Features[],
  output: string,
): Promise<unknown[]> {
  const result = await session.run(feeds(artifact, rows), [output]);
  return Array.from(result[output]!.data as ArrayLike<unknown>);
}

/**
 * Probabilities this close are a tie, won by the first class in class order. onnxruntime sums a forest's
 * trees in a different order for one row than for a batch, so an exact tie (k of 60 trees each way)
 * comes out a few 1e-8 apart, either way: without this, a request could get one label at the gateway
 * (one row) and another when the same row is scored in a batch (evaluation, drift checks).
 */
const TIE = 1e-6;

/** Largest batch handed to one session.run (bounded memory for a window of any size). */
const BATCH = 4096;

/** Scores rows with an open session; refuses NaN and rows that are not probability distributions. */
export async function scoreOnnx(
  session: ort.InferenceSession,
  artifact: OnnxArtifact,
  rows: readonly Features[],
): Promise<Prediction[]> {
  const out: Prediction[] = [];
  const k = artifact.classes.length;
  for (let from = 0; from < rows.length; from += BATCH) {
    const batch = rows.slice(from, from + BATCH);
    const result = await session.run(feeds(artifact, batch), [artifact.outputs.probabilities]);
    const probs = result[artifact.outputs.probabilities]!.data as Float32Array | Float64Array;
    if (probs.length !== batch.length * k)
      throw new OnnxModelError(
        `output "${artifact.outputs.probabilities}" gave ${probs.length / Math.max(batch.length, 1)} values per row, expected ${k} (one per class)`,
      );
    for (let i = 0; i < batch.length; i++) {
      const probabilities: Record<string, number> = {};
      let best = 0;
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const p = probs[i * k + c]!;
        if (!Number.isFinite(p))
          throw new OnnxModelError(
            `the model gave ${p} as a probability for row ${from + i + 1} (${JSON.stringify(batch[i])}): it yields NaN or infinity on these inputs`,
          );
        probabilities[artifact.classes[c]!] = p;
        sum += p;
        if (p > probs[i * k + best]! + TIE) best = c;
      }
      if (Math.abs(sum - 1) > 1e-3 || Object.values(probabilities).some((p) => p < -1e-6))
        throw new OnnxModelError(
          `output "${artifact.outputs.probabilities}" is not class probabilities: row ${from + i + 1} sums to ${sum.toFixed(4)}. Export probabilities (a softmax), not scores or logits`,
        );
      out.push({ label: artifact.classes[best]!, confidence: probs[i * k + best]!, probabilities });
    }
  }
  return out;
}
