/**
 * The model card of a regression candidate: what it was trained on, its errors against the champion's
 * with their intervals, the backtest, errors per slice, the prediction intervals' coverage, residual bias
 * by decile of the prediction, the gates and the lineage. This file holds the content and the Markdown
 * form; the HTML page with its predicted-vs-actual and residual plots is core/regression-card-html.ts.
 */
import type { DifferenceInterval } from './bootstrap.js';
import { fixed, type GateDecision, type GateResult } from './gates.js';
import {
  configJson,
  decisionWord,
  holdoutKind,
  labelSourcesText,
  lineageLinks,
  md,
  mdFence,
  mdTable,
  NONE,
  windowText,
  type ModelCardInput,
} from './model-card.js';
import type { RegressionMeasures } from './regression-evaluation.js';
import type { RegressionBacktest } from './regression-gates.js';
import type { Coverage, IntervalEvidence, StoredInterval } from './regression-interval.js';
import { trainingSetSentence } from './training-scope.js';

/** Most holdout rows the plots show (evenly spaced over the holdout beyond that). */
export const MAX_PLOTTED_POINTS = 1000;

export interface RegressionCardInput extends RegressionMeasures {
  task: 'regression';
  modelId: string;
  candidateVersion: number;
  championVersion: number;
  cycleId: string;
  createdAt: string;
  trainer: ModelCardInput['trainer'];
  data: ModelCardInput['data'];
  /** The feature the slices are values of; null without evaluation.sliceBy. */
  sliceBy: string | null;
  /** Labeled value and both predictions per holdout row (at most MAX_PLOTTED_POINTS), for the plots. */
  points: { actual: number; candidate: number; champion: number }[];
  backtest: RegressionBacktest | null;
  /** PSI of the window's labeled values against the reference's; null when not measured. */
  targetShiftPsi: number | null;
  /** Both models' prediction intervals and their coverage; absent on cards written before intervals. */
  predictionIntervals?: IntervalEvidence;
  gates: GateDecision;
  lineage: ModelCardInput['lineage'];
}

/** Whether a stored card input is a regression card's. */
export function isRegressionCard(input: unknown): input is RegressionCardInput {
  return (input as { task?: unknown } | null)?.task === 'regression';
}

/** At most `max` points, evenly spaced, in holdout order (the same points every time). */
export function plottedPoints<T>(points: readonly T[], max = MAX_PLOTTED_POINTS): T[] {
  if (points.length <= max) return [...points];
  return Array.from({ length: max }, (_, i) => points[Math.floor((i * points.length) / max)]!);
}

// Content shared by both formats: the numbers are formatted once so Markdown and HTML never disagree.

export const num = (x: number): string => fixed(x, 3);
const share = (x: number): string => `${fixed(x * 100, 1)}%`;

/** A value with its interval: "2.345 (2.101 to 2.602)" ("to", not a dash, which a minus sign would blur). */
function withInterval(i: DifferenceInterval | null, f: (x: number) => string): string {
  return i === null ? NONE : `${f(i.estimate)} (${f(i.lower)} to ${f(i.upper)})`;
}

export type Verdict = 'better' | 'worse' | 'same' | 'none';

export interface ErrorRow {
  metric: string;
  candidate: string;
  champion: string;
  delta: string;
  verdict: Verdict;
}

/** Δ and whether it is an improvement: lower is better for errors, higher for R². */
function deltaOf(a: number | null, b: number | null, lowerBetter: boolean, f: (x: number) => string) {
  if (a === null || b === null) return { delta: NONE, verdict: 'none' as Verdict };
  const d = a - b;
  const verdict: Verdict = Math.abs(d) < 1e-12 ? 'same' : d < 0 === lowerBetter ? 'better' : 'worse';
  return { delta: `${d > 0 ? '+' : ''}${f(d)}`, verdict };
}

