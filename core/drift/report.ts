/**
 * The drift report: per-feature outcomes (test and data quality), the multiple-testing correction, the
 * dataset-level rule, label shift and the performance path, assembled for one window.
 */
import { isRegressionMetric } from '../performance-metrics.js';
import type { Features, FeatureSpec, Policy } from '../schemas.js';
import { adjustPValues, categoricalPsi, countCategories } from '../stattests.js';
import { columnRows, prepareColumn, type WindowColumn } from './columns.js';
import {
  chooseTest,
  distributionOf,
  P_VALUE_TESTS,
  psiOf,
  regionOf,
  runTest,
  sharesOf,
  unionDistinct,
  type FeatureDrift,
  type TestName,
} from './features.js';
import type { EstimateOutcome } from './estimate.js';
import { performance, type PerformanceCheck, type WindowOutcome } from './performance.js';
import { columnsFromRows, type ReferenceProfile } from './profile.js';
import { numericOutcomes, TARGET, targetReference, type TargetDrift } from './regression.js';
import { qualityIssues, type DataQuality, type QualityIssue } from './quality.js';

export type DriftPolicy = Policy['drift'];

/** Which of the window's records a report tested: every one, or a uniform sample of them. */
export interface WindowSelection {
  /** Records the window held. */
  held: number;
  /** Records the feature tests used. */
  tested: number;
  selection: 'all' | 'uniform-sample';
  /** What the sample was drawn with: the same seed draws the same records. */
  seed?: string;
}

export interface DriftReport {
  windowRows: number;
  /** How the tested records were chosen (absent from reports stored before it was recorded). */
  window?: WindowSelection;
  referenceRows: number;
  features: FeatureDrift[];
  /** Features the engine could not test (no values on one side), with the reason. */
  skipped: { feature: string; reason: string }[];
  driftedShare: number;
  datasetDrifted: boolean;
  correction: DriftPolicy['correction'];
  thresholds: DriftPolicy['thresholds'];
  dataQuality: DataQuality;
  labelShiftPsi: number | null;
  performance: PerformanceCheck;
  /** A regression model's target: its drift against the reference target and its data quality. */
  target?: TargetDrift;
}

export interface ReportOptions {
  /** Use this test for every feature it applies to (the CLI's --test). */
  forceTest?: TestName;
  /** Rows per feature whose value was missing or of the wrong type (from row conversion). */
  schemaViolations?: Record<string, number>;
  /** The window's label-free estimate (the performance path uses it while labels are too few). */
  estimate?: EstimateOutcome;
}

export interface FeatureOutcome {
  feature: string;
  drift: FeatureDrift | null;
  skipped: string | null;
  quality: QualityIssue[];
}

/**
 * Tests one feature of the window against its reference. Features are independent until the report is
 * assembled (corrections, the dataset rule), so callers may run them in parallel.
 */
export function analyzeFeature(
  profile: ReferenceProfile,
  name: string,
  column: WindowColumn,
  policy: DriftPolicy,
  opts: { forceTest?: TestName; schemaViolations?: number } = {},
): FeatureOutcome {
  const ref = profile.features[name];
  if (!ref) throw new Error(`the reference has no feature "${name}"`);
  const cur = prepareColumn(column);
  const rows = columnRows(column);
  const quality = qualityIssues(name, ref, cur, opts.schemaViolations ?? 0, rows, policy.dataQuality);
  const curCount = cur.type === 'numeric' ? cur.sorted.length : cur.count;
  if (ref.count === 0 || curCount === 0) {
    const skipped = ref.count === 0 ? 'no values in the reference' : 'no values in the window';
    return { feature: name, drift: null, skipped, quality };
  }
  const distinct = unionDistinct(ref, cur);
  let choice = chooseTest(profile, name, distinct, policy, opts.forceTest);
  let result = runTest(choice.test, ref, cur);
  if ('error' in result && opts.forceTest) {
    // A forced test applies to the features it can test; the others keep their own test.
    choice = chooseTest(profile, name, distinct, policy);
    result = runTest(choice.test, ref, cur);
  }
  if ('error' in result)
    throw new Error(`feature "${name}": ${result.error}; change its test in the policy (drift.features)`);
  const isP = P_VALUE_TESTS.has(choice.test) && choice.source !== 'learned';
  const shares = sharesOf(ref, cur);
  const statistic =
    choice.source === 'learned' && choice.test === 'ztest' ? Math.abs(result.statistic) : result.statistic;
  return {
    feature: name,
    skipped: null,
    quality,
    drift: {
      feature: name,
      type: ref.type,
      test: choice.test,
      statistic,
      pValue: isP ? result.pValue : null,
      adjustedPValue: isP ? result.pValue : null,
      threshold: choice.threshold,
      thresholdSource: choice.source,
      drifted: false,
      psi: psiOf(ref, cur),
      score: 0,
      // kept only if the feature drifts once the report is assembled
      region: regionOf(shares),
      distribution: distributionOf(shares),
      ksStatistic: choice.test === 'ks' ? result.statistic : null,
      ksPValue: choice.test === 'ks' ? result.pValue : null,
    },
  };
}

