/**
 * A window's records as columns, built row by row while the window streams in: numbers in growing
 * Float64Arrays and categories as shared strings, so a window of a million records never exists as a
 * million row objects. The values and schema violations are the ones `driftReport` derives from rows.
 */
import type { Column, ColumnProfile, WindowSelection } from './drift.js';
import { forestProbabilities } from './forest.js';
import { predict, toNumber, type ModelArtifact, type Prediction } from './model.js';
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

interface Tally {
  value: string;
  n: number;
}

/** A categorical column: its values (one string object per distinct value) and their counts so far. */
class CategoryColumn {
  readonly values: (string | null)[] = [];
  /** Each distinct value's count, in order of first appearance (the order countCategories gives). */
  readonly tally = new Map<string, Tally>();
  /** A string value's raw jsonb text (quotes included) to its tally, for `addJsonb`. */
  readonly raw = new Map<string, Tally>();

  entry(value: string): Tally {
    let t = this.tally.get(value);
    if (t === undefined) {
      t = { value, n: 0 };
      this.tally.set(value, t);
    }
    return t;
  }

  pushEntry(t: Tally): void {
    t.n++;
    this.values.push(t.value);
  }

  push(value: string | null): void {
    if (value === null) this.values.push(null);
    else this.pushEntry(this.entry(value));
  }
}

export class WindowColumns {
  rows = 0;
  private readonly numeric = new Map<string, NumericBuffer>();
  private readonly categorical = new Map<string, CategoryColumn>();
  private readonly bad = new Map<string, number>();

  constructor(features: Record<string, Pick<ColumnProfile, 'type'>>) {
    for (const [name, ref] of Object.entries(features)) {
      if (ref.type === 'numeric') this.numeric.set(name, new NumericBuffer());
      else this.categorical.set(name, new CategoryColumn());
    }
  }

  /** The features in the order `addJsonb` takes their values: the numeric ones, then the categorical. */
  names(): string[] {
    return [...this.numeric.keys(), ...this.categorical.keys()];
  }

