/**
 * A reference profile and a current window cached on disk for bench:drift: JSON for the small parts and
 * one little-endian float64 file for the numbers, read straight into shared memory (for worker threads).
 * Python reads the same float64 files with numpy.fromfile.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { F64Slice } from '../drift/parallel.js';
import type { Column, ColumnProfile, ReferenceProfile } from '../core/drift.js';

type NumericMeta = Omit<Extract<ColumnProfile, { type: 'numeric' }>, 'sorted'> & {
  offset: number;
  length: number;
};
type ProfileMeta = Omit<ReferenceProfile, 'features'> & {
  features: Record<string, NumericMeta | Extract<ColumnProfile, { type: 'categorical' }>>;
};
type CurrentMeta = {
  rows: number;
  columns: (
    | { name: string; type: 'numeric'; offset: number; length: number }
    | { name: string; type: 'categorical'; values: (string | null)[] }
  )[];
};

async function writeF64(file: string, arrays: ArrayLike<number>[]): Promise<number[]> {
  const total = arrays.reduce((a, x) => a + x.length, 0);
  const out = new Float64Array(total);
  const offsets: number[] = [];
  let at = 0;
  for (const a of arrays) {
    offsets.push(at);
    out.set(a, at);
    at += a.length;
  }
  await writeFile(file, new Uint8Array(out.buffer));
  return offsets;
}

function readF64Shared(file: string): Float64Array {
  const size = statSync(file).size;
  const sab = new SharedArrayBuffer(size);
  const bytes = new Uint8Array(sab);
  const fd = openSync(file, 'r');
  try {
    for (let at = 0; at < size;) {
      const n = readSync(fd, bytes, at, Math.min(size - at, 1 << 30), at);
      if (n <= 0) throw new Error(`${file}: unexpected end of file`);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return new Float64Array(sab);
}

export async function saveProfile(dir: string, profile: ReferenceProfile): Promise<void> {
  const names = Object.keys(profile.features);
  const numeric = names.filter((n) => profile.features[n]!.type === 'numeric');
  const offsets = await writeF64(
    path.join(dir, 'profile.f64'),
    numeric.map((n) => (profile.features[n] as Extract<ColumnProfile, { type: 'numeric' }>).sorted),
  );
  const features: ProfileMeta['features'] = {};
  for (const n of names) {
    const f = profile.features[n]!;
    if (f.type === 'numeric') {
      const { sorted, ...rest } = f;
      features[n] = { ...rest, offset: offsets[numeric.indexOf(n)]!, length: sorted.length };
    } else features[n] = f;
  }
  await writeFile(path.join(dir, 'profile.json'), JSON.stringify({ ...profile, features }));
}

export async function loadProfile(dir: string): Promise<ReferenceProfile> {
  const meta = JSON.parse(await readFile(path.join(dir, 'profile.json'), 'utf8')) as ProfileMeta;
  const all = readF64Shared(path.join(dir, 'profile.f64'));
  const features: ReferenceProfile['features'] = {};
  for (const [n, f] of Object.entries(meta.features)) {
    if (f.type === 'numeric') {
      const { offset, length, ...rest } = f;
      features[n] = { ...rest, sorted: all.subarray(offset, offset + length) };
    } else features[n] = f;
  }
  return { ...meta, features };
}

export async function saveCurrent(dir: string, columns: Record<string, Column>): Promise<void> {
  const names = Object.keys(columns);
  const numeric = names.filter((n) => columns[n]!.type === 'numeric');
  const offsets = await writeF64(
    path.join(dir, 'current.f64'),
    numeric.map((n) => columns[n]!.values as ArrayLike<number>),
  );
  const meta: CurrentMeta = {
    rows: names.length ? columns[names[0]!]!.values.length : 0,
    columns: names.map((n) => {
      const c = columns[n]!;
      return c.type === 'numeric'
        ? { name: n, type: 'numeric', offset: offsets[numeric.indexOf(n)]!, length: c.values.length }
        : { name: n, type: 'categorical', values: [...c.values] };
    }),
  };
  await writeFile(path.join(dir, 'current.json'), JSON.stringify(meta));
}

export async function loadCurrent(dir: string): Promise<Record<string, Column>> {
  const meta = JSON.parse(await readFile(path.join(dir, 'current.json'), 'utf8')) as CurrentMeta;
  const all = readF64Shared(path.join(dir, 'current.f64'));
  const out: Record<string, Column> = {};
  for (const c of meta.columns) {
    out[c.name] =
      c.type === 'numeric'
        ? { type: 'numeric', values: all.subarray(c.offset, c.offset + c.length) }
        : { type: 'categorical', values: c.values };
  }
  return out;
}

/** The profile without its sorted values, plus where each numeric feature's values are on disk. */
export async function lazyProfile(
  dir: string,
): Promise<{ profile: ReferenceProfile; slices: Record<string, F64Slice> }> {
  const meta = JSON.parse(await readFile(path.join(dir, 'profile.json'), 'utf8')) as ProfileMeta;
  const file = path.join(dir, 'profile.f64');
  const features: ReferenceProfile['features'] = {};
  const slices: Record<string, F64Slice> = {};
  for (const [n, f] of Object.entries(meta.features)) {
    if (f.type === 'numeric') {
      const { offset, length, ...rest } = f;
      features[n] = { ...rest, sorted: new Float64Array(0) };
      slices[n] = { file, offset, length };
    } else features[n] = f;
  }
  return { profile: { ...meta, features }, slices };
}

/** The window's categorical columns in memory and where each numeric column is on disk. */
export async function lazyCurrent(
  dir: string,
): Promise<{ columns: Record<string, Column>; slices: Record<string, F64Slice> }> {
  const meta = JSON.parse(await readFile(path.join(dir, 'current.json'), 'utf8')) as CurrentMeta;
  const file = path.join(dir, 'current.f64');
  const columns: Record<string, Column> = {};
  const slices: Record<string, F64Slice> = {};
  for (const c of meta.columns) {
    if (c.type === 'numeric') slices[c.name] = { file, offset: c.offset, length: c.length };
    else columns[c.name] = { type: 'categorical', values: c.values };
  }
  return { columns, slices };
}
