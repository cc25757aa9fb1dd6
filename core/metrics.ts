/**
 * Classification metrics and the two-proportion z-test. Pure and deterministic (imported by workflow
 * code): no I/O, no Node built-ins, no randomness.
 */
import { normalCdf } from './stats.js';

/** Throws unless truth and the other side are equally long and not empty. */
export function requirePaired(truth: readonly unknown[], other: readonly unknown[], what: string): void {
  if (truth.length !== other.length) {
    throw new Error(`${what}: truth has ${truth.length} entries but the other side has ${other.length}`);
  }
  if (truth.length === 0) throw new Error(`${what}: needs at least one example, got none`);
}

/** An own key (not one inherited, such as "constructor"). */
export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Share of positions where predicted === truth. Throws on a length mismatch or empty input. */
export function accuracy(truth: readonly string[], predicted: readonly string[]): number {
  requirePaired(truth, predicted, 'accuracy');
  let correct = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) correct++;
  return correct / truth.length;
}

/**
 * Unweighted mean of per-label F1, like sklearn.metrics.f1_score(average='macro'). With no `labels`,
 * the labels are the sorted union of the true *and* predicted labels (sklearn's default), so a model
 * inventing a class is charged an F1 of 0 for it. A label with no true and no predicted examples has
 * 0/0 precision and recall; it scores 0, like sklearn's default zero_division.
 */
export function macroF1(
  truth: readonly string[],
  predicted: readonly string[],
  labels?: readonly string[],
): number {
  requirePaired(truth, predicted, 'macroF1');
  const labelList = labels ?? [...new Set([...truth, ...predicted])].sort();
  if (labelList.length === 0) throw new Error('macroF1: labels must not be empty');
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const fn = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (t === p) bump(tp, t);
    else {
      bump(fp, p);
      bump(fn, t);
    }
  }
  let sum = 0;
  for (const label of labelList) {
    const tpc = tp.get(label) ?? 0;
    // F1 = 2·TP / (2·TP + FP + FN): the harmonic mean of precision and recall, without dividing twice.
    const denom = 2 * tpc + (fp.get(label) ?? 0) + (fn.get(label) ?? 0);
    sum += denom === 0 ? 0 : (2 * tpc) / denom;
  }
  return sum / labelList.length;
}

/**
 * Mean negative log-probability assigned to the true class. Probabilities are clipped to
 * [epsilon, 1 − epsilon] so a confident miss (or a class missing from the row, read as 0) costs
 * −ln(epsilon) ≈ 34.5 instead of Infinity. Rows are not renormalised.
 */
export function logLoss(
  truth: readonly string[],
  probabilities: readonly Record<string, number>[],
  epsilon = 1e-15,
): number {
  requirePaired(truth, probabilities, 'logLoss');
  if (!(epsilon > 0 && epsilon < 0.5))
    throw new Error(`logLoss: epsilon must be in (0, 0.5), got ${epsilon}`);
  let sum = 0;
  for (let i = 0; i < truth.length; i++) {
    const row = probabilities[i]!;
    const label = truth[i]!;
    const p = hasOwn(row, label) ? row[label]! : 0;
    if (Number.isNaN(p)) throw new Error(`logLoss: probability of "${label}" in row ${i} is NaN`);
    sum -= Math.log(Math.min(1 - epsilon, Math.max(epsilon, p)));
  }
  return sum / truth.length;
}

function requireCount(successes: number, total: number, which: string): void {
  if (!Number.isInteger(total) || total <= 0)
    throw new Error(`twoProportionZTest: total${which} must be a positive integer, got ${total}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > total) {
    throw new Error(
      `twoProportionZTest: successes${which} must be an integer in [0, ${total}], got ${successes}`,
    );
  }
}

/**
 * Two-sided pooled two-proportion z-test of pA = pB (as statsmodels proportions_ztest with the pooled
 * variance). diff = pA − pB. When the pooled variance is 0 (both groups all-success or all-failure)
 * the proportions are identical and there is no evidence of a difference: z 0, pValue 1.
 */
export function twoProportionZTest(
  successesA: number,
  totalA: number,
  successesB: number,
  totalB: number,
): { z: number; pValue: number; diff: number } {
  requireCount(successesA, totalA, 'A');
  requireCount(successesB, totalB, 'B');
  const pA = successesA / totalA;
  const pB = successesB / totalB;
  const diff = pA - pB;
  const pooled = (successesA + successesB) / (totalA + totalB);
  const variance = pooled * (1 - pooled) * (1 / totalA + 1 / totalB);
  if (variance === 0) return { z: 0, pValue: 1, diff };
  const z = diff / Math.sqrt(variance);
  // 2·Φ(−|z|) rather than 2·(1 − Φ(|z|)): keeps relative precision for small p-values.
  return { z, pValue: Math.min(1, 2 * normalCdf(-Math.abs(z))), diff };
}

/**
 * Confusion counts as counts[truth][predicted], over the sorted union of labels on both sides; every
 * cell is present (0 when never observed).
 */
export function confusionCounts(
  truth: readonly string[],
  predicted: readonly string[],
): Record<string, Record<string, number>> {
  requirePaired(truth, predicted, 'confusionCounts');
  const labels = [...new Set([...truth, ...predicted])].sort();
  const cells = new Map<string, Map<string, number>>(
    labels.map((t) => [t, new Map(labels.map((p) => [p, 0]))]),
  );
  for (let i = 0; i < truth.length; i++) {
    const row = cells.get(truth[i]!)!;
    row.set(predicted[i]!, row.get(predicted[i]!)! + 1);
  }
  // Object.fromEntries defines own properties, so labels such as "__proto__" stay ordinary keys.
  return Object.fromEntries(labels.map((t) => [t, Object.fromEntries(cells.get(t)!)]));
}

/**
 * Cohen's kappa between two raters' labels on the same items: agreement beyond what their label
 * frequencies would give by chance, (p_o − p_e) / (1 − p_e). 1 is perfect agreement, 0 chance, below 0
 * worse than chance. When both raters always give the same single label (p_e = 1), agreement is perfect
 * and kappa is 1. Null for no items.
 */
export function cohenKappa(pairs: readonly (readonly [string, string])[]): number | null {
  const n = pairs.length;
  if (n === 0) return null;
  const first = new Map<string, number>();
  const second = new Map<string, number>();
  let agree = 0;
  for (const [a, b] of pairs) {
    if (a === b) agree++;
    first.set(a, (first.get(a) ?? 0) + 1);
    second.set(b, (second.get(b) ?? 0) + 1);
  }
  const observed = agree / n;
  let expected = 0;
  for (const [label, count] of first) expected += (count / n) * ((second.get(label) ?? 0) / n);
  if (expected >= 1) return 1;
  return (observed - expected) / (1 - expected);
}
