/**
 * `remedy performance`: a classifier's performance (binary or multiclass) per chunk of a current file without waiting
 * for labels (confidence-based estimation, calibrated on a labeled reference file), with the realized
 * value next to the estimate wherever the current file has labels. CSV or Parquet, no server.
 */
import {
  estimatePerformance,
  fitCbpe,
  type BinaryScores,
  type ChunkEstimate,
  type CbpeModel,
  type MetricEstimate,
} from '../core/estimation.js';
import {
  estimateMulticlass,
  fitCbpeMulticlass,
  type MulticlassChunkEstimate,
  type MulticlassModel,
  type MulticlassScores,
} from '../core/estimation-multiclass.js';
import { UserError } from '../ops/user-error.js';
import { readTable, type RawColumn, type Table } from './tables.js';

export interface PerformanceOptions {
  reference: string;
  current: string;
  /**
   * Probability columns. Binary: one, the positive class's probability. Multiclass: one per class, as
   * `class=column` or a bare column named after its class.
   */
  probaColumns: string[];
  /**
   * Predicted labels: 0/1 (binary) or class names (multiclass). Without it a row is predicted positive
   * when its probability is >= 0.5 (binary), or as the class with the highest probability (multiclass).
   */
  predictionColumn?: string;
  /** True labels (0/1, true/false; empty = not arrived). Required in the reference, optional in the current. */
  labelColumn: string;
  /** Rows per chunk (default 5000); the remainder forms a last, shorter chunk. */
  chunk?: number;
  json?: boolean;
}

export interface PerformanceRun {
  kind: 'binary' | 'multiclass';
  /** Multiclass: the classes, in the order of --proba-columns. */
  classes?: string[];
  reference: { file: string; rows: number };
  current: { file: string; rows: number; labeled: number };
  chunkSize: number;
  predictedFrom: string;
  calibration: { applied: boolean; reason: string };
  chunks: (ChunkEstimate | MulticlassChunkEstimate)[];
}

const DEFAULT_CHUNK = 5000;

/** Reads both files, fits on the reference and estimates every chunk of the current file. */
export async function estimateFiles(opts: PerformanceOptions): Promise<PerformanceRun> {
  const chunkSize = opts.chunk ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new UserError(`--chunk must be a positive whole number of rows, not ${chunkSize}`);
  if (opts.probaColumns.length === 0)
    throw new UserError('--proba-columns is required: the column with the probability of the positive class');
  const [ref, cur] = await Promise.all([readTable(opts.reference), readTable(opts.current)]);
  if (ref.rows === 0) throw new UserError(`${opts.reference} has no rows: the reference needs data`);
  if (cur.rows === 0) throw new UserError(`${opts.current} has no rows: the current file is empty`);
  if (!ref.columns.has(opts.labelColumn))
    throw new UserError(
      `${opts.reference} has no column "${opts.labelColumn}" (--label-column): the reference needs labels to calibrate on`,
    );
  if (opts.probaColumns.length > 1) return estimateMulticlassFiles(ref, cur, opts, chunkSize);
  const reference = scores(ref, opts, true);
  const current = scores(cur, opts, false);
  let model: CbpeModel;
  try {
    model = fitCbpe(reference, { chunkSize });
  } catch (err) {
    throw new UserError(`${opts.reference}: ${(err as Error).message}`);
  }
  const chunks = estimatePerformance(model, current);
  return {
    kind: 'binary',
    reference: { file: opts.reference, rows: ref.rows },
    current: { file: opts.current, rows: cur.rows, labeled: chunks.reduce((a, c) => a + c.labeled, 0) },
    chunkSize,
    predictedFrom: opts.predictionColumn
      ? `column "${opts.predictionColumn}"`
      : `"${opts.probaColumns[0]}" >= 0.5 (no --prediction-column)`,
    calibration: { applied: model.calibration.applied, reason: model.calibration.reason },
    chunks,
  };
}

/** `class=column` pairs, or bare columns named after their class. */
export function parseProbaColumns(specs: string[]): { classes: string[]; columns: string[] } {
  const classes: string[] = [];
  const columns: string[] = [];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const cls = (eq >= 0 ? spec.slice(0, eq) : spec).trim();
    const col = (eq >= 0 ? spec.slice(eq + 1) : spec).trim();
    if (cls === '' || col === '')
      throw new UserError(
        `--proba-columns entry "${spec}" is incomplete: write class=column or a column name`,
      );
    if (classes.includes(cls)) throw new UserError(`--proba-columns names class "${cls}" twice`);
    classes.push(cls);
    columns.push(col);
  }
  return { classes, columns };
}

