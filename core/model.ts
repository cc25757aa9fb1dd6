/**
 * The built-in trainer: multinomial logistic regression (softmax) on standardised numeric features and
 * one-hot categorical features, fitted by full-batch gradient descent with L2.
 *
 * Why this shape: full-batch descent from zero weights has no random draw and no order dependence, so the
 * same dataset version and config give the same artifact byte for byte; and its state after any epoch is
 * a small array, which is what the training activity heartbeats so a restarted worker resumes mid-way.
 */
import { z } from 'zod';
import { forestProbabilities, type ForestConfig, type Tree } from './forest.js';
import { CalibratorSchema, type Calibrator } from './recalibration.js';
import type { RegressionForestArtifact } from './regression-forest.js';
import type { FeatureSpec, Features } from './schemas.js';

export interface TrainConfig {
  epochs: number;
  learningRate: number;
  l2: number;
}

export interface Encoder {
  numeric: string[];
  means: number[];
  stds: number[];
  categorical: { name: string; values: string[] }[];
}

export interface SoftmaxArtifact {
  kind: 'softmax-regression';
  classes: string[];
  encoder: Encoder;
  /** weights[c][j] for class c and encoded feature j; bias[c]. */
  weights: number[][];
  bias: number[];
}

export interface ForestArtifact {
  kind: 'random-forest';
  classes: string[];
  encoder: Encoder;
  config: ForestConfig;
  trees: Tree[];
}

/** A model Remedy scores itself, in TypeScript: the built-in trainers' and the command trainer's JSON. */
export type JsonArtifact = SoftmaxArtifact | ForestArtifact;

/** One graph input fed from one feature (as skl2onnx exports a Pipeline with a ColumnTransformer). */
export interface OnnxColumnInput {
  name: string;
  feature: string;
  type: 'float32' | 'float64' | 'int64' | 'string';
}

/** One column of a single float tensor input: a numeric feature as is, or a category one-hot encoded. */
export type OnnxTensorColumn = { feature: string } | { feature: string; oneHot: string[] };

/**
 * A model from outside (scikit-learn, XGBoost, PyTorch…) as an ONNX file, scored with onnxruntime. The
 * file itself is a content-addressed blob (`model_blobs`); this document says how to feed and read it.
 */
export interface OnnxArtifact {
  kind: 'onnx';
  /** The order of the probability output's columns. */
  classes: string[];
  /** sha256 of the ONNX file as given (a ZipMap in it is removed when the file is loaded). */
  sha256: string;
  inputs:
    | { mode: 'columns'; columns: OnnxColumnInput[] }
    | { mode: 'tensor'; name: string; type: 'float32' | 'float64'; layout: OnnxTensorColumn[] };
  outputs: { probabilities: string; label: string | null; zipMap: boolean };
  /** Where it came from: the converter's gap to the original model when its probabilities were given. */
  source: { producer: string; converterGap: number | null; note?: string };
}

/**
 * A regression model from outside as an ONNX file (skl2onnx's regressors: one float per row in an output
 * such as "variable" [N,1]), scored with onnxruntime. Fed as a classifier's file is; read from `outputs.value`.
 */
export interface OnnxRegressorArtifact {
  kind: 'onnx';
  task: 'regression';
  /** sha256 of the ONNX file as given. */
  sha256: string;
  inputs: OnnxArtifact['inputs'];
  /** The output holding the predicted value, one number per row. */
  outputs: { value: string };
  source: { producer: string; converterGap: number | null; note?: string };
}

/**
 * A champion recalibrated as a remedy: its own artifact unchanged (an ONNX one still names its file by
 * hash), and the calibrator applied to its probabilities. Scorers compose the two.
 */
export interface CalibratedArtifact {
  kind: 'calibrated';
  classes: string[];
  base: JsonArtifact | OnnxArtifact;
  calibrator: Calibrator;
  /** The version whose artifact `base` is. */
  baseVersion: number;
}

