/**
 * The pure parts of the flights dataset of the efficacy benchmark: where each window's flights lie in
 * the time-sorted file, a seeded uniform sample of them, the busiest airports that keep their own name
 * (the rest grouped as "other"), and a flight's features.
 */
import { seededRandom } from '../core/seeded-random.js';

/** The airports named in the features; any other airport is `OTHER_AIRPORT`. */
export const OTHER_AIRPORT = 'other';

/** The first index in ascending `sorted` whose value is at least `t` (sorted.length when none is). */
export function lowerBound(sorted: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `k` distinct indices drawn uniformly from [from, to), ascending: every k-subset is equally likely
 * (Floyd's algorithm), the same for the same seed. All of them when the range holds k or fewer.
 */
export function sampleIndices(from: number, to: number, k: number, seed: number): number[] {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from <= to))
    throw new Error(`sampleIndices: [${from}, ${to}) is not a range of indices`);
  if (!(Number.isInteger(k) && k >= 0))
    throw new Error(`sampleIndices: k must be a whole number ≥ 0, got ${k}`);
  const n = to - from;
  if (k >= n) return Array.from({ length: n }, (_, i) => from + i);
  const random = seededRandom(seed);
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(random() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].map((i) => from + i).sort((a, b) => a - b);
}

/** The `n` most frequent values (ties broken by name), as the set of airports that keep their name. */
export function busiest(values: Iterable<string>, n: number): Set<string> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return new Set(ranked.slice(0, n).map(([v]) => v));
}

export interface FlightFeatures {
  [name: string]: number | string;
  distance: number;
  hour: number;
  weekday: number;
  origin: string;
  destination: string;
}

/**
 * A flight's features: its distance, the hour and weekday of its scheduled departure (the file's
 * timestamp, read as given: 0–23 and 0 = Sunday … 6 = Saturday), and its airports, named when among
 * `named`, else "other".
 */
export function flightFeatures(
  flight: { date: number; distance: number; origin: string; destination: string },
  named: ReadonlySet<string>,
): FlightFeatures {
  const d = new Date(flight.date);
  return {
    distance: flight.distance,
    hour: d.getUTCHours(),
    weekday: d.getUTCDay(),
    origin: named.has(flight.origin) ? flight.origin : OTHER_AIRPORT,
    destination: named.has(flight.destination) ? flight.destination : OTHER_AIRPORT,
  };
}
