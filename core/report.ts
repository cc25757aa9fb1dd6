/**
 * The cycle report: one page per remediation cycle that a person reads top to bottom to know what
 * happened and why. Timeline of stages with durations, the drift report with each feature's reference
 * and window distributions, labeling progress, candidate against champion (metrics and calibration,
 * from the model card), and the rollout's steps with traffic and analysis. HTML with inline SVG charts
 * (no script, no external resources) and the same content as Markdown. Pure: the caller loads the data.
 */
import type { DriftReport, FeatureDrift, RegionPart } from './drift.js';
import { fixed, pct } from './evaluation.js';
import { coord, Html, htmlPage, markup, type Interpolated } from './html.js';
import { calibrationSvg, CARD_STYLE, cardGatesHtml, cardMetricsHtml } from './model-card-html.js';
import { md, mdTable, NONE, three, type ModelCardInput } from './model-card.js';
import { isRegressionCard, regressionReportMarkdown, type RegressionCardInput } from './regression-card.js';
import { regressionReportHtml } from './regression-card-html.js';
import type { StepAnalysis } from './policy.js';
import { describeSelection } from './window.js';
import { describePerformance } from './drift/performance.js';
import {
  blocksHtml,
  delta,
  describeReference,
  referenceText,
  sentence,
  linesMarkdown,
  stageBlocks,
  tablesMarkdown,
  type ReferenceSummary,
} from './report-stages.js';

export interface ReportStage {
  stage: string;
  startedAt: string;
  endedAt?: string;
  summary?: Record<string, unknown>;
}

export interface CycleReportInput {
  generatedAt: string;
  cycle: {
    cycleId: string;
    modelId: string;
    window: { start: string; end: string };
    /** The current stage; "closed" once the cycle has an outcome. */
    stage: string;
    outcome: string | null;
    reason: string | null;
    severity: string | null;
    trigger: string | null;
    championVersion: number | null;
    candidateVersion: number | null;
    /** The policy version the cycle started with (absent for cycles from before versions were kept). */
    policyVersion?: number | null;
    stages: ReportStage[];
  };
  drift: {
    reportId: number;
    referenceVersion: number;
    window: { start: string; end: string };
    report: DriftReport;
  } | null;
  /** The reference the drift report compared against (the champion's profile), when stored. */
  reference?: ReferenceSummary | null;
  /** The reference the promoted candidate is monitored against from now on. */
  newReference?: ReferenceSummary | null;
  labeling: {
    campaignId: string;
    requested: number;
    human: number;
    auto: number;
    /** Per reviewer, channel and how the reviewer was identified (`jwt`, `unverified`, …). */
    reviewers: { reviewer: string; via: string; verifiedBy?: string; count: number }[];
    /** Answer times (human and auto), oldest first: the progress chart. */
    answeredAt: string[];
    notifications: { kind: string; at: string; message: string }[];
  } | null;
  card: { go: boolean; input: ModelCardInput | RegressionCardInput | null } | null;
  rollout: {
    stepIndex: number;
    attempt: number;
    weight: number;
    decision: string;
    decidedAt: string;
    analysis: StepAnalysis;
  }[];
  audit: { at: string; actor: string; action: string }[];
  /** Where a reader finds the run in the Temporal Web UI, when known. */
  webUiUrl?: string;
}

// ---------------------------------------------------------------------------------------------------
// Shared formatting
// ---------------------------------------------------------------------------------------------------

/** A duration a person reads at a glance: 850 ms, 12.4 s, 3 min 20 s, 2 h 05 min, 3 d 4 h. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return NONE;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m - h * 60).padStart(2, '0')} min`;
  const d = Math.floor(h / 24);
  return `${d} d ${h - d * 24} h`;
}

const stageMs = (s: ReportStage, now: string): number =>
  Date.parse(s.endedAt ?? now) - Date.parse(s.startedAt);

const shortTime = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
/** The time of day of an ISO instant, for the timeline's rows (the date is in the header). */
const clock = (iso: string): string => /T(\d{2}:\d{2}:\d{2})/.exec(iso)?.[1] ?? iso;