function estimateMulticlassFiles(
  ref: Table,
  cur: Table,
  opts: PerformanceOptions,
  chunkSize: number,
): PerformanceRun {
  const { classes, columns } = parseProbaColumns(opts.probaColumns);
  const read = (table: Table, isReference: boolean): MulticlassScores => {
    const proba = columns.map((c) => probabilities(table, c));
    const predicted = opts.predictionColumn
      ? strings(table, opts.predictionColumn, '--prediction-column').map((v, i) => {
          if (v === null)
            throw new UserError(
              `${table.file} ${rowName(table, i)}: no prediction in "${opts.predictionColumn}"`,
            );
          return v;
        })
      : Array.from({ length: table.rows }, (_, i) => {
          let best = 0;
          for (let k = 1; k < classes.length; k++) if (proba[k]![i]! > proba[best]![i]!) best = k;
          return classes[best]!;
        });
    const labels = table.columns.has(opts.labelColumn)
      ? strings(table, opts.labelColumn, '--label-column')
      : undefined;
    if (isReference && labels) {
      const missing = labels.findIndex((y) => y === null);
      if (missing >= 0)
        throw new UserError(
          `${table.file} ${rowName(table, missing)}: no label in "${opts.labelColumn}"; every reference row needs one`,
        );
    }
    return { classes, proba, predicted, ...(labels ? { labels } : {}) };
  };
  const reference = read(ref, true);
  const current = read(cur, false);
  let model: MulticlassModel;
  let chunks: MulticlassChunkEstimate[];
  try {
    model = fitCbpeMulticlass(reference, { chunkSize });
  } catch (err) {
    throw new UserError(`${opts.reference}: ${(err as Error).message}`);
  }
  try {
    chunks = estimateMulticlass(model, current);
  } catch (err) {
    throw new UserError(`${opts.current}: ${(err as Error).message}`);
  }
  const decisions = classes.map((c) => model.calibration[c]!);
  return {
    kind: 'multiclass',
    classes,
    reference: { file: opts.reference, rows: ref.rows },
    current: { file: opts.current, rows: cur.rows, labeled: chunks.reduce((a, c) => a + c.labeled, 0) },
    chunkSize,
    predictedFrom: opts.predictionColumn
      ? `column "${opts.predictionColumn}"`
      : 'the class with the highest probability (no --prediction-column)',
    calibration: {
      applied: decisions.some((d) => d.applied),
      reason: classes.map((c, k) => `${c}: ${decisions[k]!.applied ? 'isotonic' : 'none'}`).join(', '),
    },
    chunks,
  };
}

function probabilities(table: Table, name: string): Float64Array {
  const proba = numbers(table, name, '--proba-columns');
  for (let i = 0; i < proba.length; i++) {
    if (!(proba[i]! >= 0 && proba[i]! <= 1))
      throw new UserError(
        `${table.file} ${rowName(table, i)}: "${name}" is ${proba[i]}; probabilities must lie in [0, 1]`,
      );
  }
  return proba;
}

/** Text values (class names); null where empty. */
function strings(table: Table, name: string, flag: string): (string | null)[] {
  const col = column(table, name, flag);
  return Array.from(col.values as ArrayLike<string | number | null>, (v) => {
    if (v === null || (typeof v === 'number' && Number.isNaN(v))) return null;
    const t = String(v).trim();
    return t === '' ? null : t;
  });
}

