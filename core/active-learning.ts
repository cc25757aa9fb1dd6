/**
 * Active learning with a quick candidate: between batches, a small forest is trained on the labels so far
 * (the model being built, not the champion, which a label shift leaves confidently wrong), and the next
 * batch is a share picked at random (exploration) plus the rows that forest is least sure of (smallest
 * margin between its two most likely labels), or the rows it and the champion disagree on. `npm run
 * bench:active-learning` measures these choices ("hybrid-30 margin", "disagreement") against random
 * selection on the weather data. Pure and deterministic.
 */
import { forestProbabilities, trainForest } from './forest.js';
import { encode, fitEncoder } from './model.js';
import type { FeatureSpec, Features } from './schemas.js';

/** The share of each batch picked at random. */
export const EXPLORE_SHARE = 0.3;

/** The quick candidate's settings: small and fixed, so it trains in milliseconds and the same every time. */
export const QUICK_FOREST = {
  trees: 20,
  maxDepth: 6,
  minSamplesLeaf: 2,
  maxFeatures: 'sqrt',
  seed: 1,
} as const;

/** Gap between the two largest probabilities. */
export function marginOf(probabilities: readonly number[]): number {
  let top = 0;
  let second = 0;
  for (const p of probabilities) {
    if (p > top) {
      second = top;
      top = p;
    } else if (p > second) second = p;
  }
  return top - second;
}

/**
 * A small forest trained on `examples`; returns what it says of each row (its most likely label and its
 * margin), or null with fewer than two labels.
 */
export function quickCandidate(
  spec: FeatureSpec,
  labelSet: readonly string[],
  examples: readonly { features: Features; label: string }[],
  rows: readonly { features: Features }[],
): { label: string; margin: number }[] | null {
  const usable = examples.filter((e) => labelSet.includes(e.label));
  if (usable.length < 2) return null;
  const encoder = fitEncoder(
    spec,
    usable.map((e) => e.features),
  );
  const trees = trainForest(
    usable.map((e) => encode(encoder, e.features)),
    usable.map((e) => labelSet.indexOf(e.label)),
    null,
    labelSet.length,
    QUICK_FOREST,
  );
  return rows.map((r) => {
    const p = forestProbabilities(trees, encode(encoder, r.features), labelSet.length);
    return { label: labelSet[p.indexOf(Math.max(...p))]!, margin: marginOf(p) };
  });
}

/** The rows the champion and the quick candidate disagree on first, then the candidate's smallest margins. */
export function disagreementPick<
  T extends { recordKey: string; margin: number; guess: string; candidateLabel: string },
>(rows: readonly T[], take: number): T[] {
  return [...rows]
    .sort(
      (a, b) =>
        Number(a.guess === a.candidateLabel) - Number(b.guess === b.candidateLabel) ||
        a.margin - b.margin ||
        (a.recordKey < b.recordKey ? -1 : 1),
    )
    .slice(0, take);
}

/**
 * The next batch from `shuffled` (the remaining rows in a stable shuffled order): the first
 * round(take × explore) as they come, then `best` chooses the rest among the others.
 */
export function hybridPick<T>(
  shuffled: readonly T[],
  take: number,
  explore: number,
  best: (rest: readonly T[], take: number) => T[],
): T[] {
  const n = Math.min(take, shuffled.length);
  const random = Math.round(n * explore);
  return [...shuffled.slice(0, random), ...best(shuffled.slice(random), n - random)];
}

/** `hybridPick` with the smallest margins among the rest (ties by record key). */
export function hybridMarginPick<T extends { recordKey: string; margin: number }>(
  shuffled: readonly T[],
  take: number,
  explore = EXPLORE_SHARE,
): T[] {
  return hybridPick(shuffled, take, explore, (rest, k) =>
    [...rest].sort((a, b) => a.margin - b.margin || (a.recordKey < b.recordKey ? -1 : 1)).slice(0, k),
  );
}
