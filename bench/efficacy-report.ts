/**
 * The efficacy benchmark's numbers from the replays: per dataset and policy the prequential accuracy
 * (mean and per window), cycles, false alarms, labels, training time, rollbacks and the delay from a
 * shift's onset to a champion trained after it; the efficacy targets checked with by how much a miss
 * misses and why; a Markdown table and a hand-written SVG chart.
 */
import { escapeHtml } from '../core/html.js';
import type { Dataset, PolicyName } from './efficacy-data.js';
import type { ReplayResult } from './efficacy-replay.js';

export interface PolicySummary {
  policy: PolicyName;
  modelId: string;
  records: number;
  /** Prequential accuracy over every record of the stream (each predicted before anything learned from it). */
  accuracy: number;
  /** The same after the shift's onset only (null without a shift). */
  accuracyAfterShift: number | null;
  series: { start: string; accuracy: number }[];
  cyclesStarted: number;
  /** Cycles over windows that end before the shift (every cycle on a stable control). */
  cyclesStable: number;
  outcomes: Record<string, number>;
  labelsAsked: number;
  labelsAnswered: number;
  trainingSeconds: number;
  rollbacks: number;
  /** Days from the shift's onset until a champion promoted by a cycle over post-onset data serves. */
  onsetToChampionDays: number | null;
  /**
   * Days from the onset until a champion that handles the shift serves: the first promoted after it whose
   * accuracy over the windows it served is within `RECOVERED_WITHIN` of the accuracy before the shift.
   */
  onsetToRecoveredDays: number | null;
  wallSeconds: number;
}

const DAY = 86_400_000;
/** A champion handles a shift when it serves within this of the accuracy before it (drift.performanceTolerance). */
export const RECOVERED_WITHIN = 0.05;

const pooled = (ws: { rows: number; correct: number }[]) => {
  const n = ws.reduce((a, w) => a + w.rows, 0);
  return n ? ws.reduce((a, w) => a + w.correct, 0) / n : NaN;
};

/** When the first champion promoted after the onset that serves near the pre-shift accuracy started serving. */
function recoveredAt(r: ReplayResult, onset: string): string | null {
  const before = pooled(r.windows.filter((w) => w.end <= onset));
  for (const c of r.cycles) {
    if (c.outcome !== 'promoted' || c.window.end <= onset || c.candidateVersion === null) continue;
    const served = r.windows.filter((w) => w.champion === c.candidateVersion);
    if (served.length > 0 && pooled(served) >= before - RECOVERED_WITHIN) return served[0]!.start;
  }
  return null;
}

export function summarize(d: Dataset, r: ReplayResult): PolicySummary {
  const onset = d.shiftOnset;
  const total = r.windows.reduce((a, w) => a + w.rows, 0);
  const correct = r.windows.reduce((a, w) => a + w.correct, 0);
  const after = onset ? r.windows.filter((w) => w.start >= onset) : [];
  const afterRows = after.reduce((a, w) => a + w.rows, 0);
  const outcomes: Record<string, number> = {};
  for (const c of r.cycles) outcomes[c.outcome ?? 'open'] = (outcomes[c.outcome ?? 'open'] ?? 0) + 1;
  const recovered = onset ? recoveredAt(r, onset) : null;
  const handled = onset ? r.cycles.find((c) => c.outcome === 'promoted' && c.window.end > onset) : undefined;
  return {
    policy: r.policy,
    modelId: r.modelId,
    records: r.records,
    accuracy: total ? correct / total : 0,
    accuracyAfterShift: afterRows ? after.reduce((a, w) => a + w.correct, 0) / afterRows : null,
    series: r.windows.map((w) => ({ start: w.start, accuracy: w.rows ? w.correct / w.rows : 0 })),
    cyclesStarted: r.cycles.length,
    cyclesStable: r.cycles.filter((c) => onset === null || c.window.end <= onset).length,
    outcomes,
    labelsAsked: r.cycles.reduce((a, c) => a + c.requested, 0),
    labelsAnswered: r.cycles.reduce((a, c) => a + c.answered, 0),
    trainingSeconds: r.cycles.reduce((a, c) => a + c.retrainSeconds, 0),
    rollbacks: outcomes['rolled-back'] ?? 0,
    onsetToChampionDays:
      handled && onset ? Math.round((Date.parse(handled.closedAtDataTime) - Date.parse(onset)) / DAY) : null,
    onsetToRecoveredDays:
      recovered && onset ? Math.round((Date.parse(recovered) - Date.parse(onset)) / DAY) : null,
    wallSeconds: r.wallSeconds,
  };
}

export interface TargetCheck {
  target: string;
  met: boolean;
  /** What was measured against what was asked, and by how much it misses. */
  detail: string;
  why: string | null;
}

