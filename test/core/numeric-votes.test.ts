/**
 * Overlapped numeric answers: the tolerance two answers may differ by, when a third reviewer is needed,
 * the settled value (mean of two that agree, median of three), and the alpha gate.
 */
import { describe, expect, it } from 'vitest';
import { agreementShortfall, agreementText, agreesTooLittle } from '../../core/labeling.js';
import { krippendorffAlphaInterval } from '../../core/numeric-agreement.js';
import {
  agreeWithinOf,
  numericAnswersNeeded,
  numericVotesAgreement,
  settledNumericLabel,
} from '../../core/numeric-votes.js';

const votes = (...labels: string[]) => labels.map((label, i) => ({ reviewer: `r${i}`, label }));

describe('numeric overlapped answers', () => {
  it('given a range, then two answers agree within 5 % of it; the policy overrides; an open range needs equal answers', () => {
    expect(agreeWithinOf({ min: 0, max: 50 }, undefined)).toBe(2.5);
    expect(agreeWithinOf({ min: 0, max: 50 }, 1)).toBe(1);
    expect(agreeWithinOf({ min: 0, max: null }, undefined)).toBe(0);
  });

  it('given answers within the tolerance, then two settle on their mean; further apart, a third settles on the median', () => {
    expect(numericAnswersNeeded(votes('20'), 2.5)).toBe(2);
    expect(settledNumericLabel(votes('20'), 2.5)).toBeNull();
    expect(numericAnswersNeeded(votes('20', '22.5'), 2.5)).toBe(2);
    expect(settledNumericLabel(votes('20', '22.5'), 2.5)).toBe('21.25');
    expect(numericAnswersNeeded(votes('20', '22.6'), 2.5)).toBe(3);
    expect(settledNumericLabel(votes('20', '22.6'), 2.5)).toBeNull();
    // One reviewer far off does not move the median.
    expect(settledNumericLabel(votes('20', '90', '21'), 2.5)).toBe('21');
    expect(settledNumericLabel(votes('90', '20', '21'), 2.5)).toBe('21');
  });

  it('given items answered twice or three times, then alpha is computed over all answers and gates below minAlpha', () => {
    const items = [votes('20', '20.5'), votes('10', '30', '12'), votes('30', '5', '28'), votes('7')];
    const a = numericVotesAgreement(items, 4, { minKappa: 0.6, minAlpha: 0.667, within: 4.9 });
    const alpha = krippendorffAlphaInterval([
      [20, 20.5],
      [10, 30, 12],
      [30, 5, 28],
    ])!;
    expect(a).toMatchObject({ overlapped: 4, pairs: 3, disagreements: 2, settledByThird: 2, kappa: null });
    expect(a.alpha).toBeCloseTo(alpha, 12);
    expect(a.meanAbsoluteDifference).toBeCloseTo((0.5 + 20 + 25) / 3, 12);
    expect(agreesTooLittle(a, 3)).toBe(true);
    expect(agreesTooLittle(a, 4)).toBe(false);
    expect(agreementShortfall(a)).toBe(`alpha ${alpha.toFixed(2)} < 0.667`);
    expect(agreementText(a)).toBe(`alpha ${alpha.toFixed(2)} on 3 items (gate 0.667)`);
    const close = numericVotesAgreement([votes('20', '20.5'), votes('10', '11'), votes('30', '29')], 3, {
      minKappa: 0.6,
      minAlpha: 0.667,
      within: 4.9,
    });
    expect(close.alpha).toBeGreaterThan(0.95);
    expect(agreesTooLittle(close, 3)).toBe(false);
  });
});
