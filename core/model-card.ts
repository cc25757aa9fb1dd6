/**
 * Model card for a retrained candidate: what it was trained on, how, how it compares with the
 * champion on the holdout, whether it passed the gates, and where it came from. Rendered as Markdown
 * (for the CLI and pull requests) and as a self-contained HTML page (for people approving a
 * rollout, in core/model-card-html.ts). Pure: no I/O, no clock; the caller supplies createdAt.
 */
import type { DifferenceInterval, PairedDifferences } from './bootstrap.js';
import { trainingSetSentence, type TrainingSetSummary } from './training-scope.js';
import {
  fixed,
  gainText,
  ms,
  pct,
  pts,
  type Backtest,
  type CalibrationBin,
  type EvaluatedModel,
  type GainMetric,
  type GateDecision,
  type GateResult,
  type ModelMetrics,
} from './evaluation.js';

export interface ModelCardInput {
  modelId: string;
  candidateVersion: number;
  championVersion: number;
  cycleId: string;
  createdAt: string;
  trainer: {
    name: string;
    config: Record<string, unknown>;
    configHash: string;
    codeVersion: string;
    artifactSha256: string;
    /** The remedy this candidate is (recalibration of the champion, or why it was retrained), as a sentence. */
    remedy?: string;
    /** A model from outside (ONNX): where it came from and how far the file is from the original model. */
    artifact?: { kind: string; producer: string; converterGap: number | null };
    /** The rows it learned from and their weights; cards written before it was recorded lack it. */
    trainingSet?: TrainingSetSummary;
  };
  data: {
    datasetId: number;
    contentHash: string;
    trainRows: number;
    holdoutRows: number;
    /** How the holdout was chosen; cards written before the choice existed lack it. */
    holdout?: 'random' | 'latest';
    labelSources: Record<string, number>;
    window: { start: string; end: string } | null;
    parentDatasetId: number | null;
  };
  candidate: EvaluatedModel;
  champion: EvaluatedModel;
  gates: GateDecision;
  /** The intervals and the backtest the gates judged; cards written before them lack it. */
  evidence?: {
    difference: PairedDifferences;
    backtest: Backtest | null;
    minHoldout: number;
    metric: GainMetric;
  };
  lineage: { driftReportId: number | null; campaignId: string | null };
}

// ---------------------------------------------------------------------------------------------------
// Content shared by both formats: the numbers are formatted once so Markdown and HTML never disagree.
// ---------------------------------------------------------------------------------------------------

export const NONE = '—';

/** Whether a change is an improvement; the HTML colours deltas by it. */
type Verdict = 'better' | 'worse' | 'same' | 'none';

export interface Delta {
  text: string;
  verdict: Verdict;
}

/**
 * A signed difference, formatted. "Same" means equal at the displayed precision, so the colour never
 * contradicts the number a reader sees.
 */
function delta(
  candidate: number | null,
  champion: number | null,
  format: (magnitude: number) => string,
  higherIsBetter: boolean,
): Delta {
  if (candidate === null || champion === null) return { text: NONE, verdict: 'none' };
  const d = candidate - champion;
  const magnitude = format(Math.abs(d));
  if (!/[1-9]/.test(magnitude)) return { text: magnitude, verdict: 'same' };
  return {
    // U+2212 MINUS SIGN: the same width as "+", so signed columns line up.
    text: `${d > 0 ? '+' : '\u2212'}${magnitude}`,
    verdict: d > 0 === higherIsBetter ? 'better' : 'worse',
  };
}

interface MetricRow {
  metric: string;
  candidate: string;
  champion: string;
  delta: Delta;
  /** The paired bootstrap interval of candidate − champion, where one was computed. */
  interval: string;
}

export const three = (x: number): string => fixed(x, 3);
const orNone = (x: number | null, format: (x: number) => string): string => (x === null ? NONE : format(x));

/** A signed number with U+2212 for minus, so it reads like the Δ column. */
const signed = (x: number, format: (x: number) => string): string => {
  const text = format(Math.abs(x));
  return !/[1-9]/.test(text) ? text : `${x > 0 ? '+' : '\u2212'}${text}`;
};

