/**
 * A stage's notes (the `summary` each stage of a cycle writes, core/cycle-notes.ts) as a person reads
 * them: sentences and small tables. Every field the cycle writes has its wording here; a field this file
 * does not know (a trainer's own detail, a note added later) is shown as compact "name value" text,
 * never as JSON. The HTML and Markdown reports render the same blocks. Pure.
 */
import { spanText, type BaselineEvidence } from './drift.js';
import { fixed, pct } from './evaluation.js';
import { markup, type Html } from './html.js';
import { md, mdTable, NONE } from './model-card.js';
import { describeBaseline } from './reference.js';
import { isTrainingSet, trainingSetSentence } from './training-scope.js';

export type Block =
  | { kind: 'line'; text: string }
  | {
      kind: 'table';
      caption: string;
      head: string[];
      rows: string[][];
      /** Columns aligned right (numbers). */
      numeric: number[];
    };

type Note = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const asPct = (v: unknown): string => (num(v) === null ? NONE : pct(num(v)!));
const asFixed = (v: unknown, digits = 3): string => (num(v) === null ? NONE : fixed(num(v)!, digits));
const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const rowsOf = (v: unknown): Note[] =>
  Array.isArray(v) ? v.filter((x): x is Note => typeof x === 'object' && x !== null) : [];
/** A long hash, shortened to what a person compares. */
const shortHash = (v: unknown): string => (str(v) ? `${str(v)!.slice(0, 12)}…` : NONE);

/** A number as a person reads it: whole numbers as they are, fractions to at most four places. */
function numberText(x: number): string {
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return x.toPrecision(3);
  return String(Number(x.toFixed(4)));
}

/** Any value as short text: lists joined, objects as "name value" pairs; JSON never shows. */
export function compactText(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return NONE;
  if (typeof v === 'number') return Number.isFinite(v) ? numberText(v) : String(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length === 0) return 'none';
    return v.map((x) => compactText(x, depth + 1)).join(v.some((x) => typeof x === 'object') ? '; ' : ', ');
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Note);
    if (entries.length === 0) return 'none';
    const text = entries.map(([k, x]) => `${k} ${compactText(x, depth + 1)}`).join(', ');
    return depth > 0 ? `(${text})` : text;
  }
  return typeof v === 'bigint' ? v.toString() : NONE;
}

/** The delta of candidate minus champion, signed, in points for shares. */
export function delta(a: unknown, b: unknown, asShare: boolean): string {
  const x = num(a);
  const y = num(b);
  if (x === null || y === null) return NONE;
  const d = x - y;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  return asShare ? `${sign}${fixed(Math.abs(d) * 100, 1)} pts` : `${sign}${fixed(Math.abs(d), 3)}`;
}

/** Each group reads the fields it knows from a note and marks them used. */
type Group = (n: Note, used: Set<string>) => Block[];

const take = (n: Note, used: Set<string>, ...keys: string[]): Note => {
  const out: Note = {};
  for (const k of keys)
    if (k in n) {
      used.add(k);
      out[k] = n[k];
    }
  return out;
};

const ERROR_METRICS: Record<string, string> = { mae: 'MAE', rmse: 'RMSE', r2: 'R²', mape: 'MAPE' };

/** A regression model's performance and target, as the confirm stage noted them (core/cycle-notes.ts). */
function regressionLine(f: Note, labeled: number): string {
  const metric = str(f.performanceMetric)!;
  const value = (v: unknown) => (metric === 'mape' ? asPct(v) : asFixed(v, 2));
  const rel = num(f.relativeDrop);
  const parts = [
    num(f.current) === null
      ? 'No numeric feedback in the window.'
      : `Measured ${ERROR_METRICS[metric] ?? metric} ${value(f.current)} on ${plural(labeled, 'labeled row')} against the holdout's ${value(f.baseline)}${rel !== null ? ` (${rel >= 0 ? '+' : '−'}${pct(Math.abs(rel))})` : ''}${f.performanceBasis === 'none' ? ' (too few labeled rows to judge)' : ''}.`,
  ];
  const bad = num(f.notNumericLabels);
  if (bad) parts.push(`${plural(bad, 'feedback')} not a number, left out.`);
  const t = f.targetDrift as
    | { test?: unknown; pValue?: unknown; statistic?: unknown; drifted?: unknown; notMeasured?: unknown }
    | undefined;
  if (t && str(t.notMeasured)) parts.push(`Target drift not measured: ${str(t.notMeasured)}.`);
  else if (t)
    parts.push(
      `The target ${t.drifted === true ? 'drifted' : 'held'} (${str(t.test) ?? 'test'} ${num(t.pValue) !== null ? `p ${num(t.pValue)! < 0.0001 ? num(t.pValue)!.toExponential(1) : asFixed(t.pValue, 4)}` : asFixed(t.statistic)}).`,
    );
  return parts.join(' ');
}

