/**
 * A scikit-learn reference for a regression dataset of the efficacy benchmark: bench/sklearn_regressor.py
 * replays the same stream in the same windows with a RandomForestRegressor retrained before every window
 * on the reference plus all feedback that arrived so far (no people, no gates: the upper end of what
 * retraining on every label buys). The report sets Remedy's error after its first promotion against the
 * reference's on the same windows. It needs the benchmark venv (<data dir>/bench-venv with scikit-learn,
 * made by `npm run bench:trainer`); without it the reference is skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDir } from '../infra/paths.js';
import { windowsOf, type Dataset } from './efficacy-data.js';
import type { ReplayResult } from './efficacy-replay.js';

export type SklearnReference =
  | {
      model: string;
      sklearnVersion: string;
      seconds: number;
      mae: number;
      maeSeries: { start: string; mae: number }[];
      /** Windows served by remedy-default's promoted champions: its MAE and the reference's there. */
      afterRemedyPromotion: { from: string; windows: number; remedyMae: number; sklearnMae: number } | null;
    }
  | { skipped: string };

const MODEL = 'RandomForestRegressor(n_estimators=100, random_state=0)';

/** Numeric features as they are, categorical ones one-hot over the values the data has. */
function encoder(d: Dataset): (f: Dataset['reference'][number]['features']) => number[] {
  const def = d.model('encoding', {});
  const numeric = def.features.numeric;
  const categorical = def.features.categorical.map((name) => ({
    name,
    values: [...new Set([...d.reference, ...d.stream].map((r) => String(r.features[name])))].sort(),
  }));
  return (f) => [
    ...numeric.map((n) => Number(f[n])),
    ...categorical.flatMap((c) => c.values.map((v) => (String(f[c.name]) === v ? 1 : 0))),
  ];
}

export async function sklearnReference(
  d: Dataset,
  remedy: ReplayResult | undefined,
): Promise<SklearnReference> {
  const python = path.join(dataDir(), 'bench-venv', 'bin', 'python');
  if (!existsSync(python))
    return { skipped: `no benchmark venv at ${python} (npm run bench:trainer creates it)` };
  const encode = encoder(d);
  const windows = windowsOf(d).map((w) => d.stream.filter((r) => r.ts >= w.start && r.ts < w.end));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-efficacy-sklearn-'));
  try {
    const input = path.join(dir, 'stream.json');
    const output = path.join(dir, 'result.json');
    await writeFile(
      input,
      JSON.stringify({
        reference: {
          x: d.reference.map((r) => encode(r.features)),
          y: d.reference.map((r) => Number(r.label)),
        },
        windows: windows.map((rows) => ({
          x: rows.map((r) => encode(r.features)),
          y: rows.map((r) => Number(r.label)),
          feedback: rows.map((r) => r.feedback),
        })),
      }),
    );
    const script = fileURLToPath(new URL('./sklearn_regressor.py', import.meta.url));
    const run = spawnSync(python, [script, '--input', input, '--output', output], { encoding: 'utf8' });
    if (run.status !== 0)
      return {
        skipped: `${script} exited with ${run.status ?? run.signal}: ${run.stderr.trim().split('\n').at(-1) ?? ''}`,
      };
    const out = JSON.parse(await readFile(output, 'utf8')) as {
      windows: { rows: number; absError: number }[];
      seconds: number;
      sklearnVersion: string;
    };
    const starts = windowsOf(d).map((w) => w.start);
    const mae = (ws: { rows: number; absError: number }[]) =>
      ws.reduce((a, w) => a + w.absError, 0) /
      Math.max(
        1,
        ws.reduce((a, w) => a + w.rows, 0),
      );
    const promotedIdx = remedy
      ? remedy.windows.map((w, i) => (w.champion > 1 ? i : -1)).filter((i) => i >= 0)
      : [];
    return {
      model: MODEL,
      sklearnVersion: out.sklearnVersion,
      seconds: out.seconds,
      mae: mae(out.windows),
      maeSeries: out.windows.map((w, i) => ({ start: starts[i]!, mae: w.rows ? w.absError / w.rows : NaN })),
      afterRemedyPromotion:
        remedy && promotedIdx.length
          ? {
              from: starts[promotedIdx[0]!]!,
              windows: promotedIdx.length,
              remedyMae: mae(
                promotedIdx.map((i) => ({
                  rows: remedy.windows[i]!.rows,
                  absError: remedy.windows[i]!.absError ?? NaN,
                })),
              ),
              sklearnMae: mae(promotedIdx.map((i) => out.windows[i]!)),
            }
          : null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The reference as report lines. */
export function sklearnLines(r: SklearnReference, unit = 'mpg'): string[] {
  if ('skipped' in r) return [`scikit-learn reference skipped: ${r.skipped}.`];
  const lines = [
    `scikit-learn ${r.sklearnVersion} reference (${r.model}, retrained before every window on the reference plus all feedback so far; no people, no gates): MAE ${r.mae.toFixed(2)} ${unit} over the stream.`,
  ];
  const a = r.afterRemedyPromotion;
  if (a)
    lines.push(
      `Error after remedy: on the ${a.windows} window(s) from ${a.from.slice(0, 10)} that remedy-default's promoted champions served, remedy-default ${a.remedyMae.toFixed(2)} ${unit} vs scikit-learn ${a.sklearnMae.toFixed(2)} ${unit}.`,
    );
  else lines.push('remedy-default promoted no champion: no error after remedy to compare.');
  return lines;
}