const pts = (x: number) => `${(x * 100).toFixed(1)} pts`;

const short = (text: string | null, n = 110) =>
  text === null ? '' : text.length > n ? `${text.slice(0, n - 1)}…` : text;

/** What a policy's cycles did, in order: window, outcome and reason, and what a candidate trained on. */
export function cycleStory(r: ReplayResult): string {
  const told = r.cycles
    .filter((c) => c.outcome !== 'no-action')
    .map((c) => {
      const set: unknown = c.notes.retrain?.trainingSet;
      const rows = (k: string) =>
        typeof set === 'object' && set !== null ? Number((set as Record<string, unknown>)[k]) : NaN;
      const trained = Number.isFinite(rows('windowRows'))
        ? ` (trained on ${rows('windowRows')} window + ${rows('referenceRows')} older rows)`
        : '';
      const why = c.outcome === 'promoted' ? '' : `: ${short(c.reason)}`;
      return `${c.window.start.slice(0, 10)}..${c.window.end.slice(0, 10)} ${c.outcome ?? 'open'}${trained}${why}`;
    });
  return told.length ? told.join('; ') : 'no cycle';
}

/** Why a policy stopped starting cycles: its checks after its last cycle, and the last one's reason. */
export function quietAfter(r: ReplayResult): string {
  const last = r.cycles.at(-1);
  if (!last) return `${r.policy} started no cycle`;
  const after = r.checks.filter((c) => c.window.slice(0, 24) >= last.window.end);
  const acted = after.filter((c) => c.state === 'cycle-started').length;
  return `${r.policy} started ${r.cycles.length} cycle(s); after its last (closing ${last.closedAtDataTime.slice(0, 10)}) ${after.length - acted} of ${after.length} checks found nothing to act on${after.length ? `, e.g. "${short(after.at(-1)!.reason)}"` : ''}`;
}

/** The efficacy targets for one dataset, each with the measured numbers and, when missed, why. */
export function checkTargets(d: Dataset, s: PolicySummary[], results: ReplayResult[]): TargetCheck[] {
  const by = (p: PolicyName) => s.find((x) => x.policy === p)!;
  const run = (p: PolicyName) => results.find((x) => x.policy === p)!;
  const remedy = by('remedy-default');
  const alarm = by('every-alarm');
  const never = by('never');
  const best = s.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
  const out: TargetCheck[] = [];
  const gap = best.accuracy - remedy.accuracy;
  out.push({
    target: "within 1 point of the best policy's mean accuracy",
    met: gap <= 0.01,
    detail: `remedy-default ${pts(remedy.accuracy)} vs best (${best.policy}) ${pts(best.accuracy)}: ${gap <= 0.01 ? 'within' : `misses by ${pts(gap - 0.01)}`}`,
    why:
      gap <= 0.01
        ? null
        : `a champion that handles the shift served after ${remedy.onsetToRecoveredDays ?? '—'} days (the first new one after ${remedy.onsetToChampionDays ?? '—'}) vs ${best.onsetToRecoveredDays ?? '—'} (${best.onsetToChampionDays ?? '—'}) for ${best.policy}. remedy-default's cycles: ${cycleStory(run('remedy-default'))}. ${best.policy}'s: ${cycleStory(run(best.policy))}`,
  });
  for (const [what, mine, theirs] of [
    ['labels', remedy.labelsAsked, alarm.labelsAsked],
    ['cycles', remedy.cyclesStarted, alarm.cyclesStarted],
  ] as const) {
    const limit = theirs / 2;
    out.push({
      target: `at most half the ${what} of every-alarm`,
      met: mine <= limit,
      detail: `${mine} vs every-alarm ${theirs} (limit ${limit}): ${mine <= limit ? 'met' : `over by ${mine - limit}`}`,
      why:
        mine <= limit
          ? null
          : `${quietAfter(run('every-alarm'))}; remedy-default started ${remedy.cyclesStarted}`,
    });
  }
  if (d.shiftOnset === null) {
    out.push({
      target: '0 cycles on the stable control',
      met: remedy.cyclesStarted === 0,
      detail: `${remedy.cyclesStarted} cycle(s)`,
      why: remedy.cyclesStarted === 0 ? null : cycleStory(run('remedy-default')),
    });
  } else {
    out.push({
      target: 'beats never where a shift exists',
      met: remedy.accuracy > never.accuracy,
      detail: `remedy-default ${pts(remedy.accuracy)} vs never ${pts(never.accuracy)} (${remedy.accuracy > never.accuracy ? '+' : ''}${pts(remedy.accuracy - never.accuracy)})`,
      why:
        remedy.accuracy > never.accuracy
          ? null
          : `no promoted champion beat the first one on the stream: ${cycleStory(run('remedy-default'))}`,
    });
    out.push({
      target: 'no cycles before the shift (stable period)',
      met: remedy.cyclesStable === 0,
      detail: `${remedy.cyclesStable} cycle(s) on windows ending before ${d.shiftOnset.slice(0, 10)}`,
      why:
        remedy.cyclesStable === 0
          ? null
          : `a drift persisted on the stable period: ${cycleStory(run('remedy-default'))}`,
    });
  }
  return out;
}

