/** Report helpers shared by every benchmark; no Temporal or Postgres imports, so any bench can use them. */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dataDir } from '../infra/paths.js';

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function machine() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

export async function writeReport(name: string, report: unknown): Promise<string> {
  const dir = path.join(dataDir(), 'bench');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1). */
export function sd(xs: readonly number[]): number {
  const mu = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1));
}

/**
 * Difference of means a − b with a Welch 95% interval (t quantile by the Cornish–Fisher expansion); a
 * single run (a deterministic strategy) contributes no variance of its own.
 */
export function welch(a: readonly number[], b: readonly number[]): { diff: number; lo: number; hi: number } {
  const va = a.length > 1 ? sd(a) ** 2 / a.length : 0;
  const vb = b.length > 1 ? sd(b) ** 2 / b.length : 0;
  const se = Math.sqrt(va + vb);
  const df =
    (va + vb) ** 2 /
    ((a.length > 1 ? va ** 2 / (a.length - 1) : 0) + (b.length > 1 ? vb ** 2 / (b.length - 1) : 0));
  const z = 1.959964;
  const t =
    Number.isFinite(df) && df > 0
      ? z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
      : z;
  const diff = mean(a) - mean(b);
  return { diff, lo: diff - t * se, hi: diff + t * se };
}
