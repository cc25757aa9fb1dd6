import { describe, expect, it } from 'vitest';
import {
  busiest,
  flightFeatures,
  lowerBound,
  OTHER_AIRPORT,
  sampleIndices,
} from '../../bench/flights-sample.js';

describe('sampleIndices: a seeded uniform sample of a window', () => {
  it('gives k distinct indices of the range, ascending, the same for the same seed', () => {
    const s = sampleIndices(500, 1500, 100, 3);
    expect(s).toHaveLength(100);
    expect(new Set(s).size).toBe(100);
    expect(s.every((i) => i >= 500 && i < 1500)).toBe(true);
    expect(s).toEqual([...s].sort((a, b) => a - b));
    expect(sampleIndices(500, 1500, 100, 3)).toEqual(s);
    expect(sampleIndices(500, 1500, 100, 4)).not.toEqual(s);
  });

  it('gives the whole range when it holds k or fewer', () => {
    expect(sampleIndices(10, 14, 10, 1)).toEqual([10, 11, 12, 13]);
    expect(sampleIndices(7, 7, 5, 1)).toEqual([]);
  });

  it('spreads over the whole window, not its head', () => {
    // 1,000 of a window of 100,000 flights: a sample of the first 1,000 would sit in its first 1 %.
    const s = sampleIndices(0, 100_000, 1000, 11);
    const deciles = new Array<number>(10).fill(0);
    for (const i of s) deciles[Math.floor(i / 10_000)]!++;
    // Each decile expects 100 (sd ≈ 9.5): all within 5 sd.
    for (const c of deciles) expect(Math.abs(c - 100)).toBeLessThan(48);
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    expect(Math.abs(mean - 50_000)).toBeLessThan(5 * (100_000 / Math.sqrt(12) / Math.sqrt(1000)));
  });

  it('chooses every index equally often over seeds', () => {
    // 3 of 10, 3,000 seeds: each index expects 900 (sd ≈ 25); within 6 sd, and the χ² over 10 cells
    // (9 degrees of freedom) below its 0.1 % critical value 27.9.
    const counts = new Array<number>(10).fill(0);
    for (let seed = 0; seed < 3000; seed++) for (const i of sampleIndices(0, 10, 3, seed)) counts[i]!++;
    for (const c of counts) expect(Math.abs(c - 900)).toBeLessThan(150);
    const chi2 = counts.reduce((a, c) => a + (c - 900) ** 2 / 900, 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('refuses what is not a range or a count', () => {
    expect(() => sampleIndices(5, 2, 1, 0)).toThrow(/not a range/);
    expect(() => sampleIndices(0, 10, -1, 0)).toThrow(/k must be/);
  });
});

describe('lowerBound: where a window starts in the time-sorted file', () => {
  const times = Float64Array.from([1, 2, 2, 2, 5, 9]);
  it('finds the first time at or after t', () => {
    expect(lowerBound(times, 0)).toBe(0);
    expect(lowerBound(times, 2)).toBe(1);
    expect(lowerBound(times, 3)).toBe(4);
    expect(lowerBound(times, 9)).toBe(5);
    expect(lowerBound(times, 10)).toBe(6);
  });

  it('with sampleIndices, samples a window from its first flight to its last', () => {
    // A week of one flight a minute: the sample's times reach both ends of the week.
    const minute = 60_000;
    const week = Float64Array.from({ length: 3 * 7 * 1440 }, (_, i) => i * minute);
    const from = lowerBound(week, 7 * 1440 * minute);
    const to = lowerBound(week, 14 * 1440 * minute);
    const s = sampleIndices(from, to, 500, 1).map((i) => week[i]! / minute - 7 * 1440);
    expect(Math.min(...s)).toBeLessThan(1440 / 2);
    expect(Math.max(...s)).toBeGreaterThan(7 * 1440 - 1440 / 2);
    expect(s.every((m) => m >= 0 && m < 7 * 1440)).toBe(true);
  });
});

describe('the features of a flight', () => {
  it('names the busiest airports, ties by name', () => {
    expect([...busiest(['ORD', 'ATL', 'ORD', 'BOS', 'ATL', 'DEN'], 2)].sort()).toEqual(['ATL', 'ORD']);
    expect([...busiest(['b', 'a', 'c'], 2)].sort()).toEqual(['a', 'b']);
  });

  it('reads the hour and weekday of the departure and groups other airports', () => {
    const f = flightFeatures(
      { date: Date.parse('2001-02-01T01:09:00Z'), distance: 1300, origin: 'LAS', destination: 'PVD' },
      new Set(['LAS', 'ORD']),
    );
    // 2001-02-01 was a Thursday.
    expect(f).toEqual({
      distance: 1300,
      hour: 1,
      weekday: 4,
      origin: 'LAS',
      destination: OTHER_AIRPORT,
    });
  });
});