/** "[−3.2, +12.5] pts": a difference's interval in the units of its Δ column. */
export function intervalCell(i: DifferenceInterval | undefined, format: (x: number) => string): string {
  return i === undefined ? NONE : `[${signed(i.lower, format)}, ${signed(i.upper, format)}]`;
}

const ptsNumber = (x: number): string => fixed(x * 100, 1);

export function metricRows(
  candidate: ModelMetrics,
  champion: ModelMetrics,
  difference?: PairedDifferences,
): MetricRow[] {
  const row = (
    metric: string,
    pick: (m: ModelMetrics) => number | null,
    format: (x: number) => string,
    deltaFormat: (x: number) => string,
    higherIsBetter: boolean,
    interval?: string,
  ): MetricRow => ({
    metric,
    candidate: orNone(pick(candidate), format),
    champion: orNone(pick(champion), format),
    delta: delta(pick(candidate), pick(champion), deltaFormat, higherIsBetter),
    interval: interval ?? NONE,
  });
  const d = difference;
  return [
    row('Accuracy', (m) => m.accuracy, pct, pts, true, d && `${intervalCell(d.accuracy, ptsNumber)} pts`),
    row('Macro F1', (m) => m.macroF1, three, three, true, d && intervalCell(d.macroF1, three)),
    row('Macro AUC (OvR)', (m) => m.macroAuc, three, three, true),
    row('Log-loss', (m) => m.logLoss, three, three, false, d && intervalCell(d.logLoss, three)),
    row('ECE', (m) => m.ece, three, three, false),
    row('p95 latency', (m) => m.p95LatencyMs, ms, ms, false),
  ];
}

/** The header of the interval column, e.g. "Δ 90% interval". */
export function intervalHeader(difference: PairedDifferences | undefined): string {
  return difference === undefined ? 'Δ interval' : `Δ ${fixed(difference.confidence * 100, 0)}% interval`;
}

/** One sentence on how the holdout was chosen, how large it is and how the intervals were drawn. */
export function holdoutSentence(input: ModelCardInput): string {
  const { data, evidence } = input;
  const size = `${data.holdoutRows} labeled holdout rows${data.holdout === undefined ? '' : ` (${holdoutKind(data.holdout)})`}`;
  if (evidence === undefined) return `On ${size}.`;
  const d = evidence.difference;
  return (
    `On ${size}; at least ${evidence.minHoldout} are required. Intervals: paired bootstrap of candidate − champion, ` +
    `${d.resamples} resamples (seed ${d.seed}), ${fixed(d.confidence * 100, 0)}% percentile interval; ` +
    `promotion needs the lower bound of the ${evidence.metric === 'logLoss' ? 'log-loss reduction' : evidence.metric === 'macroF1' ? 'macro-F1 gain' : 'accuracy gain'} to clear the minimum gain.`
  );
}

/** The backtest on the champion's reference holdout, as a sentence and (when there was one) a row. */
export function backtestSummary(input: ModelCardInput): { sentence: string; row: string[] | null } {
  const evidence = input.evidence;
  if (evidence === undefined) return { sentence: 'No backtest was run for this card.', row: null };
  const b = evidence.backtest;
  if (b === null)
    return {
      sentence: 'The champion has no labeled reference holdout: there was nothing to backtest on.',
      row: null,
    };
  const gate = input.gates.gates.find((g) => g.name === 'backtest');
  return {
    sentence:
      `Both models on the champion's reference holdout (dataset #${b.datasetId}, data from before the drift): ` +
      `the candidate may lose at most ${gate ? pts(gate.limit) : NONE} of accuracy there.`,
    row: [
      String(b.rows),
      pct(b.candidateAccuracy),
      pct(b.championAccuracy),
      delta(b.candidateAccuracy, b.championAccuracy, pts, true).text,
      `${intervalCell(b.difference.accuracy, ptsNumber)} pts`,
      gate ? (gate.advisory ? 'reported, not judged' : gate.passed ? 'pass' : 'fail') : NONE,
    ],
  };
}