/** Runs the estimate and prints it (a table, or one JSON document with --json). */
export async function runPerformance(
  opts: PerformanceOptions,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<PerformanceRun> {
  const run = await estimateFiles(opts);
  write(opts.json ? `${JSON.stringify(run, null, 2)}\n` : renderPerformance(run));
  return run;
}

function scores(table: Table, opts: PerformanceOptions, isReference: boolean): BinaryScores {
  const proba = probabilities(table, opts.probaColumns[0]!);
  const predicted = opts.predictionColumn
    ? binary(table, opts.predictionColumn, '--prediction-column', false)
    : Float64Array.from(proba, (p) => (p >= 0.5 ? 1 : 0));
  const hasLabels = table.columns.has(opts.labelColumn);
  const labels = hasLabels ? binary(table, opts.labelColumn, '--label-column', true) : undefined;
  if (isReference && labels) {
    const missing = labels.findIndex((y) => Number.isNaN(y));
    if (missing >= 0)
      throw new UserError(
        `${table.file} ${rowName(table, missing)}: no label in "${opts.labelColumn}"; every reference row needs one`,
      );
  }
  return { proba, predicted, ...(labels ? { labels } : {}) };
}

function rowName(table: Table, i: number): string {
  return table.file.toLowerCase().endsWith('.parquet') ? `row ${i + 1}` : `line ${i + 2}`;
}

function column(table: Table, name: string, flag: string): Exclude<RawColumn, { source: 'timestamp' }> {
  const col = table.columns.get(name);
  if (!col)
    throw new UserError(
      `${table.file} has no column "${name}" (${flag}); its columns are ${[...table.columns.keys()].join(', ')}`,
    );
  if (col.source === 'timestamp')
    throw new UserError(`${table.file}: column "${name}" (${flag}) holds timestamps`);
  return col;
}

function numbers(table: Table, name: string, flag: string): Float64Array {
  const col = column(table, name, flag);
  if (col.source === 'number') return col.values;
  const raw = col.values as (string | null)[];
  return Float64Array.from(raw, (v, i) => {
    const t = (v ?? '').trim();
    const n = t === '' ? NaN : Number(t);
    if (t !== '' && !Number.isFinite(n))
      throw new UserError(
        `${table.file} ${rowName(table, i)}: "${name}" (${flag}) is ${JSON.stringify(v)}, not a number`,
      );
    return n;
  });
}

const TRUE = new Set(['1', '1.0', 'true', 'yes']);
const FALSE = new Set(['0', '0.0', 'false', 'no']);

/** 0/1 from 0/1, true/false or yes/no; NaN where empty (allowed only when `missingOk`). */
function binary(table: Table, name: string, flag: string, missingOk: boolean): Float64Array {
  const col = column(table, name, flag);
  const out = new Float64Array(table.rows);
  for (let i = 0; i < table.rows; i++) {
    const v = col.values[i];
    const t =
      v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v).trim();
    const k = t.toLowerCase();
    if (TRUE.has(k)) out[i] = 1;
    else if (FALSE.has(k)) out[i] = 0;
    else if (t === '' && missingOk) out[i] = NaN;
    else
      throw new UserError(
        `${table.file} ${rowName(table, i)}: "${name}" (${flag}) is ${t === '' ? 'empty' : JSON.stringify(t)}; binary labels must be 0/1 or true/false`,
      );
  }
  return out;
}

/** One line per chunk: each metric's estimate [band], the realized value where labels exist, alerts. */
export function renderPerformance(run: PerformanceRun): string {
  const pct = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(1));
  const SHOWN = run.kind === 'binary' ? ['accuracy', 'f1', 'precision', 'recall'] : ['accuracy', 'f1'];
  const metric = (c: PerformanceRun['chunks'][number], m: string) =>
    (c.metrics as Record<string, MetricEstimate>)[m]!;
  const header = [
    'chunk',
    'rows',
    'labeled',
    ...SHOWN.flatMap((m) => [`${m} est [band]`, 'realized']),
    'alerts',
  ];
  const rows = run.chunks.map((c) => [
    `${c.index}`,
    `${c.start}-${c.end - 1}`,
    `${c.labeled}`,
    ...SHOWN.flatMap((m) => {
      const e = metric(c, m);
      return [
        `${pct(e.estimate)} [${pct(e.band?.[0] ?? null)}, ${pct(e.band?.[1] ?? null)}]`,
        pct(e.realized),
      ];
    }),
    [
      ...SHOWN.filter((m) => metric(c, m).alert),
      ...(c.predictionDrift.drifted ? [`prediction drift (PSI ${c.predictionDrift.psi.toFixed(2)})`] : []),
      ...(c.confidenceDrift.drifted ? [`confidence drift (PSI ${c.confidenceDrift.psi.toFixed(2)})`] : []),
    ].join(', ') || 'ok',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const first = run.chunks[0]?.metrics.accuracy;
  return [
    `reference ${run.reference.file}: ${run.reference.rows} rows; current ${run.current.file}: ${run.current.rows} rows, ${run.current.labeled} labeled`,
    `${run.kind === 'binary' ? 'binary' : `multiclass (${run.classes!.join(', ')}; F1 is the macro average)`}, chunks of ${run.chunkSize} rows; predicted label from ${run.predictedFrom}`,
    run.kind === 'binary'
      ? `calibration: ${run.calibration.applied ? 'isotonic, ' : 'none, '}${run.calibration.reason}`
      : `calibration per class (one-vs-rest): ${run.calibration.reason}`,
    '',
    line(header),
    ...rows.map(line),
    '',
    'Percentages. est = estimated from the probabilities; band = ±3 sampling errors; realized = measured on the labeled rows.',
    first && first.lowerThreshold !== null
      ? `Alert when an estimate leaves the reference chunks' range (accuracy ${pct(first.lowerThreshold)}–${pct(first.upperThreshold)}).`
      : '',
  ]
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .join('\n')
    .concat('\n');
}
