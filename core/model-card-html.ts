/**
 * The model card as a self-contained HTML page (for people approving a rollout), with its reliability
 * diagram; the cycle report embeds its metric and gate tables. The content and the Markdown form are in
 * core/model-card.ts.
 */
import type { CalibrationBin } from './evaluation.js';
import { coord, Html, htmlPage, markup } from './html.js';
import { trainingSetSentence } from './training-scope.js';
import {
  BACKTEST_HEADERS,
  backtestSummary,
  binRows,
  configJson,
  decisionWord,
  edge,
  holdoutKind,
  holdoutSentence,
  intervalHeader,
  labelSourcesText,
  limitText,
  lineageLinks,
  measuredText,
  metricRows,
  NONE,
  sliceRows,
  three,
  windowText,
  type Delta,
  type ModelCardInput,
  artifactRows,
} from './model-card.js';

const CANDIDATE_COLOUR = '#2563eb';
const CHAMPION_COLOUR = '#9ca3af';
const DIAGONAL_COLOUR = '#6b7280';

/**
 * Reliability diagram: accuracy against mean confidence per bin for both models, over the diagonal
 * of perfect calibration. Each non-empty bin is one point, its area proportional to its rows so a
 * reader can discount bins holding a handful of examples; hovering a point shows its numbers.
 */
export function calibrationSvg(candidate: CalibrationBin[], champion: CalibrationBin[], size = 320): string {
  // Room on the left and bottom for tick labels and axis titles, on top for the legend.
  const left = 46;
  const right = 12;
  const top = 30;
  const bottom = 42;
  const plotW = size - left - right;
  const plotH = size - top - bottom;
  const xAt = (v: number): number => left + v * plotW;
  const yAt = (v: number): number => top + (1 - v) * plotH;
  const x = (v: number): string => coord(xAt(v));
  const y = (v: number): string => coord(yAt(v));
  const maxCount = Math.max(1, ...candidate.map((b) => b.count), ...champion.map((b) => b.count));

  const series = (bins: readonly CalibrationBin[], name: string, colour: string): Html => {
    const line =
      bins.length < 2
        ? ''
        : markup`<polyline fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round" points="${bins
            .map((b) => `${x(b.meanConfidence)},${y(b.accuracy)}`)
            .join(' ')}"/>`;
    const points = bins.map((b) => {
      const r = coord(2.5 + 4.5 * Math.sqrt(b.count / maxCount));
      const tip = `${name} ${edge(b.lower)}–${edge(b.upper)}: ${b.count} rows, confidence ${three(b.meanConfidence)}, accuracy ${three(b.accuracy)}`;
      return markup`<circle class="point ${name}" cx="${x(b.meanConfidence)}" cy="${y(b.accuracy)}" r="${r}" fill="${colour}" fill-opacity="0.85" stroke="#fff"><title>${tip}</title></circle>`;
    });
    return markup`<g>${line}${points}</g>`;
  };

  const grid = [0, 0.2, 0.4, 0.6, 0.8, 1].map((t) => [
    markup`<line x1="${x(t)}" y1="${y(0)}" x2="${x(t)}" y2="${y(1)}" stroke="#e5e7eb"/>`,
    markup`<line x1="${x(0)}" y1="${y(t)}" x2="${x(1)}" y2="${y(t)}" stroke="#e5e7eb"/>`,
    markup`<text x="${x(t)}" y="${coord(yAt(0) + 14)}" text-anchor="middle">${edge(t)}</text>`,
    markup`<text x="${coord(left - 6)}" y="${coord(yAt(t) + 3.5)}" text-anchor="end">${edge(t)}</text>`,
  ]);
  const legendItem = (lx: number, label: string, colour: string, dash: string): Html =>
    markup`<line x1="${lx}" y1="12" x2="${lx + 16}" y2="12" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/><text x="${lx + 20}" y="15.5">${label}</text>`;

  const svg = markup`<svg xmlns="http://www.w3.org/2000/svg" class="reliability" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" role="img" aria-label="Reliability diagram: accuracy against confidence for candidate and champion" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="10" fill="#4b5563">
<rect x="${x(0)}" y="${y(1)}" width="${coord(plotW)}" height="${coord(plotH)}" fill="#fff" stroke="#d1d5db"/>
${grid}
<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="${DIAGONAL_COLOUR}" stroke-dasharray="4 3"/>
${series(champion, 'champion', CHAMPION_COLOUR)}
${series(candidate, 'candidate', CANDIDATE_COLOUR)}
${legendItem(left, 'candidate', CANDIDATE_COLOUR, 'none')}${legendItem(left + 82, 'champion', CHAMPION_COLOUR, 'none')}${legendItem(left + 164, 'perfect', DIAGONAL_COLOUR, '4 3')}
<text x="${coord(xAt(0.5))}" y="${coord(size - 8)}" text-anchor="middle" font-size="11" fill="#111827">confidence</text>
<text transform="translate(12 ${coord(yAt(0.5))}) rotate(-90)" text-anchor="middle" font-size="11" fill="#111827">accuracy</text>
</svg>`;
  return svg.markup;
}

