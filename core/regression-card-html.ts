/**
 * A regression candidate's model card as a self-contained HTML page, with two inline SVG plots: each
 * holdout row's prediction against its labeled value (over the diagonal of a perfect prediction) and its
 * residual (predicted − actual) against the prediction (over the zero line), candidate and champion.
 * The content and the Markdown form are in core/regression-card.ts.
 */
import { fixed } from './gates.js';
import { coord, Html, htmlPage, markup } from './html.js';
import { configJson, decisionWord, lineageLinks } from './model-card.js';
import { CARD_STYLE } from './model-card-html.js';
import {
  backtestSentence,
  CALIBRATION_NOTE,
  dataCells,
  DECILE_HEADERS,
  DECILE_NOTE,
  decileCells,
  errorRows,
  errorSentence,
  gateCells,
  INTERVAL_HEADERS,
  intervalCells,
  intervalSentence,
  num,
  SLICE_HEADERS,
  sliceCells,
  trainingCells,
  type RegressionCardInput,
} from './regression-card.js';

const CANDIDATE_COLOUR = '#2563eb';
const CHAMPION_COLOUR = '#9ca3af';
const GUIDE_COLOUR = '#6b7280';

const PLOT_STYLE = `
.plots { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.plots svg { width: 100%; height: auto; }
@media (max-width: 760px) { .plots { display: block; } }
`;

interface Point {
  x: number;
  y: number;
}

/** Five round tick values spanning [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  return Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
}

/** A range padded by 4 % on each side (one unit when it is a single value). */
function padded(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.04;
  return [lo - pad, hi + pad];
}

/**
 * A scatter plot of two series with a guide line (the diagonal or zero), axes with ticks and titles, and a
 * legend. Each point carries a title with its numbers (hover).
 */
function scatterSvg(opts: {
  label: string;
  xTitle: string;
  yTitle: string;
  candidate: Point[];
  champion: Point[];
  xRange: [number, number];
  yRange: [number, number];
  guide: 'diagonal' | 'zero';
}): string {
  const size = 360;
  const [left, right, top, bottom] = [54, 12, 30, 42];
  const plotW = size - left - right;
  const plotH = size - top - bottom;
  const [x0, x1] = opts.xRange;
  const [y0, y1] = opts.yRange;
  const xAt = (v: number): number => left + ((v - x0) / (x1 - x0)) * plotW;
  const yAt = (v: number): number => top + (1 - (v - y0) / (y1 - y0)) * plotH;
  const clampY = (v: number): number => Math.min(y1, Math.max(y0, v));
  const guide =
    opts.guide === 'diagonal'
      ? markup`<line x1="${coord(xAt(Math.max(x0, y0)))}" y1="${coord(yAt(Math.max(x0, y0)))}" x2="${coord(xAt(Math.min(x1, y1)))}" y2="${coord(yAt(Math.min(x1, y1)))}" stroke="${GUIDE_COLOUR}" stroke-dasharray="4 4"/>`
      : markup`<line x1="${coord(left)}" y1="${coord(yAt(clampY(0)))}" x2="${coord(left + plotW)}" y2="${coord(yAt(clampY(0)))}" stroke="${GUIDE_COLOUR}" stroke-dasharray="4 4"/>`;
  const dots = (points: readonly Point[], name: string, colour: string, opacity: string): Html[] =>
    points.map(
      (p) =>
        markup`<circle class="${name}" cx="${coord(xAt(p.x))}" cy="${coord(yAt(p.y))}" r="2.5" fill="${colour}" fill-opacity="${opacity}"><title>${name}: ${opts.xTitle} ${num(p.x)}, ${opts.yTitle} ${num(p.y)}</title></circle>`,
    );
  const xTicks = ticks(x0, x1).map(
    (t) =>
      markup`<line x1="${coord(xAt(t))}" y1="${coord(top + plotH)}" x2="${coord(xAt(t))}" y2="${coord(top + plotH + 4)}" stroke="${GUIDE_COLOUR}"/><text x="${coord(xAt(t))}" y="${coord(top + plotH + 16)}" text-anchor="middle" font-size="10" fill="${GUIDE_COLOUR}">${fixed(t, 1)}</text>`,
  );
  const yTicks = ticks(y0, y1).map(
    (t) =>
      markup`<line x1="${coord(left - 4)}" y1="${coord(yAt(t))}" x2="${coord(left)}" y2="${coord(yAt(t))}" stroke="${GUIDE_COLOUR}"/><text x="${coord(left - 6)}" y="${coord(yAt(t) + 3)}" text-anchor="end" font-size="10" fill="${GUIDE_COLOUR}">${fixed(t, 1)}</text>`,
  );
  return markup`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" role="img" aria-label="${opts.label}">
<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#e5e7eb"/>
${guide}
${dots(opts.champion, 'champion', CHAMPION_COLOUR, '0.6')}
${dots(opts.candidate, 'candidate', CANDIDATE_COLOUR, '0.7')}
${xTicks}${yTicks}
<text x="${coord(left + plotW / 2)}" y="${size - 6}" text-anchor="middle" font-size="11" fill="#111827">${opts.xTitle}</text>
<text x="12" y="${coord(top + plotH / 2)}" text-anchor="middle" font-size="11" fill="#111827" transform="rotate(-90 12 ${coord(top + plotH / 2)})">${opts.yTitle}</text>
<circle cx="${left + 6}" cy="14" r="4" fill="${CANDIDATE_COLOUR}"/><text x="${left + 14}" y="18" font-size="11">candidate</text>
<circle cx="${left + 86}" cy="14" r="4" fill="${CHAMPION_COLOUR}"/><text x="${left + 94}" y="18" font-size="11">champion</text>
</svg>`.markup;
}

