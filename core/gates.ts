/**
 * The go/no-go gates a candidate must pass against the champion on the same holdout: the minimum
 * holdout, the gain (on the lower bound of its paired bootstrap interval when one is given), slices,
 * calibration, latency, and the backtest on the champion's reference. Pure and deterministic (imported
 * by workflow code): no I/O, no Node built-ins, no randomness.
 */
import type { DifferenceInterval, PairedDifferences } from './bootstrap.js';
import type { ModelMetrics } from './evaluation.js';
import { hasOwn } from './metrics.js';
import { LABEL_SHIFT_PSI } from './policy.js';

export interface GatePolicy {
  /** Required holdout accuracy gain over the champion, as a fraction (0.02 = 2 points). */
  minGain: number;
  /** Largest tolerated accuracy drop on any slice, as a fraction. */
  maxSliceDrop: number;
  maxEce: number;
  maxLatencyMs: number;
  /** Slices smaller than this (on either side) are too noisy to judge and are not compared. */
  minSliceRows: number;
  /** The metric whose gain must clear minGain (log-loss: its reduction); accuracy when unset. */
  metric?: GainMetric;
  /** A holdout with fewer labeled rows than this fails the min-holdout gate; not judged when unset. */
  minHoldout?: number;
  /** Largest tolerated accuracy drop vs the champion on the champion's reference holdout. */
  maxForgetting?: number;
  /**
   * Whether the backtest decides: always (enforce), never (report), or unless the window's labels moved
   * away from the reference's (auto, the default).
   */
  backtest?: BacktestMode;
}

export type BacktestMode = 'auto' | 'enforce' | 'report';

export type GainMetric = 'accuracy' | 'macroF1' | 'logLoss';

export interface GateResult {
  name: 'min-holdout' | 'min-gain' | 'slice-drop' | 'calibration' | 'latency' | 'backtest';
  passed: boolean;
  measured: number | null;
  limit: number;
  detail: string;
  /** The gain's interval when the gate judged its lower bound (min-gain), or the backtest's difference. */
  interval?: DifferenceInterval & { confidence: number };
  /** Measured and shown but not deciding (a backtest after a label shift). */
  advisory?: boolean;
}

/** The candidate and the champion on the champion's own reference holdout (data from before the drift). */
export interface Backtest {
  datasetId: number;
  rows: number;
  candidateAccuracy: number;
  championAccuracy: number;
  /** Paired bootstrap of candidate − champion there. */
  difference: PairedDifferences;
}

/** What the gates judge besides the two models' metrics. */
export interface GateEvidence {
  /** Paired bootstrap of candidate − champion on the holdout; without it min-gain judges the point gain. */
  difference?: PairedDifferences;
  /** The backtest on the champion's reference holdout; null when it has none; undefined: not judged. */
  backtest?: Backtest | null;
  /** The drift report's label PSI (window vs reference); null or unset when it was not measured. */
  labelShiftPsi?: number | null;
}

export interface EvaluatedModel {
  overall: ModelMetrics;
  slices: Record<string, ModelMetrics>;
}

export interface GateDecision {
  go: boolean;
  gates: GateResult[];
  reason: string;
}

/*
 * Accuracies are ratios of counts, so a gain of exactly 2 points can come out below 0.02 (0.3 − 0.28
 * is 0.019999999999999962).
 * Comparisons allow this much slack so that the verdict never contradicts the rounded numbers in the
 * reason ("gain 2.0 pts < 2.0 pts").
 */
export const SLACK = 1e-9;

/** Formats a fraction as a percentage with one decimal, never "-0.0". */
export function pct(x: number): string {
  return `${fixed(x * 100, 1)}%`;
}

/** Formats a fraction as percentage points with one decimal. */
export function pts(x: number): string {
  return `${fixed(x * 100, 1)} pts`;
}

/** toFixed without the "-0.0" that a tiny negative rounds to. */
export function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

export function ms(x: number): string {
  return `${fixed(x, 2)} ms`;
}

/** A gate's result plus the short phrase the one-line reason uses for it when it fails. */
export interface Judged {
  result: GateResult;
  summary: string;
}

