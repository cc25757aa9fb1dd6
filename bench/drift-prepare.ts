/**
 * Builds bench:drift's caches (not timed as the report): the reference profile, computed once as a model
 * version's would be, and the current window.
 *
 *   tsx bench/drift-prepare.ts synthetic DIR ROWS FEATURES
 *   tsx bench/drift-prepare.ts flights DIR PARQUET CUTOFF
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { profileColumns, type Column, type ReferenceProfile } from '../core/drift.js';
import { readTable } from '../drift/tables.js';
import { saveCurrent, saveProfile } from './drift-cache.js';

const [kind, dir, a, b] = process.argv.slice(2);
if (!kind || !dir) throw new Error('usage: drift-prepare.ts synthetic|flights DIR ...');
await mkdir(dir, { recursive: true });

const profileOptions = { typedSample: true, maxSample: Number.MAX_SAFE_INTEGER, learnedChunks: 0 };

/** sfc32: a small, fast, seeded generator, so the data are the same on every machine. */
function sfc32(seed: number): () => number {
  let x = seed >>> 0;
  let y = 0x9e3779b9;
  let z = 0x243f6a88;
  let w = 1;
  const next = () => {
    const t = (((x + y) >>> 0) + w) >>> 0;
    w = (w + 1) >>> 0;
    x = y ^ (y >>> 9);
    y = (z + (z << 3)) >>> 0;
    z = (z << 21) | (z >>> 11);
    z = (z + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

function normals(n: number, seed: number, loc: number, scale: number): Float64Array {
  const rnd = sfc32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rnd();
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = loc + scale * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = loc + scale * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const started = performance.now();
let profile: ReferenceProfile;
let current: Record<string, Column> = {};
let description: Record<string, unknown>;

if (kind === 'synthetic') {
  const rows = Number(a ?? 1_000_000);
  const features = Number(b ?? 50);
  const names = Array.from({ length: features }, (_, j) => `f${String(j).padStart(2, '0')}`);
  const feats: ReferenceProfile['features'] = {};
  let profileSeconds = 0;
  for (const [j, name] of names.entries()) {
    const loc = j;
    const scale = 1 + j / features;
    const col = normals(rows, 1000 + j, loc, scale);
    const t = performance.now();
    feats[name] = profileColumns({ [name]: { type: 'numeric', values: col } }, profileOptions).features[
      name
    ]!;
    profileSeconds += (performance.now() - t) / 1000;
    // The window: the first fifth of the features shifted by 0.2 sd, the next tenth 25% wider, the rest alike.
    const shift = j < features / 5 ? 0.2 * scale : 0;
    const widen = j >= features / 5 && j < (3 * features) / 10 ? 1.25 : 1;
    current[name] = { type: 'numeric', values: normals(rows, 5000 + j, loc + shift, scale * widen) };
  }
  profile = {
    format: 2,
    rows,
    features: feats,
    labels: {},
    baseline: {},
    baselineAccuracy: NaN,
    learned: {},
  };
  description = {
    kind,
    rows,
    features,
    profileSeconds,
    drifted: 'f00..f09 shifted 0.2 sd, f10..f14 widened 25%',
  };
} else if (kind === 'flights') {
  const file = a!;
  const cutoff = Date.parse(`${b ?? '2001-04-01'}T00:00:00Z`);
  const table = await readTable(file, { timestamps: true });
  const date = table.columns.get('date');
  if (date?.source !== 'timestamp' || !date.values) throw new Error(`${file} has no timestamp column "date"`);
  const isRef = Array.from(date.values, (t) => t < cutoff);
  const split = (pick: boolean): Record<string, Column> => {
    const out: Record<string, Column> = {};
    for (const [name, col] of table.columns) {
      if (col.source === 'number')
        out[name] = { type: 'numeric', values: col.values.filter((_, i) => isRef[i] === pick) };
      else if (col.source === 'string')
        out[name] = { type: 'categorical', values: col.values.filter((_, i) => isRef[i] === pick) };
    }
    return out;
  };
  const refCols = split(true);
  current = split(false);
  const t = performance.now();
  profile = profileColumns(refCols, profileOptions);
  const profileSeconds = (performance.now() - t) / 1000;
  description = {
    kind,
    file: path.basename(file),
    cutoff: new Date(cutoff).toISOString(),
    referenceRows: profile.rows,
    currentRows: current.delay?.values.length,
    profileSeconds,
  };
} else {
  throw new Error(`unknown dataset ${kind}`);
}
await saveProfile(dir, profile);
await saveCurrent(dir, current);
await writeFile(
  path.join(dir, 'dataset.json'),
  JSON.stringify({ ...description, prepareSeconds: (performance.now() - started) / 1000 }),
);
process.stderr.write(`[bench] prepared ${kind} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