/** Each holdout row's prediction against its labeled value; the dashed diagonal is a perfect prediction. */
export function predictedVsActualSvg(points: RegressionCardInput['points']): string {
  const range = padded(points.flatMap((p) => [p.actual, p.candidate, p.champion]));
  return scatterSvg({
    label: 'Predicted against actual, candidate and champion',
    xTitle: 'actual',
    yTitle: 'predicted',
    candidate: points.map((p) => ({ x: p.actual, y: p.candidate })),
    champion: points.map((p) => ({ x: p.actual, y: p.champion })),
    xRange: range,
    yRange: range,
    guide: 'diagonal',
  });
}

/** Each holdout row's residual (predicted − actual) against its prediction; the dashed line is zero. */
export function residualSvg(points: RegressionCardInput['points']): string {
  const candidate = points.map((p) => ({ x: p.candidate, y: p.candidate - p.actual }));
  const champion = points.map((p) => ({ x: p.champion, y: p.champion - p.actual }));
  const all = [...candidate, ...champion];
  const reach = Math.max(1e-9, ...all.map((p) => Math.abs(p.y)));
  return scatterSvg({
    label: 'Residual against prediction, candidate and champion',
    xTitle: 'predicted',
    yTitle: 'residual (predicted − actual)',
    candidate,
    champion,
    xRange: padded(all.map((p) => p.x)),
    yRange: [-reach * 1.05, reach * 1.05],
    guide: 'zero',
  });
}

const numCell = (text: string): Html => markup`<td class="num">${text}</td>`;
const fieldList = (rows: [string, string][]): Html =>
  markup`<dl>${rows.map(([k, v]) => markup`<dt>${k}</dt><dd>${v}</dd>\n`)}</dl>`;
/** A table whose header cells in `numeric` columns are right-aligned like their numbers. */
const table = (headers: readonly string[], rows: readonly Html[], numeric: readonly number[]): Html =>
  markup`<table><thead><tr>${headers.map((h, i) => (numeric.includes(i) ? markup`<th class="num">${h}</th>` : markup`<th>${h}</th>`))}</tr></thead><tbody>
${rows}</tbody></table>`;