/** A bin of a numeric feature as text: "< 4.2", "4.2 – 7.9", "≥ 12". */
export function binLabel(p: RegionPart): string {
  if (p.kind === 'category') return p.value;
  const n = (x: number): string => String(Number(x.toPrecision(3)));
  if (p.from === null && p.to === null) return 'all';
  if (p.from === null) return `< ${n(p.to!)}`;
  if (p.to === null) return `≥ ${n(p.from)}`;
  return `${n(p.from)} – ${n(p.to)}`;
}

const statText = (f: FeatureDrift): string =>
  f.pValue !== null
    ? `${f.test} p=${f.adjustedPValue !== null ? f.adjustedPValue.toPrecision(3) : f.pValue.toPrecision(3)} (drift below ${f.threshold})`
    : `${f.test} ${f.statistic.toPrecision(3)} (drift at ${f.threshold})`;

/** Features drawn: the drifted ones first (by score), then the rest, at most `limit`. */
function chartedFeatures(report: DriftReport, limit = 12): FeatureDrift[] {
  return [...report.features]
    .sort((a, b) => Number(b.drifted) - Number(a.drifted) || b.score - a.score)
    .slice(0, limit);
}

// ---------------------------------------------------------------------------------------------------
// Charts (inline SVG)
// ---------------------------------------------------------------------------------------------------

const REFERENCE_COLOUR = '#9ca3af';
const CURRENT_COLOUR = '#2563eb';
const STAGE_COLOURS: Record<string, string> = {
  confirm: '#64748b',
  diagnose: '#0891b2',
  collect: '#0d9488',
  label: '#d97706',
  retrain: '#7c3aed',
  evaluate: '#4f46e5',
  approval: '#db2777',
  rollout: '#2563eb',
  close: '#374151',
};
const FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif";

/**
 * Stages as bars on one time axis. A stage of a few milliseconds next to a labeling wait of days would
 * vanish, so each bar is at least 4 px wide; the durations are written beside the bars.
 */
export function timelineSvg(stages: readonly ReportStage[], now: string, width = 880): Html {
  const rowH = 24;
  const left = 90;
  const right = 110;
  const top = 8;
  const height = top + stages.length * rowH + 8;
  if (stages.length === 0) return markup`<p class="note">No stage has started.</p>`;
  const t0 = Date.parse(stages[0]!.startedAt);
  const t1 = Math.max(...stages.map((s) => Date.parse(s.endedAt ?? now)), t0 + 1);
  const plotW = width - left - right;
  const xAt = (t: number): number => left + ((t - t0) / (t1 - t0)) * plotW;
  const bars = stages.map((s, i) => {
    const y = top + i * rowH;
    const x0 = xAt(Date.parse(s.startedAt));
    const w = Math.max(4, xAt(Date.parse(s.endedAt ?? now)) - x0);
    const colour = STAGE_COLOURS[s.stage] ?? '#6b7280';
    const took = humanDuration(stageMs(s, now));
    return markup`<g class="stage-bar" data-stage="${s.stage}"><text x="${left - 8}" y="${coord(y + 16)}" text-anchor="end" fill="#111827">${s.stage}</text><rect x="${coord(x0)}" y="${y + 4}" width="${coord(w)}" height="${rowH - 8}" rx="3" fill="${colour}"${s.endedAt ? '' : ' fill-opacity="0.55"'}><title>${s.stage}: ${took}${s.endedAt ? '' : ' (running)'}</title></rect><text x="${coord(Math.min(x0 + w + 6, width - right + 6))}" y="${coord(y + 16)}">${took}${s.endedAt ? '' : ' …'}</text></g>`;
  });
  return markup`<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Stages of the cycle on a time axis" font-family="${FONT}" font-size="11" fill="#4b5563">
<line x1="${left}" y1="${top}" x2="${left}" y2="${height - 8}" stroke="#d1d5db"/>
${bars}
</svg>`;
}