/** A servable model version's artifact: a classifier's, or a regression model's (forest or ONNX file). */
export type ModelArtifact =
  JsonArtifact | OnnxArtifact | CalibratedArtifact | RegressionForestArtifact | OnnxRegressorArtifact;

/** A regression model's artifact: the built-in forest regressor or an adopted ONNX regressor. */
export type RegressorArtifact = RegressionForestArtifact | OnnxRegressorArtifact;

/** A classifier's artifact: one that has classes and gives probabilities. */
export type ClassifierArtifact = Exclude<ModelArtifact, RegressorArtifact>;

/** Whether an artifact predicts a number (a regression model's) rather than a class. */
export function isRegressorArtifact(a: ModelArtifact): a is RegressorArtifact {
  return a.kind === 'random-forest-regressor' || isOnnxRegressor(a);
}

/** Whether an artifact is the built-in forest regressor (whose trees' spread Remedy can read). */
export function isForestRegressor(a: ModelArtifact): a is RegressionForestArtifact {
  return a.kind === 'random-forest-regressor';
}

/** Whether an artifact is an ONNX file that predicts a number. */
export function isOnnxRegressor(a: ModelArtifact): a is OnnxRegressorArtifact {
  return a.kind === 'onnx' && 'task' in a && a.task === 'regression';
}

export interface TrainingState {
  epoch: number;
  weights: number[][];
  bias: number[];
}

export interface Example {
  features: Features;
  label: string;
}

export function fitEncoder(spec: FeatureSpec, rows: readonly Features[]): Encoder {
  const means: number[] = [];
  const stds: number[] = [];
  for (const name of spec.numeric) {
    const values = rows.map((r) => toNumber(r[name], name));
    const mean = values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(values.length, 1);
    means.push(mean);
    // A constant column gets std 1 so it encodes to 0 instead of dividing by zero.
    stds.push(variance > 0 ? Math.sqrt(variance) : 1);
  }
  const categorical = spec.categorical.map((name) => ({
    name,
    values: [...new Set(rows.map((r) => String(r[name])))].sort(),
  }));
  return { numeric: [...spec.numeric], means, stds, categorical };
}

export function encode(encoder: Encoder, row: Features): number[] {
  const out: number[] = [];
  encoder.numeric.forEach((name, i) =>
    out.push((toNumber(row[name], name) - encoder.means[i]!) / encoder.stds[i]!),
  );
  for (const cat of encoder.categorical) {
    const value = String(row[cat.name]);
    // An unseen category encodes as all zeros: the model falls back to its bias for that feature.
    for (const v of cat.values) out.push(v === value ? 1 : 0);
  }
  return out;
}

export function initialState(classes: number, dims: number): TrainingState {
  return {
    epoch: 0,
    weights: Array.from({ length: classes }, () => new Array<number>(dims).fill(0)),
    bias: new Array<number>(classes).fill(0),
  };
}

/**
 * Runs epochs from `state.epoch` up to `config.epochs`, calling `onCheckpoint` every `checkpointEvery`
 * epochs with a copy of the state (the caller heartbeats it). Returns the final state.
 */