export function markdownTable(s: PolicySummary[], d: Dataset): string {
  const head = [
    'policy',
    'accuracy (mean)',
    ...(d.shiftOnset ? ['after shift'] : []),
    'cycles',
    'on stable periods',
    'labels asked',
    'training s',
    'rollbacks',
    'onset → new champion',
    'onset → recovered',
    'outcomes',
  ];
  const rows = s.map((x) => [
    x.policy,
    `${(x.accuracy * 100).toFixed(1)} %`,
    ...(d.shiftOnset
      ? [x.accuracyAfterShift === null ? '—' : `${(x.accuracyAfterShift * 100).toFixed(1)} %`]
      : []),
    String(x.cyclesStarted),
    String(x.cyclesStable),
    String(x.labelsAsked),
    x.trainingSeconds.toFixed(1),
    String(x.rollbacks),
    x.onsetToChampionDays === null ? '—' : `${x.onsetToChampionDays} d`,
    x.onsetToRecoveredDays === null ? '—' : `${x.onsetToRecoveredDays} d`,
    Object.entries(x.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '—',
  ]);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export const COLORS: Record<PolicyName, string> = {
  never: '#888888',
  schedule: '#1f77b4',
  'every-alarm': '#d62728',
  'remedy-default': '#2ca02c',
  'label-free': '#ff7f0e',
  custom: '#9467bd',
};

/** What a chart plots: one line per policy, values on a y axis from 0 to `max`. */
export interface ChartLines {
  title: string;
  max: number;
  ticks: number[];
  tick: (v: number) => string;
  lines: { policy: PolicyName; values: number[]; legend: string }[];
}

/** One line per policy over the dataset's windows, the shift's onset marked. */
export function lineChart(d: Dataset, starts: string[], c: ChartLines): string {
  const W = 720;
  const H = 300;
  const m = { left: 48, right: 140, top: 24, bottom: 36 };
  const n = Math.max(...c.lines.map((l) => l.values.length));
  const x = (i: number) => m.left + (n <= 1 ? 0 : (i / (n - 1)) * (W - m.left - m.right));
  const y = (a: number) => m.top + (1 - a / c.max) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeHtml(c.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
  ];
  for (const a of c.ticks) {
    parts.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${y(a)}" y2="${y(a)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${y(a) + 4}" text-anchor="end">${c.tick(a)}</text>`,
    );
  }
  for (let i = 0; i < starts.length; i += Math.max(1, Math.ceil(starts.length / 8)))
    parts.push(
      `<text x="${x(i)}" y="${H - m.bottom + 16}" text-anchor="middle">${starts[i]!.slice(0, 7)}</text>`,
    );
  if (d.shiftOnset) {
    const i = starts.findIndex((s) => s >= d.shiftOnset!);
    if (i >= 0)
      parts.push(
        `<line x1="${x(i)}" x2="${x(i)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#555" stroke-dasharray="4 3"/>`,
        `<text x="${x(i) + 4}" y="${m.top + 10}">shift</text>`,
      );
  }
  for (const [k, p] of c.lines.entries()) {
    const pts = p.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${COLORS[p.policy]}" stroke-width="2" points="${pts}"/>`,
      `<line x1="${W - m.right + 10}" x2="${W - m.right + 28}" y1="${m.top + 8 + k * 18}" y2="${m.top + 8 + k * 18}" stroke="${COLORS[p.policy]}" stroke-width="2"/>`,
      `<text x="${W - m.right + 32}" y="${m.top + 12 + k * 18}">${escapeHtml(p.legend)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Per-window prequential accuracy of every policy, one line each, the shift's onset marked. */
export function accuracyChart(d: Dataset, s: PolicySummary[]): string {
  return lineChart(
    d,
    (s[0]?.series ?? []).map((w) => w.start),
    {
      title: `Prequential accuracy per ${d.windowDays}-day window, ${d.name}`,
      max: 1,
      ticks: [0, 0.25, 0.5, 0.75, 1],
      tick: (a) => `${a * 100}%`,
      lines: s.map((p) => ({
        policy: p.policy,
        values: p.series.map((w) => w.accuracy),
        legend: `${p.policy} ${(p.accuracy * 100).toFixed(1)}%`,
      })),
    },
  );
}
