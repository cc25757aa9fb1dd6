import { describe, expect, it } from 'vitest';
import { disagreementPick, hybridMarginPick, marginOf, quickCandidate } from '../../core/active-learning.js';

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

  it('given fewer than two labels, then there is no candidate; given labels, then it learns them and is less sure near the boundary', () => {
    const spec = { numeric: ['x'], categorical: [] };
    expect(quickCandidate(spec, ['lo', 'hi'], [{ features: { x: 1 }, label: 'lo' }], [])).toBeNull();
    const examples = Array.from({ length: 40 }, (_, i) => ({
      features: { x: i },
      label: i < 20 ? 'lo' : 'hi',
    }));
    const said = quickCandidate(spec, ['lo', 'hi'], examples, [
      { features: { x: 2 } },
      { features: { x: 37 } },
      { features: { x: 19.5 } },
    ])!;
    expect(said.map((x) => x.label).slice(0, 2)).toEqual(['lo', 'hi']);
    expect(said[0]!.margin).toBeGreaterThan(said[2]!.margin);
  });

  it('given the champion and the candidate, then the rows they label differently come first, then the least sure', () => {
    const rows = [
      { recordKey: 'a', margin: 0.1, guess: 'rain', candidateLabel: 'rain' },
      { recordKey: 'b', margin: 0.9, guess: 'rain', candidateLabel: 'fog' },
      { recordKey: 'c', margin: 0.2, guess: 'sun', candidateLabel: 'fog' },
      { recordKey: 'd', margin: 0.05, guess: 'sun', candidateLabel: 'sun' },
    ];
    expect(disagreementPick(rows, 3).map((r) => r.recordKey)).toEqual(['c', 'b', 'd']);
  });
});