/**
 * One feature: the reference's share (grey) and the window's (blue) in each bin or category, side by
 * side, so a shifted distribution shows as bars that no longer pair up.
 */
export function distributionSvg(f: FeatureDrift, width = 420, height = 190): Html {
  const parts = f.distribution ?? f.region;
  const left = 38;
  // Room on the right for the last bin's slanted label.
  const right = 34;
  const top = 26;
  const bottom = 46;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(0.01, ...parts.flatMap((p) => [p.referenceShare, p.currentShare]));
  const slot = plotW / Math.max(1, parts.length);
  const barW = Math.max(2, Math.min(18, (slot - 4) / 2));
  const yAt = (v: number): number => top + (1 - v / max) * plotH;
  const ticks = [0, max / 2, max].map(
    (t) =>
      markup`<line x1="${left}" y1="${coord(yAt(t))}" x2="${width - right}" y2="${coord(yAt(t))}" stroke="#eef0f3"/><text x="${left - 4}" y="${coord(yAt(t) + 3.5)}" text-anchor="end">${pct(t)}</text>`,
  );
  const bars = parts.map((p, i) => {
    const cx = left + slot * (i + 0.5);
    const label = binLabel(p);
    const tip = `${label}: reference ${pct(p.referenceShare)}, window ${pct(p.currentShare)}`;
    const shown = label.length > 12 ? `${label.slice(0, 11)}…` : label;
    return markup`<g class="bin"><title>${tip}</title><rect class="ref" x="${coord(cx - barW - 1)}" y="${coord(yAt(p.referenceShare))}" width="${coord(barW)}" height="${coord(top + plotH - yAt(p.referenceShare))}" fill="${REFERENCE_COLOUR}"/><rect class="cur" x="${coord(cx + 1)}" y="${coord(yAt(p.currentShare))}" width="${coord(barW)}" height="${coord(top + plotH - yAt(p.currentShare))}" fill="${CURRENT_COLOUR}"/><text transform="translate(${coord(cx + 3)} ${top + plotH + 8}) rotate(40)" font-size="9">${shown}</text></g>`;
  });
  const legend = markup`<rect x="${left}" y="8" width="10" height="10" fill="${REFERENCE_COLOUR}"/><text x="${left + 14}" y="17">reference</text><rect x="${left + 80}" y="8" width="10" height="10" fill="${CURRENT_COLOUR}"/><text x="${left + 94}" y="17">window</text>`;
  return markup`<svg xmlns="http://www.w3.org/2000/svg" class="chart distribution" data-feature="${f.feature}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${f.feature}: reference and window distributions" font-family="${FONT}" font-size="10" fill="#4b5563">
${legend}
${ticks}
<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#9ca3af"/>
${bars}
</svg>`;
}

/** Labels answered over time against the number requested. */
export function labelingSvg(
  answeredAt: readonly string[],
  requested: number,
  width = 420,
  height = 170,
): Html {
  const left = 40;
  const right = 12;
  const top = 12;
  const bottom = 30;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const times = answeredAt.map((t) => Date.parse(t)).sort((a, b) => a - b);
  const max = Math.max(1, requested, times.length);
  const t0 = times[0] ?? 0;
  const t1 = Math.max(t0 + 1, times[times.length - 1] ?? 1);
  const xAt = (t: number): number => left + ((t - t0) / (t1 - t0)) * plotW;
  const yAt = (n: number): number => top + (1 - n / max) * plotH;
  const steps = times.map(
    (t, i) => `${coord(xAt(t))},${coord(yAt(i))} ${coord(xAt(t))},${coord(yAt(i + 1))}`,
  );
  const path =
    times.length === 0
      ? ''
      : markup`<polyline class="answered" fill="none" stroke="${CURRENT_COLOUR}" stroke-width="2" points="${coord(left)},${coord(yAt(0))} ${steps.join(' ')}"/>`;
  return markup`<svg xmlns="http://www.w3.org/2000/svg" class="chart labeling" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Labels answered over time" font-family="${FONT}" font-size="10" fill="#4b5563">
<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#e5e7eb"/>
<line x1="${left}" y1="${coord(yAt(requested))}" x2="${left + plotW}" y2="${coord(yAt(requested))}" stroke="#d97706" stroke-dasharray="4 3"/>
<text x="${left + plotW - 4}" y="${coord(yAt(requested) - 4)}" text-anchor="end" fill="#d97706">requested ${requested}</text>
<text x="${left - 4}" y="${coord(yAt(0) + 3)}" text-anchor="end">0</text>
<text x="${left - 4}" y="${coord(yAt(max) + 3)}" text-anchor="end">${max}</text>
${path}
<text x="${left}" y="${height - 10}">${times.length ? shortTime(new Date(t0).toISOString()) : ''}</text>
<text x="${left + plotW}" y="${height - 10}" text-anchor="end">${times.length ? shortTime(new Date(t1).toISOString()) : ''}</text>
</svg>`;
}