/** Sets a tested feature's drift flag and score from its (adjusted) p-value or distance; the region only if it drifted. */
function judgeDrift(f: FeatureDrift): void {
  if (f.adjustedPValue !== null) {
    // KS drifts at p <= alpha and the other p-value tests at p < alpha, as Evidently decides.
    f.drifted = f.test === 'ks' ? f.adjustedPValue <= f.threshold : f.adjustedPValue < f.threshold;
    f.score = -Math.log10(Math.max(f.adjustedPValue, 1e-300)) / -Math.log10(f.threshold);
  } else {
    f.drifted =
      f.statistic >= f.threshold && !(f.thresholdSource === 'learned' && f.statistic === f.threshold);
    f.score = f.threshold > 0 ? f.statistic / f.threshold : f.statistic > 0 ? Infinity : 0;
  }
  if (!f.drifted) f.region = [];
}

/**
 * A regression window's target: the numeric feedback against the reference target with the test a
 * numeric feature of the reference's size gets (no multiple-testing correction: it is one test apart
 * from the features'), once there are `minLabeledRows` numbers; and its data-quality checks (feedback
 * that is not a number as schema violations, values out of the reference target's range) whenever
 * there is feedback. Not measured for a reference stored without the target's profile.
 */
export function targetDrift(
  profile: ReferenceProfile,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
): TargetDrift {
  const { truth, notNumeric, examples } = numericOutcomes(outcomes);
  const base = { labeledRows: outcomes.length, notNumeric, examples };
  const ref = targetReference(profile);
  if (!ref)
    return {
      ...base,
      drift: null,
      notMeasured:
        "the champion's reference profile has no target profile: it was stored before the target's drift was measured",
      quality: [],
    };
  if (outcomes.length === 0)
    return { ...base, drift: null, notMeasured: 'no feedback in the window', quality: [] };
  const values = [...truth, ...Array.from({ length: notNumeric }, () => NaN)];
  // The policy's per-feature tests and learned thresholds are the features'; the target takes the defaults.
  const outcome = analyzeFeature(
    ref.reference,
    TARGET,
    { type: 'numeric', values },
    { ...policy, features: {}, thresholds: 'fixed' },
    { schemaViolations: notNumeric },
  );
  const quality = outcome.quality.map((q) =>
    q.kind === 'schema'
      ? {
          ...q,
          detail: `${notNumeric} of ${outcomes.length} feedbacks are not a number (${examples.map((e) => JSON.stringify(e)).join(', ')}${notNumeric > examples.length ? ', …' : ''})`,
        }
      : q,
  );
  if (truth.length < policy.minLabeledRows)
    return {
      ...base,
      drift: null,
      notMeasured: `${truth.length} numeric labels, fewer than the ${policy.minLabeledRows} needed (drift.minLabeledRows)`,
      quality,
    };
  const drift = outcome.drift ? { ...outcome.drift } : null;
  if (drift) judgeDrift(drift);
  return { ...base, drift, ...(outcome.skipped ? { notMeasured: outcome.skipped } : {}), quality };
}

