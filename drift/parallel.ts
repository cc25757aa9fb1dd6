/**
 * The drift report on several cores. Numeric features (sorting dominates) are taken one at a time from a
 * shared counter by the calling thread and worker threads alike; they read the reference profile and the
 * window through shared memory, or, for data cached on disk, read each feature's slice only when they
 * test it, so memory stays near one feature per thread. The report is then assembled exactly as the
 * single-threaded engine assembles it: the numbers are the same bit for bit.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  analyzeFeature,
  assembleReport,
  type Column,
  type DriftPolicy,
  type DriftReport,
  type FeatureOutcome,
  type ReferenceProfile,
  type TestName,
  type WindowOutcome,
} from '../core/drift.js';

/** A little-endian float64 slice of a file: offset and length in values. */
export interface F64Slice {
  file: string;
  offset: number;
  length: number;
}

/** Numeric features read from disk when tested, instead of held in memory. */
export interface LazyNumeric {
  reference: Record<string, F64Slice>;
  current: Record<string, F64Slice>;
}

export interface WorkerTask {
  profile: ReferenceProfile;
  numeric: string[];
  columns: Record<string, Column>;
  policy: DriftPolicy;
  counter: Int32Array;
  lazy?: LazyNumeric;
  forceTest?: TestName;
}

/** A Float64Array on shared memory (the same array when it already is). */
export function shared(values: Float64Array | readonly number[]): Float64Array {
  if (values instanceof Float64Array && values.buffer instanceof SharedArrayBuffer) return values;
  const out = new Float64Array(new SharedArrayBuffer(values.length * 8));
  out.set(values);
  return out;
}

export function readSlice(slice: F64Slice): Float64Array {
  const out = new Float64Array(slice.length);
  const bytes = new Uint8Array(out.buffer);
  const fd = openSync(slice.file, 'r');
  try {
    for (let at = 0; at < bytes.length;) {
      const n = readSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30), slice.offset * 8 + at);
      if (n <= 0) throw new Error(`${slice.file}: ends before value ${slice.offset + slice.length}`);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Below this many numeric values per worker, starting the worker costs more than it saves. */
const MIN_VALUES_PER_WORKER = 4_000_000;

export function defaultThreads(): number {
  return Math.max(1, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
}

/** Takes numeric features from the shared counter until none is left (the calling thread and workers). */
export function drainNumeric(task: WorkerTask): FeatureOutcome[] {
  const out: FeatureOutcome[] = [];
  const force = task.forceTest ? { forceTest: task.forceTest } : {};
  for (;;) {
    const k = Atomics.add(task.counter, 0, 1);
    if (k >= task.numeric.length) return out;
    const name = task.numeric[k]!;
    const refSlice = task.lazy?.reference[name];
    const curSlice = task.lazy?.current[name];
    const feature = task.profile.features[name]!;
    const ref =
      refSlice && feature.type === 'numeric' ? { ...feature, sorted: readSlice(refSlice) } : feature;
    const column: Column = curSlice ? { type: 'numeric', values: readSlice(curSlice) } : task.columns[name]!;
    out.push(
      analyzeFeature({ ...task.profile, features: { [name]: ref } }, name, column, task.policy, force),
    );
  }
}

export async function driftReportParallel(
  profile: ReferenceProfile,
  window: Record<string, Column>,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
  opts: {
    threads?: number;
    forceTest?: TestName;
    lazy?: LazyNumeric;
    /** A worker thread costs a few hundred ms to start: one per this many numeric values at most. */
    minValuesPerWorker?: number;
  } = {},
): Promise<DriftReport> {
  const names = Object.keys(profile.features);
  const lazyCurrent = opts.lazy?.current ?? {};
  const rowsOf = (n: string) => lazyCurrent[n]?.length ?? window[n]?.values.length;
  for (const name of names)
    if (rowsOf(name) === undefined)
      throw new Error(`the window has no column "${name}", which the reference has`);
  const rows = names.length === 0 ? 0 : rowsOf(names[0]!)!;
  if (rows === 0) throw new Error('the window holds no rows: pick a window with production traffic');
  const threads = Math.max(1, opts.threads ?? defaultThreads());
  const numeric = names.filter(
    (n) =>
      profile.features[n]!.type === 'numeric' &&
      (lazyCurrent[n] !== undefined || window[n]!.type === 'numeric'),
  );
  const others = names.filter((n) => !numeric.includes(n));

  // What workers see: shared memory for in-memory numeric data, nothing for lazy features.
  const features: ReferenceProfile['features'] = {};
  const columns: Record<string, Column> = {};
  for (const n of numeric) {
    const f = profile.features[n]!;
    const lazyRef = opts.lazy?.reference[n] !== undefined;
    features[n] =
      f.type === 'numeric' ? { ...f, sorted: lazyRef ? new Float64Array(0) : shared(f.sorted) } : f;
    const c = window[n];
    if (lazyCurrent[n] === undefined && c?.type === 'numeric')
      columns[n] = { type: 'numeric', values: shared(c.values) };
  }
  const task: WorkerTask = {
    profile: { ...profile, features },
    numeric,
    columns,
    policy,
    counter: new Int32Array(new SharedArrayBuffer(4)),
    ...(opts.lazy ? { lazy: opts.lazy } : {}),
    ...(opts.forceTest ? { forceTest: opts.forceTest } : {}),
  };
  const numericValues = numeric.reduce((a, n) => a + (lazyCurrent[n]?.length ?? window[n]!.values.length), 0);
  const byWork = Math.floor(numericValues / (opts.minValuesPerWorker ?? MIN_VALUES_PER_WORKER));
  const workerCount = Math.min(threads - 1, Math.max(0, numeric.length - 1), byWork);
  const workers = Array.from({ length: workerCount }, () => runWorker(task));
  const force = opts.forceTest ? { forceTest: opts.forceTest } : {};
  const here = others.map((n) => analyzeFeature(profile, n, window[n]!, policy, force));
  here.push(...drainNumeric(task));
  const byName = new Map<string, FeatureOutcome>(here.map((o) => [o.feature, o]));
  for (const list of await Promise.all(workers)) for (const o of list) byName.set(o.feature, o);
  return assembleReport(
    profile,
    names.map((n) => byName.get(n)!),
    rows,
    outcomes,
    policy,
  );
}

function runWorker(task: WorkerTask): Promise<FeatureOutcome[]> {
  return new Promise((resolve, reject) => {
    // Remedy runs from its TypeScript sources: the boot file registers tsx in the worker thread first.
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: task });
    worker.once('message', (result: FeatureOutcome[]) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`a drift worker thread exited with code ${code}`));
    });
  });
}