function minGainGate(
  candidate: ModelMetrics,
  champion: ModelMetrics,
  policy: GatePolicy,
  difference: PairedDifferences | undefined,
): Judged {
  if (difference !== undefined) return intervalGainGate(difference, policy);
  const gain = candidate.accuracy - champion.accuracy;
  const passed = gain >= policy.minGain - SLACK;
  const summary = `gain ${pts(gain)} ${passed ? '≥' : '<'} ${pts(policy.minGain)}`;
  return {
    result: {
      name: 'min-gain',
      passed,
      measured: gain,
      limit: policy.minGain,
      detail: `${summary} (candidate ${pct(candidate.accuracy)} vs champion ${pct(champion.accuracy)})`,
    },
    summary,
  };
}

function sliceDropGate(candidate: EvaluatedModel, champion: EvaluatedModel, policy: GatePolicy): Judged {
  const compared: { name: string; cand: number; champ: number; drop: number }[] = [];
  for (const name of Object.keys(candidate.slices).sort()) {
    if (!hasOwn(champion.slices, name)) continue;
    const cand = candidate.slices[name]!;
    const champ = champion.slices[name]!;
    if (cand.rows < policy.minSliceRows || champ.rows < policy.minSliceRows) continue;
    // A slice that improved did not drop: clamp at 0 so "worst drop" never reads as a negative.
    compared.push({
      name,
      cand: cand.accuracy,
      champ: champ.accuracy,
      drop: Math.max(0, champ.accuracy - cand.accuracy),
    });
  }
  const gate = (passed: boolean, measured: number | null, detail: string): Judged => ({
    result: { name: 'slice-drop', passed, measured, limit: policy.maxSliceDrop, detail },
    summary: detail,
  });
  if (compared.length === 0) {
    return gate(true, null, `no slice has ${policy.minSliceRows}+ rows on both sides; nothing to compare`);
  }
  const sized = `${compared.length} slice${compared.length === 1 ? '' : 's'} with ${policy.minSliceRows}+ rows compared`;
  // First of the largest drops; compared is in name order, so ties name the same slice every time.
  const worst = compared.reduce((a, b) => (b.drop > a.drop ? b : a));
  if (worst.drop === 0) return gate(true, 0, `no slice dropped (${sized})`);
  const failing = compared.filter((s) => s.drop > policy.maxSliceDrop + SLACK);
  const passed = failing.length === 0;
  const others = failing.length - 1;
  return gate(
    passed,
    worst.drop,
    `${worst.name} ${pct(worst.cand)} vs ${pct(worst.champ)} (drop ${pts(worst.drop)} ${passed ? '≤' : '>'} ${pts(policy.maxSliceDrop)})` +
      (others > 0 ? `, and ${others} more slice${others === 1 ? '' : 's'} over the limit` : ''),
  );
}

function calibrationGate(candidate: ModelMetrics, policy: GatePolicy): Judged {
  const passed = candidate.ece <= policy.maxEce + SLACK;
  const detail = `ECE ${fixed(candidate.ece, 3)} ${passed ? '≤' : '>'} ${fixed(policy.maxEce, 3)}`;
  return {
    result: { name: 'calibration', passed, measured: candidate.ece, limit: policy.maxEce, detail },
    summary: detail,
  };
}

export function latencyGate(candidate: Pick<ModelMetrics, 'p95LatencyMs'>, policy: GatePolicy): Judged {
  const p95 = candidate.p95LatencyMs;
  // An offline evaluation may not time the model; the serving canary still watches latency live.
  const passed = p95 === null || p95 <= policy.maxLatencyMs + SLACK;
  const detail =
    p95 === null
      ? 'p95 latency not measured'
      : `p95 ${ms(p95)} ${passed ? '≤' : '>'} ${ms(policy.maxLatencyMs)}`;
  return {
    result: { name: 'latency', passed, measured: p95, limit: policy.maxLatencyMs, detail },
    summary: detail,
  };
}

/** The gain in the policy's metric as an interval: log-loss gains are reductions, so its bounds swap. */
export function gainInterval(difference: PairedDifferences, metric: GainMetric): DifferenceInterval {
  if (metric !== 'logLoss') return difference[metric];
  const d = difference.logLoss;
  return { estimate: -d.estimate, lower: -d.upper, upper: -d.lower };
}

/** A gain in the metric's units: points for accuracy and macro F1, nats for log-loss. */
export function gainText(x: number, metric: GainMetric): string {
  return metric === 'logLoss' ? fixed(x, 3) : pts(x);
}

const GAIN_NAME: Record<GainMetric, string> = {
  accuracy: 'gain',
  macroF1: 'macro-F1 gain',
  logLoss: 'log-loss reduction',
};

