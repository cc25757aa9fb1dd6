/**
 * Columns as the drift engine reads them: a window's or a reference's values per feature, and the
 * current window's side prepared once (sorted numbers or category counts).
 */
import { lowerBound, sortFloat64, type Sorted } from '../stats.js';
import { countCategories } from '../stattests.js';

/** A column of a window or a reference: numbers with NaN for missing, or strings with null for missing. */
export type Column =
  | { type: 'numeric'; values: Float64Array | readonly number[] }
  | {
      type: 'categorical';
      values: readonly (string | null)[];
      /** The non-null values' counts (as countCategories gives them) when the column already knows them. */
      counted?: { counts: Record<string, number>; present: number };
    };

/**
 * A window's column as the report reads it: a column of values, or a categorical one known only by its
 * counts (a streamed window: no value kept per row).
 */
export type WindowColumn =
  | Column
  | {
      type: 'categorical';
      /** Rows in the window (missing values included). */
      rows: number;
      counted: { counts: Record<string, number>; present: number };
    };

/** How many rows a column holds. */
export function columnRows(column: WindowColumn): number {
  return 'values' in column ? column.values.length : column.rows;
}

/** The finite values, sorted ascending (missing values, NaN and ±Infinity dropped). */
export function sortedFinite(values: Float64Array | readonly number[]): Float64Array {
  // Sort everything, then trim the non-finite ends (±Infinity, and NaN, which sorts to an end).
  const all = sortFloat64(values instanceof Float64Array ? values : Float64Array.from(values));
  let lo = 0;
  let hi = all.length;
  while (hi > lo && !(all[hi - 1]! < Infinity)) hi--;
  while (lo < hi && !(all[lo]! > -Infinity)) lo++;
  return lo === 0 && hi === all.length ? all : all.slice(lo, hi);
}

/** Shares of a sorted sample in the bins (-Inf, e0), [e0, e1), ..., [e_last, +Inf). */
export function sharesSorted(sorted: Sorted, edges: readonly number[]): number[] {
  const shares: number[] = [];
  let prev = 0;
  for (const e of edges) {
    const idx = lowerBound(sorted, e);
    shares.push((idx - prev) / sorted.length);
    prev = idx;
  }
  shares.push((sorted.length - prev) / sorted.length);
  return shares;
}

/** The current window's side of one feature, prepared once (sorted numbers or category counts). */
export type CurrentColumn =
  | { type: 'numeric'; sorted: Float64Array; rows: number }
  | { type: 'categorical'; counts: Record<string, number>; count: number; rows: number };

export function prepareColumn(column: WindowColumn): CurrentColumn {
  if (column.type === 'numeric')
    return { type: 'numeric', sorted: sortedFinite(column.values), rows: column.values.length };
  if (column.counted)
    return {
      type: 'categorical',
      counts: column.counted.counts,
      count: column.counted.present,
      rows: columnRows(column),
    };
  if (!('values' in column)) throw new Error('a categorical column needs its values or its counts');
  const present = column.values.filter((v): v is string => v !== null);
  return {
    type: 'categorical',
    counts: countCategories(present),
    count: present.length,
    rows: column.values.length,
  };
}
