/**
 * Agreement on numeric answers, Krippendorff's alpha with the interval metric, pinned to the
 * krippendorff package (0.9.0) by `test/fixtures/numeric_agreement_reference.py`: Krippendorff's own
 * worked example (2011, interval α = 0.849) and two reviewers rating the vega cars' miles per gallon.
 */
import { describe, expect, it } from 'vitest';
import { krippendorffAlphaInterval, numericAgreementOf } from '../../core/numeric-agreement.js';
import { loadCars } from '../../dev/cars.js';

describe("Krippendorff's alpha (interval)", () => {
  it('given the published example with missing answers, then α matches the krippendorff package', () => {
    // Krippendorff (2011): 4 coders × 12 units; by unit, the answers given.
    const units = [
      [1, 1, 1],
      [2, 2, 3, 2],
      [3, 3, 3, 3],
      [3, 3, 3, 3],
      [2, 2, 2, 2],
      [1, 2, 3, 4],
      [4, 4, 4, 4],
      [1, 1, 2, 1],
      [2, 2, 2, 2],
      [5, 5, 5],
      [1, 1],
      [3],
    ];
    expect(krippendorffAlphaInterval(units)).toBeCloseTo(0.8491071428571428, 12);
  });

  it('given two reviewers a little apart on the cars, then α and their mean difference match', () => {
    const cars = loadCars()
      .filter((c) => c.Miles_per_Gallon !== null)
      .slice(0, 40);
    const items = cars.map((c, i) => [c.Miles_per_Gallon!, c.Miles_per_Gallon! + (((i * 7) % 5) - 2) / 2]);
    const a = numericAgreementOf(items);
    expect(a.items).toBe(40);
    expect(a.alpha!).toBeCloseTo(0.9912678235879298, 12);
    // Off by 1, 0.5, 0, 0.5 or 1 mpg in turn: 0.6 on average.
    expect(a.meanAbsoluteDifference).toBeCloseTo(0.6, 12);
  });

  it('given no comparable items or one value everywhere, then α is null; opposite answers give α below 0', () => {
    expect(krippendorffAlphaInterval([[3], [4]])).toBeNull();
    expect(
      krippendorffAlphaInterval([
        [5, 5],
        [5, 5],
      ]),
    ).toBeNull();
    expect(numericAgreementOf([])).toEqual({ items: 0, alpha: null, meanAbsoluteDifference: 0 });
    expect(
      krippendorffAlphaInterval([
        [0, 10],
        [10, 0],
        [0, 10],
      ])!,
    ).toBeLessThan(0);
    expect(() => krippendorffAlphaInterval([[1, Number.NaN]])).toThrow(
      'item 0 has an answer that is not a finite number (NaN)',
    );
  });
});
