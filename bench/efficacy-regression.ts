/**
 * The efficacy numbers of a regression dataset: the prequential score is the error, MAE per window and
 * over the stream (lower is better). The targets read on MAE: "within 1 point of the best accuracy"
 * becomes "within 5 % of the best policy's MAE"; "beats never" means a lower MAE. A champion handles the
 * shift when its MAE over the windows it served is within 20 % of the first champion's MAE on the
 * reference's holdout (the error the model had before the shift).
 */
import { unitOf, type Dataset, type PolicyName } from './efficacy-data.js';
import type { ReplayResult, WindowResult } from './efficacy-replay.js';
import {
  cycleStory,
  lineChart,
  quietAfter,
  summarize,
  type PolicySummary,
  type TargetCheck,
} from './efficacy-report.js';

/** Remedy's default is within this share above the best policy's MAE. */
export const MAE_WITHIN = 0.05;
/** A champion handles the shift when it serves within this share above the pre-shift holdout MAE. */
export const RECOVERED_MAE_WITHIN = 0.2;

export interface RegressionSummary extends PolicySummary {
  /** Prequential MAE over every record of the stream (each predicted before anything learned from it). */
  mae: number;
  maeAfterShift: number | null;
  maeSeries: { start: string; mae: number }[];
  /** The first champion's MAE on the reference's holdout. */
  championHoldoutMae: number | null;
}

const DAY = 86_400_000;

export const pooledMae = (ws: readonly WindowResult[]): number => {
  const n = ws.reduce((a, w) => a + w.rows, 0);
  return n ? ws.reduce((a, w) => a + (w.absError ?? NaN), 0) / n : NaN;
};

/** When the first champion promoted after the onset that serves near the pre-shift error started serving. */
function recoveredAt(r: ReplayResult, onset: string): string | null {
  const before = r.championHoldoutMae;
  if (before === null || before === undefined) return null;
  for (const c of r.cycles) {
    if (c.outcome !== 'promoted' || c.window.end <= onset || c.candidateVersion === null) continue;
    const served = r.windows.filter((w) => w.champion === c.candidateVersion && w.rows > 0);
    if (served.length > 0 && pooledMae(served) <= before * (1 + RECOVERED_MAE_WITHIN))
      return served[0]!.start;
  }
  return null;
}

export function summarizeRegression(d: Dataset, r: ReplayResult): RegressionSummary {
  const base = summarize(d, r);
  const onset = d.shiftOnset;
  const after = onset ? r.windows.filter((w) => w.start >= onset) : [];
  const recovered = onset ? recoveredAt(r, onset) : null;
  return {
    ...base,
    // Accuracy means nothing for a number: the error stands in its place (null in the JSON).
    accuracy: NaN,
    accuracyAfterShift: null,
    series: [],
    mae: pooledMae(r.windows),
    maeAfterShift: after.length ? pooledMae(after) : null,
    maeSeries: r.windows.map((w) => ({ start: w.start, mae: w.rows ? (w.absError ?? NaN) / w.rows : NaN })),
    championHoldoutMae: r.championHoldoutMae ?? null,
    onsetToRecoveredDays:
      recovered && onset ? Math.round((Date.parse(recovered) - Date.parse(onset)) / DAY) : null,
  };
}

const inUnit = (d: Dataset) => (x: number) => `${x.toFixed(2)} ${unitOf(d).short}`;

