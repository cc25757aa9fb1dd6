/**
 * Trainers: the built-in random forest (with a softmax-regression fallback for tiny datasets) and a
 * command trainer that runs any program under a JSON contract. Each returns a servable artifact.
 *
 * Command contract: Remedy writes `request.json` and `dataset.jsonl` to a fresh folder and runs the
 * configured argv with `--request <folder>/request.json`. The request holds
 *   { datasetPath, outputPath, featureSpec: {numeric, categorical}, labelSet, seed, config }
 * and each dataset line is { features, label, weight }. The program writes to outputPath
 *   { artifact: <a Remedy model artifact: softmax-regression or random-forest JSON>, metrics?: {...} }
 * and exits 0. Anything else fails the training with the program's last output lines.
 *
 * The program runs in a sandbox (activities/sandbox.ts): its folder as working directory, HOME and
 * TMPDIR; only PATH, the locale, TZ and the names in `training.env` from the worker's environment;
 * memory and CPU-time limits from `training.limits`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { searchForest, trainTree, type Tree } from '../core/forest.js';
import {
  JsonArtifactSchema,
  encode,
  fitEncoder,
  initialState,
  predict,
  trainEpochs,
  type JsonArtifact,
  type TrainingState,
} from '../core/model.js';
import { runSandboxed } from './sandbox.js';
import { durationMs, type FeatureSpec, type Features, type Policy } from '../core/schemas.js';

export interface TrainingRow {
  features: Features;
  label: string;
  weight: number;
}

/** What a trainer heartbeats so that a retry on another worker resumes where this one stopped. */
export type Checkpoint =
  { kind: 'softmax'; state: TrainingState } | { kind: 'forest'; trees: Tree[]; searched: ForestSearch };

export interface ForestSearch {
  maxDepth: number;
  minSamplesLeaf: number;
  validationAccuracy: number;
}

export interface TrainerContext {
  /** Where a previous attempt stopped, if it heartbeated. */
  checkpoint: Checkpoint | undefined;
  /** Records progress (the caller persists it and heartbeats); awaited, so the event loop breathes. */
  save: (checkpoint: Checkpoint) => Promise<void>;
  /** Keeps a long wait alive without progress to record (the command trainer). */
  heartbeat: () => void;
  cancelled: () => boolean;
  signal: AbortSignal;
  /** How often progress is saved (default SAVE_EVERY_MS). */
  saveEveryMs?: number;
}

/** Progress is saved at most this often: each save costs a write and a heartbeat. */
const SAVE_EVERY_MS = 500;

export interface TrainerOutput {
  artifact: JsonArtifact;
  trainer: 'forest' | 'softmax' | 'command';
  /** Epochs or trees already done when this attempt began (0 = from scratch). */
  resumedFrom: number;
  details: Record<string, unknown>;
}

/** Below this many labeled rows a forest overfits; softmax regression is the safer model. */
export const FOREST_MIN_ROWS = 50;