/** Candidate against champion, one row per metric, each with its bootstrap interval. */
export function errorRows(input: RegressionCardInput): ErrorRow[] {
  const c = input.candidate.errors;
  const h = input.champion.errors;
  const row = (
    metric: string,
    a: DifferenceInterval | null,
    b: DifferenceInterval | null,
    lowerBetter: boolean,
    f: (x: number) => string,
  ): ErrorRow => ({
    metric,
    candidate: withInterval(a, f),
    champion: withInterval(b, f),
    ...deltaOf(a?.estimate ?? null, b?.estimate ?? null, lowerBetter, f),
  });
  const ms = (x: number) => `${fixed(x, 2)} ms`;
  const timed = (x: number | null) => (x === null ? 'not measured' : ms(x));
  const cLatency = input.candidate.p95LatencyMs;
  const hLatency = input.champion.p95LatencyMs;
  return [
    row('MAE', c.mae, h.mae, true, num),
    row('RMSE', c.rmse, h.rmse, true, num),
    row('R²', c.r2, h.r2, false, num),
    row('MAPE', c.mape, h.mape, true, share),
    // The bias improves as its size shrinks, whichever its sign: Δ compares sizes.
    {
      ...row('Mean error (bias; Δ of its size)', c.meanError, h.meanError, true, num),
      ...deltaOf(Math.abs(c.meanError.estimate), Math.abs(h.meanError.estimate), true, num),
    },
    {
      metric: 'p95 latency',
      candidate: timed(cLatency),
      champion: timed(hLatency),
      ...deltaOf(cLatency, hLatency, true, ms),
    },
  ];
}

/** The sentence above the error table: rows, holdout, interval level and the paired MAE difference. */
export function errorSentence(input: RegressionCardInput): string {
  const d = input.difference;
  return (
    `On ${input.data.holdoutRows} labeled holdout rows (${holdoutKind(input.data.holdout)}); ` +
    `${fixed(d.confidence * 100, 0)}% bootstrap intervals (${d.resamples} resamples) in brackets. ` +
    `Candidate − champion MAE ${num(d.mae.estimate)}, paired interval ${num(d.mae.lower)} to ${num(d.mae.upper)} ` +
    `(negative: the candidate errs less). Lower is better for every error; higher for R². ` +
    `An error is predicted − actual.`
  );
}

/** The backtest as a sentence. */
export function backtestSentence(input: RegressionCardInput): string {
  const b = input.backtest;
  if (b === null) return 'The champion has no labeled reference holdout: the backtest did not run.';
  const d = b.difference;
  const shift =
    input.targetShiftPsi === null
      ? ''
      : ` The window's labeled values against the reference's: target PSI ${fixed(input.targetShiftPsi, 3)}.`;
  return (
    `On ${b.rows} rows of the champion's reference holdout (dataset #${b.datasetId}, data from before the drift): ` +
    `candidate MAE ${num(b.candidateMae)}, champion MAE ${num(b.championMae)}; ` +
    `candidate − champion ${num(d.mae.estimate)}, ${fixed(d.confidence * 100, 0)}% interval ${num(d.mae.lower)} to ${num(d.mae.upper)}.${shift}`
  );
}

/** One table row per slice: rows, both MAEs, Δ, and the candidate's bias there. */
export function sliceCells(input: RegressionCardInput): { cells: string[]; verdict: Verdict }[] {
  return input.slices.map((s) => {
    const d = deltaOf(s.candidate.mae, s.champion.mae, true, num);
    return {
      cells: [
        s.slice,
        String(s.rows),
        num(s.candidate.mae),
        num(s.champion.mae),
        d.delta,
        num(s.candidate.meanError),
      ],
      verdict: d.verdict,
    };
  });
}

export const SLICE_HEADERS = ['Slice', 'Rows', 'Candidate MAE', 'Champion MAE', 'Δ', 'Candidate bias'];

/** One row per decile of the candidate's predictions, the champion's decile of the same rank beside it. */
export function decileCells(input: RegressionCardInput): string[][] {
  const champ = input.residualBias.champion;
  return input.residualBias.candidate.map((d, i) => {
    const h = champ[i];
    return [
      String(d.decile),
      String(d.rows),
      `${num(d.from)} to ${num(d.to)}`,
      num(d.meanPredicted),
      num(d.meanActual),
      num(d.meanError),
      h === undefined ? NONE : num(h.meanError),
    ];
  });
}

/** What the decile table shows. */
export const DECILE_NOTE =
  "The holdout rows in ten equal groups by the candidate's prediction; bias is the mean of predicted − actual (positive: over-predicts). The champion's bias is in its own decile of the same rank, by its predictions.";

export const DECILE_HEADERS = [
  'Decile',
  'Rows',
  'Candidate predicts',
  'Mean predicted',
  'Mean actual',
  'Candidate bias',
  'Champion bias',
];