export function trainEpochs(
  x: readonly number[][],
  y: readonly number[],
  classes: number,
  config: TrainConfig,
  state: TrainingState,
  checkpointEvery: number,
  onCheckpoint?: (state: TrainingState) => void,
  /** Each row's weight in the loss (all 1 when omitted); the gradient is the weighted mean. */
  rowWeights?: readonly number[] | null,
): TrainingState {
  const n = x.length;
  if (n === 0) throw new Error('cannot train on an empty dataset');
  if (rowWeights && rowWeights.length !== n) throw new Error(`${n} rows but ${rowWeights.length} weights`);
  const total = rowWeights ? rowWeights.reduce((a, b) => a + b, 0) : n;
  if (!(total > 0)) throw new Error('the row weights sum to zero');
  const dims = x[0]!.length;
  const weights = state.weights.map((w) => [...w]);
  const bias = [...state.bias];
  const probs = new Array<number>(classes);
  for (let epoch = state.epoch; epoch < config.epochs; epoch++) {
    const gw = Array.from({ length: classes }, () => new Array<number>(dims).fill(0));
    const gb = new Array<number>(classes).fill(0);
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      softmaxInto(weights, bias, xi, probs);
      const w = rowWeights ? rowWeights[i]! : 1;
      for (let c = 0; c < classes; c++) {
        const err = (probs[c]! - (y[i] === c ? 1 : 0)) * w;
        gb[c]! += err;
        const gwc = gw[c]!;
        for (let j = 0; j < dims; j++) gwc[j]! += err * xi[j]!;
      }
    }
    for (let c = 0; c < classes; c++) {
      const wc = weights[c]!;
      const gwc = gw[c]!;
      for (let j = 0; j < dims; j++) wc[j]! -= config.learningRate * (gwc[j]! / total + config.l2 * wc[j]!);
      bias[c]! -= (config.learningRate * gb[c]!) / total;
    }
    const done = epoch + 1;
    if (onCheckpoint && (done % checkpointEvery === 0 || done === config.epochs)) {
      onCheckpoint({ epoch: done, weights: weights.map((w) => [...w]), bias: [...bias] });
    }
  }
  return { epoch: config.epochs, weights, bias };
}

/** Fits a softmax regression in one go (used for the initial champion and in tests). */
export function train(spec: FeatureSpec, examples: readonly Example[], config: TrainConfig): SoftmaxArtifact {
  const classes = [...new Set(examples.map((e) => e.label))].sort();
  const encoder = fitEncoder(
    spec,
    examples.map((e) => e.features),
  );
  const x = examples.map((e) => encode(encoder, e.features));
  const y = examples.map((e) => classes.indexOf(e.label));
  const state = trainEpochs(
    x,
    y,
    classes.length,
    config,
    initialState(classes.length, x[0]?.length ?? 0),
    config.epochs,
  );
  return { kind: 'softmax-regression', classes, encoder, weights: state.weights, bias: state.bias };
}

export interface Prediction {
  /** The predicted class; for a regression model the predicted value as decimal text. */
  label: string;
  confidence: number;
  probabilities: Record<string, number>;
  /** A regression model's predicted value (its `probabilities` are empty and `confidence` is 1). */
  value?: number;
}

export function predict(model: JsonArtifact, row: Features): Prediction {
  const xi = encode(model.encoder, row);
  let probs: number[];
  if (model.kind === 'random-forest') {
    probs = forestProbabilities(model.trees, xi, model.classes.length);
  } else {
    probs = new Array<number>(model.classes.length);
    softmaxInto(model.weights, model.bias, xi, probs);
  }
  let best = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c]! > probs[best]!) best = c;
  const probabilities: Record<string, number> = {};
  model.classes.forEach((label, c) => (probabilities[label] = probs[c]!));
  return { label: model.classes[best]!, confidence: probs[best]!, probabilities };
}