/** confirm: the drift report's headline and the features that drifted most. */
const driftGroup: Group = (n, used) => {
  if (!('driftedShare' in n) || !('windowRows' in n)) return [];
  const f = take(
    n,
    used,
    'reportId',
    'windowRows',
    'driftedShare',
    'topFeatures',
    'labeledRows',
    'baselineAccuracy',
    'currentAccuracy',
    'labelShiftPsi',
    'performanceBasis',
    'estimatedAccuracy',
    'estimatedAccuracyBand',
    'estimatedRows',
    'estimateUnavailable',
    'performanceMetric',
    'current',
    'baseline',
    'relativeDrop',
    'notNumericLabels',
    'targetDrift',
  );
  const labeled = num(f.labeledRows) ?? 0;
  const blocks: Block[] = [
    {
      kind: 'line',
      text: `Drift report ${compactText(f.reportId)}: ${plural(num(f.windowRows) ?? 0, 'row')} in the window, ${asPct(f.driftedShare)} of features drifted${num(f.labelShiftPsi) !== null ? `, label shift PSI ${asFixed(f.labelShiftPsi)}` : ''}.`,
    },
  ];
  const band = Array.isArray(f.estimatedAccuracyBand) ? f.estimatedAccuracyBand : null;
  let perf: string;
  if (str(f.performanceMetric) && f.performanceMetric !== 'accuracy') perf = regressionLine(f, labeled);
  else if (f.performanceBasis === 'estimated')
    perf = `Estimated accuracy ${asPct(f.estimatedAccuracy)} (CBPE, ${labeled === 0 ? 'no labels' : `only ${plural(labeled, 'labeled row')}`}${band ? `, band ${asPct(band[0])}–${asPct(band[1])}` : ''}${num(f.estimatedRows) !== null ? ` over ${plural(num(f.estimatedRows)!, 'row')}` : ''}) against the baseline ${asPct(f.baselineAccuracy)}.`;
  else if (num(f.currentAccuracy) !== null)
    perf = `Measured accuracy ${asPct(f.currentAccuracy)} on ${plural(labeled, 'labeled row')} against the baseline ${asPct(f.baselineAccuracy)}${f.performanceBasis === 'none' ? ' (too few labeled rows to judge)' : ''}.`;
  else perf = `No feedback in the window; the baseline accuracy is ${asPct(f.baselineAccuracy)}.`;
  if (str(f.estimateUnavailable)) perf += ` No estimate: ${str(f.estimateUnavailable)}.`;
  blocks.push({ kind: 'line', text: perf });
  const top = rowsOf(f.topFeatures);
  if (top.length > 0)
    blocks.push({
      kind: 'table',
      caption: 'Top features',
      head: ['Feature', 'Test', 'Statistic', 'p-value', 'Drift at', 'PSI'],
      rows: top.map((t) => {
        const p = num(t.pValue) ?? num(t.ksPValue);
        const test = str(t.test) ?? (num(t.ksPValue) !== null ? 'ks' : NONE);
        return [
          compactText(t.feature),
          test,
          asFixed(t.statistic),
          p === null ? NONE : p.toPrecision(3),
          num(t.threshold) === null ? NONE : `${p === null ? '≥' : 'p <'} ${numberText(num(t.threshold)!)}`,
          asFixed(t.psi),
        ];
      }),
      numeric: [2, 3, 5],
    });
  return blocks;
};