/** An interval as "5.6 to 27.8 pts" (one unit at the end). */
export function intervalText(i: { lower: number; upper: number }, metric: GainMetric): string {
  const unitless = (x: number) => (metric === 'logLoss' ? fixed(x, 3) : fixed(x * 100, 1));
  return `${unitless(i.lower)} to ${unitless(i.upper)}${metric === 'logLoss' ? '' : ' pts'}`;
}

/**
 * min-gain on the interval: the candidate must be better by minGain even at the lower bound of the
 * paired bootstrap interval of its gain, so a gain the holdout cannot tell from noise does not promote.
 */
function intervalGainGate(difference: PairedDifferences, policy: GatePolicy): Judged {
  const metric = policy.metric ?? 'accuracy';
  const gain = gainInterval(difference, metric);
  const passed = gain.lower >= policy.minGain - SLACK;
  const level = `${fixed(difference.confidence * 100, 0)}%`;
  const summary =
    `${GAIN_NAME[metric]} ${gainText(gain.estimate, metric)}, ${level} interval ${intervalText(gain, metric)} on ${difference.rows} rows: ` +
    `lower bound ${gainText(gain.lower, metric)} ${passed ? '≥' : '<'} ${gainText(policy.minGain, metric)}`;
  return {
    result: {
      name: 'min-gain',
      passed,
      measured: gain.lower,
      limit: policy.minGain,
      detail: summary,
      interval: { ...gain, confidence: difference.confidence },
    },
    summary,
  };
}

export function minHoldoutGate(rows: number, minHoldout: number): Judged {
  const passed = rows >= minHoldout;
  const summary = passed
    ? `${rows} labeled holdout rows ≥ ${minHoldout}`
    : `the holdout has ${rows} labeled rows and at least ${minHoldout} are needed: label more rows (labeling.budget), raise collection.holdoutShare, or lower evaluation.minHoldout`;
  return {
    result: { name: 'min-holdout', passed, measured: rows, limit: minHoldout, detail: summary },
    summary,
  };
}

/**
 * backtest: on the champion's reference holdout (the population before the drift) the candidate may
 * lose at most maxForgetting accuracy against the champion, so a remedy for the drifted window does
 * not break what the model still has to serve.
 */
function backtestGate(
  backtest: Backtest | null,
  maxForgetting: number,
  mode: BacktestMode,
  labelShiftPsi: number | null,
): Judged {
  if (backtest === null) return nothingToBacktest(maxForgetting);
  const forgetting = backtest.championAccuracy - backtest.candidateAccuracy;
  const within = forgetting <= maxForgetting + SLACK;
  const d = backtest.difference;
  const measuredText =
    `on ${backtest.rows} reference holdout rows candidate ${pct(backtest.candidateAccuracy)} vs champion ${pct(backtest.championAccuracy)} ` +
    `(${forgetting > 0 ? `forgetting ${pts(forgetting)} ${within ? '≤' : '>'} ${pts(maxForgetting)}` : 'no forgetting'}; ` +
    `difference ${fixed(d.confidence * 100, 0)}% interval ${intervalText(d.accuracy, 'accuracy')})`;
  // A label shift means the reference's labels no longer describe what the model serves: a candidate
  // that learned the new labels is bound to "forget" the old ones, so the backtest informs, not decides.
  return backtestJudged(
    {
      measuredText,
      within,
      forgetting,
      maxForgetting,
      interval: { ...d.accuracy, confidence: d.confidence },
    },
    mode,
    { psi: labelShiftPsi, moved: 'labels', psiName: 'label PSI' },
  );
}

/** The backtest when the champion has no labeled reference holdout: passed, with nothing measured. */
export function nothingToBacktest(maxForgetting: number): Judged {
  const detail = 'the champion has no labeled reference holdout: nothing to backtest';
  return {
    result: { name: 'backtest', passed: true, measured: null, limit: maxForgetting, detail },
    summary: detail,
  };
}

/**
 * The backtest's result, a classifier's or a regressor's: judged on `within`, or only reported when the
 * policy says so (`report`) or, in `auto`, when the window's labels (a regressor's values) moved away
 * from the reference's (PSI ≥ LABEL_SHIFT_PSI), so the reference is out of date.
 */
