/**
 * Numeric answers for a regression model's campaign: finite numbers within the target's range, as text
 * or a JSON number; everything else refused with the field named and what to send instead. The range
 * comes from the model's target, else from the reference's labels widened by the policy's margin.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalNumericLabel,
  numericLabelProblem,
  numericLabelRange,
  readNumericLabel,
} from '../../core/regression-labels.js';

describe('numeric label range', () => {
  it('given a configured target, then its ends are used as they are', () => {
    expect(numericLabelRange({ min: 0, max: 60 }, { min: 9, max: 46.6 }, 0.5)).toEqual({
      min: 0,
      max: 60,
      minFrom: 'target',
      maxFrom: 'target',
    });
  });

  it('given a target with one end and a reference, then the other end is the reference widened by the margin', () => {
    // The cars' miles per gallon span 9 to 46.6; half that span (18.8) beyond the top is 65.4.
    const r = numericLabelRange({ min: 0 }, { min: 9, max: 46.6 }, 0.5);
    expect(r).toMatchObject({ min: 0, minFrom: 'target', maxFrom: 'reference' });
    expect(r.max).toBeCloseTo(65.4, 12);
    expect(numericLabelRange(undefined, { min: 9, max: 46.6 }, 0)).toEqual({
      min: 9,
      max: 46.6,
      minFrom: 'reference',
      maxFrom: 'reference',
    });
  });

  it('given neither target nor reference, then both ends are open', () => {
    expect(numericLabelRange(undefined, null, 0.5)).toEqual({ min: null, max: null });
    expect(numericLabelProblem('-1e300', { min: null, max: null })).toBeNull();
  });

  it('given a bad margin or reference, then the error says what is wrong', () => {
    expect(() => numericLabelRange(undefined, null, -1)).toThrow('margin must be a number ≥ 0, got -1');
    expect(() => numericLabelRange(undefined, { min: 5, max: 1 }, 0.5)).toThrow(
      'the reference range [5, 1] is not a range',
    );
  });
});

describe('numeric answers', () => {
  const range = numericLabelRange({ min: 0 }, { min: 9, max: 46.6 }, 0.5);

  it('given numbers in range, as text or JSON numbers, then they are accepted and stored in one form', () => {
    for (const ok of ['23.5', ' 23.50 ', '+23.5', '2.35e1', '.5', '0', '65.4', 23.5, 0]) {
      expect(numericLabelProblem(ok, range)).toBeNull();
    }
    expect(canonicalNumericLabel(' 23.50 ')).toBe('23.5');
    expect(canonicalNumericLabel(23.5)).toBe('23.5');
    expect(canonicalNumericLabel('2.35e1')).toBe('23.5');
    expect(canonicalNumericLabel('-0')).toBe('0');
    expect(readNumericLabel('1e3')).toEqual({ value: 1000 });
  });

  it('given NaN, infinities, text or a comma, then each is refused naming the label and what to send', () => {
    expect(numericLabelProblem('NaN', range)).toBe(
      'label: "NaN" is not a finite number; answer with a number such as 23.5',
    );
    expect(numericLabelProblem(Number.NaN, range)).toBe(
      'label: NaN is not a finite number; answer with a number such as 23.5',
    );
    expect(numericLabelProblem('-Infinity', range)).toContain('is not a finite number');
    expect(numericLabelProblem('1e309', range)).toBe('label: "1e309" is too large to be a finite number');
    expect(numericLabelProblem('about twenty', range)).toBe(
      'label: "about twenty" is not a number; answer with a number such as 23.5',
    );
    expect(numericLabelProblem('0x1A', range)).toContain('is not a number');
    expect(numericLabelProblem('23,5', range)).toBe(
      'label: "23,5" uses a comma; write the decimal point as ".", e.g. "23.5"',
    );
    expect(numericLabelProblem('', range)).toBe('label: is empty; answer with a number such as 23.5');
    expect(numericLabelProblem(null, range)).toBe('label: expected a number (such as 23.5), got null');
    expect(numericLabelProblem({ value: 3 }, range)).toBe(
      'label: expected a number (such as 23.5), got object',
    );
    // A long text is quoted shortened, never echoed whole.
    expect(numericLabelProblem('x'.repeat(100_000), range)!.length).toBeLessThan(120);
  });

  it('given numbers out of range, then the refusal gives the bound and where it came from', () => {
    expect(numericLabelProblem('-3', range)).toBe(
      "label: -3 is below the lowest value a label may take, 0 (the model's target)",
    );
    expect(numericLabelProblem(70, range)).toBe(
      "label: 70 is above the highest value a label may take, 65.4 (the reference's labels widened by the policy's drift.dataQuality.rangeMargin)",
    );
    expect(() => canonicalNumericLabel('abc')).toThrow('label: "abc" is not a number');
  });
});
