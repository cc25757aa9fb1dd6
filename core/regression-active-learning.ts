/**
 * Active learning for a regression model: a quick forest is trained on the labels so far, and the next
 * batch is the rows its trees disagree on most (the largest spread of the trees' predictions), after a
 * share picked at random for exploration, as for classifiers (core/active-learning.ts).
 * test/core/regression-active-learning.test.ts measures this choice against random selection on the
 * vega cars. Pure and deterministic.
 */
import { EXPLORE_SHARE, hybridPick } from './active-learning.js';
import { predictValue, trainRegressor, type NumericExample } from './regression-forest.js';
import type { FeatureSpec, Features } from './schemas.js';

/** The quick forest's settings: small and fixed, so it trains in milliseconds and the same every time. */
export const QUICK_REGRESSOR = {
  trees: 20,
  maxDepth: 8,
  minSamplesLeaf: 2,
  maxFeatures: 'all',
  seed: 1,
} as const;

/**
 * A small forest trained on `examples`; returns its prediction and its trees' spread for each row, or
 * null with fewer than two labels (nothing to disagree about).
 */
export function quickRegressorSpread(
  spec: FeatureSpec,
  examples: readonly NumericExample[],
  rows: readonly { features: Features }[],
): { value: number; spread: number }[] | null {
  if (examples.length < 2) return null;
  const model = trainRegressor(spec, examples, QUICK_REGRESSOR);
  return rows.map((r) => {
    const p = predictValue(model, r.features);
    return { value: p.value, spread: p.spread };
  });
}

/** The `take` rows with the largest spread, ties by record key (so the choice never depends on row order). */
export function spreadPick<T extends { recordKey: string; spread: number }>(
  rows: readonly T[],
  take: number,
): T[] {
  if (!Number.isInteger(take) || take < 0)
    throw new Error(`spreadPick: take must be a whole number ≥ 0, got ${take}`);
  return [...rows]
    .sort(
      (a, b) => b.spread - a.spread || (a.recordKey < b.recordKey ? -1 : a.recordKey > b.recordKey ? 1 : 0),
    )
    .slice(0, take);
}

/**
 * A batch as a campaign takes it: the first `explore` share of `shuffled` (a stable shuffle of the rows
 * left) at random, the rest by the largest spread among the others.
 */
export function hybridSpreadPick<T extends { recordKey: string; spread: number }>(
  shuffled: readonly T[],
  take: number,
  explore = EXPLORE_SHARE,
): T[] {
  return hybridPick(shuffled, take, explore, spreadPick);
}

/**
 * The champion's predicted value as a campaign suggests it to a reviewer: four significant digits, as the
 * review page shows numbers (23.659… → "23.66", 4.12345 → "4.123"), whole numbers from 1000 on
 * (12345.6 → "12346", never "12350"): never a full float.
 */
export function suggestedValue(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`suggestedValue: ${String(value)} is not a finite number`);
  if (Math.abs(value) >= 1000) return String(Math.round(value));
  return String(Number(value.toPrecision(4)));
}