export async function runTrainer(
  spec: FeatureSpec,
  labelSet: readonly string[],
  rows: readonly TrainingRow[],
  config: Policy['training'],
  ctx: TrainerContext,
): Promise<TrainerOutput> {
  if (rows.length === 0) throw new Error('no labeled rows to train on');
  if (config.trainer === 'command') return runCommandTrainer(spec, labelSet, rows, config, ctx);
  const classes = [...new Set(rows.map((r) => r.label))].sort();
  const encoder = fitEncoder(
    spec,
    rows.map((r) => r.features),
  );
  const x = rows.map((r) => encode(encoder, r.features));
  const y = rows.map((r) => classes.indexOf(r.label));
  const weights = rows.map((r) => r.weight);

  if (config.trainer === 'forest' && rows.length >= FOREST_MIN_ROWS) {
    const resumed = ctx.checkpoint?.kind === 'forest' ? ctx.checkpoint : undefined;
    const searched: ForestSearch =
      resumed?.searched ??
      (() => {
        const s = searchForest(
          x,
          y,
          weights,
          classes.length,
          {
            trees: config.trees,
            maxDepth: config.maxDepth,
            minSamplesLeaf: config.minSamplesLeaf,
            maxFeatures: 'sqrt',
            seed: config.seed,
          },
          { maxDepth: config.searchDepths, minSamplesLeaf: config.searchLeaves },
        );
        return {
          maxDepth: s.config.maxDepth,
          minSamplesLeaf: s.config.minSamplesLeaf,
          validationAccuracy: s.validationAccuracy,
        };
      })();
    const forestConfig = {
      trees: config.trees,
      maxDepth: searched.maxDepth,
      minSamplesLeaf: searched.minSamplesLeaf,
      maxFeatures: 'sqrt' as const,
      seed: config.seed,
    };
    const done = resumed?.trees ?? [];
    const trees = [...done];
    let saved = Date.now();
    // One tree at a time, so progress can be saved (and cancellation seen) between trees. Tree i
    // depends only on (seed, i), so a resumed forest equals an uninterrupted one.
    for (let i = trees.length; i < forestConfig.trees; i++) {
      if (ctx.cancelled()) throw ctx.signal.reason as Error;
      trees.push(trainTree(x, y, weights, classes.length, forestConfig, i));
      if (Date.now() - saved >= (ctx.saveEveryMs ?? SAVE_EVERY_MS) || i === forestConfig.trees - 1) {
        await ctx.save({ kind: 'forest', trees, searched });
        saved = Date.now();
      }
    }
    return {
      artifact: { kind: 'random-forest', classes, encoder, config: forestConfig, trees },
      trainer: 'forest',
      resumedFrom: done.length,
      details: { search: searched, trees: trees.length },
    };
  }

  const resumed = ctx.checkpoint?.kind === 'softmax' ? ctx.checkpoint.state : undefined;
  const start = resumed ?? initialState(classes.length, x[0]?.length ?? 0);
  let state = start;
  while (state.epoch < config.epochs) {
    if (ctx.cancelled()) throw ctx.signal.reason as Error;
    const until = Math.min(state.epoch + config.checkpointEvery, config.epochs);
    state = trainEpochs(
      x,
      y,
      classes.length,
      { ...config, epochs: until },
      state,
      config.checkpointEvery,
      undefined,
      weights,
    );
    await ctx.save({ kind: 'softmax', state });
  }
  return {
    artifact: { kind: 'softmax-regression', classes, encoder, weights: state.weights, bias: state.bias },
    trainer: 'softmax',
    resumedFrom: start.epoch,
    details: {
      epochs: state.epoch,
      ...(config.trainer === 'forest' ? { fallback: `fewer than ${FOREST_MIN_ROWS} rows` } : {}),
    },
  };
}

const CommandOutput = z.object({
  artifact: JsonArtifactSchema,
  metrics: z.record(z.string(), z.unknown()).optional(),
});

async function runCommandTrainer(
  spec: FeatureSpec,
  labelSet: readonly string[],
  rows: readonly TrainingRow[],
  config: Policy['training'],
  ctx: TrainerContext,
): Promise<TrainerOutput> {
  // The program runs in its own folder: paths in its argv that name files relative to the worker's
  // working directory (e.g. ["python3", "train.py"]) are made absolute first.
  const argv = config.command!.map((a) => (!path.isAbsolute(a) && existsSync(a) ? path.resolve(a) : a));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-train-'));
  try {
    const datasetPath = path.join(dir, 'dataset.jsonl');
    const outputPath = path.join(dir, 'output.json');
    const requestPath = path.join(dir, 'request.json');
    await writeFile(datasetPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const { command: _omit, ...trainerConfig } = config;
    await writeFile(
      requestPath,
      JSON.stringify(
        { datasetPath, outputPath, featureSpec: spec, labelSet, seed: config.seed, config: trainerConfig },
        null,
        2,
      ),
    );
    const output = await runSandboxed(argv[0]!, [...argv.slice(1), '--request', requestPath], {
      dir,
      envAllow: config.env,
      limits: config.limits,
      timeoutMs: durationMs(config.commandTimeout),
      heartbeat: ctx.heartbeat,
      signal: ctx.signal,
    });
    let parsed: z.infer<typeof CommandOutput>;
    try {
      parsed = CommandOutput.parse(JSON.parse(await readFile(outputPath, 'utf8')));
    } catch (err) {
      throw new Error(
        `the training command ${JSON.stringify(argv)} did not write a valid ${outputPath}: ${err instanceof Error ? err.message : String(err)}\n${output}`,
      );
    }
    const artifact: JsonArtifact = parsed.artifact;
    // Refuse an artifact that cannot score the data it was trained on, before it reaches the registry.
    for (const r of rows.slice(0, 20)) predict(artifact, r.features);
    return {
      artifact,
      trainer: 'command',
      resumedFrom: 0,
      details: { command: config.command, metrics: parsed.metrics ?? {} },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