/** What the prediction-interval table shows: the rule, the level, how each coverage was measured. */
export function intervalSentence(input: RegressionCardInput): string {
  const e = input.predictionIntervals;
  if (!e) return 'Prediction intervals were not measured (this card was written before Remedy stored them).';
  const level = share(e.level);
  return (
    `Split conformal at ${level} (evaluation.intervalLevel): prediction ± the ⌈(n + 1) × ${e.level}⌉-th smallest absolute error ` +
    `on n labeled rows the model did not train on (at least ${e.minRows}); on rows like those it holds the true value at least ${level} of the time. ` +
    `The candidate's half-width is calibrated on this holdout and stored with its version, and the gateway answers with it; ` +
    `its coverage is two-fold: each half of the holdout (even and odd rows) judged by the half-width calibrated on the other half. ` +
    `The champion's stored interval is judged on every holdout row, none of which it was calibrated on. ` +
    `Coverage well below ${level} means the errors grew since calibration. Reported, not gated.`
  );
}

/** Below the gates: what stands in for a classifier's calibration. */
export const CALIBRATION_NOTE =
  "Calibration (ECE) does not apply to a regressor, which gives no probabilities; its analogue is the prediction interval's coverage, and the residual bias by decile shows where it over- or under-predicts (both reported, not gated).";

export const INTERVAL_HEADERS = ['Model', 'Half-width', 'Calibrated on', 'Coverage', 'Judged'];

const coverageText = (c: Coverage): string =>
  `${share(c.share)} (${c.covered} of ${c.rows}; 95% interval ${share(c.low)} to ${share(c.high)})`;

/** One row per model: its half-width, where it was calibrated, and how often it held here. */
export function intervalCells(input: RegressionCardInput): string[][] {
  const e = input.predictionIntervals;
  if (!e) return [];
  const calibrated = (i: StoredInterval): string => `${i.rows} rows: ${i.calibratedOn}`;
  const c = e.candidate;
  const cc = e.candidateCoverage;
  const candidate = [
    `Candidate v${input.candidateVersion}`,
    c ? `± ${num(c.halfWidth)}` : NONE,
    c
      ? calibrated(c)
      : `${input.data.holdoutRows} holdout rows, fewer than the ${e.minRows} a ${share(e.level)} interval needs`,
    cc ? coverageText(cc) : 'not measured',
    cc
      ? `two-fold (half-widths ${num(cc.foldHalfWidths[0])} and ${num(cc.foldHalfWidths[1])})`
      : `each half needs at least ${e.minRows} rows`,
  ];
  const h = e.champion;
  const champion = h
    ? [
        `Champion v${input.championVersion}`,
        `± ${num(h.interval.halfWidth)}${h.interval.level === e.level ? '' : ` (at ${share(h.interval.level)})`}`,
        calibrated(h.interval),
        coverageText(h.coverage),
        'every holdout row',
      ]
    : [`Champion v${input.championVersion}`, NONE, 'no interval stored with this version', NONE, NONE];
  return [candidate, champion];
}

/** A gate's measured value and limit in its own units (shares for the regression gates). */
export function gateCells(g: GateResult): [string, string] {
  const value = (x: number): string =>
    g.name === 'min-holdout' ? String(x) : g.name === 'latency' ? `${fixed(x, 2)} ms` : share(x);
  return [g.measured === null ? NONE : value(g.measured), value(g.limit)];
}

/** The training rows a card shows. */
export function trainingCells(input: RegressionCardInput): [string, string][] {
  const t = input.trainer;
  return [
    ['Trainer', t.name],
    ...(t.trainingSet ? ([['Training set', trainingSetSentence(t.trainingSet)]] as [string, string][]) : []),
    ...(t.remedy ? ([['Remedy', t.remedy]] as [string, string][]) : []),
    ['Code version', t.codeVersion],
    ['Config hash', t.configHash],
    ['Artifact SHA-256', t.artifactSha256],
  ];
}

/** The data rows a card shows. */
export function dataCells(input: RegressionCardInput): [string, string][] {
  const d = input.data;
  return [
    ['Dataset', `#${d.datasetId}`],
    ['Content hash', d.contentHash],
    ['Rows', `${d.trainRows} train, ${d.holdoutRows} holdout`],
    ['Holdout', holdoutKind(d.holdout)],
    ['Label sources', labelSourcesText(d.labelSources)],
    ['Window', windowText(d.window)],
    ['Parent dataset', d.parentDatasetId === null ? NONE : `#${d.parentDatasetId}`],
  ];
}

