/**
 * The window's performance without labels: the champion's class probabilities on the window's rows,
 * calibrated on labeled reference rows the champion was not trained on (CBPE, core/estimation-multiclass.ts),
 * give the expected accuracy and macro F1 with a band of ±3 sampling errors. The performance path uses it
 * when fewer labeled rows than the policy's minimum have arrived. Pure: the drift activity reads and
 * scores the rows.
 */
import type { MetricEstimate } from '../estimation.js';
import { estimateMulticlass, fitCbpeMulticlass, type MulticlassModel } from '../estimation-multiclass.js';
import { fnv1a } from '../hash.js';

/** Fewer labeled reference rows than this calibrate too little to estimate on. */
export const MIN_CALIBRATION_ROWS = 30;
/** At most this many window rows are scored for the estimate (a uniform sample beyond it, the count stated). */
export const ESTIMATE_MAX_ROWS = 10_000;
/** At most this many labeled reference rows calibrate the estimator. */
export const CALIBRATION_MAX_ROWS = 20_000;

/** What the champion said about one row. */
export interface ScoredRow {
  predicted: string;
  probabilities: Record<string, number>;
}

export interface WindowEstimator {
  model: MulticlassModel;
  /** Labeled reference rows the calibration used, and which rows they were. */
  calibrationRows: number;
  calibrationSource: string;
}

export interface MetricWithBand {
  estimate: number;
  band: [number, number];
}

/** The label-free estimate of one window. */
export interface PerformanceEstimate {
  method: 'cbpe';
  accuracy: MetricWithBand;
  macroF1: MetricWithBand;
  /** Window rows scored for the estimate, out of the rows the window held. */
  rows: number;
  windowRows: number;
  calibrationRows: number;
  calibrationSource: string;
}

/** An estimate, or why the window has none. */
export type EstimateOutcome = { estimate: PerformanceEstimate } | { unavailable: string };

const inClasses = (classes: readonly string[], r: ScoredRow): boolean => classes.includes(r.predicted);

function columns(classes: readonly string[], rows: readonly ScoredRow[]): number[][] {
  return classes.map((c) => rows.map((r) => Math.min(1, Math.max(0, r.probabilities[c] ?? 0))));
}

/**
 * Fits the estimator on labeled reference rows the champion scored. Null fits are explained: too few
 * rows, or labels the model does not know.
 */
export function fitWindowEstimator(
  classes: readonly string[],
  reference: readonly (ScoredRow & { truth: string })[],
  source: string,
): WindowEstimator | { unavailable: string } {
  const rows = reference.filter((r) => inClasses(classes, r) && classes.includes(r.truth));
  if (rows.length < MIN_CALIBRATION_ROWS)
    return {
      unavailable: `only ${rows.length} labeled reference rows the champion was not trained on (${source}); CBPE needs at least ${MIN_CALIBRATION_ROWS}`,
    };
  const model = fitCbpeMulticlass(
    {
      classes: [...classes],
      proba: columns(classes, rows),
      predicted: rows.map((r) => r.predicted),
      labels: rows.map((r) => r.truth),
    },
    { chunkSize: rows.length },
  );
  return { model, calibrationRows: rows.length, calibrationSource: source };
}

/** The estimate over the scored window rows (all of them, or a uniform sample of `windowRows`). */
export function estimateWindow(
  estimator: WindowEstimator,
  scored: readonly ScoredRow[],
  windowRows: number,
): EstimateOutcome {
  const { classes } = estimator.model;
  const rows = scored.filter((r) => inClasses(classes, r));
  if (rows.length === 0) return { unavailable: 'the champion scored no row of the window' };
  const [chunk] = estimateMulticlass(
    { ...estimator.model, chunkSize: rows.length },
    { classes, proba: columns(classes, rows), predicted: rows.map((r) => r.predicted) },
  );
  const metric = (m: MetricEstimate): MetricWithBand => ({
    estimate: m.estimate!,
    band: m.band!,
  });
  return {
    estimate: {
      method: 'cbpe',
      accuracy: metric(chunk!.metrics.accuracy),
      macroF1: metric(chunk!.metrics.f1),
      rows: rows.length,
      windowRows,
      calibrationRows: estimator.calibrationRows,
      calibrationSource: estimator.calibrationSource,
    },
  };
}

/**
 * A uniform sample of at most `size` items from a stream of unknown length (reservoir sampling with a
 * seeded generator): the window's rows arrive page by page and only the sample is kept.
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;
  private state: number;

  constructor(
    readonly size: number,
    seed: string,
  ) {
    this.state = fnv1a(seed);
  }

  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.next() * this.seen);
    if (j < this.size) this.items[j] = item;
  }

  /** mulberry32: a small, fast generator; enough to pick a sample. */
  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