export const BACKTEST_HEADERS = [
  'Rows',
  'Candidate accuracy',
  'Champion accuracy',
  'Δ',
  'Δ interval',
  'Gate',
] as const;

interface SliceRow {
  slice: string;
  rows: string;
  candidate: string;
  champion: string;
  delta: Delta;
  candidateF1: string;
  candidateEce: string;
}

export function sliceRows(input: ModelCardInput): SliceRow[] {
  const cand = new Map(Object.entries(input.candidate.slices));
  const champ = new Map(Object.entries(input.champion.slices));
  const names = [...new Set([...cand.keys(), ...champ.keys()])].sort();
  return names.map((slice) => {
    const c = cand.get(slice);
    const h = champ.get(slice);
    return {
      slice,
      rows: String((c ?? h)!.rows),
      candidate: c ? pct(c.accuracy) : NONE,
      champion: h ? pct(h.accuracy) : NONE,
      delta: delta(c?.accuracy ?? null, h?.accuracy ?? null, pts, true),
      candidateF1: c ? three(c.macroF1) : NONE,
      candidateEce: c ? three(c.ece) : NONE,
    };
  });
}

/** A bin edge with as many decimals as it needs and at least one: 0.0, 0.6, 0.05, 1.0. */
export const edge = (x: number): string => {
  const s = String(Number(x.toFixed(3)));
  return s.includes('.') ? s : `${s}.0`;
};

interface BinRow {
  range: string;
  candidate: CalibrationBin | undefined;
  champion: CalibrationBin | undefined;
}

/** Candidate and champion bins side by side, matched on their edges (both use the same bin count). */
export function binRows(candidate: readonly CalibrationBin[], champion: readonly CalibrationBin[]): BinRow[] {
  const key = (b: CalibrationBin): string => `${b.lower}:${b.upper}`;
  const byKey = new Map<string, BinRow>();
  for (const b of [...candidate, ...champion].sort((x, y) => x.lower - y.lower)) {
    if (!byKey.has(key(b))) {
      byKey.set(key(b), {
        range: `${edge(b.lower)}–${edge(b.upper)}`,
        candidate: undefined,
        champion: undefined,
      });
    }
  }
  for (const b of candidate) byKey.get(key(b))!.candidate = b;
  for (const b of champion) byKey.get(key(b))!.champion = b;
  return [...byKey.values()];
}

export function measuredText(gate: GateResult, metric: GainMetric = 'accuracy'): string {
  if (gate.measured === null) return NONE;
  switch (gate.name) {
    case 'min-holdout':
      return `${gate.measured} rows`;
    case 'min-gain':
      return gainText(gate.measured, metric);
    case 'slice-drop':
    case 'backtest':
      return pts(gate.measured);
    case 'calibration':
      return three(gate.measured);
    case 'latency':
      return ms(gate.measured);
  }
}

export function limitText(gate: GateResult, metric: GainMetric = 'accuracy'): string {
  switch (gate.name) {
    case 'min-holdout':
      return `≥ ${gate.limit} rows`;
    case 'min-gain':
      return `≥ ${gainText(gate.limit, metric)}`;
    case 'slice-drop':
    case 'backtest':
      return `≤ ${pts(gate.limit)}`;
    case 'calibration':
      return `≤ ${three(gate.limit)}`;
    case 'latency':
      return `≤ ${ms(gate.limit)}`;
  }
}

