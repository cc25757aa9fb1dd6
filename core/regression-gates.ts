/**
 * The go/no-go gates of a regression candidate against the champion on the same holdout: each gate of
 * core/gates.ts mapped to its error-metric analogue.
 *
 * - min-holdout: as for classes (labeled holdout rows).
 * - min-gain: the candidate's MAE reduction as a share of the champion's holdout MAE, judged at the
 *   conservative end of the paired bootstrap interval of the MAE difference: evaluation.minGain 0.02 asks
 *   for an MAE at least 2 % lower even there; a negative minGain is the tolerated increase.
 * - slice-drop: per slice of evaluation.sliceBy, the candidate's MAE increase as a share of the champion's
 *   slice MAE, at most evaluation.maxSliceDrop (slices under minSliceRows are not compared).
 * - latency: as for classes (p95 of one-row calls).
 * - backtest: on the champion's reference holdout, the candidate's MAE increase as a share of the
 *   champion's, at most evaluation.maxForgetting. As for classes, evaluation.backtest report makes it
 *   advisory, and so does auto when the target moved: the PSI of the window's labeled values against the
 *   reference's at or over LABEL_SHIFT_PSI (the analogue of the label PSI of classes). A candidate that
 *   learned the new values is bound to miss the old ones, which no longer describe what the model serves.
 *
 * calibration does not apply: a regressor gives no probabilities, so there is no ECE to bound. Its
 * analogue, the residual bias by decile of the prediction, is measured and shown on the model card.
 * Pure and deterministic: no I/O, no randomness.
 */
import type { DifferenceInterval } from './bootstrap.js';
import {
  backtestJudged,
  decide,
  DEFAULT_MAX_FORGETTING,
  fixed,
  latencyGate,
  minHoldoutGate,
  ms,
  nothingToBacktest,
  SLACK,
  type BacktestMode,
  type GateDecision,
  type GatePolicy,
  type GateResult,
  type Judged,
} from './gates.js';
import { hasOwn } from './metrics.js';
import type { PairedErrorDifferences, RegressionErrors } from './regression-metrics.js';

/** A regressor's errors on the holdout, its p95 latency, and its errors per slice. */
export interface RegressionEvaluated {
  overall: RegressionErrors & { p95LatencyMs: number | null };
  slices: Record<string, RegressionErrors>;
}

/** Candidate and champion on the champion's reference holdout (data from before the drift). */
export interface RegressionBacktest {
  datasetId: number;
  rows: number;
  candidateMae: number;
  championMae: number;
  /** Paired bootstrap of candidate − champion there. */
  difference: PairedErrorDifferences;
}

export interface RegressionGateEvidence {
  /** Paired bootstrap of candidate − champion errors on the holdout. */
  difference: PairedErrorDifferences;
  /** The backtest; null when the champion has no labeled reference holdout; undefined: not judged. */
  backtest?: RegressionBacktest | null;
  /** PSI of the window's labeled values against the reference's; null when not measured. */
  targetShiftPsi?: number | null;
}

/** A share as a signed percentage with one decimal ("12.3%", "−4.0%" written with a hyphen). */
const share = (x: number): string => `${fixed(x * 100, 1)}%`;

/** An error in the target's units. */
const units = (x: number): string => fixed(x, 3);

/** The denominator of a relative change: the champion's error, or 1 when it made none. */
const scale = (championError: number): number => (championError > 0 ? championError : 1);

/**
 * The MAE reduction as a share of the champion's MAE: the difference interval (candidate − champion) turned
 * around and scaled, so its lower bound is the least reduction the holdout supports.
 */
export function maeReduction(difference: PairedErrorDifferences, championMae: number): DifferenceInterval {
  const s = scale(championMae);
  return {
    estimate: -difference.mae.estimate / s,
    lower: -difference.mae.upper / s,
    upper: -difference.mae.lower / s,
  };
}

