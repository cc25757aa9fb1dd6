/**
 * A window's records as columns, built row by row while the window streams in: numbers in growing
 * Float64Arrays and categories as counts, so a window of a million records never exists as a million row
 * objects. The report and schema violations are the ones `driftReport` derives from rows.
 */
import type { ColumnProfile, WindowColumn, WindowSelection } from './drift.js';
import type { Tree } from './forest.js';
import { predict, toNumber, type JsonArtifact, type Prediction } from './model.js';
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

/** A categorical column: each distinct value's count so far (the report needs no value per row). */
class CategoryColumn {
  /** Each distinct value's count, in order of first appearance (the order countCategories gives). */
  readonly tally = new Map<string, Tally>();
  /** A string value's raw jsonb text (quotes included) to its tally, for `addJsonText`. */
  readonly raw = new Map<string, Tally>();
  /** The same for short ASCII values, keyed by their characters packed into a number (see `packed`). */
  readonly packed = new Map<number, Tally>();

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
  }

  /** One row's value; a missing one (null) is counted by the rows, not here. */
  push(value: string | null): void {
    if (value !== null) this.pushEntry(this.entry(value));
  }
}

/** `addJsonText`'s state: the columns as arrays (a Map's iterator costs more per row). */
interface FastPath {
  numeric: [string, NumericBuffer][];
  categorical: [string, CategoryColumn][];
  /** Feature name to its place in `raw` (numeric ones first, then the categorical). */
  index: Map<string, number>;
  /** The keys of the last rows in the order they came, quoted as in the text, and their place in `raw`. */
  keys: { quoted: string; at: number }[];
  /** Where each wanted value's text starts and ends in this row's text; start -1 for an absent key. */
  start: Int32Array;
  end: Int32Array;
  /** How many keys this row has (its first `places` entries of `keys`). */
  places: number;
  /** This row's values by their place in `raw` (a number, or a category's decoded string). */
  values: (number | string)[];
  /**
   * Whether this row has no key but the features and every feature present and of its type, so that
   * `values` are JSON.parse's (the scan clears it for another key, addJsonText for a value).
   */
  clean: boolean;
  /** Feature names by their place in `raw`. */
  names: string[];
}

/** Where the JSON string starting at `start` (a quote) ends: the index after its closing quote. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0)
      throw new Error(`unterminated string in a record's features: ${text.slice(start, start + 40)}`);
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === 92) slashes++;
    if (slashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** Where the JSON value starting at `start` ends (strings, nested objects and arrays skipped whole). */
function valueEnd(text: string, start: number): number {
  const c = text.charCodeAt(start);
  if (c === 34) return stringEnd(text, start);
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === 34) {
      i = stringEnd(text, i);
      continue;
    }
    if (d === 123 || d === 91) depth++;
    else if (d === 125 || d === 93) {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (d === 44 && depth === 0) return i;
    i++;
  }
  return i;
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * Finds where each wanted key's value text lies in a JSON object's text (`start`, `end`). Keys usually
 * come in the same order row after row (jsonb sorts them), so each is first compared with the key seen at
 * its place in the last row, and only looked up by name when that differs.
 */
function scanObject(text: string, fast: FastPath): void {
  if (text.charCodeAt(0) !== 123)
    throw new Error(`a record of the window has features that are not a JSON object: ${text.slice(0, 40)}`);
  let i = 1;
  fast.clean = true;
  for (let place = 0; ; place++) {
    while (isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 34) {
      fast.places = place;
      return; // '}': the end of the object
    }
    const known = fast.keys[place];
    let at: number | undefined;
    let keyEnd: number;
    if (known !== undefined && text.startsWith(known.quoted, i)) {
      at = known.at;
      keyEnd = i + known.quoted.length;
    } else {
      keyEnd = stringEnd(text, i);
      const quoted = text.slice(i, keyEnd);
      at = fast.index.get(quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1)) ?? -1;
      fast.keys[place] = { quoted, at };
    }
    i = keyEnd;
    while (isSpace(text.charCodeAt(i)) || text.charCodeAt(i) === 58) i++; // ':' and spaces
    const end = valueEnd(text, i);
    if (at < 0) fast.clean = false;
    else {
      let e = end;
      while (e > i && isSpace(text.charCodeAt(e - 1))) e--;
      fast.start[at] = i;
      fast.end[at] = e;
    }
    i = end;
    while (isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) === 44) i++; // ','
  }
}

export class WindowColumns {
  rows = 0;
  private readonly numeric = new Map<string, NumericBuffer>();
  private readonly categorical = new Map<string, CategoryColumn>();
  private readonly bad = new Map<string, number>();

  constructor(features: Record<string, Pick<ColumnProfile, 'type'>>) {
    this.protoKey = Object.hasOwn(features, '__proto__');
    for (const [name, ref] of Object.entries(features)) {
      if (ref.type === 'numeric') this.numeric.set(name, new NumericBuffer());
      else this.categorical.set(name, new CategoryColumn());
    }
  }