export function labelSourcesText(sources: Record<string, number>): string {
  const entries = Object.entries(sources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? NONE : entries.map(([source, n]) => `${source} ${n}`).join(', ');
}

export function windowText(window: ModelCardInput['data']['window']): string {
  return window === null ? NONE : `${window.start} → ${window.end}`;
}

/** The lineage chain, drift report → dataset → campaign → version, each link as plain text. */
export function lineageLinks(
  input: Pick<ModelCardInput, 'lineage' | 'data' | 'modelId' | 'candidateVersion'>,
): string[] {
  const { driftReportId, campaignId } = input.lineage;
  return [
    driftReportId === null ? 'no drift report' : `drift report #${driftReportId}`,
    `dataset #${input.data.datasetId}` +
      (input.data.parentDatasetId === null ? '' : ` (from #${input.data.parentDatasetId})`),
    campaignId === null ? 'no labeling campaign' : `labeling campaign ${campaignId}`,
    `${input.modelId} v${input.candidateVersion}`,
  ];
}

/**
 * Config pretty-printed with sorted keys, the order canonicalJson hashes it in, so equal configs read
 * the same on every card whatever order the trainer wrote them in.
 */
export function configJson(config: Record<string, unknown>): string {
  return JSON.stringify(
    config,
    (_key, value: unknown) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, (value as Record<string, unknown>)[k]]),
          )
        : value,
    2,
  );
}

export const decisionWord = (go: boolean): string => (go ? 'GO' : 'NO-GO');

// ---------------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------------

/*
 * Names (slices, label sources, campaign ids) come from data, not from us. Backslash escapes keep
 * them literal: a slice called "<script>" or "a|b" can neither inject HTML into a renderer that
 * passes it through nor break a table row, and "[x](y)" cannot become a link. "<" and "&" are
 * escaped only where they could open a tag or an entity, so "gain 0.4 pts < 2.0 pts" stays readable
 * in a terminal. Text is always placed mid-line, so line-start syntax (#, >, -) needs no escape.
 */
