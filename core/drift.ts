/**
 * Reference profiles and drift reports. A profile is computed once per model version from its training
 * data; a check then scans only the current window and compares it with the stored profile.
 */
import type { FeatureSpec, Features, Policy } from './schemas.js';
import {
  binShares,
  categoricalPsi,
  countCategories,
  ksTwoSample,
  psiFromEdges,
  quantileEdges,
} from './stats.js';

/** Numeric references keep at most this many sorted values: enough for KS at the sizes we check. */
const MAX_REFERENCE_SAMPLE = 5000;
const PSI_BINS = 10;

export interface NumericProfile {
  type: 'numeric';
  sample: number[];
  edges: number[];
  shares: number[];
  mean: number;
  std: number;
  count: number;
}
export interface CategoricalProfile {
  type: 'categorical';
  counts: Record<string, number>;
  count: number;
}
export interface ReferenceProfile {
  rows: number;
  features: Record<string, NumericProfile | CategoricalProfile>;
  /** Class shares of the training labels, for label-shift checks once feedback arrives. */
  labels: Record<string, number>;
  /** The champion's accuracy on its own holdout: the baseline for the performance path. */
  baselineAccuracy: number;
}

export function buildReferenceProfile(
  spec: FeatureSpec,
  rows: readonly Features[],
  labels: readonly string[],
  baselineAccuracy: number,
): ReferenceProfile {
  if (rows.length === 0) throw new Error('a reference profile needs at least one row');
  const features: ReferenceProfile['features'] = {};
  for (const name of spec.numeric) {
    const sorted = rows.map((r) => Number(r[name])).sort((a, b) => a - b);
    const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    const std = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / sorted.length);
    const edges = quantileEdges(sorted, PSI_BINS);
    features[name] = {
      type: 'numeric',
      sample: thin(sorted, MAX_REFERENCE_SAMPLE),
      edges,
      shares: binShares(edges, sorted),
      mean,
      std,
      count: sorted.length,
    };
  }
  for (const name of spec.categorical) {
    features[name] = {
      type: 'categorical',
      counts: countCategories(rows.map((r) => String(r[name]))),
      count: rows.length,
    };
  }
  return { rows: rows.length, features, labels: countCategories([...labels]), baselineAccuracy };
}

export interface FeatureDrift {
  feature: string;
  type: 'numeric' | 'categorical';
  psi: number;
  ksStatistic: number | null;
  ksPValue: number | null;
  drifted: boolean;
}

export interface PerformanceCheck {
  labeledRows: number;
  baselineAccuracy: number;
  currentAccuracy: number | null;
  drop: number | null;
  /** False when fewer labeled rows than the policy's minimum: too few to judge. */
  judged: boolean;
  degraded: boolean;
}

export interface DriftReport {
  windowRows: number;
  features: FeatureDrift[];
  driftedShare: number;
  datasetDrifted: boolean;
  labelShiftPsi: number | null;
  performance: PerformanceCheck;
}

export interface WindowOutcome {
  /** Ground truth, where feedback has arrived. */
  truth: string;
  /** What the champion predicted for the same request. */
  predicted: string;
}

export function driftReport(
  profile: ReferenceProfile,
  window: readonly Features[],
  outcomes: readonly WindowOutcome[],
  policy: Policy['drift'],
): DriftReport {
  if (window.length === 0) throw new Error('the window holds no rows: pick a window with production traffic');
  const features: FeatureDrift[] = Object.entries(profile.features).map(([feature, ref]) => {
    if (ref.type === 'numeric') {
      const current = window.map((r) => Number(r[feature]));
      const psi = psiFromEdges(ref.edges, ref.shares, current).statistic;
      const ks = ksTwoSample(ref.sample, current);
      return {
        feature,
        type: 'numeric',
        psi,
        ksStatistic: ks.statistic,
        ksPValue: ks.pValue,
        drifted: psi >= policy.psiThreshold,
      };
    }
    const psi = categoricalPsi(ref.counts, countCategories(window.map((r) => String(r[feature])))).statistic;
    return {
      feature,
      type: 'categorical',
      psi,
      ksStatistic: null,
      ksPValue: null,
      drifted: psi >= policy.psiThreshold,
    };
  });
  features.sort((a, b) => b.psi - a.psi);
  const driftedShare = features.length === 0 ? 0 : features.filter((f) => f.drifted).length / features.length;

  const labeledRows = outcomes.length;
  const judged = labeledRows >= policy.minLabeledRows;
  const currentAccuracy =
    labeledRows > 0 ? outcomes.filter((o) => o.truth === o.predicted).length / labeledRows : null;
  const drop = currentAccuracy === null ? null : profile.baselineAccuracy - currentAccuracy;
  const labelShiftPsi =
    labeledRows > 0 && Object.keys(profile.labels).length > 0
      ? categoricalPsi(profile.labels, countCategories(outcomes.map((o) => o.truth))).statistic
      : null;
  return {
    windowRows: window.length,
    features,
    driftedShare,
    datasetDrifted: driftedShare >= policy.driftedShare,
    labelShiftPsi,
    performance: {
      labeledRows,
      baselineAccuracy: profile.baselineAccuracy,
      currentAccuracy,
      drop,
      judged,
      degraded: judged && drop !== null && drop > policy.performanceTolerance,
    },
  };
}

/** Keeps `max` evenly spaced values of a sorted array (always the first and the last). */
function thin(sorted: readonly number[], max: number): number[] {
  if (sorted.length <= max) return [...sorted];
  return Array.from({ length: max }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (max - 1))]!);
}
