/**
 * The drift reference a newly promoted champion is compared with: which span of production it covers,
 * and the baseline metrics measured on it with their uncertainty. Pure; the promote activity reads the
 * rows and writes the profile.
 *
 * Why not the candidate's training rows: those are a sample chosen by uncertainty and by the drifted
 * region of one window. Monitoring the following year against them flags every ordinary season the
 * window did not contain as out of range. The reference must be the population the champion serves.
 */
import type { Baseline, BaselineEvidence, ReferenceSpan } from './drift.js';
import { macroAucOvr } from './evaluation.js';
import { accuracy, logLoss, macroF1 } from './metrics.js';

/** At most this many production rows are profiled (a uniform sample of the span, the count stated). */
export const REFERENCE_MAX_ROWS = 50_000;
/** Two-sided 95% normal quantile. */
const Z95 = 1.959964;

export interface Span {
  start: string;
  end: string;
}

/**
 * The span the new reference covers (end exclusive).
 * - With `referenceSpanMs` (policy `drift.referenceSpan`): the last that much of production, ending where
 *   the cycle's window ends.
 * - Otherwise (the default): the previous reference's span combined with the cycle's window, so every
 *   season the old champion was compared against stays covered and the window's population is added.
 * - A previous reference that does not say its span (profiles written before spans were stored): the
 *   champion's training data window if known, else everything logged before the window's end.
 */
export function chooseReferenceSpan(input: {
  previous: { span: Span; source: 'profile' | 'training-data' } | null;
  window: Span | null;
  referenceSpanMs: number | null;
  /** The earliest production row known (the log or the registration's reference data). */
  earliest: string | null;
}): ReferenceSpan {
  const { previous, window } = input;
  const ends = [previous?.span.end, window?.end].filter((x): x is string => x !== undefined);
  if (ends.length === 0)
    throw new Error(
      'cannot choose a reference span: neither the cycle window nor the previous reference span is known',
    );
  const end = iso(Math.max(...ends.map(ms)));
  if (input.referenceSpanMs !== null) {
    if (!(input.referenceSpanMs > 0)) throw new Error(`drift.referenceSpan must be positive`);
    return {
      start: iso(ms(end) - input.referenceSpanMs),
      end,
      rule: `the last ${days(input.referenceSpanMs)} of production up to the window's end`,
    };
  }
  if (previous) {
    const start = iso(Math.min(ms(previous.span.start), window ? ms(window.start) : Infinity));
    return {
      start,
      end,
      rule:
        previous.source === 'profile'
          ? "the previous reference's span combined with the cycle's window"
          : "the previous champion's training-data window combined with the cycle's window",
    };
  }
  const start = input.earliest ?? window!.start;
  return {
    start: iso(Math.min(ms(start), window ? ms(window.start) : Infinity)),
    end,
    rule: "everything logged before the window's end (the previous reference's span is unknown)",
  };
}

/** Wilson score interval of a proportion (95% unless `z` says otherwise). Null without trials. */
export function wilsonInterval(
  successes: number,
  n: number,
  z = Z95,
): { low: number; high: number; level: number } | null {
  if (!(n > 0)) return null;
  if (successes < 0 || successes > n) throw new Error(`${successes} successes out of ${n} trials`);
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === n ? 1 : Math.min(1, centre + half),
    level: Math.round(2 * normalCdf(z) * 1000 - 1000) / 1000,
  };
}

function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 on erf; plenty for naming the level.
  const t = 1 / (1 + 0.3275911 * (z / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(z * z) / 2);
  return 0.5 * (1 + y);
}

export interface Prediction {
  label: string;
  probabilities: Record<string, number>;
}

/** The champion's metrics on rows it was not trained on, with the accuracy's interval and the count. */
export function measureBaseline(
  truth: readonly string[],
  predictions: readonly Prediction[],
  source: string,
): { baseline: Baseline; evidence: BaselineEvidence } {
  if (truth.length !== predictions.length)
    throw new Error(`${truth.length} labels but ${predictions.length} predictions`);
  if (truth.length === 0)
    throw new Error(`no labeled rows to measure the baseline on (${source}): collect feedback first`);
  const predicted = predictions.map((p) => p.label);
  const probs = predictions.map((p) => p.probabilities);
  const acc = accuracy(truth, predicted);
  const baseline: Baseline = {
    accuracy: acc,
    macroF1: macroF1(truth, predicted),
    logLoss: logLoss(truth, probs),
  };
  const auc = macroAucOvr(truth, probs);
  if (auc !== null) baseline.auc = auc;
  const correct = predicted.reduce((n, p, i) => n + (p === truth[i] ? 1 : 0), 0);
  const interval = wilsonInterval(correct, truth.length)!;
  return {
    baseline,
    evidence: {
      rows: truth.length,
      source,
      accuracyInterval: { low: interval.low, high: interval.high, level: interval.level, method: 'wilson' },
    },
  };
}

/** "61.1% (95% CI 55.0–66.9%, 240 rows: …)": how a baseline is printed wherever it appears. */
export function describeBaseline(accuracyValue: number, evidence: BaselineEvidence | undefined): string {
  const base = pct(accuracyValue);
  if (!evidence) return base;
  const ci = evidence.accuracyInterval;
  return `${base} (${Math.round(ci.level * 100)}% CI ${pct(ci.low)}–${pct(ci.high)} on ${evidence.rows} rows)`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
function ms(s: string): number {
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new Error(`"${s}" is not a date`);
  return t;
}
function iso(t: number): string {
  return new Date(t).toISOString();
}
function days(msValue: number): string {
  const d = msValue / 86_400_000;
  return Number.isInteger(d) ? `${d} days` : `${msValue} ms`;
}