  /**
   * One row given as the text of its features' jsonb object (`features::text`): the same values and
   * violations as `add` on the parsed row, with only each feature's value cut out of the text (a string
   * value seen before is not even decoded again).
   */
  addJsonText(text: string): void {
    this.rows++;
    const fast = (this.fast ??= this.fastPath());
    fast.start.fill(-1);
    scanObject(text, fast);
    const values = fast.values;
    let k = 0;
    for (const [name, buf] of fast.numeric) {
      const from = fast.start[k]!;
      const to = fast.end[k++]!;
      // A plain integer (most numeric features) is read from its digits, with no string made for it.
      const whole = from < 0 ? NaN : digitsValue(text, from, to);
      if (!Number.isNaN(whole)) {
        buf.push(whole);
        values[k - 1] = whole;
        continue;
      }
      const value = from < 0 ? '' : text.slice(from, to);
      const kind = jsonKind(value);
      if (kind === 'number') {
        const v = Number(value);
        buf.push(Number.isFinite(v) ? v : NaN);
        values[k - 1] = v;
        if (!Number.isFinite(v)) fast.clean = false;
      } else {
        if (kind !== 'missing') this.violation(name);
        buf.push(NaN);
        fast.clean = false;
      }
    }
    for (const [name, column] of fast.categorical) {
      const from = fast.start[k]!;
      const to = fast.end[k++]!;
      // A short ASCII string value (most categories) is found by its packed characters, with no string made.
      const key = from < 0 ? -1 : packed(text, from, to);
      if (key >= 0) {
        const known = column.packed.get(key);
        if (known !== undefined) {
          column.pushEntry(known);
          values[k - 1] = known.value;
          continue;
        }
      }
      const value = from < 0 ? '' : text.slice(from, to);
      const known = column.raw.get(value);
      if (known !== undefined) {
        if (key >= 0) column.packed.set(key, known);
        column.pushEntry(known);
        values[k - 1] = known.value;
        continue;
      }
      const kind = jsonKind(value);
      if (kind === 'string') {
        const entry = column.entry(value.includes('\\') ? (JSON.parse(value) as string) : value.slice(1, -1));
        column.raw.set(value, entry);
        if (key >= 0) column.packed.set(key, entry);
        column.pushEntry(entry);
        values[k - 1] = entry.value;
      } else if (kind === 'missing') {
        column.push(null);
        fast.clean = false;
      } else {
        fast.clean = false;
        this.violation(name);
        const v = kind === 'number' ? Number(value) : NaN;
        column.push(Number.isFinite(v) ? String(v) : null);
      }
    }
  }

  private fastPath(): FastPath {
    const numeric = [...this.numeric];
    const categorical = [...this.categorical];
    const names = [...numeric.map(([n]) => n), ...categorical.map(([n]) => n)];
    return {
      numeric,
      categorical,
      index: new Map(names.map((n, k) => [n, k])),
      keys: [],
      start: new Int32Array(names.length),
      end: new Int32Array(names.length),
      places: 0,
      values: new Array<number | string>(names.length).fill(0),
      clean: false,
      names,
    };
  }

  /**
   * The features of the row `addJsonText` read last, as `JSON.parse` gives them (the same keys in the same
   * order, the same values), made from the values already read; null when that row had a key that is not
   * a feature, or a feature missing or of the wrong type (then parse its text instead).
   */
  lastRow(): Features | null {
    const fast = this.fast;
    if (!fast?.clean || this.protoKey) return null;
    const row: Features = {};
    for (let place = 0; place < fast.places; place++) {
      const at = fast.keys[place]!.at;
      row[fast.names[at]!] = fast.values[at]!;
    }
    return row;
  }

  /** A feature named "__proto__" would be a prototype change here and a key in JSON.parse's object. */
  private readonly protoKey: boolean;

  private fast?: FastPath;

