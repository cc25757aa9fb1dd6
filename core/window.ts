/**
 * A window's records as columns, built row by row while the window streams in: numbers in growing
 * Float64Arrays and categories as shared strings, so a window of a million records never exists as a
 * million row objects. The values and schema violations are the ones `driftReport` derives from rows.
 */
import type { Column, ColumnProfile, WindowSelection } from './drift.js';
import type { Features } from './schemas.js';

class NumericBuffer {
  values = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }
}

export class WindowColumns {
  rows = 0;
  private readonly numeric = new Map<string, NumericBuffer>();
  private readonly categorical = new Map<string, (string | null)[]>();
  private readonly bad = new Map<string, number>();
  /** One string object per distinct category value, whatever the number of rows carrying it. */
  private readonly interned = new Map<string, string>();

  constructor(features: Record<string, Pick<ColumnProfile, 'type'>>) {
    for (const [name, ref] of Object.entries(features)) {
      if (ref.type === 'numeric') this.numeric.set(name, new NumericBuffer());
      else this.categorical.set(name, []);
    }
  }

  add(row: Features): void {
    this.rows++;
    for (const [name, buf] of this.numeric) {
      const v = row[name];
      if (v !== null && v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) this.violation(name);
      buf.push(typeof v === 'number' && Number.isFinite(v) ? v : NaN);
    }
    for (const [name, values] of this.categorical) {
      const v = row[name];
      if (v !== null && v !== undefined && typeof v !== 'string') this.violation(name);
      const s = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
      values.push(s === null ? null : this.intern(s));
    }
  }

  columns(): Record<string, Column> {
    const out: Record<string, Column> = {};
    for (const [name, buf] of this.numeric)
      out[name] = { type: 'numeric', values: buf.values.subarray(0, buf.length) };
    for (const [name, values] of this.categorical) out[name] = { type: 'categorical', values };
    return out;
  }

  /** Rows per feature whose value was of the wrong type (absent and null are missing values). */
  schemaViolations(): Record<string, number> {
    return Object.fromEntries(this.bad);
  }

  private violation(name: string): void {
    this.bad.set(name, (this.bad.get(name) ?? 0) + 1);
  }

  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    this.interned.set(s, s);
    return s;
  }
}

/** How a report chose its records, as one phrase for the lines people read. */
export function describeSelection(w: WindowSelection): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return w.selection === 'all'
    ? `all ${n(w.held)} records of the window tested`
    : `a uniform sample of ${n(w.tested)} of the window's ${n(w.held)} records tested`;
}