const mark = (passed: boolean): string => (passed ? '✅ pass' : '❌ fail');

/** One line on both models' prediction intervals for the cycle report; null on cards without them. */
export function intervalLine(input: RegressionCardInput): string | null {
  const e = input.predictionIntervals;
  if (!e) return null;
  const c = e.candidate;
  const cc = e.candidateCoverage;
  const candidate = c
    ? `candidate v${input.candidateVersion} ± ${num(c.halfWidth)}${cc ? `, holding ${share(cc.share)} of the holdout two-fold` : ''}`
    : `candidate v${input.candidateVersion}: none (fewer than ${e.minRows} holdout rows)`;
  const h = e.champion;
  const champion = h
    ? `champion v${input.championVersion}'s stored ± ${num(h.interval.halfWidth)} held ${share(h.coverage.share)} of it`
    : `champion v${input.championVersion} has none stored`;
  return `Prediction interval at ${share(e.level)}: ${candidate}; ${champion}.`;
}

/** The cycle report's candidate section for a regression model. */
export function regressionReportMarkdown(input: RegressionCardInput): string {
  const intervals = intervalLine(input);
  return [
    `**${decisionWord(input.gates.go)}**: ${md(input.gates.reason)}`,
    errorSentence(input),
    mdTable(
      ['Metric', `Candidate v${input.candidateVersion}`, `Champion v${input.championVersion}`, 'Δ'],
      errorRows(input).map((r) => [r.metric, r.candidate, r.champion, r.delta]),
      [1, 2, 3],
    ),
    ...(intervals ? [md(intervals)] : []),
  ].join('\n\n');
}

export function regressionCardMarkdown(input: RegressionCardInput): string {
  const { gates } = input;
  const decision = `**Decision: ${decisionWord(gates.go)}** ${gates.go ? '✅' : '❌'} — ${md(gates.reason)}`;
  const fields = (rows: [string, string][]) =>
    mdTable(
      ['Field', 'Value'],
      rows.map(([k, v]) => [k, md(v)]),
      [],
    );
  const sections = [
    `# Model card: ${md(input.modelId)} v${input.candidateVersion} (regression)`,
    `Cycle ${md(input.cycleId)} · created ${md(input.createdAt)} · candidate v${input.candidateVersion} vs champion v${input.championVersion}\n\n${decision}`,
    '## Data',
    fields(dataCells(input)),
    '## Training',
    fields(trainingCells(input)),
    mdFence(configJson(input.trainer.config), 'json'),
    '## Errors vs champion',
    errorSentence(input),
    mdTable(
      ['Metric', `Candidate v${input.candidateVersion}`, `Champion v${input.championVersion}`, 'Δ'],
      errorRows(input).map((r) => [r.metric, r.candidate, r.champion, r.delta]),
      [1, 2, 3],
    ),
    '## Backtest on the reference',
    backtestSentence(input),
    '## Slices',
    input.slices.length === 0
      ? 'No slices were evaluated (evaluation.sliceBy is not set).'
      : `By ${md(input.sliceBy ?? NONE)}.\n\n${mdTable(
          SLICE_HEADERS,
          sliceCells(input).map((s) => s.cells.map((c, i) => (i === 0 ? md(c) : c))),
          [1, 2, 3, 4, 5],
        )}`,
    '## Prediction intervals',
    intervalSentence(input),
    ...(input.predictionIntervals
      ? [
          mdTable(
            INTERVAL_HEADERS,
            intervalCells(input).map((r) => r.map(md)),
            [1, 3],
          ),
        ]
      : []),
    '## Residual bias by decile',
    `${DECILE_NOTE} The HTML card plots predicted against actual and the residuals.`,
    mdTable(DECILE_HEADERS, decileCells(input), [1, 3, 4, 5, 6]),
    '## Gates',
    mdTable(
      ['Gate', 'Result', 'Measured', 'Limit', 'Detail'],
      gates.gates.map((g) => [g.name, mark(g.passed), ...gateCells(g), md(g.detail)]),
      [2, 3],
    ),
    CALIBRATION_NOTE,
    decision,
    '## Lineage',
    lineageLinks(input).map(md).join(' → '),
  ];
  return `${sections.join('\n\n')}\n`;
}
