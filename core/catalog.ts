/**
 * The failure catalog's decisions: which served requests and which outcomes are failure cases, their
 * taxonomy, severity and pattern, when failure volume should start a cycle, and whether a remedy fixed a
 * pattern. Pure and deterministic, shared by the gateway, the activities and the tests.
 */
import type { ReferenceProfile } from './drift.js';
import { twoProportionZTest } from './metrics.js';
import type { Features, FeatureSpec, Policy } from './schemas.js';
import { chiSquareSf } from './stats.js';

export const CASE_KINDS = [
  'low-confidence',
  'out-of-distribution',
  'wrong-prediction',
  'user-correction',
  'slow-response',
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];
export type Taxonomy = 'data-quality' | 'distribution-drift' | 'model-error' | 'deployment';
export type CaseSeverity = 'low' | 'medium' | 'high';

export interface FlaggedCase {
  kind: CaseKind;
  taxonomy: Taxonomy;
  severity: CaseSeverity;
  patternKey: string;
  description: string;
  truth: string | null;
  detail: Record<string, unknown>;
}

export type FailurePolicy = Policy['failures'];

/** What flagging needs from a model version, computed once per version. */
export interface FlagContext {
  spec: FeatureSpec;
  sliceBy: string[];
  bounds: Record<string, { lo: number; hi: number; mean: number; std: number }>;
  categories: Record<string, Set<string>>;
  /** The multivariate score above which a request is out of distribution. */
  scoreLimit: number;
  policy: FailurePolicy;
  /** A regression model's limit of a large error (core/regression-catalog.ts); absent for classifiers. */
  regression?: { largeErrorLimit: number | null };
}