  add(row: Features): void {
    this.rows++;
    if (this.fast) this.fast.clean = false; // lastRow is addJsonText's
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

  columns(): Record<string, WindowColumn> {
    const out: Record<string, WindowColumn> = {};
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
      out[name] = { type: 'categorical', rows: this.rows, counted: { counts, present } };
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

/**
 * The value of a JSON number written as at most 15 digits with an optional minus sign (exact in a
 * double, as Number() reads it), or NaN for any other text (a fraction, an exponent, a string, null).
 */
function digitsValue(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === 45;
  const first = negative ? from + 1 : from;
  if (to <= first || to - first > 15) return NaN;
  let v = 0;
  for (let i = first; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

/**
 * A JSON string of at most 5 printable ASCII characters between its quotes, with no escape, packed into
 * one number (a distinct number for each such string); -1 for any other text.
 */
function packed(text: string, from: number, to: number): number {
  const n = to - from - 2;
  if (n < 0 || n > 5 || text.charCodeAt(from) !== 34 || text.charCodeAt(to - 1) !== 34) return -1;
  let key = n;
  for (let i = from + 1; i < to - 1; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c > 126 || c === 92 || c === 34) return -1;
    key = key * 128 + c;
  }
  return key;
}

type JsonKind = 'missing' | 'number' | 'string' | 'other';

/** The JSON type of a value in jsonb's text form; '' (an absent key) and `null` are missing values. */
function jsonKind(raw: string): JsonKind {
  if (raw === '' || raw === 'null') return 'missing';
  const c = raw.charCodeAt(0);
  if (c === 34) return 'string';
  return c === 45 || (c >= 48 && c <= 57) ? 'number' : 'other';
}

/** How a report chose its records, as one phrase for the lines people read. */
export function describeSelection(w: WindowSelection): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return w.selection === 'all'
    ? `all ${n(w.held)} records of the window tested`
    : `a uniform sample of ${n(w.tested)} of the window's ${n(w.held)} records tested`;
}

/**
 * A forest flattened into typed arrays, one slot per node of every tree: walking them is a few array
 * reads a level instead of an object's property loads. A leaf's probabilities stay the node's own array.
 */
interface FlatForest {
  /** Each tree's root slot. */
  roots: Int32Array;
  /** The feature a node splits on, or -1 at a leaf. */
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  leaf: (number[] | null)[];
}

function flatten(trees: readonly Tree[]): FlatForest {
  const total = trees.reduce((n, t) => n + t.nodes.length, 0);
  const flat: FlatForest = {
    roots: new Int32Array(trees.length),
    feature: new Int32Array(total),
    threshold: new Float64Array(total),
    left: new Int32Array(total),
    right: new Int32Array(total),
    leaf: new Array<number[] | null>(total).fill(null),
  };
  let base = 0;
  trees.forEach((tree, k) => {
    if (tree.nodes.length === 0) throw new Error('malformed tree: a branch points outside its nodes');
    flat.roots[k] = base;
    tree.nodes.forEach((node, i) => {
      const at = base + i;
      for (const child of node.p === null ? [node.l, node.r] : [])
        if (!(Number.isInteger(child) && child >= 0 && child < tree.nodes.length))
          throw new Error('malformed tree: a branch points outside its nodes');
      flat.feature[at] = node.p === null ? node.f : -1;
      flat.threshold[at] = node.t;
      flat.left[at] = base + node.l;
      flat.right[at] = base + node.r;
      flat.leaf[at] = node.p;
    });
    base += tree.nodes.length;
  });
  return flat;
}

/**
 * `predict` for the many rows of a window, one model: the same predictions (the same splits on the same
 * encoded values, the trees' probabilities summed in the same order), with each category's one-hot
 * position looked up in a map built once per model, the trees flattened into typed arrays and one encoded
 * row reused from row to row.
 */
export function windowPredictor(model: JsonArtifact): (row: Features) => Prediction {
  if (model.kind !== 'random-forest') return (row) => predict(model, row);
  const { encoder, trees, classes } = model;
  if (trees.length === 0) throw new Error('a forest needs at least one tree to predict');
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
  const flat = flatten(trees);
  for (let i = 0; i < flat.feature.length; i++)
    if (flat.leaf[i] === null && !(flat.feature[i]! >= 0 && flat.feature[i]! < dims))
      throw new Error(`the tree splits on feature ${flat.feature[i]} but the row has ${dims}`);
  const xi = new Float64Array(dims);
  const sums = new Float64Array(classes.length);
  return (row) => {
    xi.fill(0);
    for (let i = 0; i < encoder.numeric.length; i++) {
      const name = encoder.numeric[i]!;
      xi[i] = (toNumber(row[name], name) - encoder.means[i]!) / encoder.stds[i]!;
    }
    for (let k = 0; k < slots.length; k++) {
      const at = slots[k]!.get(String(row[encoder.categorical[k]!.name]));
      if (at) for (const j of at) xi[j] = 1;
    }
    sums.fill(0);
    for (let k = 0; k < flat.roots.length; k++) {
      let node = flat.roots[k]!;
      while (flat.feature[node]! >= 0)
        node = xi[flat.feature[node]!]! <= flat.threshold[node]! ? flat.left[node]! : flat.right[node]!;
      const p = flat.leaf[node]!;
      for (let c = 0; c < sums.length; c++) sums[c]! += p[c] ?? 0;
    }
    let best = 0;
    const probabilities: Record<string, number> = {};
    for (let c = 0; c < classes.length; c++) {
      const prob = sums[c]! / trees.length;
      if (prob > sums[best]! / trees.length) best = c;
      probabilities[classes[c]!] = prob;
    }
    return { label: classes[best]!, confidence: sums[best]! / trees.length, probabilities };
  };
}