/** The report from per-feature outcomes: multiple-testing correction, drift flags, ranking, dataset rule. */
export function assembleReport(
  profile: ReferenceProfile,
  perFeature: readonly FeatureOutcome[],
  rows: number,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
  estimate?: EstimateOutcome,
): DriftReport {
  const features = perFeature.flatMap((o) => (o.drift ? [{ ...o.drift }] : []));
  const skipped = perFeature.flatMap((o) => (o.skipped ? [{ feature: o.feature, reason: o.skipped }] : []));
  const issues = perFeature.flatMap((o) => o.quality);

  // Multiple testing: adjust the p-values of the features tested by p-value, together.
  const pIdx = features.map((f, i) => (f.pValue !== null ? i : -1)).filter((i) => i >= 0);
  const adjusted = adjustPValues(
    pIdx.map((i) => features[i]!.pValue!),
    policy.correction,
  );
  pIdx.forEach((i, k) => (features[i]!.adjustedPValue = adjusted[k]!));

  for (const f of features) judgeDrift(f);
  features.sort((a, b) => b.score - a.score || a.feature.localeCompare(b.feature));
  const driftedShare = features.length === 0 ? 0 : features.filter((f) => f.drifted).length / features.length;

  // A regression model's target is checked like a feature, apart from them (core/drift/regression.ts);
  // its numbers are not classes, so it has no label PSI even where its profile counted labels.
  const regression = profile.target !== undefined || isRegressionMetric(policy.performanceMetric);
  const labelShiftPsi =
    !regression && outcomes.length > 0 && Object.keys(profile.labels).length > 0
      ? categoricalPsi(profile.labels, countCategories(outcomes.map((o) => o.truth))).statistic
      : null;
  const target = regression ? targetDrift(profile, outcomes, policy) : undefined;
  if (target) issues.push(...target.quality);
  return {
    windowRows: rows,
    window: { held: rows, tested: rows, selection: 'all' },
    referenceRows: profile.rows,
    features,
    skipped,
    driftedShare,
    datasetDrifted: features.length > 0 && driftedShare >= policy.driftedShare,
    correction: policy.correction,
    thresholds: policy.thresholds,
    dataQuality: { incident: issues.length > 0, issues },
    labelShiftPsi,
    performance: performance(profile, outcomes, policy, estimate),
    ...(target ? { target } : {}),
  };
}

export function driftReportColumns(
  profile: ReferenceProfile,
  window: Record<string, WindowColumn>,
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
  opts: ReportOptions = {},
): DriftReport {
  const names = Object.keys(profile.features);
  const col0 = names.length === 0 ? undefined : window[names[0]!];
  const rows = col0 === undefined ? 0 : columnRows(col0);
  if (rows === 0) throw new Error('the window holds no rows: pick a window with production traffic');
  const perFeature = names.map((name) => {
    const col = window[name];
    if (!col) throw new Error(`the window has no column "${name}", which the reference has`);
    return analyzeFeature(profile, name, col, policy, {
      ...(opts.forceTest ? { forceTest: opts.forceTest } : {}),
      schemaViolations: opts.schemaViolations?.[name] ?? 0,
    });
  });
  return assembleReport(profile, perFeature, rows, outcomes, policy, opts.estimate);
}

/** Rows to columns, counting values of the wrong type as schema violations, then the report. */
export function driftReport(
  profile: ReferenceProfile,
  window: readonly Features[],
  outcomes: readonly WindowOutcome[],
  policy: DriftPolicy,
  opts: ReportOptions = {},
): DriftReport {
  if (window.length === 0) throw new Error('the window holds no rows: pick a window with production traffic');
  const spec: FeatureSpec = { numeric: [], categorical: [] };
  const violations: Record<string, number> = {};
  for (const [name, ref] of Object.entries(profile.features)) {
    (ref.type === 'numeric' ? spec.numeric : spec.categorical).push(name);
    let bad = 0;
    for (const row of window) {
      const v = row[name];
      if (v === null || v === undefined) continue; // null or an absent key is a missing value
      if (ref.type === 'numeric' ? typeof v !== 'number' || Number.isNaN(v) : typeof v !== 'string') bad++;
    }
    if (bad > 0) violations[name] = bad;
  }
  return driftReportColumns(profile, columnsFromRows(spec, window), outcomes, policy, {
    ...opts,
    schemaViolations: { ...violations, ...opts.schemaViolations },
  });
}
