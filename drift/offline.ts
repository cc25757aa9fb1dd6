/**
 * `remedy drift`: a drift report between two files (CSV or Parquet) without a server: the same engine,
 * tests and thresholds the monitor uses.
 */
import {
  driftReportColumns,
  profileColumns,
  type Column,
  type DriftReport,
  type TestName,
} from '../core/drift.js';
import { Policy } from '../core/schemas.js';
import { UserError } from '../ops/user-error.js';
import { defaultThreads, driftReportParallel } from './parallel.js';
import { inferType, readTable, toColumn } from './tables.js';

const PARALLEL_FROM = 2_000_000;

export interface OfflineOptions {
  test?: TestName;
  numeric?: string[];
  categorical?: string[];
  driftShare?: number;
  correction?: 'none' | 'bonferroni' | 'benjamini-hochberg';
}

export interface OfflineFeature {
  feature: string;
  type: 'numeric' | 'categorical';
  test: TestName;
  statistic: number;
  pValue: number | null;
  threshold: number;
  drifted: boolean;
}

export interface OfflineReport {
  features: OfflineFeature[];
  dataset: { drifted: boolean; share: number };
}

export interface OfflineRun {
  report: OfflineReport;
  /** Columns not tested, with why (timestamps, no values). */
  skipped: { feature: string; reason: string }[];
  referenceRows: number;
  currentRows: number;
  driftShare: number;
  timings: { readMs: number; profileMs: number; reportMs: number };
  full: DriftReport;
}

export async function offlineDrift(
  referenceFile: string,
  currentFile: string,
  opts: OfflineOptions = {},
): Promise<OfflineRun> {
  const t0 = performance.now();
  const [ref, cur] = await Promise.all([readTable(referenceFile), readTable(currentFile)]);
  const t1 = performance.now();
  if (ref.rows === 0) throw new UserError(`${referenceFile} has no rows: the reference needs data`);
  if (cur.rows === 0) throw new UserError(`${currentFile} has no rows: the current window is empty`);
  const refNames = [...ref.columns.keys()];
  const curNames = new Set(cur.columns.keys());
  const onlyRef = refNames.filter((n) => !curNames.has(n));
  const onlyCur = [...curNames].filter((n) => !ref.columns.has(n));
  if (onlyRef.length > 0 || onlyCur.length > 0) {
    const parts = [];
    if (onlyRef.length) parts.push(`only in ${referenceFile}: ${onlyRef.join(', ')}`);
    if (onlyCur.length) parts.push(`only in ${currentFile}: ${onlyCur.join(', ')}`);
    throw new UserError(`the files have different columns (${parts.join('; ')}); both need the same columns`);
  }
  for (const name of [...(opts.numeric ?? []), ...(opts.categorical ?? [])]) {
    if (!ref.columns.has(name))
      throw new UserError(`column "${name}" (from --numeric/--categorical) is not in the files`);
  }
  const both = (opts.numeric ?? []).filter((n) => opts.categorical?.includes(n));
  if (both.length) throw new UserError(`column(s) ${both.join(', ')} declared both numeric and categorical`);

  const skipped: OfflineRun['skipped'] = [];
  const refColumns: Record<string, Column> = {};
  const curColumns: Record<string, Column> = {};
  for (const name of refNames) {
    const inferred = inferType(ref.columns.get(name)!);
    if (inferred === 'timestamp' || inferType(cur.columns.get(name)!) === 'timestamp') {
      skipped.push({ feature: name, reason: 'timestamp column: not a feature' });
      continue;
    }
    const type = opts.numeric?.includes(name)
      ? 'numeric'
      : opts.categorical?.includes(name)
        ? 'categorical'
        : inferred;
    refColumns[name] = toColumn(ref, name, type);
    curColumns[name] = toColumn(cur, name, type);
  }
  if (Object.keys(refColumns).length === 0) throw new UserError('no columns to compare (only timestamps)');

  const policy = Policy.parse({
    drift: {
      ...(opts.driftShare !== undefined ? { driftedShare: opts.driftShare } : {}),
      ...(opts.correction ? { correction: opts.correction } : {}),
    },
  }).drift;
  const profile = profileColumns(refColumns, { maxSample: Number.MAX_SAFE_INTEGER, learnedChunks: 0 });
  const t2 = performance.now();
  const force = opts.test ? { forceTest: opts.test } : {};
  const numericCells = Object.values(curColumns).reduce(
    (a, c) => a + (c.type === 'numeric' ? c.values.length : 0),
    0,
  );
  // Sorting dominates big windows: past a few million numeric values, test features on all cores.
  const full =
    numericCells >= PARALLEL_FROM && defaultThreads() > 1
      ? await driftReportParallel(profile, curColumns, [], policy, force)
      : driftReportColumns(profile, curColumns, [], policy, force);
  const t3 = performance.now();
  skipped.push(...full.skipped);
  return {
    report: {
      features: full.features.map((f) => ({
        feature: f.feature,
        type: f.type,
        test: f.test,
        statistic: f.statistic,
        pValue: f.pValue,
        threshold: f.threshold,
        drifted: f.drifted,
      })),
      dataset: { drifted: full.datasetDrifted, share: full.driftedShare },
    },
    skipped,
    referenceRows: ref.rows,
    currentRows: cur.rows,
    driftShare: policy.driftedShare,
    timings: { readMs: t1 - t0, profileMs: t2 - t1, reportMs: t3 - t2 },
    full,
  };
}

export function renderOffline(run: OfflineRun): string {
  const rows = run.report.features.map((f) => [
    f.feature,
    f.type,
    f.test,
    fmt(f.statistic),
    f.pValue === null ? '-' : fmt(f.pValue),
    `${f.pValue === null ? '>=' : f.test === 'ks' ? '<=' : '<'} ${f.threshold}`,
    f.drifted ? 'DRIFT' : 'ok',
  ]);
  const header = ['feature', 'type', 'test', 'statistic', 'p-value', 'drift when', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const drifted = run.report.features.filter((f) => f.drifted).length;
  const out = [
    `reference ${run.referenceRows} rows, current ${run.currentRows} rows`,
    '',
    line(header),
    ...rows.map(line),
    '',
    `dataset: ${run.report.dataset.drifted ? 'DRIFT' : 'no drift'} (${drifted} of ${run.report.features.length} features, share ${run.report.dataset.share.toFixed(3)}; drift at >= ${run.driftShare})`,
  ];
  for (const s of run.skipped) out.push(`not tested: ${s.feature} (${s.reason})`);
  return `${out.join('\n')}\n`;
}

function fmt(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? x.toFixed(4) : x.toExponential(3);
}
