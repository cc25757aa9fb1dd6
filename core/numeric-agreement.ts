/**
 * How much reviewers agree on numeric answers (a regression model's overlapped items): Krippendorff's
 * alpha with the interval metric, 1 − observed / expected disagreement, where a disagreement is the
 * squared difference of two answers. 1 is perfect agreement, 0 no better than answers drawn at random
 * from all the answers given, below 0 systematic disagreement. Items with fewer than two answers are
 * left out (they cannot be compared). Pure.
 */

/** Agreement on numeric overlapped items: alpha, how many items it rests on, how far apart answers are. */
export interface NumericAgreement {
  /** Items with at least two answers. */
  items: number;
  /** Krippendorff's alpha (interval); null without two comparable items or when every answer is the same. */
  alpha: number | null;
  /** Mean absolute difference between each item's first two answers (0 without items). */
  meanAbsoluteDifference: number;
}

/** Sum over ordered pairs i ≠ j of (v_i − v_j)², as 2 (m Σv² − (Σv)²). */
function pairSquares(values: readonly number[]): number {
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  return 2 * (values.length * sq - sum * sum);
}

/**
 * Krippendorff's alpha, interval metric, of the answers per item (each item's list of answers, any
 * number of reviewers, missing answers simply absent).
 */
export function krippendorffAlphaInterval(items: readonly (readonly number[])[]): number | null {
  const pairable = items.filter((answers) => answers.length >= 2);
  for (const [i, answers] of pairable.entries())
    for (const v of answers)
      if (!Number.isFinite(v))
        throw new Error(
          `krippendorffAlphaInterval: item ${i} has an answer that is not a finite number (${v})`,
        );
  const n = pairable.reduce((a, answers) => a + answers.length, 0);
  if (pairable.length === 0 || n < 2) return null;
  // Centre the values first: the pair sums subtract large squares, which loses precision far from 0.
  const centre = pairable.reduce((a, answers) => a + answers.reduce((b, v) => b + v, 0), 0) / n;
  const centred = pairable.map((answers) => answers.map((v) => v - centre));
  const observed = centred.reduce((a, answers) => a + pairSquares(answers) / (answers.length - 1), 0) / n;
  const expected = pairSquares(centred.flat()) / (n * (n - 1));
  return expected > 0 ? 1 - observed / expected : null;
}

/** Agreement over the overlapped items' answers, in the order they came. */
export function numericAgreementOf(items: readonly (readonly number[])[]): NumericAgreement {
  const compared = items.filter((answers) => answers.length >= 2);
  const differences = compared.map((answers) => Math.abs(answers[0]! - answers[1]!));
  return {
    items: compared.length,
    alpha: krippendorffAlphaInterval(compared),
    meanAbsoluteDifference:
      differences.length === 0 ? 0 : differences.reduce((a, d) => a + d, 0) / differences.length,
  };
}