  /**
   * One row given as each feature's value in jsonb's text form (`features->'name'`, '' when the key is
   * absent), in `names()` order, joined by JSONB_SEPARATOR: the same values and violations as `add` on
   * the parsed row, without building the row.
   */
  addJsonb(packed: string): void {
    this.rows++;
    const fast = (this.fast ??= {
      numeric: [...this.numeric],
      categorical: [...this.categorical],
    });
    let start = 0;
    for (const [name, buf] of fast.numeric) {
      let end = packed.indexOf(JSONB_SEPARATOR, start);
      if (end < 0) end = packed.length;
      const c = end > start ? packed.charCodeAt(start) : -1;
      if (c === 45 || (c >= 48 && c <= 57)) {
        const v = Number(packed.slice(start, end));
        buf.push(Number.isFinite(v) ? v : NaN);
      } else {
        // Missing: an absent key or null (the only JSON value that starts with "n").
        if (c !== -1 && !(c === 110 && end - start === 4)) this.violation(name);
        buf.push(NaN);
      }
      start = end + 1;
    }
    for (const [name, column] of fast.categorical) {
      let end = packed.indexOf(JSONB_SEPARATOR, start);
      if (end < 0) end = packed.length;
      const raw = packed.slice(start, end);
      start = end + 1;
      const known = column.raw.get(raw);
      if (known !== undefined) {
        column.pushEntry(known);
        continue;
      }
      const kind = jsonKind(raw);
      if (kind === 'string') {
        const entry = column.entry(raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1));
        column.raw.set(raw, entry);
        column.pushEntry(entry);
      } else if (kind === 'missing') {
        column.push(null);
      } else {
        this.violation(name);
        const v = kind === 'number' ? Number(raw) : NaN;
        column.push(Number.isFinite(v) ? String(v) : null);
      }
    }
  }

  /** The columns as arrays, for `addJsonb`'s loop (a Map's iterator costs more per row). */
  private fast?: { numeric: [string, NumericBuffer][]; categorical: [string, CategoryColumn][] };

  add(row: Features): void {
    this.rows++;
    for (const [name, buf] of this.numeric) {
      const v = row[name];
      if (v !== null && v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) this.violation(name);
      buf.push(typeof v === 'number' && Number.isFinite(v) ? v : NaN);
    }
    for (const [name, column] of this.categorical) {
      const v = row[name];
      if (v !== null && v !== undefined && typeof v !== 'string') this.violation(name);
      const s = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
      column.push(s);
    }
  }

  columns(): Record<string, Column> {
    const out: Record<string, Column> = {};
    for (const [name, buf] of this.numeric)
      out[name] = { type: 'numeric', values: buf.values.subarray(0, buf.length) };
    for (const [name, column] of this.categorical) {
      const counts: Record<string, number> = {};
      let present = 0;
      for (const [value, entry] of column.tally) {
        // defineProperty, so "__proto__" becomes a key as in countCategories, not a prototype change.
        Object.defineProperty(counts, value, {
          value: entry.n,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        present += entry.n;
      }
      out[name] = { type: 'categorical', values: column.values, counted: { counts, present } };
    }
    return out;
  }

  /** Rows per feature whose value was of the wrong type (absent and null are missing values). */
  schemaViolations(): Record<string, number> {
    return Object.fromEntries(this.bad);
  }

  private violation(name: string): void {
    this.bad.set(name, (this.bad.get(name) ?? 0) + 1);
  }
}

type JsonKind = 'missing' | 'number' | 'string' | 'other';

/** The JSON type of a value in jsonb's text form; '' (an absent key) and `null` are missing values. */
function jsonKind(raw: string): JsonKind {
  if (raw === '' || raw === 'null') return 'missing';
  const c = raw.charCodeAt(0);
  if (c === 34) return 'string';
  return c === 45 || (c >= 48 && c <= 57) ? 'number' : 'other';
}

/** Separates the values `addJsonb` and `featuresFromJsonb` take (jsonb escapes it inside strings). */
export const JSONB_SEPARATOR = '\u001f';

/** A row's features from their jsonb texts in `names` order (as `addJsonb` takes them), absent keys left out. */
export function featuresFromJsonb(names: readonly string[], packed: string): Features {
  const row: Features = {};
  const fields = packed.split(JSONB_SEPARATOR);
  for (let k = 0; k < names.length; k++) {
    const raw = fields[k] ?? '';
    if (raw === '') continue;
    const kind = jsonKind(raw);
    row[names[k]!] =
      kind === 'number'
        ? Number(raw)
        : kind === 'string' && !raw.includes('\\')
          ? raw.slice(1, -1)
          : (JSON.parse(raw) as Features[string]);
  }
  return row;
}

/** How a report chose its records, as one phrase for the lines people read. */
export function describeSelection(w: WindowSelection): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return w.selection === 'all'
    ? `all ${n(w.held)} records of the window tested`
    : `a uniform sample of ${n(w.tested)} of the window's ${n(w.held)} records tested`;
}

/**
 * `predict` for the many rows of a window, one model: the same predictions (a forest's own code on the
 * same encoded values), with each category's one-hot position looked up in a map built once per model
 * instead of compared value by value on every row.
 */
export function windowPredictor(model: ModelArtifact): (row: Features) => Prediction {
  if (model.kind !== 'random-forest') return (row) => predict(model, row);
  const { encoder, trees, classes } = model;
  let dims = encoder.numeric.length;
  const slots = encoder.categorical.map((cat) => {
    const at = new Map<string, number[]>();
    for (const v of cat.values) {
      const known = at.get(v);
      if (known) known.push(dims++);
      else at.set(v, [dims++]);
    }
    return at;
  });
  return (row) => {
    const xi = new Array<number>(dims).fill(0);
    for (let i = 0; i < encoder.numeric.length; i++) {
      const name = encoder.numeric[i]!;
      xi[i] = (toNumber(row[name], name) - encoder.means[i]!) / encoder.stds[i]!;
    }
    for (let k = 0; k < slots.length; k++) {
      const at = slots[k]!.get(String(row[encoder.categorical[k]!.name]));
      if (at) for (const j of at) xi[j] = 1;
    }
    const probs = forestProbabilities(trees, xi, classes.length);
    let best = 0;
    for (let c = 1; c < probs.length; c++) if (probs[c]! > probs[best]!) best = c;
    const probabilities: Record<string, number> = {};
    for (let c = 0; c < classes.length; c++) probabilities[classes[c]!] = probs[c]!;
    return { label: classes[best]!, confidence: probs[best]!, probabilities };
  };
}