function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The chi-square quantile: the x with sf(x) = 1 − p, by bisection (monotone, 100 halvings). */
export function chiSquareQuantile(p: number, dof: number): number {
  let lo = 0;
  let hi = Math.max(10, dof * 10);
  while (chiSquareSf(hi, dof) > 1 - p) hi *= 2;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (chiSquareSf(mid, dof) > 1 - p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Without a profile (a candidate not yet promoted) only confidence and latency are flagged. */
export function flagContext(
  spec: FeatureSpec,
  profile: ReferenceProfile | null,
  policy: FailurePolicy,
): FlagContext {
  const bounds: FlagContext['bounds'] = {};
  for (const name of spec.numeric) {
    const f = profile?.features[name];
    if (f?.type !== 'numeric' || f.count === 0) continue;
    const n = f;
    bounds[name] = {
      lo: quantileSorted(n.sorted, policy.oodQuantile),
      hi: quantileSorted(n.sorted, 1 - policy.oodQuantile),
      mean: n.mean,
      std: n.std,
    };
  }
  const categories: FlagContext['categories'] = {};
  for (const name of spec.categorical) {
    const f = profile?.features[name];
    if (f?.type === 'categorical') categories[name] = new Set(Object.keys(f.counts));
  }
  const scored = Object.values(bounds).filter((b) => b.std > 0).length;
  return {
    spec,
    sliceBy: policy.sliceBy ?? spec.categorical,
    bounds,
    categories,
    scoreLimit: scored > 0 ? chiSquareQuantile(policy.oodScore, scored) : Infinity,
    policy,
  };
}

/** The slice a case belongs to: its values of the slicing features, e.g. "location=Seattle". */
export function sliceOf(features: Features, sliceBy: readonly string[]): string {
  return sliceBy.length === 0 ? 'all' : sliceBy.map((k) => `${k}=${String(features[k] ?? '?')}`).join(',');
}

/** Flags a served request: low confidence, out of distribution, slow. */
export function flagServed(
  ctx: FlagContext,
  r: { features: Features; predicted: string; confidence: number; latencyMs: number; version: number },
): FlaggedCase[] {
  const out: FlaggedCase[] = [];
  const slice = sliceOf(r.features, ctx.sliceBy);
  if (r.confidence < ctx.policy.lowConfidence) {
    out.push({
      kind: 'low-confidence',
      taxonomy: 'model-error',
      severity: 'low',
      patternKey: `model-error/${slice}/low-confidence/predicted=${r.predicted}`,
      description: `${slice}: unsure "${r.predicted}" (confidence below ${ctx.policy.lowConfidence})`,
      truth: null,
      detail: { confidence: r.confidence },
    });
  }
  // Out of distribution: the first reason found names the pattern; all reasons are kept in the detail.
  const reasons: { key: string; taxonomy: Taxonomy; text: string }[] = [];
  for (const [name, seen] of Object.entries(ctx.categories)) {
    const v = r.features[name];
    if (typeof v === 'string' && !seen.has(v))
      reasons.push({
        key: `data-quality/${name}/unseen`,
        taxonomy: 'data-quality',
        text: `${name}="${v}" never seen in the reference`,
      });
  }
  let score = 0;
  for (const [name, b] of Object.entries(ctx.bounds)) {
    const v = r.features[name];
    if (typeof v !== 'number') continue;
    if (v < b.lo || v > b.hi) {
      const side = v < b.lo ? 'below' : 'above';
      reasons.push({
        key: `distribution-drift/${name}/${side}`,
        taxonomy: 'distribution-drift',
        text: `${name}=${v} ${side} the reference's ${side === 'below' ? b.lo : b.hi}`,
      });
    }
    if (b.std > 0) score += ((v - b.mean) / b.std) ** 2;
  }
  if (score > ctx.scoreLimit)
    reasons.push({
      key: 'distribution-drift/multivariate',
      taxonomy: 'distribution-drift',
      text: `multivariate score ${score.toFixed(1)} above ${ctx.scoreLimit.toFixed(1)}`,
    });
  if (reasons.length > 0) {
    const first = reasons[0]!;
    out.push({
      kind: 'out-of-distribution',
      taxonomy: first.taxonomy,
      severity: first.taxonomy === 'data-quality' || reasons.length > 1 ? 'medium' : 'low',
      patternKey: first.key,
      description: first.text,
      truth: null,
      detail: { reasons: reasons.map((x) => x.text), score },
    });
  }
  if (r.latencyMs > ctx.policy.slowMs) {
    out.push({
      kind: 'slow-response',
      taxonomy: 'deployment',
      severity: 'medium',
      patternKey: `deployment/slow/v${r.version}`,
      description: `v${r.version} answered in ${r.latencyMs.toFixed(0)} ms (limit ${ctx.policy.slowMs})`,
      truth: null,
      detail: { latencyMs: r.latencyMs },
    });
  }
  return out;
}

/** The model-error pattern of a wrong prediction: the slice, the true label and what was predicted. */
export function errorPattern(
  features: Features,
  sliceBy: readonly string[],
  truth: string,
  predicted: string,
) {
  const slice = sliceOf(features, sliceBy);
  return {
    patternKey: `model-error/${slice}/truth=${truth}/predicted=${predicted}`,
    description: `${slice}: "${truth}" predicted as "${predicted}"`,
  };
}

/** A wrong prediction once ground truth arrives, or an explicit correction by a user. */
export function flagOutcome(
  sliceBy: readonly string[],
  r: { features: Features; predicted: string; confidence: number; truth: string; correction: boolean },
): FlaggedCase | null {
  if (!r.correction && r.truth === r.predicted) return null;
  const { patternKey, description } = errorPattern(r.features, sliceBy, r.truth, r.predicted);
  return {
    kind: r.correction ? 'user-correction' : 'wrong-prediction',
    taxonomy: 'model-error',
    severity: r.correction || r.confidence >= 0.8 ? 'high' : 'medium',
    patternKey,
    description,
    truth: r.truth,
    detail: { confidence: r.confidence },
  };
}

export interface VolumeEvidence {
  /** Labeled failures (wrong predictions, corrections) since the model's last cycle closed. */
  newLabeledFailures: number;
  /** Labeled failures per pattern in the trailing window, most frequent first. */
  patterns: { patternKey: string; cases: number }[];
  windowFailures: number;
}

/** Whether failure volume calls for a cycle: enough new labeled failures, or one dominant pattern. */
export function volumeDecision(
  e: VolumeEvidence,
  policy: Policy['triggers']['volume'],
): { fire: boolean; reason: string; pattern: string | null } {
  const top = e.patterns[0];
  if (top && top.cases >= policy.minPatternCases && e.windowFailures > 0) {
    const share = top.cases / e.windowFailures;
    if (share >= policy.patternShare)
      return {
        fire: true,
        reason: `pattern ${top.patternKey} is ${(share * 100).toFixed(0)}% of ${e.windowFailures} labeled failures in the window (limit ${(policy.patternShare * 100).toFixed(0)}%)`,
        pattern: top.patternKey,
      };
  }
  if (e.newLabeledFailures >= policy.newLabeledFailures)
    return {
      fire: true,
      reason: `${e.newLabeledFailures} labeled failures since the last cycle (limit ${policy.newLabeledFailures})`,
      pattern: null,
    };
  const topText = top ? `; top pattern ${top.patternKey} ${top.cases} of ${e.windowFailures}` : '';
  return {
    fire: false,
    reason: `${e.newLabeledFailures} labeled failures since the last cycle (limit ${policy.newLabeledFailures})${topText}`,
    pattern: null,
  };
}

export type Verdict = 'fixed' | 'regressed' | 'still-open';

/**
 * Did the remedy work on a pattern? Error rates in the pattern's slice (same slice and true label)
 * before (the old champion on the cycle's window) and after (the candidate on the traffic it served):
 * fixed or regressed when a two-proportion z-test says the change is real (p < alpha), otherwise still
 * open — also when fewer than `minRows` labeled requests were served after.
 */
export function traceVerdict(
  before: { rows: number; errors: number },
  after: { rows: number; errors: number },
  opts: { alpha?: number; minRows?: number } = {},
): { verdict: Verdict; pValue: number | null; reason: string } {
  const minRows = opts.minRows ?? 10;
  const rate = (x: { rows: number; errors: number }) => (x.rows === 0 ? NaN : x.errors / x.rows);
  const text = `error rate ${pctOrDash(rate(before))} on ${before.rows} before, ${pctOrDash(rate(after))} on ${after.rows} after`;
  if (before.rows === 0 || after.rows < minRows)
    return { verdict: 'still-open', pValue: null, reason: `${text}: too few labeled requests to judge` };
  const t = twoProportionZTest(after.errors, after.rows, before.errors, before.rows);
  if (t.pValue < (opts.alpha ?? 0.05))
    return {
      verdict: t.diff < 0 ? 'fixed' : 'regressed',
      pValue: t.pValue,
      reason: `${text} (p ${t.pValue.toExponential(2)})`,
    };
  return {
    verdict: 'still-open',
    pValue: t.pValue,
    reason: `${text}: no significant change (p ${t.pValue.toFixed(3)})`,
  };
}

function pctOrDash(x: number): string {
  return Number.isNaN(x) ? '-' : `${(x * 100).toFixed(1)}%`;
}