/** diagnose: severity, route, signals and the ranked drifted features. */
const diagnosisGroup: Group = (n, used) => {
  if (!('severity' in n)) return [];
  const f = take(n, used, 'severity', 'signals', 'reason', 'drifted', 'route');
  const signals = Array.isArray(f.signals) && f.signals.length > 0 ? f.signals.join(', ') : 'no signal';
  const blocks: Block[] = [
    {
      kind: 'line',
      text: `Severity ${compactText(f.severity)}${'route' in f ? `, route ${compactText(f.route)}` : ''}, on ${signals}.`,
    },
  ];
  if (str(f.reason)) blocks.push({ kind: 'line', text: `Why: ${str(f.reason)}.` });
  const drifted = rowsOf(f.drifted);
  if (drifted.length > 0)
    blocks.push({
      kind: 'table',
      caption: 'Drifted features, most drifted first',
      head: ['Feature', 'Test', 'Statistic', 'Score', 'PSI'],
      rows: drifted.map((d) => [
        compactText(d.feature),
        compactText(d.test ?? NONE),
        asFixed(d.statistic),
        asFixed(d.score, 2),
        asFixed(d.psi),
      ]),
      numeric: [2, 3, 4],
    });
  return blocks;
};

/** Failure patterns the cycle targets (diagnose) and their rates after the remedy (rollout). */
const patternsGroup: Group = (n, used) =>
  (['targets', 'traces'] as const).flatMap((key): Block[] => {
    if (!(key in n)) return [];
    used.add(key);
    const v = n[key];
    if (!Array.isArray(v)) return [{ kind: 'line', text: `Failure patterns: ${compactText(v)}.` }];
    const rows = rowsOf(v);
    if (rows.length === 0)
      return [{ kind: 'line', text: `No failure pattern ${key === 'targets' ? 'targeted' : 'traced'}.` }];
    return [
      {
        kind: 'table',
        caption: key === 'targets' ? 'Failure patterns targeted' : 'Failure patterns after the remedy',
        head: ['Pattern', 'Cases', 'Error rate before', 'After', 'Verdict'],
        rows: rows.map((t) => [
          compactText(t.pattern),
          compactText(t.cases),
          asPct(t.before),
          asPct(t.after),
          compactText(t.verdict),
        ]),
        numeric: [1, 2, 3],
      },
    ];
  });

/** collect: the frozen dataset and its quality gates. */
const collectGroup: Group = (n, used) => {
  if (!('rowCount' in n) || !('datasetId' in n)) return [];
  const f = take(
    n,
    used,
    'datasetId',
    'rowCount',
    'labeledCount',
    'contentHash',
    'drifted',
    'control',
    'gates',
    'window',
  );
  const w = (typeof f.window === 'object' && f.window !== null ? f.window : {}) as Note;
  const chosen =
    num(w.held) === null
      ? ''
      : ` Chosen from ${w.selection === 'uniform-sample' ? `a uniform sample of ${plural(num(w.candidates) ?? 0, 'record')}` : `all ${plural(num(w.candidates) ?? 0, 'record')}`} of the window's ${num(w.held)!.toLocaleString('en-US')}.`;
  const region =
    num(f.drifted) !== null
      ? `; ${plural(num(f.drifted)!, 'row')} from the drifted region, ${plural(num(f.control) ?? 0, 'control row')}`
      : '';
  const gates = Array.isArray(f.gates) ? `. Gates: ${f.gates.map((g) => compactText(g)).join(', ')}` : '';
  return [
    {
      kind: 'line',
      text: `Dataset ${compactText(f.datasetId)}: ${plural(num(f.rowCount) ?? 0, 'row')}, ${plural(num(f.labeledCount) ?? 0, 'labeled row')} already${region}${gates}. Content hash ${shortHash(f.contentHash)}.${chosen}`,
    },
  ];
};

