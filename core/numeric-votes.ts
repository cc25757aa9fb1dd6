/**
 * Overlapped items of a regression model's campaign: two numeric answers agree when they are within the
 * campaign's tolerance; an item whose first two answers are further apart goes to a third reviewer. An
 * item settles on the mean of two answers that agree, else on the median of three (the answer between the
 * other two, so one reviewer far off does not move it). Agreement over the campaign is Krippendorff's
 * alpha (interval metric, core/numeric-agreement.ts), gated by `minAlpha`. Pure.
 */
import type { Agreement, Vote } from './labeling.js';
import { numericAgreementOf } from './numeric-agreement.js';
import { canonicalNumericLabel, type NumericLabelRange } from './regression-labels.js';

/** Share of the range two answers may differ by and still agree, when the policy gives no `agreeWithin`. */
export const DEFAULT_AGREE_SHARE = 0.05;

/**
 * How far apart two answers may be and still agree, in the target's units: the policy's `agreeWithin`,
 * else 5 % of the campaign's range when both its ends are known, else 0 (only equal answers agree).
 */
export function agreeWithinOf(range: NumericLabelRange, agreeWithin: number | undefined): number {
  if (agreeWithin !== undefined) return agreeWithin;
  return range.min !== null && range.max !== null ? (range.max - range.min) * DEFAULT_AGREE_SHARE : 0;
}

const valueOf = (v: Pick<Vote, 'label'>): number => Number(v.label);

/** Whether the first two answers agree: within `within` of each other. */
function firstTwoAgree(votes: readonly Pick<Vote, 'label'>[], within: number): boolean {
  return Math.abs(valueOf(votes[0]!) - valueOf(votes[1]!)) <= within;
}

/** Answers a numeric overlapped item needs in all: two, or three once the first two are too far apart. */
export function numericAnswersNeeded(votes: readonly Pick<Vote, 'label'>[], within: number): number {
  return votes.length >= 2 && !firstTwoAgree(votes, within) ? 3 : 2;
}

/** The settled value as stored (canonical decimal text), or null while the item waits for an answer. */
export function settledNumericLabel(votes: readonly Pick<Vote, 'label'>[], within: number): string | null {
  if (votes.length < 2) return null;
  if (firstTwoAgree(votes, within))
    return canonicalNumericLabel((valueOf(votes[0]!) + valueOf(votes[1]!)) / 2);
  if (votes.length < 3) return null;
  const three = votes
    .slice(0, 3)
    .map(valueOf)
    .sort((a, b) => a - b);
  return canonicalNumericLabel(three[1]!);
}

/**
 * Agreement on a numeric campaign's overlapped items: alpha over every item's answers, the pairs and
 * disagreements of the first two answers (further apart than `within`), and how many a third settled.
 * `kappa` is null: it is for classes.
 */
export function numericVotesAgreement(
  votes: Iterable<readonly Pick<Vote, 'label'>[]>,
  overlapped: number,
  thresholds: { minKappa: number; minAlpha: number; within: number },
): Agreement {
  const items: number[][] = [];
  let disagreements = 0;
  let settledByThird = 0;
  for (const v of votes) {
    if (v.length < 2) continue;
    items.push(v.map(valueOf));
    if (!firstTwoAgree(v, thresholds.within)) disagreements++;
    if (v.length >= 3) settledByThird++;
  }
  const numeric = numericAgreementOf(items);
  return {
    overlapped,
    pairs: items.length,
    kappa: null,
    disagreements,
    settledByThird,
    minKappa: thresholds.minKappa,
    alpha: numeric.alpha,
    minAlpha: thresholds.minAlpha,
    meanAbsoluteDifference: numeric.meanAbsoluteDifference,
    agreeWithin: thresholds.within,
  };
}