/** Errors, backtest, slices, prediction intervals, residual bias and plots: what the cycle report embeds too. */
export function regressionEvidenceHtml(input: RegressionCardInput): Html {
  const errors = table(
    ['Metric', `Candidate v${input.candidateVersion}`, `Champion v${input.championVersion}`, 'Δ'],
    errorRows(input).map(
      (r) =>
        markup`<tr><td>${r.metric}</td>${numCell(r.candidate)}${numCell(r.champion)}<td class="num ${r.verdict}">${r.delta}</td></tr>\n`,
    ),
    [1, 2, 3],
  );
  const slices =
    input.slices.length === 0
      ? markup`<p class="note">No slices were evaluated (evaluation.sliceBy is not set).</p>`
      : markup`<p class="note">By ${input.sliceBy ?? ''}.</p>${table(
          SLICE_HEADERS,
          sliceCells(input).map(
            (s) =>
              markup`<tr><td>${s.cells[0]!}</td>${s.cells.slice(1, 4).map(numCell)}<td class="num ${s.verdict}">${s.cells[4]!}</td>${numCell(s.cells[5]!)}</tr>\n`,
          ),
          [1, 2, 3, 4, 5],
        )}`;
  const deciles = table(
    DECILE_HEADERS,
    decileCells(input).map((cells) => markup`<tr><td>${cells[0]!}</td>${cells.slice(1).map(numCell)}</tr>\n`),
    [1, 2, 3, 4, 5, 6],
  );
  const intervals = input.predictionIntervals
    ? table(
        INTERVAL_HEADERS,
        intervalCells(input).map(
          (c) =>
            markup`<tr><td>${c[0]!}</td>${numCell(c[1]!)}<td>${c[2]!}</td>${numCell(c[3]!)}<td>${c[4]!}</td></tr>\n`,
        ),
        [1, 3],
      )
    : '';
  return markup`<section>
<h2>Errors vs champion</h2>
<p class="note">${errorSentence(input)}</p>
${errors}
</section>
<section>
<h2>Predicted against actual</h2>
<p class="note">Each holdout row once per model. Left: the prediction against the labeled value (the dashed diagonal is a perfect prediction). Right: the residual against the prediction (above the dashed zero line: over-predicts).</p>
<div class="plots">${new Html(predictedVsActualSvg(input.points))}${new Html(residualSvg(input.points))}</div>
</section>
<section>
<h2>Backtest on the reference</h2>
<p class="note">${backtestSentence(input)}</p>
</section>
<section>
<h2>Slices</h2>
${slices}
</section>
<section>
<h2>Prediction intervals</h2>
<p class="note">${intervalSentence(input)}</p>
${intervals}
</section>
<section>
<h2>Residual bias by decile</h2>
<p class="note">${DECILE_NOTE}</p>
${deciles}
</section>`;
}

/** The gates with what each measured and its limit. */
export function regressionGatesHtml(input: RegressionCardInput): Html {
  return markup`${table(
    ['Gate', 'Result', 'Measured', 'Limit', 'Detail'],
    input.gates.gates.map((g) => {
      const [measured, limit] = gateCells(g);
      return markup`<tr><td>${g.name}</td><td><span class="pill ${g.passed ? 'pass' : 'fail'}">${g.passed ? '✓ pass' : '✗ fail'}</span></td>${numCell(measured)}${numCell(limit)}<td>${g.detail}</td></tr>\n`;
    }),
    [2, 3],
  )}
<p class="note">${CALIBRATION_NOTE}</p>`;
}

/** The cycle report's candidate section for a regression model: the verdict, the evidence, the gates. */
export function regressionReportHtml(input: RegressionCardInput): Html {
  return markup`<div class="decision ${input.gates.go ? 'go' : 'no-go'}"><span class="word">${decisionWord(input.gates.go)}</span><span>${input.gates.reason}</span></div>
<style>${new Html(PLOT_STYLE)}</style>
${regressionEvidenceHtml(input)}
<h3>Gates</h3>
${regressionGatesHtml(input)}`;
}

export function regressionCardHtml(input: RegressionCardInput): string {
  const { gates } = input;
  const lineage = lineageLinks(input).map(
    (link, i) =>
      markup`${i > 0 ? markup`<span class="arrow">→</span>` : ''}<span class="node">${link}</span>`,
  );
  return htmlPage({
    title: `Model card: ${input.modelId} v${input.candidateVersion} (regression)`,
    style: CARD_STYLE + PLOT_STYLE,
    sub: markup`Cycle <code>${input.cycleId}</code> · created ${input.createdAt} · candidate v${input.candidateVersion} vs champion v${input.championVersion}`,
    body: markup`<div class="decision ${gates.go ? 'go' : 'no-go'}"><span class="word">${decisionWord(gates.go)}</span><span>${gates.reason}</span></div>

<div class="grid">
<section>
<h2>Data</h2>
${fieldList(dataCells(input))}
</section>
<section>
<h2>Training</h2>
${fieldList(trainingCells(input))}
<pre>${configJson(input.trainer.config)}</pre>
</section>
</div>

${regressionEvidenceHtml(input)}

<section>
<h2>Gates</h2>
${regressionGatesHtml(input)}
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