export const CARD_STYLE = `
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --good: #15803d; --good-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2; --accent: ${CANDIDATE_COLOUR}; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { margin: 0; font-size: 24px; letter-spacing: -0.01em; }
header .sub { color: var(--muted); margin-top: 2px; }
.decision { display: flex; gap: 14px; align-items: center; margin: 18px 0 8px; padding: 14px 16px; border-radius: 10px; border: 1px solid; }
.decision.go { background: var(--good-bg); border-color: #86efac; }
.decision.no-go { background: var(--bad-bg); border-color: #fca5a5; }
.decision .word { font-weight: 700; font-size: 18px; padding: 4px 12px; border-radius: 6px; color: #fff; white-space: nowrap; }
.decision.go .word { background: var(--good); }
.decision.no-go .word { background: var(--bad); }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; margin-top: 16px; }
section h2 { margin: 0 0 10px; font-size: 16px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.grid section { margin-top: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { vertical-align: bottom; font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; }
tbody tr:last-child td { border-bottom: none; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
code, pre { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; font-size: 12px; }
code { word-break: break-all; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 12px 0 0; overflow-x: auto; }
.better { color: var(--good); }
.worse { color: var(--bad); }
.same, .none { color: var(--muted); }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-weight: 600; font-size: 12px; white-space: nowrap; }
.pill.pass { background: var(--good-bg); color: var(--good); }
.pill.fail { background: var(--bad-bg); color: var(--bad); }
.note { color: var(--muted); margin: 0 0 10px; }
.decision-line { margin: 12px 0 0; }
.calibration { display: flex; gap: 24px; align-items: flex-start; }
.calibration .bins { flex: 1; min-width: 0; overflow-x: auto; }
.bins th, .bins td { padding: 4px 6px; }
.bins th.group { text-align: center; border-bottom: 2px solid var(--line); }
.bins thead tr:last-child th { text-transform: none; letter-spacing: 0; }
.lineage { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
.lineage .node { padding: 6px 12px; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); }
.lineage .node:last-child { border-color: var(--accent); color: var(--accent); font-weight: 600; }
.lineage .arrow { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 20px; text-align: center; }
@media (max-width: 760px) { .grid, .calibration { display: block; } }
`;

const deltaCell = (d: Delta): Html => markup`<td class="num ${d.verdict}">${d.text}</td>`;
const numCell = (text: string): Html => markup`<td class="num">${text}</td>`;

/** Candidate against champion on the holdout, one row per metric, deltas coloured by direction. */
export function cardMetricsHtml(input: ModelCardInput): Html {
  const cand = input.candidate.overall;
  const champ = input.champion.overall;
  const difference = input.evidence?.difference;
  return markup`<table>
<thead><tr><th>Metric</th><th class="num">Candidate v${input.candidateVersion}</th><th class="num">Champion v${input.championVersion}</th><th class="num">Δ</th><th class="num">${intervalHeader(difference)}</th></tr></thead>
<tbody>
${metricRows(cand, champ, difference).map((r) => markup`<tr><td>${r.metric}</td>${numCell(r.candidate)}${numCell(r.champion)}${deltaCell(r.delta)}${numCell(r.interval)}</tr>\n`)}</tbody>
</table>`;
}

/** The backtest on the champion's reference holdout: a sentence and, when it ran, its one-row table. */
export function cardBacktestHtml(input: ModelCardInput): Html {
  const { sentence, row } = backtestSummary(input);
  if (row === null) return markup`<p class="note">${sentence}</p>`;
  return markup`<p class="note">${sentence}</p>
<table>
<thead><tr>${BACKTEST_HEADERS.map((h) => markup`<th class="num">${h}</th>`)}</tr></thead>
<tbody><tr>${row.map(numCell)}</tr></tbody>
</table>`;
}

/** The evaluation gates with what each measured and its limit. */
export function cardGatesHtml(input: ModelCardInput): Html {
  const { gates } = input;
  return markup`<table>
<thead><tr><th>Gate</th><th>Result</th><th class="num">Measured</th><th class="num">Limit</th><th>Detail</th></tr></thead>
<tbody>
${gates.gates.map((g) => markup`<tr><td>${g.name}</td><td><span class="pill ${g.passed ? 'pass' : 'fail'}">${g.passed ? '✓ pass' : '✗ fail'}</span></td>${numCell(measuredText(g, input.evidence?.metric))}${numCell(limitText(g, input.evidence?.metric))}<td>${g.detail}</td></tr>\n`)}</tbody>
</table>`;
}

