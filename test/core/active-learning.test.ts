import { describe, expect, it } from 'vitest';
import { hybridMarginPick, marginOf, quickCandidateMargins } from '../../core/active-learning.js';

describe('active learning with a quick candidate', () => {
  it('given probabilities, then the margin is the gap between the two largest', () => {
    expect(marginOf([0.1, 0.6, 0.3])).toBeCloseTo(0.3, 12);
    expect(marginOf([0.5, 0.5])).toBe(0);
    expect(marginOf([1])).toBe(1);
  });

  it('given a shuffled pool, then a batch is its first 30 % as they come and the smallest margins of the rest', () => {
    const pool = [
      { recordKey: 'a', margin: 0.9 },
      { recordKey: 'b', margin: 0.8 },
      { recordKey: 'c', margin: 0.05 },
      { recordKey: 'd', margin: 0.5 },
      { recordKey: 'e', margin: 0.01 },
      { recordKey: 'f', margin: 0.05 },
      { recordKey: 'g', margin: 0.7 },
    ];
    // 5 to take: round(1.5) = 2 explored (a, b), then the 3 smallest margins among c..g (ties by key).
    expect(hybridMarginPick(pool, 5).map((p) => p.recordKey)).toEqual(['a', 'b', 'e', 'c', 'f']);
    expect(hybridMarginPick(pool, 20)).toHaveLength(7);
    expect(hybridMarginPick(pool, 3, 0).map((p) => p.recordKey)).toEqual(['e', 'c', 'f']);
  });

  it('given fewer than two labels, then there is no candidate; given labels, then rows far from them are less sure', () => {
    const spec = { numeric: ['x'], categorical: [] };
    expect(quickCandidateMargins(spec, ['lo', 'hi'], [{ features: { x: 1 }, label: 'lo' }], [])).toBeNull();
    const examples = Array.from({ length: 40 }, (_, i) => ({
      features: { x: i },
      label: i < 20 ? 'lo' : 'hi',
    }));
    const margins = quickCandidateMargins(spec, ['lo', 'hi'], examples, [
      { features: { x: 2 } },
      { features: { x: 19.5 } },
    ])!;
    expect(margins[0]).toBeGreaterThan(margins[1]!);
  });
});