/** label: how the campaign ended and the labeled dataset it froze. */
const labelGroup: Group = (n, used) => {
  const blocks: Block[] = [];
  if ('requested' in n && 'answered' in n) {
    const f = take(n, used, 'state', 'requested', 'answered', 'unlabeledRows');
    blocks.push({
      kind: 'line',
      text: `Labeling ${compactText(f.state ?? 'ended')}: ${compactText(f.answered)} of ${compactText(f.requested)} labels answered${num(f.unlabeledRows) !== null ? `; ${plural(num(f.unlabeledRows)!, 'row')} left unlabeled` : ''}.`,
    });
  }
  if ('labeledDatasetId' in n) {
    const f = take(n, used, 'labeledDatasetId', 'labeledRows', 'humanLabels');
    blocks.push({
      kind: 'line',
      text: `Labeled dataset ${compactText(f.labeledDatasetId)}: ${plural(num(f.labeledRows) ?? 0, 'row')}, ${compactText(f.humanLabels)} labeled by people in this cycle.`,
    });
  }
  return blocks;
};

/** retrain: the candidate and how it was trained. */
const trainGroup: Group = (n, used) => {
  if (!('trainer' in n) || !('trainRows' in n)) return [];
  const f = take(
    n,
    used,
    'version',
    'trainer',
    'trainRows',
    'historyRows',
    'resumedFrom',
    'trainAccuracy',
    'trainMae',
    'artifactSha256',
    'configHash',
    'trainingSet',
    'remedy',
  );
  const history = num(f.historyRows) ?? 0;
  const resumed = num(f.resumedFrom) ?? 0;
  // The remedy first: a recalibrated champion, or why the cycle retrained instead.
  const remedy: Block[] = str(f.remedy) ? [{ kind: 'line', text: `Remedy: ${str(f.remedy)!}.` }] : [];
  if (f.trainer === 'recalibration')
    return [
      ...remedy,
      {
        kind: 'line',
        text: `Candidate v${compactText(f.version)}: the champion with a calibrator fitted on ${plural(num(f.trainRows) ?? 0, 'labeled row')}; accuracy on them ${asPct(f.trainAccuracy)}. Artifact sha256 ${shortHash(f.artifactSha256)}, configuration ${shortHash(f.configHash)}.`,
      },
    ];
  return [
    ...remedy,
    {
      kind: 'line',
      text: `Candidate v${compactText(f.version)} trained by ${compactText(f.trainer)} on ${plural(num(f.trainRows) ?? 0, 'row')} (${history > 0 ? `${plural(history, 'row')} from the history before the window` : 'none from the history before the window'}), ${resumed > 0 ? `resumed after ${resumed} epochs or trees already done` : 'from scratch'}; ${num(f.trainAccuracy) === null && num(f.trainMae) !== null ? `training MAE ${asFixed(f.trainMae)}` : `training accuracy ${asPct(f.trainAccuracy)}`}.`,
    },
    ...(isTrainingSet(f.trainingSet)
      ? [{ kind: 'line' as const, text: `Trained on ${trainingSetSentence(f.trainingSet)}` }]
      : []),
    {
      kind: 'line',
      text: `Artifact sha256 ${shortHash(f.artifactSha256)}, configuration ${shortHash(f.configHash)}.`,
    },
  ];
};

