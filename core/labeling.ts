/**
 * The pure rules of a labeling campaign: which items two reviewers answer, when an overlapped item is
 * settled and on which label, how much reviewers agree, and how requests are cut into batches. The
 * campaign workflow (workflows/labeling.ts) keeps the state; these functions only read it.
 */
import type { LabelingSettings, LabelingStrategy } from './labeling-settings.js';
import { cohenKappa } from './metrics.js';
import { trafficBucket } from './policy.js';

/** One reviewer's answer to an overlapped item, in the order the answers came. */
export interface Vote {
  reviewer: string;
  label: string;
  /** How the reviewer's name was established (absent in votes kept before it was recorded). */
  verifiedBy?: string;
}

/** Agreement on overlapped items: Cohen's kappa of the first two answers, and how many went to a third. */
export interface Agreement {
  overlapped: number;
  pairs: number;
  kappa: number | null;
  disagreements: number;
  settledByThird: number;
  minKappa: number;
  /** A numeric campaign's agreement: Krippendorff's alpha (interval) over every overlapped item's answers. */
  alpha?: number | null;
  minAlpha?: number;
  /** A numeric campaign: the mean absolute difference of the first two answers, and the agreement tolerance. */
  meanAbsoluteDifference?: number;
  agreeWithin?: number;
}

/** Which batch is out, of how many. */
export interface BatchProgress {
  current: number;
  of: number;
  size: number;
}

/**
 * Whether two reviewers answer this item: a stable hash of campaign and item, so a replay (and a later
 * batch) agrees, and about `overlap` of the items are chosen.
 */
export function isOverlapped(campaignId: string, recordKey: string, overlap: number): boolean {
  return overlap > 0 && trafficBucket(`${campaignId}:${recordKey}`) < Math.round(overlap * 100);
}

/** Answers an overlapped item needs in all: two, or three once the first two disagree. */
export function answersNeeded(votes: readonly Vote[]): number {
  return votes.length >= 2 && votes[0]!.label !== votes[1]!.label ? 3 : 2;
}

/**
 * The settled label of an overlapped item, or null while it waits for another answer: the first two
 * answers when they agree, else the majority of three, else (a three-way split) the third answer.
 */
export function settledLabel(votes: readonly Pick<Vote, 'label'>[]): string | null {
  if (votes.length >= 2 && votes[0]!.label === votes[1]!.label) return votes[0]!.label;
  if (votes.length < 3) return null;
  const counts = new Map<string, number>();
  for (const v of votes.slice(0, 3)) counts.set(v.label, (counts.get(v.label) ?? 0) + 1);
  for (const [label, n] of counts) if (n >= 2) return label;
  return votes[2]!.label;
}

/** Who settled an overlapped item, as stored with its label: the reviewers joined by "+". */
export function settledBy(votes: readonly Pick<Vote, 'reviewer'>[]): string {
  return votes.map((v) => v.reviewer).join('+');
}

/**
 * How the reviewers who settled an overlapped item were identified, as stored with its label: each
 * method once, in answer order, joined by "+" (`jwt`, `jwt+unverified`); a vote without one counts as
 * `unverified`.
 */
export function settledVerifiedBy(votes: readonly Pick<Vote, 'verifiedBy'>[]): string {
  return [...new Set(votes.map((v) => v.verifiedBy ?? 'unverified'))].join('+');
}

/** Adds a reviewer's answer unless that reviewer already answered (a retried Update is not a second vote). */
export function withVote(votes: readonly Vote[], vote: Vote): Vote[] {
  return votes.some((v) => v.reviewer === vote.reviewer) ? [...votes] : [...votes, vote];
}

/** How much the reviewers agree so far, over the votes of every overlapped item. */
export function agreementOf(
  votes: Iterable<readonly Vote[]>,
  overlapped: number,
  minKappa: number,
): Agreement {
  const pairs: [string, string][] = [];
  let settledByThird = 0;
  for (const v of votes) {
    if (v.length >= 2) pairs.push([v[0]!.label, v[1]!.label]);
    if (v.length >= 3) settledByThird++;
  }
  return {
    overlapped,
    pairs: pairs.length,
    kappa: cohenKappa(pairs),
    disagreements: pairs.filter(([a, b]) => a !== b).length,
    settledByThird,
    minKappa,
  };
}

/**
 * The agreement gate: true when reviewers agree too little to train on, that is when at least
 * `minOverlapItems` items have two answers and their kappa is below `minKappa` (a numeric campaign: their
 * alpha below `minAlpha`).
 */
export function agreesTooLittle(a: Agreement, minOverlapItems: number): boolean {
  if (a.pairs < minOverlapItems) return false;
  if (a.minAlpha !== undefined) return a.alpha !== undefined && a.alpha !== null && a.alpha < a.minAlpha;
  return a.kappa !== null && a.kappa < a.minKappa;
}

/**
 * The agreement so far, for status lines: "kappa 0.72 on 9 items (gate 0.6)" or "alpha 0.91 on 9 items
 * (gate 0.667)"; null before two answers can be compared.
 */
export function agreementText(a: Agreement): string | null {
  if (a.minAlpha !== undefined)
    return a.alpha === undefined || a.alpha === null
      ? null
      : `alpha ${a.alpha.toFixed(2)} on ${a.pairs} items (gate ${a.minAlpha})`;
  return a.kappa === null ? null : `kappa ${a.kappa.toFixed(2)} on ${a.pairs} items (gate ${a.minKappa})`;
}

/** The agreement as a person reads it: "kappa 0.42 < 0.6" or "alpha 0.31 < 0.667". */
export function agreementShortfall(a: Agreement): string {
  if (a.minAlpha !== undefined) return `alpha ${(a.alpha ?? NaN).toFixed(2)} < ${a.minAlpha}`;
  return `kappa ${(a.kappa ?? NaN).toFixed(2)} < ${a.minKappa}`;
}

/** Candidate and disagreement strategies choose each batch when the previous one is answered. */
export function choosesBatchByBatch(strategy: LabelingStrategy): boolean {
  return strategy === 'candidate' || strategy === 'disagreement';
}

/** Items per batch (0: all at once); the batch-by-batch strategies take 10 when the policy sets none. */
export function batchSizeOf(settings: Pick<LabelingSettings, 'strategy' | 'batchSize'>): number {
  return choosesBatchByBatch(settings.strategy) ? settings.batchSize || 10 : settings.batchSize;
}

/** Which batch is out: `released` items of `total` sent so far, `size` at a time. */
export function batchProgress(released: number, total: number, size: number): BatchProgress {
  return { current: Math.ceil(released / size), of: Math.ceil(total / size), size };
}

/** The batch that is out has every item settled, and there is another to send. */
export function batchAnswered(
  items: readonly { recordKey: string }[],
  released: number,
  total: number,
  size: number,
  answered: ReadonlyMap<string, unknown>,
): boolean {
  return size > 0 && released < total && items.slice(0, released).every((i) => answered.has(i.recordKey));
}