/** The efficacy targets read on MAE, each with the measured numbers and, when missed, why. */
export function checkRegressionTargets(
  d: Dataset,
  s: RegressionSummary[],
  results: ReplayResult[],
): TargetCheck[] {
  const fmt = inUnit(d);
  const by = (p: PolicyName) => s.find((x) => x.policy === p)!;
  const run = (p: PolicyName) => results.find((x) => x.policy === p)!;
  const remedy = by('remedy-default');
  const alarm = by('every-alarm');
  const never = by('never');
  const best = s.reduce((a, b) => (b.mae < a.mae ? b : a));
  const limit = best.mae * (1 + MAE_WITHIN);
  const within = remedy.mae <= limit;
  const out: TargetCheck[] = [
    {
      target: `within ${MAE_WITHIN * 100} % of the best policy's MAE`,
      met: within,
      detail: `remedy-default ${fmt(remedy.mae)} vs best (${best.policy}) ${fmt(best.mae)}, limit ${fmt(limit)}: ${within ? 'within' : `misses by ${fmt(remedy.mae - limit)}`}`,
      why: within
        ? null
        : `a champion that handles the shift served after ${remedy.onsetToRecoveredDays ?? '—'} days (the first new one after ${remedy.onsetToChampionDays ?? '—'}) vs ${best.onsetToRecoveredDays ?? '—'} (${best.onsetToChampionDays ?? '—'}) for ${best.policy}. remedy-default's cycles: ${cycleStory(run('remedy-default'))}. ${best.policy}'s: ${cycleStory(run(best.policy))}`,
    },
  ];
  for (const [what, mine, theirs] of [
    ['labels', remedy.labelsAsked, alarm.labelsAsked],
    ['cycles', remedy.cyclesStarted, alarm.cyclesStarted],
  ] as const) {
    const half = theirs / 2;
    out.push({
      target: `at most half the ${what} of every-alarm`,
      met: mine <= half,
      detail: `${mine} vs every-alarm ${theirs} (limit ${half}): ${mine <= half ? 'met' : `over by ${mine - half}`}`,
      why:
        mine <= half
          ? null
          : `${quietAfter(run('every-alarm'))}; remedy-default started ${remedy.cyclesStarted}`,
    });
  }
  const beats = remedy.mae < never.mae;
  out.push({
    target: 'beats never where a shift exists (lower MAE)',
    met: beats,
    detail: `remedy-default ${fmt(remedy.mae)} vs never ${fmt(never.mae)} (${beats ? '' : '+'}${fmt(remedy.mae - never.mae)})`,
    why: beats
      ? null
      : `no promoted champion beat the first one on the stream: ${cycleStory(run('remedy-default'))}`,
  });
  if (d.shiftOnset && d.shiftOnset > d.start)
    out.push({
      target: 'no cycles before the shift (stable period)',
      met: remedy.cyclesStable === 0,
      detail: `${remedy.cyclesStable} cycle(s) on windows ending before ${d.shiftOnset.slice(0, 10)}`,
      why:
        remedy.cyclesStable === 0
          ? null
          : `a drift persisted on the stable period: ${cycleStory(run('remedy-default'))}`,
    });
  return out;
}

export function regressionTable(s: RegressionSummary[], d: Dataset): string {
  const onsetAtStart = d.shiftOnset !== null && d.shiftOnset <= d.start;
  const fmt = inUnit(d);
  const head = [
    'policy',
    'MAE (mean)',
    ...(d.shiftOnset && !onsetAtStart ? ['after shift'] : []),
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
    fmt(x.mae),
    ...(d.shiftOnset && !onsetAtStart ? [x.maeAfterShift === null ? '—' : fmt(x.maeAfterShift)] : []),
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

/** Per-window prequential MAE of every policy, one line each, the shift's onset marked. */
export function maeChart(d: Dataset, s: RegressionSummary[]): string {
  const top = Math.max(1, ...s.flatMap((p) => p.maeSeries.map((w) => w.mae)).filter(Number.isFinite));
  const step = top <= 4 ? 1 : top <= 8 ? 2 : 5;
  const max = Math.ceil(top / step) * step;
  return lineChart(
    d,
    (s[0]?.maeSeries ?? []).map((w) => w.start),
    {
      title: `Prequential MAE (${unitOf(d).long}) per ${d.windowDays}-day window, ${d.name}; lower is better`,
      max,
      ticks: Array.from({ length: max / step + 1 }, (_, i) => i * step),
      tick: (v) => String(v),
      lines: s.map((p) => ({
        policy: p.policy,
        values: p.maeSeries.map((w) => (Number.isFinite(w.mae) ? w.mae : 0)),
        legend: `${p.policy} ${p.mae.toFixed(2)}`,
      })),
    },
  );
}
