/**
 * ONNX regressors (a regression model's champion or candidate from scikit-learn via skl2onnx, or any
 * graph whose output is one float per row): which output is the value, and scoring rows to a regression
 * Prediction. Inputs are fed exactly as a classifier's file is (scoring/onnx.ts).
 */
import type ort from 'onnxruntime-node';
import type { OnnxRegressorArtifact, Prediction } from '../core/model.js';
import { regressionPrediction } from '../core/regression-forest.js';
import type { FeatureSpec, Features } from '../core/schemas.js';
import { sha256Hex } from '../db/blobs.js';
import { feeds, inputMapping, ioInfo, OnnxModelError, openSession, type OnnxHints } from './onnx.js';

/** Largest batch handed to one session.run. */
const BATCH = 4096;

function outputList(session: ort.InferenceSession): string {
  return ioInfo(session, 'output')
    .map(
      (o) =>
        `"${o.name}" (${o.isTensor ? `${o.type ?? '?'} [${(o.shape ?? []).join(', ')}]` : 'not a tensor'})`,
    )
    .join(', ');
}

/**
 * Reads how to feed the file and which output is its value: one float tensor output with one value per
 * row ([N,1] or [N]). Refuses a classifier's file (a label or probability output) and anything else.
 */
export function describeOnnxRegressor(
  session: ort.InferenceSession,
  spec: FeatureSpec,
  hints: OnnxHints = {},
): Omit<OnnxRegressorArtifact, 'sha256' | 'source'> {
  const inputs = inputMapping(session, spec, hints);
  const outputs = ioInfo(session, 'output');
  const label = outputs.find((o) => !o.isTensor || o.type === 'string' || o.type === 'int64');
  if (label)
    throw new OnnxModelError(
      `the graph's outputs are ${outputList(session)}: "${label.name}" is a class label or a class map, so the file looks like a classifier, and this is a regression model. Export a regressor (e.g. skl2onnx on a RandomForestRegressor or LinearRegression pipeline), whose output is one float per row`,
    );
  const single = outputs.filter((o) => {
    if (o.type !== 'float32' && o.type !== 'float64') return false;
    const shape = o.shape ?? [];
    if (shape.length === 1) return true;
    return shape.length === 2 && (shape[1] === 1 || typeof shape[1] !== 'number');
  });
  const value = single.find((o) => o.name === 'variable') ?? (single.length === 1 ? single[0] : undefined);
  if (!value)
    throw new OnnxModelError(
      single.length > 1
        ? `the graph has ${single.length} float outputs (${outputList(session)}) and none is named "variable": export one output with the predicted value`
        : `none of the graph's outputs (${outputList(session)}) is one float per row: a regression model's file must give its predicted value as a float tensor [N,1] (skl2onnx does for regressors)`,
    );
  return { kind: 'onnx', task: 'regression', inputs, outputs: { value: value.name } };
}

/** Scores rows with an open session; refuses a value count that is not one per row, NaN and infinity. */
export async function scoreOnnxRegressor(
  session: ort.InferenceSession,
  artifact: Pick<OnnxRegressorArtifact, 'inputs' | 'outputs'>,
  rows: readonly Features[],
): Promise<Prediction[]> {
  const out: Prediction[] = [];
  const name = artifact.outputs.value;
  for (let from = 0; from < rows.length; from += BATCH) {
    const batch = rows.slice(from, from + BATCH);
    const result = await session.run(feeds(artifact, batch), [name]);
    const values = result[name]!.data as Float32Array | Float64Array;
    if (values.length !== batch.length)
      throw new OnnxModelError(
        `output "${name}" gave ${values.length / Math.max(batch.length, 1)} values per row, expected one (the predicted value): export a single-output regressor`,
      );
    for (let i = 0; i < batch.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v))
        throw new OnnxModelError(
          `the model predicted ${v} for row ${from + i + 1} (${JSON.stringify(batch[i])}): it yields NaN or infinity on these inputs; fix the model or its inputs before registering it`,
        );
      out.push(regressionPrediction({ value: v }));
    }
  }
  return out;
}

/** An adopted regressor file and its predictions on the rows it was checked on. */
export interface AdoptedRegressor {
  artifact: OnnxRegressorArtifact;
  predictions: Prediction[];
}

/**
 * Reads and checks an ONNX regressor against a model's features on real rows: refuses a file that is not
 * ONNX, inputs that match no feature, a classifier's outputs, and NaN or infinite predictions.
 */
export async function adoptOnnxRegressor(
  bytes: Uint8Array,
  spec: FeatureSpec,
  rows: readonly Features[],
  opts: { hints?: OnnxHints; producer: string },
): Promise<AdoptedRegressor> {
  const { session } = await openSession(bytes);
  const artifact: OnnxRegressorArtifact = {
    ...describeOnnxRegressor(session, spec, opts.hints),
    sha256: sha256Hex(bytes),
    source: { producer: opts.producer, converterGap: null },
  };
  return { artifact, predictions: await scoreOnnxRegressor(session, artifact, rows) };
}