/** Candidate traffic per rollout analysis, coloured by the analysis's decision. */
export function rolloutSvg(steps: CycleReportInput['rollout'], width = 880, height = 150): Html {
  const left = 40;
  const right = 12;
  const top = 14;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const slot = plotW / Math.max(1, steps.length);
  const yAt = (w: number): number => top + (1 - w / 100) * plotH;
  const colour = (d: string): string => (d === 'pass' ? '#15803d' : d === 'fail' ? '#b91c1c' : '#d97706');
  const bars = steps.map((s, i) => {
    const x = left + slot * i + slot * 0.15;
    return markup`<g class="step" data-decision="${s.decision}"><title>step ${s.stepIndex + 1} (analysis ${s.attempt}): ${s.weight}% → ${s.decision}</title><rect x="${coord(x)}" y="${coord(yAt(s.weight))}" width="${coord(slot * 0.7)}" height="${coord(top + plotH - yAt(s.weight))}" fill="${colour(s.decision)}" fill-opacity="0.8"/><text x="${coord(x + slot * 0.35)}" y="${height - 10}" text-anchor="middle">${s.weight}%</text></g>`;
  });
  return markup`<svg xmlns="http://www.w3.org/2000/svg" class="chart rollout" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Candidate traffic at each rollout analysis" font-family="${FONT}" font-size="10" fill="#4b5563">
${[0, 50, 100].map((t) => markup`<line x1="${left}" y1="${coord(yAt(t))}" x2="${left + plotW}" y2="${coord(yAt(t))}" stroke="#eef0f3"/><text x="${left - 4}" y="${coord(yAt(t) + 3.5)}" text-anchor="end">${t}%</text>`)}
${bars}
</svg>`;
}

// ---------------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------------

const REPORT_STYLE = `${CARD_STYLE}
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.feature h3 { font-size: 13px; margin: 6px 0 0; }
.feature .stat { color: var(--muted); font-size: 12px; }
.pill.drifted { background: var(--bad-bg); color: var(--bad); }
.pill.stable { background: var(--bg); color: var(--muted); }
.pill.inconclusive { background: #fef3c7; color: #92400e; }
.progress { height: 10px; background: var(--bg); border-radius: 5px; overflow: hidden; margin: 6px 0 12px; }
.progress > span { display: block; height: 100%; background: var(--accent); }
.outcome { font-weight: 700; }
table.stages td { overflow-wrap: anywhere; }
table.stages td:nth-child(1), table.stages td:nth-child(2), table.stages td:nth-child(3) { white-space: nowrap; }
svg.chart { max-width: 100%; height: auto; }
table.key-table { margin: 4px 0 8px; font-size: 12px; }
table.key-table caption { text-align: left; color: var(--muted); font-size: 12px; }
.key-line { margin: 2px 0; }
`;

const pill = (cls: string, text: string): Html => markup`<span class="pill ${cls}">${text}</span>`;

