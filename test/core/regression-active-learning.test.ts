/**
 * Choosing which rows of a regression model people label: the rows a quick forest's trees disagree on
 * most, after a random share. `npm run bench:active-learning-regression` measures the choice against
 * random selection on the vega cars; here, what it picks and that it picks the same every time.
 */
import { describe, expect, it } from 'vitest';
import {
  hybridSpreadPick,
  quickRegressorSpread,
  spreadPick,
  suggestedValue,
} from '../../core/regression-active-learning.js';
import { CAR_FEATURES, labeledCars } from '../../dev/cars.js';

const cars = labeledCars();

describe('regression active learning', () => {
  it('given 30 labeled cars, then the quick forest is surest on cars like them and least on unusual ones', () => {
    // Labeled: 30 ordinary American cars of 1970–76 (4, 6 or 8 cylinders).
    const labeled = cars.filter((c) => c.features.Origin === 'USA' && c.year <= 1976).slice(0, 30);
    const like = cars.filter((c) => c.features.Origin === 'USA' && c.year <= 1976).slice(30, 40);
    const unusual = cars.filter((c) => c.features.Origin === 'Japan' && c.year >= 1980).slice(0, 10);
    const said = quickRegressorSpread(CAR_FEATURES, labeled, [...like, ...unusual])!;
    const spread = (from: number, to: number) =>
      said.slice(from, to).reduce((a, s) => a + s.spread, 0) / (to - from);
    expect(spread(10, 20)).toBeGreaterThan(spread(0, 10));
    // The same labels give the same answers.
    expect(quickRegressorSpread(CAR_FEATURES, labeled, [...like, ...unusual])).toEqual(said);
    // Fewer than two labels: nothing to disagree about.
    expect(quickRegressorSpread(CAR_FEATURES, labeled.slice(0, 1), like)).toBeNull();
  });

  it('given spreads, then the largest are picked, ties by record key, and hybrid keeps the random share first', () => {
    const rows = [
      { recordKey: 'b', spread: 2 },
      { recordKey: 'a', spread: 2 },
      { recordKey: 'c', spread: 5 },
      { recordKey: 'd', spread: 0.5 },
      { recordKey: 'e', spread: 1 },
    ];
    expect(spreadPick(rows, 3).map((r) => r.recordKey)).toEqual(['c', 'a', 'b']);
    expect(spreadPick(rows, 0)).toEqual([]);
    // 2 of 5 (40%) from the shuffle as it comes, then the largest spreads among the rest.
    expect(hybridSpreadPick(rows, 5, 0.4).map((r) => r.recordKey)).toEqual(['b', 'a', 'c', 'e', 'd']);
    expect(hybridSpreadPick(rows, 3, 0.3).map((r) => r.recordKey)).toEqual(['b', 'c', 'a']);
    expect(() => spreadPick(rows, -1)).toThrow('take must be a whole number ≥ 0, got -1');
  });
});

describe('the value a campaign suggests', () => {
  it('given a predicted value, then four significant digits, whole numbers from 1000 on', () => {
    expect(
      [23.659722222222218, 4.12345, 0.0123456, -7.25, 145.66, 4521.33, 12345.6, 30].map(suggestedValue),
    ).toEqual(['23.66', '4.123', '0.01235', '-7.25', '145.7', '4521', '12346', '30']);
    expect(() => suggestedValue(NaN)).toThrow(/NaN is not a finite number/);
  });
});