export function modelCardHtml(input: ModelCardInput): string {
  const { data, trainer, gates } = input;
  const cand = input.candidate.overall;
  const champ = input.champion.overall;
  const slices = sliceRows(input);
  const binCells = (b: CalibrationBin | undefined): Html[] =>
    (b === undefined
      ? [NONE, NONE, NONE]
      : [String(b.count), three(b.meanConfidence), three(b.accuracy)]
    ).map(numCell);
  const title = `Model card: ${input.modelId} v${input.candidateVersion}`;

  const metricsTable = cardMetricsHtml(input);

  const slicesTable =
    slices.length === 0
      ? markup`<p class="note">No slices were evaluated.</p>`
      : markup`<table>
<thead><tr><th>Slice</th><th class="num">Rows</th><th class="num">Candidate acc.</th><th class="num">Champion acc.</th><th class="num">Δ</th><th class="num">Cand. macro F1</th><th class="num">Cand. ECE</th></tr></thead>
<tbody>
${slices.map((s) => markup`<tr><td>${s.slice}</td>${numCell(s.rows)}${numCell(s.candidate)}${numCell(s.champion)}${deltaCell(s.delta)}${numCell(s.candidateF1)}${numCell(s.candidateEce)}</tr>\n`)}</tbody>
</table>`;

  const binsTable = markup`<table>
<thead>
<tr><th rowspan="2">Confidence</th><th class="group" colspan="3">Candidate v${input.candidateVersion}</th><th class="group" colspan="3">Champion v${input.championVersion}</th></tr>
<tr><th class="num">rows</th><th class="num">conf.</th><th class="num">acc.</th><th class="num">rows</th><th class="num">conf.</th><th class="num">acc.</th></tr>
</thead>
<tbody>
${binRows(cand.calibration, champ.calibration).map((b) => markup`<tr><td>${b.range}</td>${binCells(b.candidate)}${binCells(b.champion)}</tr>\n`)}</tbody>
</table>`;

  const gatesTable = cardGatesHtml(input);

  const lineage = lineageLinks(input).map(
    (link, i) =>
      markup`${i > 0 ? markup`<span class="arrow">→</span>` : ''}<span class="node">${link}</span>`,
  );

  return htmlPage({
    title,
    style: CARD_STYLE,
    sub: markup`Cycle <code>${input.cycleId}</code> · created ${input.createdAt} · candidate v${input.candidateVersion} vs champion v${input.championVersion}`,
    body: markup`<div class="decision ${gates.go ? 'go' : 'no-go'}"><span class="word">${decisionWord(gates.go)}</span><span>${gates.reason}</span></div>

<div class="grid">
<section>
<h2>Data</h2>
<dl>
<dt>Dataset</dt><dd>#${data.datasetId}</dd>
<dt>Content hash</dt><dd><code>${data.contentHash}</code></dd>
<dt>Rows</dt><dd>${data.trainRows} train, ${data.holdoutRows} holdout</dd>
<dt>Holdout</dt><dd>${holdoutKind(data.holdout)}</dd>
<dt>Label sources</dt><dd>${labelSourcesText(data.labelSources)}</dd>
<dt>Window</dt><dd>${windowText(data.window)}</dd>
<dt>Parent dataset</dt><dd>${data.parentDatasetId === null ? NONE : `#${data.parentDatasetId}`}</dd>
</dl>
</section>
<section>
<h2>Training</h2>
<dl>
<dt>Trainer</dt><dd>${trainer.name}</dd>
${trainer.trainingSet ? markup`<dt>Training set</dt><dd>${trainingSetSentence(trainer.trainingSet)}</dd>\n` : ''}<dt>Code version</dt><dd><code>${trainer.codeVersion}</code></dd>
${trainer.remedy ? markup`<dt>Remedy</dt><dd>${trainer.remedy}</dd>\n` : ''}<dt>Code version</dt><dd><code>${trainer.codeVersion}</code></dd>
<dt>Config hash</dt><dd><code>${trainer.configHash}</code></dd>
<dt>Artifact SHA-256</dt><dd><code>${trainer.artifactSha256}</code></dd>
${trainer.artifact ? artifactRows(trainer.artifact).map(([k, v]) => markup`<dt>${k}</dt><dd>${v}</dd>\n`) : ''}
</dl>
<pre>${configJson(trainer.config)}</pre>
</section>
</div>

<section>
<h2>Metrics vs champion</h2>
<p class="note">${holdoutSentence(input)} Lower is better for log-loss, ECE and latency; green marks an improvement.</p>
${metricsTable}
</section>

<section>
<h2>Backtest on the reference</h2>
${cardBacktestHtml(input)}
</section>

<section>
<h2>Slices</h2>
${slicesTable}
</section>

<section>
<h2>Calibration</h2>
<p class="note">Top-label confidence in equal-width bins. Points on the dashed diagonal are perfectly calibrated; point size grows with the rows in the bin. ECE: candidate ${three(cand.ece)}, champion ${three(champ.ece)}.</p>
<div class="calibration">
${new Html(calibrationSvg(cand.calibration, champ.calibration))}
<div class="bins">${binsTable}</div>
</div>
</section>

<section>
<h2>Gates</h2>
${gatesTable}
<p class="decision-line">Decision: <strong>${decisionWord(gates.go)}</strong> — ${gates.reason}</p>
</section>

<section>
<h2>Lineage</h2>
<div class="lineage">${lineage}</div>
</section>
`,
    cycleId: input.cycleId,
  });
}