function overviewHtml(r: CycleReportInput): Html {
  const c = r.cycle;
  const rows: [string, Interpolated][] = [
    ['Model', c.modelId],
    ['Window', `${c.window.start} .. ${c.window.end}`],
    ['Started', c.stages[0] ? shortTime(c.stages[0].startedAt) : NONE],
    ['Trigger', c.trigger ?? NONE],
    ['Outcome', c.outcome ? markup`<span class="outcome">${c.outcome}</span>` : `running (${c.stage})`],
    ['Reason', c.reason ?? NONE],
    ['Severity', c.severity ?? NONE],
    ['Policy', policyLabel(c.policyVersion)],
    ['Champion', c.championVersion === null ? NONE : `v${c.championVersion}`],
    ['Candidate', c.candidateVersion === null ? NONE : `v${c.candidateVersion}`],
  ];
  if (r.webUiUrl) rows.push(['Temporal Web UI', markup`<a href="${r.webUiUrl}">${c.cycleId}</a>`]);
  return markup`<dl class="overview">${rows.map(([k, v]) => markup`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function timelineHtml(r: CycleReportInput): Html {
  const stages = r.cycle.stages;
  const table = markup`<table class="stages">
<thead><tr><th>Stage</th><th>Started</th><th class="num">Took</th><th>Key numbers</th></tr></thead>
<tbody>
${stages.map(
  (s) =>
    markup`<tr data-stage="${s.stage}"><td>${s.stage}</td><td title="${s.startedAt}">${clock(s.startedAt)}</td><td class="num">${humanDuration(stageMs(s, r.generatedAt))}${s.endedAt ? '' : ' (running)'}</td><td>${blocksHtml(stageBlocks(s.summary))}</td></tr>\n`,
)}</tbody>
</table>`;
  return markup`${timelineSvg(stages, r.generatedAt)}${table}`;
}

/** The window's size and which of its records were tested (older reports only knew the rows read). */
function windowRowsText(report: DriftReport): string {
  return report.window ? describeSelection(report.window) : `${report.windowRows} rows`;
}

function driftHtml(r: CycleReportInput): Html {
  if (!r.drift) return markup`<p class="note">No drift report was written for this cycle.</p>`;
  const { report } = r.drift;
  const drifted = report.features.filter((f) => f.drifted).length;
  const perf = report.performance;
  const charts = chartedFeatures(report).map(
    (f) =>
      markup`<div class="feature" data-feature="${f.feature}"><h3>${f.feature} ${f.drifted ? pill('drifted', 'drifted') : pill('stable', 'stable')}</h3><div class="stat">${statText(f)} · PSI ${fixed(f.psi, 3)}</div>${distributionSvg(f)}</div>`,
  );
  const quality = report.dataQuality.issues;
  return markup`<p class="note">Reference v${r.drift.referenceVersion} (${report.referenceRows} rows) against the window ${shortTime(r.drift.window.start)} .. ${shortTime(r.drift.window.end)} (${windowRowsText(report)}). ${drifted} of ${report.features.length} features drifted (share ${pct(report.driftedShare)}); dataset drift: ${report.datasetDrifted ? 'yes' : 'no'}.${report.labelShiftPsi !== null ? ` Label shift PSI ${fixed(report.labelShiftPsi, 3)}.` : ''}</p>
<dl>
<dt>Reference</dt><dd>${referenceText(r.reference, r.drift?.referenceVersion)}</dd>
<dt>Performance</dt><dd class="performance" data-basis="${perf.basis ?? ''}">${sentence(describePerformance(perf))}</dd>
<dt>Data quality</dt><dd>${quality.length === 0 ? 'no issue' : quality.map((q) => markup`<div>${q.feature}: ${q.kind}, ${pct(q.share)} of rows — ${q.detail}</div>`)}</dd>
</dl>
<div class="charts">${charts}</div>`;
}

function labelingHtml(r: CycleReportInput): Html {
  const l = r.labeling;
  if (!l) return markup`<p class="note">This cycle asked no one for labels.</p>`;
  const answered = l.human + l.auto;
  const share = l.requested === 0 ? 0 : Math.min(1, answered / l.requested);
  return markup`<p class="note">Campaign <code>${l.campaignId}</code>: ${answered} of ${l.requested} answered (${l.human} by people, ${l.auto} auto-labeled by the champion).</p>
<div class="progress" role="progressbar" aria-valuenow="${answered}" aria-valuemax="${l.requested}"><span style="width:${pct(share)}"></span></div>
<div class="grid">
<div>${labelingSvg(l.answeredAt, l.requested)}</div>
<div>
<table><thead><tr><th>Reviewer</th><th>From</th><th>Identified by</th><th class="num">Labels</th></tr></thead><tbody>
${l.reviewers.map((x) => markup`<tr><td>${x.reviewer}</td><td>${x.via}</td><td>${x.verifiedBy ?? 'unverified'}</td><td class="num">${x.count}</td></tr>\n`)}</tbody></table>
${
  l.notifications.length === 0
    ? ''
    : markup`<h3>Reminders and escalations</h3><ul>${l.notifications.map((n) => markup`<li>${shortTime(n.at)} <strong>${n.kind}</strong>: ${n.message}</li>`)}</ul>`
}
</div>
</div>`;
}

function candidateHtml(r: CycleReportInput): Html {
  const card = r.card;
  if (!card) return markup`<p class="note">No candidate was evaluated in this cycle.</p>`;
  if (!card.input)
    return markup`<p class="note">Decision: ${card.go ? 'GO' : 'NO-GO'}. This card predates report data: see <code>remedy card ${r.cycle.modelId} ${r.cycle.candidateVersion ?? ''}</code>.</p>`;
  if (isRegressionCard(card.input)) return regressionReportHtml(card.input);
  const input = card.input;
  const cand = input.candidate.overall;
  const champ = input.champion.overall;
  return markup`<div class="decision ${input.gates.go ? 'go' : 'no-go'}"><span class="word">${input.gates.go ? 'GO' : 'NO-GO'}</span><span>${input.gates.reason}</span></div>
<p class="note">On ${cand.rows} holdout rows. Lower is better for log-loss, ECE and latency; green marks an improvement.</p>
${cardMetricsHtml(input)}
<h3>Calibration</h3>
<p class="note">ECE: candidate ${three(cand.ece)}, champion ${three(champ.ece)}. Points on the dashed diagonal are perfectly calibrated.</p>
${new Html(calibrationSvg(cand.calibration, champ.calibration))}
<h3>Gates</h3>
${cardGatesHtml(input)}`;
}

function rolloutHtml(r: CycleReportInput): Html {
  if (r.rollout.length === 0) return markup`<p class="note">No rollout step was analysed.</p>`;
  // A regressor's arm has no accuracy: its MAE instead (core/regression-rollout.ts).
  const acc = (a: { accuracy: number | null; n: number; mae?: number | null }): string =>
    a.accuracy !== null
      ? `${pct(a.accuracy)} (n=${a.n})`
      : typeof a.mae === 'number'
        ? `MAE ${a.mae.toPrecision(3)} (n=${a.n})`
        : NONE;
  return markup`${rolloutSvg(r.rollout)}
<table class="rollout-steps">
<thead><tr><th class="num">Step</th><th class="num">Traffic</th><th>Decision</th><th class="num">Candidate</th><th class="num">Champion</th><th class="num">p</th><th>Analysis</th></tr></thead>
<tbody>
${r.rollout.map(
  (s) =>
    markup`<tr data-decision="${s.decision}"><td class="num">${s.stepIndex + 1}.${s.attempt}</td><td class="num">${s.weight}%</td><td>${pill(s.decision === 'pass' ? 'pass' : s.decision === 'fail' ? 'fail' : 'inconclusive', s.decision)}</td><td class="num">${acc(s.analysis.candidate)}</td><td class="num">${acc(s.analysis.champion)}</td><td class="num">${s.analysis.pValue === null ? NONE : s.analysis.pValue.toPrecision(3)}</td><td>${s.analysis.reason}</td></tr>\n`,
)}</tbody>
</table>
${r.newReference ? markup`<p class="note new-reference">Monitored from now on against ${describeReference(r.newReference)}.</p>` : ''}`;
}

function auditHtml(r: CycleReportInput): Html {
  if (r.audit.length === 0) return markup`<p class="note">No audit events.</p>`;
  return markup`<table><thead><tr><th>When</th><th>Who</th><th>What</th></tr></thead><tbody>
${r.audit.map((a) => markup`<tr><td>${shortTime(a.at)}</td><td>${a.actor}</td><td>${a.action}</td></tr>\n`)}</tbody></table>`;
}

export function cycleReportHtml(r: CycleReportInput): string {
  return htmlPage({
    title: `Cycle report: ${r.cycle.cycleId}`,
    style: REPORT_STYLE,
    sub: markup`Model ${r.cycle.modelId} · generated ${shortTime(r.generatedAt)}`,
    body: markup`<section id="overview"><h2>Overview</h2>${overviewHtml(r)}</section>
<section id="timeline"><h2>Timeline</h2>${timelineHtml(r)}</section>
<section id="drift"><h2>Drift</h2>${driftHtml(r)}</section>
<section id="labeling"><h2>Labeling</h2>${labelingHtml(r)}</section>
<section id="candidate"><h2>Candidate against champion</h2>${candidateHtml(r)}</section>
<section id="rollout"><h2>Rollout</h2>${rolloutHtml(r)}</section>
<section id="audit"><h2>Audit trail</h2>${auditHtml(r)}</section>`,
    cycleId: r.cycle.cycleId,
  });
}

// ---------------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------------

/** A share as a bar of block characters, 20 wide: Markdown has no charts, but text bars read fine. */
const textBar = (share: number): string => '█'.repeat(Math.round(Math.max(0, Math.min(1, share)) * 20));

export function cycleReportMarkdown(r: CycleReportInput): string {
  const c = r.cycle;
  const out: string[] = [
    `# Cycle report: ${md(c.cycleId)}`,
    `Model ${md(c.modelId)} · generated ${r.generatedAt}`,
  ];
  out.push(
    '## Overview',
    mdTable(
      ['', ''],
      [
        ['Window', `${c.window.start} .. ${c.window.end}`],
        ['Trigger', md(c.trigger ?? NONE)],
        ['Outcome', c.outcome ? `**${c.outcome}**` : `running (${c.stage})`],
        ['Reason', md(c.reason ?? NONE)],
        ['Severity', c.severity ?? NONE],
        ['Policy', policyLabel(c.policyVersion)],
        ['Champion', c.championVersion === null ? NONE : `v${c.championVersion}`],
        ['Candidate', c.candidateVersion === null ? NONE : `v${c.candidateVersion}`],
        ...(r.webUiUrl ? [['Temporal Web UI', r.webUiUrl]] : []),
      ],
      [],
    ),
  );
  out.push(
    '## Timeline',
    mdTable(
      ['Stage', 'Started', 'Took', 'Key numbers'],
      c.stages.map((s) => [
        s.stage,
        s.startedAt,
        `${humanDuration(stageMs(s, r.generatedAt))}${s.endedAt ? '' : ' (running)'}`,
        linesMarkdown(stageBlocks(s.summary)),
      ]),
      [2],
    ),
  );
  for (const s of c.stages) {
    const tables = tablesMarkdown(stageBlocks(s.summary));
    if (tables.length > 0) out.push(`### ${md(s.stage)}`, ...tables);
  }
  out.push('## Drift');
  if (!r.drift) out.push('No drift report was written for this cycle.');
  else {
    const rep = r.drift.report;
    out.push(
      `Reference v${r.drift.referenceVersion} (${rep.referenceRows} rows) against ${r.drift.window.start} .. ${r.drift.window.end} (${windowRowsText(rep)}): ${rep.features.filter((f) => f.drifted).length} of ${rep.features.length} features drifted; dataset drift ${rep.datasetDrifted ? 'yes' : 'no'}.`,
      `**Reference:** ${md(referenceText(r.reference, r.drift?.referenceVersion))}`,
      `**Performance:** ${md(sentence(describePerformance(rep.performance)))}`,
      mdTable(
        ['Feature', 'Drifted', 'Test', 'PSI'],
        rep.features.map((f) => [md(f.feature), f.drifted ? 'yes' : 'no', md(statText(f)), fixed(f.psi, 3)]),
        [3],
      ),
    );
    for (const f of chartedFeatures(rep).filter((x) => x.drifted)) {
      out.push(
        `### ${md(f.feature)}`,
        mdTable(
          ['Bin', 'Reference', '', 'Window', ''],
          (f.distribution ?? f.region).map((p) => [
            md(binLabel(p)),
            pct(p.referenceShare),
            `\`${textBar(p.referenceShare) || ' '}\``,
            pct(p.currentShare),
            `\`${textBar(p.currentShare) || ' '}\``,
          ]),
          [1, 3],
        ),
      );
    }
  }
  out.push('## Labeling');
  if (!r.labeling) out.push('This cycle asked no one for labels.');
  else {
    const l = r.labeling;
    out.push(
      `${l.human + l.auto} of ${l.requested} answered (${l.human} by people, ${l.auto} auto-labeled).`,
      mdTable(
        ['Reviewer', 'From', 'Identified by', 'Labels'],
        l.reviewers.map((x) => [md(x.reviewer), x.via, x.verifiedBy ?? 'unverified', String(x.count)]),
        [3],
      ),
      ...l.notifications.map((n) => `- ${n.at} **${n.kind}**: ${md(n.message)}`),
    );
  }
  out.push('## Candidate against champion');
  if (!r.card?.input)
    out.push(r.card ? `Decision: ${r.card.go ? 'GO' : 'NO-GO'}.` : 'No candidate was evaluated.');
  else if (isRegressionCard(r.card.input)) out.push(regressionReportMarkdown(r.card.input));
  else {
    const i = r.card.input;
    const cand = i.candidate.overall;
    const champ = i.champion.overall;
    const row = (
      name: string,
      a: number | null,
      b: number | null,
      f: (x: number) => string,
      share = false,
    ) => [name, a === null ? NONE : f(a), b === null ? NONE : f(b), delta(a, b, share)];
    out.push(
      `**${i.gates.go ? 'GO' : 'NO-GO'}**: ${md(i.gates.reason)}`,
      mdTable(
        ['Metric', `Candidate v${i.candidateVersion}`, `Champion v${i.championVersion}`, 'Δ'],
        [
          row('Accuracy', cand.accuracy, champ.accuracy, pct, true),
          row('Macro F1', cand.macroF1, champ.macroF1, three),
          row('Log-loss', cand.logLoss, champ.logLoss, three),
          row('ECE', cand.ece, champ.ece, three),
        ],
        [1, 2, 3],
      ),
    );
  }
  out.push('## Rollout');
  if (r.rollout.length === 0) out.push('No rollout step was analysed.');
  else
    out.push(
      mdTable(
        ['Step', 'Traffic', 'Decision', 'Analysis'],
        r.rollout.map((s) => [
          `${s.stepIndex + 1}.${s.attempt}`,
          `${s.weight}%`,
          s.decision,
          md(s.analysis.reason),
        ]),
        [1],
      ),
      ...(r.newReference
        ? [`**Monitored from now on against** ${md(describeReference(r.newReference))}.`]
        : []),
    );
  out.push('## Audit trail');
  out.push(
    r.audit.length === 0
      ? 'No audit events.'
      : mdTable(
          ['When', 'Who', 'What'],
          r.audit.map((a) => [a.at, md(a.actor), md(a.action)]),
          [],
        ),
  );
  return `${out.join('\n\n')}\n`;
}

/** The policy version a cycle started with, as the report shows it. */
function policyLabel(version: number | null | undefined): string {
  return version === null || version === undefined ? NONE : `v${version} (as when the cycle started)`;
}