/** evaluate: candidate against champion on the holdout, the gates and the verdict. */
const evaluateGroup: Group = (n, used) => {
  if (!('holdoutRows' in n) || !('candidateAccuracy' in n)) return [];
  const f = take(
    n,
    used,
    'holdoutRows',
    'candidateAccuracy',
    'championAccuracy',
    'candidateMacroF1',
    'championMacroF1',
    'candidateEce',
    'championEce',
    'candidateLogLoss',
    'championLogLoss',
    'slices',
    'gates',
    'gate',
    'reason',
  );
  const metric = (name: string, a: unknown, b: unknown, share: boolean): string[] => [
    name,
    share ? asPct(a) : asFixed(a),
    share ? asPct(b) : asFixed(b),
    delta(a, b, share),
  ];
  const blocks: Block[] = [
    {
      kind: 'line',
      text: `${f.gate === 'go' ? 'GO' : f.gate === 'no-go' ? 'NO-GO' : compactText(f.gate)}: ${compactText(f.reason)}. On ${plural(num(f.holdoutRows) ?? 0, 'holdout row')}.`,
    },
    {
      kind: 'table',
      caption: 'Candidate against champion (lower is better for ECE and log-loss)',
      head: ['Metric', 'Candidate', 'Champion', 'Δ'],
      rows: [
        metric('Accuracy', f.candidateAccuracy, f.championAccuracy, true),
        metric('Macro F1', f.candidateMacroF1, f.championMacroF1, false),
        metric('ECE', f.candidateEce, f.championEce, false),
        metric('Log-loss', f.candidateLogLoss, f.championLogLoss, false),
      ],
      numeric: [1, 2, 3],
    },
  ];
  const gates = rowsOf(f.gates);
  if (gates.length > 0)
    blocks.push({
      kind: 'table',
      caption: 'Gates',
      head: ['Gate', 'Result', 'Measured', 'Limit'],
      rows: gates.map((g) => [
        compactText(g.gate ?? g.name),
        g.passed === true ? 'pass' : g.passed === false ? 'fail' : compactText(g.passed),
        compactText(g.measured),
        compactText(g.limit),
      ]),
      numeric: [2, 3],
    });
  const slices = typeof f.slices === 'object' && f.slices !== null ? Object.entries(f.slices as Note) : [];
  if (slices.length > 0)
    blocks.push({
      kind: 'table',
      caption: 'Slices (accuracy)',
      head: ['Slice', 'Rows', 'Candidate', 'Champion', 'Δ'],
      rows: slices.map(([name, s]) => {
        const v = (s ?? {}) as Note;
        return [
          name,
          compactText(v.rows),
          asPct(v.candidate),
          asPct(v.champion),
          delta(v.candidate, v.champion, true),
        ];
      }),
      numeric: [1, 2, 3, 4],
    });
  return blocks;
};

/** approval: who decided. */
const approvalGroup: Group = (n, used) => {
  if (!('approver' in n)) return [];
  const f = take(n, used, 'approver', 'approved');
  return [
    { kind: 'line', text: `${f.approved === false ? 'Denied' : 'Approved'} by ${compactText(f.approver)}.` },
  ];
};

/** rollout: each step's traffic, decision and the two versions' accuracy on feedback. */
const rolloutGroup: Group = (n, used) => {
  if (!('steps' in n)) return [];
  const f = take(n, used, 'steps');
  const steps = rowsOf(f.steps);
  if (steps.length === 0) return [{ kind: 'line', text: 'No rollout step was analysed.' }];
  const arm = (acc: unknown, count: unknown): string =>
    num(acc) === null ? NONE : `${asPct(acc)} (n=${compactText(count)})`;
  return [
    {
      kind: 'table',
      caption: 'Rollout steps',
      head: ['Step', 'Traffic', 'Decision', 'Candidate accuracy', 'Champion accuracy', 'Δ'],
      rows: steps.map((s, i) => [
        String(i + 1),
        `${compactText(s.weight)}%`,
        compactText(s.decision),
        arm(s.candidateAccuracy, s.candidateN),
        arm(s.championAccuracy, s.championN),
        delta(s.candidateAccuracy, s.championAccuracy, true),
      ]),
      numeric: [0, 1, 3, 4, 5],
    },
  ];
};

/** How a stage (the rollout, the close) ended, and a diagnosis route on its own. */
const endingGroup: Group = (n, used) => {
  const blocks: Block[] = [];
  if ('outcome' in n) {
    const f = take(n, used, 'outcome', 'reason');
    blocks.push({
      kind: 'line',
      text: `Outcome ${compactText(f.outcome)}${str(f.reason) ? `: ${str(f.reason)}` : ''}.`,
    });
  }
  if ('route' in n && !used.has('route')) {
    used.add('route');
    blocks.push({ kind: 'line', text: `Route ${compactText(n.route)}.` });
  }
  return blocks;
};

const GROUPS: Group[] = [
  endingGroup,
  driftGroup,
  diagnosisGroup,
  collectGroup,
  labelGroup,
  trainGroup,
  evaluateGroup,
  approvalGroup,
  rolloutGroup,
  patternsGroup,
];