/** Canonical JSON (sorted keys) so equal artifacts serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function softmaxInto(weights: number[][], bias: number[], xi: readonly number[], out: number[]): void {
  let max = -Infinity;
  for (let c = 0; c < weights.length; c++) {
    const wc = weights[c]!;
    let logit = bias[c]!;
    for (let j = 0; j < xi.length; j++) logit += wc[j]! * xi[j]!;
    out[c] = logit;
    if (logit > max) max = logit;
  }
  let sum = 0;
  for (let c = 0; c < weights.length; c++) {
    out[c] = Math.exp(out[c]! - max);
    sum += out[c]!;
  }
  for (let c = 0; c < weights.length; c++) out[c] = out[c]! / sum;
}

export function toNumber(value: number | string | undefined, name: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n))
    throw new Error(`feature "${name}" must be a finite number, got ${JSON.stringify(value)}`);
  return n;
}

const EncoderSchema = z.object({
  numeric: z.array(z.string()),
  means: z.array(z.number()),
  stds: z.array(z.number()),
  categorical: z.array(z.object({ name: z.string(), values: z.array(z.string()) })),
});
const NodeSchema = z.object({
  f: z.number().int(),
  t: z.number(),
  l: z.number().int(),
  r: z.number().int(),
  p: z.array(z.number()).nullable(),
});
const OnnxInputsSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('columns'),
    columns: z
      .array(
        z.object({
          name: z.string(),
          feature: z.string(),
          type: z.enum(['float32', 'float64', 'int64', 'string']),
        }),
      )
      .min(1),
  }),
  z.object({
    mode: z.literal('tensor'),
    name: z.string(),
    type: z.enum(['float32', 'float64']),
    layout: z
      .array(
        z.union([
          z.object({ feature: z.string(), oneHot: z.array(z.string()).min(1) }),
          z.object({ feature: z.string() }),
        ]),
      )
      .min(1),
  }),
]);
const OnnxSourceSchema = z.object({
  producer: z.string(),
  converterGap: z.number().nullable(),
  note: z.string().optional(),
});
const OnnxArtifactSchema = z.object({
  kind: z.literal('onnx'),
  classes: z.array(z.string()).min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  inputs: OnnxInputsSchema,
  outputs: z.object({ probabilities: z.string(), label: z.string().nullable(), zipMap: z.boolean() }),
  source: OnnxSourceSchema,
});
const OnnxRegressorArtifactSchema = z.object({
  kind: z.literal('onnx'),
  task: z.literal('regression'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  inputs: OnnxInputsSchema,
  outputs: z.object({ value: z.string() }),
  source: OnnxSourceSchema,
});

/** The JSON shape of an artifact Remedy scores itself: checked on external trainers' output. */
export const JsonArtifactSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('softmax-regression'),
    classes: z.array(z.string()).min(1),
    encoder: EncoderSchema,
    weights: z.array(z.array(z.number())),
    bias: z.array(z.number()),
  }),
  z.object({
    kind: z.literal('random-forest'),
    classes: z.array(z.string()).min(1),
    encoder: EncoderSchema,
    config: z.object({
      trees: z.number(),
      maxDepth: z.number(),
      minSamplesLeaf: z.number(),
      maxFeatures: z.union([z.literal('sqrt'), z.literal('all'), z.number()]),
      seed: z.number(),
    }),
    trees: z.array(z.object({ nodes: z.array(NodeSchema).min(1) })).min(1),
  }),
]);

const CalibratedArtifactSchema = z.object({
  kind: z.literal('calibrated'),
  classes: z.array(z.string()).min(2),
  base: z.union([JsonArtifactSchema, OnnxArtifactSchema]),
  calibrator: CalibratorSchema,
  baseVersion: z.number().int().positive(),
});

const RegressionNodeSchema = z.object({
  f: z.number().int(),
  t: z.number(),
  l: z.number().int(),
  r: z.number().int(),
  p: z.tuple([z.number()]).nullable(),
});

/** The JSON shape of a regression forest, checked when one is read back. */
export const RegressionForestArtifactSchema = z.object({
  kind: z.literal('random-forest-regressor'),
  encoder: z.object({
    numeric: z.array(z.string()),
    means: z.array(z.number()),
    stds: z.array(z.number()),
    categorical: z.array(z.object({ name: z.string(), values: z.array(z.string()) })),
  }),
  config: z.object({
    trees: z.number().int(),
    maxDepth: z.number().int(),
    minSamplesLeaf: z.number().int(),
    maxFeatures: z.union([z.literal('sqrt'), z.literal('all'), z.number().int()]),
    seed: z.number().int(),
  }),
  trees: z.array(z.object({ nodes: z.array(RegressionNodeSchema).min(1) })).min(1),
  trainedRange: z.object({ min: z.number(), max: z.number() }),
});

/** The JSON shape of a servable artifact: checked on every read from the registry. */
export const ArtifactSchema = z.union([
  JsonArtifactSchema,
  OnnxArtifactSchema,
  CalibratedArtifactSchema,
  RegressionForestArtifactSchema,
  OnnxRegressorArtifactSchema,
]);