function maeGainGate(
  candidate: RegressionErrors,
  champion: RegressionErrors,
  policy: GatePolicy,
  difference: PairedErrorDifferences,
): Judged {
  const gain = maeReduction(difference, champion.mae);
  const passed = gain.lower >= policy.minGain - SLACK;
  const level = `${fixed(difference.confidence * 100, 0)}%`;
  const comparison =
    candidate.mae > champion.mae
      ? `the candidate's MAE ${units(candidate.mae)} is higher than the champion's ${units(champion.mae)}`
      : `MAE ${units(candidate.mae)} vs champion ${units(champion.mae)}`;
  const summary =
    `${comparison} (MAE reduction ${share(gain.estimate)}, ${level} interval ${share(gain.lower)} to ${share(gain.upper)} on ${difference.rows} rows): ` +
    `lower bound ${share(gain.lower)} ${passed ? '≥' : '<'} ${share(policy.minGain)}`;
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

function sliceErrorGate(
  candidate: RegressionEvaluated,
  champion: RegressionEvaluated,
  policy: GatePolicy,
): Judged {
  const compared: { name: string; cand: number; champ: number; increase: number }[] = [];
  for (const name of Object.keys(candidate.slices).sort()) {
    if (!hasOwn(champion.slices, name)) continue;
    const cand = candidate.slices[name]!;
    const champ = champion.slices[name]!;
    if (cand.rows < policy.minSliceRows || champ.rows < policy.minSliceRows) continue;
    const increase = Math.max(0, (cand.mae - champ.mae) / scale(champ.mae));
    compared.push({ name, cand: cand.mae, champ: champ.mae, increase });
  }
  const gate = (passed: boolean, measured: number | null, detail: string): Judged => ({
    result: { name: 'slice-drop', passed, measured, limit: policy.maxSliceDrop, detail },
    summary: detail,
  });
  if (compared.length === 0)
    return gate(true, null, `no slice has ${policy.minSliceRows}+ rows on both sides; nothing to compare`);
  const sized = `${compared.length} slice${compared.length === 1 ? '' : 's'} with ${policy.minSliceRows}+ rows compared`;
  const worst = compared.reduce((a, b) => (b.increase > a.increase ? b : a));
  if (worst.increase === 0) return gate(true, 0, `no slice's MAE rose (${sized})`);
  const failing = compared.filter((s) => s.increase > policy.maxSliceDrop + SLACK);
  const passed = failing.length === 0;
  const others = failing.length - 1;
  return gate(
    passed,
    worst.increase,
    `${worst.name} MAE ${units(worst.cand)} vs ${units(worst.champ)} (increase ${share(worst.increase)} ${passed ? '≤' : '>'} ${share(policy.maxSliceDrop)})` +
      (others > 0 ? `, and ${others} more slice${others === 1 ? '' : 's'} over the limit` : ''),
  );
}

function regressionBacktestGate(
  backtest: RegressionBacktest | null,
  maxForgetting: number,
  mode: BacktestMode,
  targetShiftPsi: number | null,
): Judged {
  if (backtest === null) return nothingToBacktest(maxForgetting);
  const forgetting = (backtest.candidateMae - backtest.championMae) / scale(backtest.championMae);
  const within = forgetting <= maxForgetting + SLACK;
  const d = backtest.difference;
  const measuredText =
    `on ${backtest.rows} reference holdout rows candidate MAE ${units(backtest.candidateMae)} vs champion ${units(backtest.championMae)} ` +
    `(${forgetting > 0 ? `MAE increase ${share(forgetting)} ${within ? '≤' : '>'} ${share(maxForgetting)}` : 'no increase'}; ` +
    `MAE difference ${fixed(d.confidence * 100, 0)}% interval ${units(d.mae.lower)} to ${units(d.mae.upper)})`;
  return backtestJudged(
    { measuredText, within, forgetting, maxForgetting, interval: { ...d.mae, confidence: d.confidence } },
    mode,
    { psi: targetShiftPsi, moved: 'values', psiName: 'target PSI' },
  );
}

function passedReason(judged: readonly Judged[]): string {
  const find = (name: GateResult['name']) => judged.find((j) => j.result.name === name)?.result;
  const gain = find('min-gain')!;
  const slice = find('slice-drop')!;
  const latency = find('latency')!;
  const backtest = find('backtest');
  const i = gain.interval!;
  const parts = [
    `MAE reduction ${share(i.estimate)}, ${fixed(i.confidence * 100, 0)}% interval ${share(i.lower)} to ${share(i.upper)}`,
    `worst slice MAE increase ${slice.measured === null ? 'n/a' : share(slice.measured)}`,
    `p95 ${latency.measured === null ? 'not measured' : ms(latency.measured)}`,
  ];
  if (backtest)
    parts.push(
      `backtest ${backtest.measured === null ? 'n/a' : `MAE increase ${share(backtest.measured)}${backtest.advisory ? ' (reported, not judged)' : ''}`}`,
    );
  return `all gates passed (${parts.join(', ')})`;
}

/**
 * Go/no-go for a regression candidate against the champion on the same holdout. Every gate is evaluated
 * and go requires all of them to pass; the reason lists every failure, or the headline numbers.
 */
export function regressionGates(
  candidate: RegressionEvaluated,
  champion: RegressionEvaluated,
  policy: GatePolicy,
  evidence: RegressionGateEvidence,
): GateDecision {
  const judged: Judged[] = [];
  if (policy.minHoldout !== undefined) judged.push(minHoldoutGate(candidate.overall.rows, policy.minHoldout));
  judged.push(
    maeGainGate(candidate.overall, champion.overall, policy, evidence.difference),
    sliceErrorGate(candidate, champion, policy),
    latencyGate(candidate.overall, policy),
  );
  if (evidence.backtest !== undefined)
    judged.push(
      regressionBacktestGate(
        evidence.backtest,
        policy.maxForgetting ?? DEFAULT_MAX_FORGETTING,
        policy.backtest ?? 'auto',
        evidence.targetShiftPsi ?? null,
      ),
    );
  return decide(judged, () => passedReason(judged));
}