/** A stage's notes as sentences and tables; fields no group knows come last as compact text. */
export function stageBlocks(summary: Record<string, unknown> | undefined): Block[] {
  if (!summary) return [];
  const used = new Set<string>();
  const [ending, ...rest] = GROUPS;
  const known = rest.flatMap((g) => g(summary, used));
  // The ending reads last (the diagnosis and evaluation keep their own reason) and shows first.
  const blocks = [...ending!(summary, used), ...known];
  const others = Object.entries(summary).filter(([k]) => !used.has(k));
  if (others.length > 0)
    blocks.push({
      kind: 'table',
      caption: used.has('trainer') ? 'Trainer details' : 'Other details',
      head: ['Detail', 'Value'],
      rows: others.map(([k, v]) => [k, compactText(v)]),
      numeric: [],
    });
  return blocks;
}

/** The blocks in a table cell or section of the HTML report. */
export function blocksHtml(blocks: readonly Block[]): Html {
  return markup`${blocks.map((b) =>
    b.kind === 'line'
      ? markup`<div class="key-line">${b.text}</div>`
      : markup`<table class="key-table"><caption>${b.caption}</caption><thead><tr>${b.head.map((h, i) => markup`<th${b.numeric.includes(i) ? markup` class="num"` : ''}>${h}</th>`)}</tr></thead><tbody>${b.rows.map((r) => markup`<tr>${r.map((c, i) => markup`<td${b.numeric.includes(i) ? markup` class="num"` : ''}>${c}</td>`)}</tr>`)}</tbody></table>`,
  )}`;
}

/** The sentences of a stage, for a Markdown table cell (its details as "name: value" when it has none). */
export function linesMarkdown(blocks: readonly Block[]): string {
  const lines = blocks.flatMap((b) => (b.kind === 'line' ? [b.text] : []));
  if (lines.length > 0) return md(lines.join(' '));
  return md(
    blocks
      .flatMap((b) => (b.kind === 'table' && b.head[0] === 'Detail' ? b.rows : []))
      .map(([k, v]) => `${k}: ${v}`)
      .join('; '),
  );
}

/** The tables of a stage, as Markdown (a caption in bold above each). */
export function tablesMarkdown(blocks: readonly Block[]): string[] {
  return blocks.flatMap((b) =>
    b.kind === 'table'
      ? [
          `**${md(b.caption)}**`,
          mdTable(
            b.head.map(md),
            b.rows.map((r) => r.map(md)),
            b.numeric,
          ),
        ]
      : [],
  );
}

/** What a reference profile says about itself, as the report shows it. */
export interface ReferenceSummary {
  version: number;
  rows: number;
  span?: { start: string; end: string; rule: string };
  sample?: { rows: number; of: number; method: string };
  baselineAccuracy: number;
  baselineEvidence?: BaselineEvidence;
}

/** The reference in one sentence: whose, which span and rule, how many rows, the baseline. */
export function describeReference(r: ReferenceSummary): string {
  const span = r.span
    ? `${spanText(r.span)} (${r.span.rule})`
    : 'a span it does not record (a profile from before spans were kept)';
  const rows = r.sample
    ? `${plural(r.sample.rows, 'row')} profiled of ${r.sample.of.toLocaleString('en-US')} (${r.sample.method})`
    : plural(r.rows, 'row');
  const baseline = Number.isFinite(r.baselineAccuracy)
    ? `; baseline accuracy ${describeBaseline(r.baselineAccuracy, r.baselineEvidence)}${r.baselineEvidence ? `, measured on ${r.baselineEvidence.source}` : ''}`
    : '';
  return `v${r.version}'s reference: ${span}, ${rows}${baseline}`;
}

/** The reference a drift report compared against, as one clause. */
export function referenceText(reference: ReferenceSummary | null | undefined, version?: number): string {
  if (reference) return describeReference(reference);
  return version === undefined ? NONE : `v${version}'s reference (no longer stored)`;
}

/** A clause as a sentence: capitalised, with a full stop. */
export function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
