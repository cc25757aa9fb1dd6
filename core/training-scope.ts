/**
 * What a retraining learns from, and how much each row counts.
 *
 * - A severe drift: the window's labeled rows, each weighing `driftedWeight`, plus a share
 *   (`historyShare`) of the champion's training rows at weight 1.
 * - A mild drift keeps what the champion knew: every labeled training row of the champion, weighted by
 *   recency (2^(−age / recencyHalfLife), the age measured back from the window's newest labeled row), plus
 *   the window's labeled rows at `driftedWeight` each. A window row always outweighs any reference row, so
 *   where the two disagree about a region the window wins, and where the window has no rows the champion's
 *   knowledge remains.
 *
 * Pure: the training activity loads the rows, this decides their weights and says what it did.
 */

export interface ScopedRow<F> {
  features: F;
  label: string;
  ts: Date;
}

export interface TrainingSetSummary {
  /** window: the window alone; window+history: a share of the champion's rows; window+reference: all of them, by recency. */
  scope: 'window' | 'window+history' | 'window+reference';
  windowRows: number;
  /** Each window row's weight. */
  windowWeight: number;
  /** Rows from the champion's training data. */
  referenceRows: number;
  /** Their weights (all 1 for window+history); null without any. */
  referenceWeight: { min: number; mean: number; max: number } | null;
  /** The recency half-life applied to the reference rows (window+reference only). */
  halfLife: string | null;
  /** The window's share of the summed weight: how much the candidate listens to the new labels. */
  windowWeightShare: number;
  /** Why a severe drift left the champion's rows out, when it did (their labels shifted). */
  withoutHistory?: string;
}

/** A row's weight after `ageMs` with the given half-life: 1 when new, ½ after one half-life; never above 1. */
export function recencyWeight(ageMs: number, halfLifeMs: number): number {
  if (!(halfLifeMs > 0)) throw new Error(`the recency half-life must be positive, got ${halfLifeMs} ms`);
  return 2 ** (-Math.max(0, ageMs) / halfLifeMs);
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

function summarize(
  scope: TrainingSetSummary['scope'],
  windowRows: number,
  windowWeight: number,
  referenceWeights: readonly number[],
  halfLife: string | null,
): TrainingSetSummary {
  const refTotal = referenceWeights.reduce((a, b) => a + b, 0);
  const winTotal = windowRows * windowWeight;
  return {
    scope,
    windowRows,
    windowWeight,
    referenceRows: referenceWeights.length,
    referenceWeight:
      referenceWeights.length === 0
        ? null
        : {
            min: round(Math.min(...referenceWeights)),
            mean: round(refTotal / referenceWeights.length),
            max: round(Math.max(...referenceWeights)),
          },
    halfLife,
    windowWeightShare: winTotal + refTotal > 0 ? round(winTotal / (winTotal + refTotal)) : 0,
  };
}

/**
 * The weighted training rows and their summary. `history` is what the caller loaded from the champion's
 * training data: for a severe drift already cut to `historyShare`, for a mild one all of it.
 */
export function scopeTrainingRows<F>(input: {
  severity: 'mild' | 'severe';
  window: readonly ScopedRow<F>[];
  history: readonly ScopedRow<F>[];
  driftedWeight: number;
  /** Milliseconds and the policy's text for it (mild only). */
  halfLife: { ms: number; text: string };
}): { rows: { features: F; label: string; weight: number }[]; summary: TrainingSetSummary } {
  const { window, history, driftedWeight } = input;
  const windowRows = window.map((r) => ({ features: r.features, label: r.label, weight: driftedWeight }));
  if (history.length === 0) {
    // The window alone: nothing to outweigh, so every row counts the same.
    return {
      rows: windowRows.map((r) => ({ ...r, weight: 1 })),
      summary: summarize('window', window.length, 1, [], null),
    };
  }
  if (input.severity === 'severe') {
    const rows = [
      ...windowRows,
      ...history.map((r) => ({ features: r.features, label: r.label, weight: 1 })),
    ];
    return {
      rows,
      summary: summarize(
        'window+history',
        window.length,
        driftedWeight,
        history.map(() => 1),
        null,
      ),
    };
  }
  // Ages count back from the newest labeled row of the window (the newest of all rows without one).
  const asOf = Math.max(...(window.length > 0 ? window : history).map((r) => r.ts.getTime()));
  const weights = history.map((r) => recencyWeight(asOf - r.ts.getTime(), input.halfLife.ms));
  const rows = [
    ...windowRows,
    ...history.map((r, i) => ({ features: r.features, label: r.label, weight: weights[i]! })),
  ];
  return {
    rows,
    summary: summarize('window+reference', window.length, driftedWeight, weights, input.halfLife.text),
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
const num = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const rows = (n: number): string => `${n} ${n === 1 ? 'row' : 'rows'}`;

/** One sentence for the report and the model card: which rows, and what each weighed. */
export function trainingSetSentence(s: TrainingSetSummary): string {
  const win = `${rows(s.windowRows)} of the window`;
  if (s.scope === 'window')
    return `${win}, each weighing 1; none of the champion's training rows${s.withoutHistory ? ` (${s.withoutHistory})` : ''}.`;
  const w = s.referenceWeight!;
  const ref =
    s.scope === 'window+history'
      ? `${rows(s.referenceRows)} of the champion's training data (a share chosen by record key) weighing 1`
      : `all ${rows(s.referenceRows)} of the champion's training data weighted by recency (half-life ${s.halfLife}: ${num(w.min)} for the oldest to ${num(w.max)} for the newest, mean ${num(w.mean)})`;
  return `${win} weighing ${num(s.windowWeight)} each, plus ${ref}; the window carries ${pct(s.windowWeightShare)} of the total weight.`;
}

/** Whether a stored note's value is a summary this module wrote (notes are read back as plain JSON). */
export function isTrainingSet(v: unknown): v is TrainingSetSummary {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.scope === 'string' &&
    typeof s.windowRows === 'number' &&
    typeof s.windowWeight === 'number' &&
    typeof s.referenceRows === 'number' &&
    typeof s.windowWeightShare === 'number' &&
    (s.referenceRows === 0 || (typeof s.referenceWeight === 'object' && s.referenceWeight !== null))
  );
}