export function backtestJudged(
  m: {
    measuredText: string;
    within: boolean;
    forgetting: number;
    maxForgetting: number;
    interval: NonNullable<GateResult['interval']>;
  },
  mode: BacktestMode,
  shift: { psi: number | null; moved: 'labels' | 'values'; psiName: string },
): Judged {
  const shifted = shift.psi !== null && shift.psi >= LABEL_SHIFT_PSI;
  const advisory =
    mode === 'report'
      ? 'reported, not judged (evaluation.backtest: report)'
      : mode === 'auto' && shifted
        ? `reported, not judged: the window's ${shift.moved} moved away from the reference's (${shift.psiName} ${fixed(shift.psi ?? NaN, 2)} ≥ ${fixed(LABEL_SHIFT_PSI, 2)}), so the reference's ${shift.moved} are out of date; set evaluation.backtest: enforce to judge it anyway`
        : null;
  const summary = advisory === null ? m.measuredText : `${m.measuredText}; ${advisory}`;
  return {
    result: {
      name: 'backtest',
      passed: advisory !== null || m.within,
      measured: Math.max(0, m.forgetting),
      limit: m.maxForgetting,
      detail: summary,
      interval: m.interval,
      ...(advisory === null ? {} : { advisory: true }),
    },
    summary,
  };
}

function passedReason(judged: readonly Judged[], candidate: ModelMetrics, policy: GatePolicy): string {
  const find = (name: GateResult['name']) => judged.find((j) => j.result.name === name)?.result;
  const gain = find('min-gain')!;
  const slice = find('slice-drop')!;
  const latency = find('latency')!;
  const backtest = find('backtest');
  const metric = policy.metric ?? 'accuracy';
  const gainPart = gain.interval
    ? `${GAIN_NAME[metric]} ${gainText(gain.interval.estimate, metric)}, ${fixed(gain.interval.confidence * 100, 0)}% interval ${intervalText(gain.interval, metric)}`
    : `gain ${pts(gain.measured!)}`;
  const parts = [
    gainPart,
    `worst slice drop ${slice.measured === null ? 'n/a' : pts(slice.measured)}`,
    `ECE ${fixed(candidate.ece, 3)}`,
    `p95 ${latency.measured === null ? 'not measured' : ms(latency.measured)}`,
  ];
  if (backtest)
    parts.push(
      `backtest ${backtest.measured === null ? 'n/a' : `forgetting ${pts(backtest.measured)}${backtest.advisory ? ' (reported, not judged)' : ''}`}`,
    );
  return `all gates passed (${parts.join(', ')})`;
}

/**
 * Go/no-go for a candidate against the champion on the same holdout. Every gate is evaluated (a
 * reviewer wants all the failures, not the first) and go requires all of them to pass. With evidence,
 * min-gain judges the lower bound of the gain's interval, and the backtest is judged; min-holdout is
 * judged when the policy sets it.
 */
export function evaluationGates(
  candidate: EvaluatedModel,
  champion: EvaluatedModel,
  policy: GatePolicy,
  evidence: GateEvidence = {},
): GateDecision {
  const judged: Judged[] = [];
  if (policy.minHoldout !== undefined) judged.push(minHoldoutGate(candidate.overall.rows, policy.minHoldout));
  judged.push(
    minGainGate(candidate.overall, champion.overall, policy, evidence.difference),
    sliceDropGate(candidate, champion, policy),
    calibrationGate(candidate.overall, policy),
    latencyGate(candidate.overall, policy),
  );
  if (evidence.backtest !== undefined)
    judged.push(
      backtestGate(
        evidence.backtest,
        policy.maxForgetting ?? DEFAULT_MAX_FORGETTING,
        policy.backtest ?? 'auto',
        evidence.labelShiftPsi ?? null,
      ),
    );
  return decide(judged, () => passedReason(judged, candidate.overall, policy));
}

/**
 * The decision from the judged gates, a classifier's or a regressor's: go when every gate passed; the
 * reason names each failed gate with its summary, else says what passed (`passed`).
 */
export function decide(judged: readonly Judged[], passed: () => string): GateDecision {
  const failed = judged.filter((j) => !j.result.passed);
  const reason =
    failed.length > 0 ? failed.map((j) => `failed ${j.result.name}: ${j.summary}`).join('; ') : passed();
  return { go: failed.length === 0, gates: judged.map((j) => j.result), reason };
}

export const DEFAULT_MAX_FORGETTING = 0.05;