export function md(text: string): string {
  return text.replace(/[\\`*_[\]|~]|<(?=[A-Za-z/!?])|&(?=[A-Za-z#])/g, '\\$&').replace(/\r?\n|\r/g, ' ');
}

/**
 * Inline code for a table cell: the fence is longer than any backtick run inside, so the content
 * cannot close it, and "|" is escaped because GFM splits table cells before it parses code spans.
 */
function mdCode(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text.replace(/\r?\n|\r/g, ' ').replace(/\|/g, '\\|')}${pad}${fence}`;
}

export function mdFence(text: string, language: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${language}\n${text}\n${fence}`;
}

/** A GitHub-flavoured table; `right` marks numeric columns. */
export function mdTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly number[],
): string {
  const align = headers.map((_, i) => (right.includes(i) ? '---:' : '---'));
  return [headers, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

const mark = (passed: boolean): string => (passed ? '✅ pass' : '❌ fail');

const decisionLine = (gates: GateDecision): string =>
  `**Decision: ${decisionWord(gates.go)}** ${gates.go ? '✅' : '❌'} — ${md(gates.reason)}`;

export function modelCardMarkdown(input: ModelCardInput): string {
  const { data, trainer, gates } = input;
  const cand = input.candidate.overall;
  const champ = input.champion.overall;
  const slices = sliceRows(input);
  const bins = binRows(cand.calibration, champ.calibration);
  const binCells = (b: CalibrationBin | undefined): string[] =>
    b === undefined ? [NONE, NONE, NONE] : [String(b.count), three(b.meanConfidence), three(b.accuracy)];

  const sections = [
    `# Model card: ${md(input.modelId)} v${input.candidateVersion}`,
    [
      `Cycle ${md(input.cycleId)} · created ${md(input.createdAt)} · candidate v${input.candidateVersion} vs champion v${input.championVersion}`,
      '',
      decisionLine(gates),
    ].join('\n'),
    '## Data',
    mdTable(
      ['Field', 'Value'],
      [
        ['Dataset', `#${data.datasetId}`],
        ['Content hash', mdCode(data.contentHash)],
        ['Rows', `${data.trainRows} train, ${data.holdoutRows} holdout`],
        ['Holdout', holdoutKind(data.holdout)],
        ['Label sources', md(labelSourcesText(data.labelSources))],
        ['Window', md(windowText(data.window))],
        ['Parent dataset', data.parentDatasetId === null ? NONE : `#${data.parentDatasetId}`],
      ],
      [],
    ),
    '## Training',
    mdTable(
      ['Field', 'Value'],
      [
        ['Trainer', md(trainer.name)],
        ...(trainer.trainingSet ? [['Training set', md(trainingSetSentence(trainer.trainingSet))]] : []),
        ...(trainer.remedy ? [['Remedy', md(trainer.remedy)]] : []),
        ['Code version', mdCode(trainer.codeVersion)],
        ['Config hash', mdCode(trainer.configHash)],
        ['Artifact SHA-256', mdCode(trainer.artifactSha256)],
        ...(trainer.artifact ? artifactRows(trainer.artifact).map(([k, v]) => [k, md(v)]) : []),
      ],
      [],
    ),
    mdFence(configJson(trainer.config), 'json'),
    '## Metrics vs champion',
    `${holdoutSentence(input)} Lower is better for log-loss, ECE and latency.`,
    mdTable(
      [
        'Metric',
        `Candidate v${input.candidateVersion}`,
        `Champion v${input.championVersion}`,
        'Δ',
        intervalHeader(input.evidence?.difference),
      ],
      metricRows(cand, champ, input.evidence?.difference).map((r) => [
        r.metric,
        r.candidate,
        r.champion,
        r.delta.text,
        r.interval,
      ]),
      [1, 2, 3, 4],
    ),
    '## Backtest on the reference',
    backtestMarkdown(input),
    '## Slices',
    slices.length === 0
      ? 'No slices were evaluated.'
      : mdTable(
          [
            'Slice',
            'Rows',
            'Candidate accuracy',
            'Champion accuracy',
            'Δ',
            'Candidate macro F1',
            'Candidate ECE',
          ],
          slices.map((s) => [
            md(s.slice),
            s.rows,
            s.candidate,
            s.champion,
            s.delta.text,
            s.candidateF1,
            s.candidateEce,
          ]),
          [1, 2, 3, 4, 5, 6],
        ),
    '## Calibration',
    `Top-label confidence in equal-width bins; a calibrated model's accuracy equals its confidence in every bin. ECE: candidate ${three(cand.ece)}, champion ${three(champ.ece)}.`,
    mdTable(
      [
        'Confidence',
        'Candidate rows',
        'Candidate confidence',
        'Candidate accuracy',
        'Champion rows',
        'Champion confidence',
        'Champion accuracy',
      ],
      bins.map((b) => [b.range, ...binCells(b.candidate), ...binCells(b.champion)]),
      [1, 2, 3, 4, 5, 6],
    ),
    '## Gates',
    mdTable(
      ['Gate', 'Result', 'Measured', 'Limit', 'Detail'],
      gates.gates.map((g) => [
        g.name,
        mark(g.passed),
        measuredText(g, input.evidence?.metric),
        limitText(g, input.evidence?.metric),
        md(g.detail),
      ]),
      [2, 3],
    ),
    decisionLine(gates),
    '## Lineage',
    lineageLinks(input).map(md).join(' → '),
  ];
  return `${sections.join('\n\n')}\n`;
}

function backtestMarkdown(input: ModelCardInput): string {
  const { sentence, row } = backtestSummary(input);
  return row === null ? sentence : `${sentence}\n\n${mdTable(BACKTEST_HEADERS, [row], [0, 1, 2, 3, 4])}`;
}

export function holdoutKind(holdout: ModelCardInput['data']['holdout']): string {
  if (holdout === 'latest') return "the window's latest rows by record time";
  if (holdout === 'random') return 'random, by record key';
  return NONE;
}

/** The rows a model card shows for an artifact from outside. */
export function artifactRows(a: NonNullable<ModelCardInput['trainer']['artifact']>): [string, string][] {
  return [
    ['Artifact kind', a.kind],
    ['Produced by', a.producer],
    [
      'Converter gap',
      a.converterGap === null
        ? "not measured (the original model's probabilities were not given)"
        : `max |Δp| ${a.converterGap.toExponential(2)} against the original model on the reference holdout`,
    ],
  ];
}
