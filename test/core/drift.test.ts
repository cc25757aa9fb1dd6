import { describe, expect, it } from 'vitest';
import { buildReferenceProfile, driftReport, upgradeProfile } from '../../core/drift.js';
import { diagnose } from '../../core/policy.js';
import { describeZodError, Policy } from '../../core/schemas.js';

const drift = Policy.parse({}).drift;
const spec = { numeric: ['t'], categorical: ['city'] };
const reference = Array.from({ length: 400 }, (_, i) => ({ t: Math.sin(i) * 10, city: i % 2 ? 'a' : 'b' }));
const profile = buildReferenceProfile(
  spec,
  reference,
  reference.map((_, i) => (i % 4 === 0 ? 'rain' : 'sun')),
  0.8,
);

describe('drift report', () => {
  it('given a window drawn like the reference, then nothing drifts', () => {
    const r = driftReport(profile, reference.slice(0, 200), [], drift);
    expect(r.datasetDrifted).toBe(false);
    expect(r.features.every((f) => !f.drifted)).toBe(true);
    expect(r.performance.judged).toBe(false);
  });

  it('given a shifted numeric feature and a new category, then both drift and are ranked by PSI', () => {
    const window = reference.slice(0, 200).map((r) => ({ t: r.t + 8, city: 'c' }));
    const r = driftReport(profile, window, [], drift);
    expect(r.features.map((f) => f.feature).sort()).toEqual(['city', 't']);
    expect(r.features.every((f) => f.drifted)).toBe(true);
    expect(r.features[0]!.psi).toBeGreaterThanOrEqual(r.features[1]!.psi);
    expect(r.features.find((f) => f.feature === 't')!.ksPValue).toBeLessThan(1e-6);
    expect(r.driftedShare).toBe(1);
    expect(r.datasetDrifted).toBe(true);
  });

  it('given enough labeled outcomes with lower accuracy, then the performance path fires', () => {
    const outcomes = Array.from({ length: 50 }, (_, i) => ({
      truth: 'fog',
      predicted: i < 20 ? 'fog' : 'rain',
    }));
    const r = driftReport(profile, reference.slice(0, 50), outcomes, drift);
    expect(r.performance).toMatchObject({
      labeledRows: 50,
      currentAccuracy: 0.4,
      judged: true,
      degraded: true,
    });
    expect(r.performance.drop).toBeCloseTo(0.4, 12);
    expect(r.labelShiftPsi).toBeGreaterThan(1);
  });

  it('given fewer labeled rows than the minimum, then performance is not judged', () => {
    const outcomes = [{ truth: 'fog', predicted: 'rain' }];
    expect(driftReport(profile, reference.slice(0, 50), outcomes, drift).performance).toMatchObject({
      judged: false,
      degraded: false,
    });
  });

  it('given an empty window, then the error says to pick a window with traffic', () => {
    expect(() => driftReport(profile, [], [], drift)).toThrow(/no rows/);
  });
});

describe('data quality comes first', () => {
  const policy = Policy.parse({}).drift;
  const ref = Array.from({ length: 400 }, (_, i) => ({ t: (i % 40) - 20, city: i % 2 ? 'a' : 'b' }));
  const prof = buildReferenceProfile(
    spec,
    ref,
    ref.map(() => 'sun'),
    0.8,
  );

  it('given a unit change (values far beyond the reference range), then an out-of-range incident is reported', () => {
    const window = ref.slice(0, 100).map((r) => ({ ...r, t: r.t * 10 }));
    const r = driftReport(prof, window, [], policy);
    expect(r.dataQuality.incident).toBe(true);
    expect(r.dataQuality.issues[0]).toMatchObject({ feature: 't', kind: 'out-of-range' });
    expect(r.dataQuality.issues[0]!.detail).toMatch(
      /values outside \[-39\.5, 38\.5\] \(reference range -20\.\.19 plus 50%\)/,
    );
    expect(diagnose(r, policy)).toMatchObject({ route: 'data-quality' });
    expect(diagnose(r, policy).signals).toContain('data-quality');
  });

  it('given strings in a numeric feature, then a schema incident names the count, and the rest is still tested', () => {
    const window = ref.slice(0, 100).map((r, i) => ({ ...r, t: i < 10 ? 'n/a' : r.t }));
    const r = driftReport(prof, window, [], policy);
    expect(r.dataQuality.issues).toContainEqual(
      expect.objectContaining({
        feature: 't',
        kind: 'schema',
        share: 0.1,
        detail: '10 of 100 rows have a value of the wrong type for "t" (expected a finite number)',
      }),
    );
    expect(r.features.find((f) => f.feature === 't')).toBeDefined();
  });

  it('given a spike of missing values, then a missing-value incident compares with the reference share', () => {
    // an absent key is a missing value, as null would be
    const window = ref.slice(0, 100).map((r, i) => (i < 30 ? { city: r.city } : r));
    const r = driftReport(prof, window, [], policy);
    expect(r.dataQuality.issues).toContainEqual(
      expect.objectContaining({ kind: 'missing', feature: 't', share: 0.3 }),
    );
    expect(r.dataQuality.issues.find((i) => i.kind === 'schema')).toBeUndefined();
  });

  it('given new categories in more than 1% of rows, then a new-category incident lists them', () => {
    const window = ref.slice(0, 100).map((r, i) => ({ ...r, city: i < 5 ? 'zurich' : r.city }));
    const r = driftReport(prof, window, [], policy);
    expect(r.dataQuality.issues).toContainEqual(
      expect.objectContaining({
        kind: 'new-category',
        feature: 'city',
        detail: '5 rows with categories never seen in the reference: "zurich"',
      }),
    );
  });

  it('given a clean window, then there is no incident', () => {
    expect(driftReport(prof, ref.slice(0, 100), [], policy).dataQuality).toEqual({
      incident: false,
      issues: [],
    });
  });
});

describe('per-feature tests, corrections and learned thresholds', () => {
  const base = Policy.parse({}).drift;
  const ref = Array.from({ length: 600 }, (_, i) => ({
    t: Math.sin(i) * 10,
    u: Math.cos(i * 1.3) * 5,
    city: i % 2 ? 'a' : 'b',
  }));
  const spec2 = { numeric: ['t', 'u'], categorical: ['city'] };
  const prof = buildReferenceProfile(
    spec2,
    ref,
    ref.map(() => 'sun'),
    0.8,
  );
  const shifted = ref.slice(0, 300).map((r) => ({ ...r, t: r.t + 1.2 }));

  it('given a policy override for one feature, then that test and threshold are used and marked as policy', () => {
    const policy = Policy.parse({ drift: { features: { t: { test: 'psi', threshold: 0.05 } } } }).drift;
    const f = driftReport(prof, shifted, [], policy).features.find((x) => x.feature === 't')!;
    expect(f).toMatchObject({
      test: 'psi',
      threshold: 0.05,
      thresholdSource: 'policy',
      pValue: null,
      drifted: true,
    });
  });

  it('given an unknown test in the policy, then the policy is refused naming the field', () => {
    const r = Policy.safeParse({ drift: { features: { t: { test: 'ttest' } } } });
    expect(r.success).toBe(false);
    expect(describeZodError(r.error!)).toMatch(/drift\.features\.t\.test/);
  });

  it('given Bonferroni, then p-values are adjusted over the p-value tests and fewer features drift', () => {
    const mild = ref.slice(0, 300).map((r) => ({ ...r, t: r.t + 0.9, u: r.u + 0.45 }));
    const none = driftReport(prof, mild, [], base);
    const bonf = driftReport(prof, mild, [], { ...base, correction: 'bonferroni' });
    for (const f of bonf.features) {
      const raw = none.features.find((x) => x.feature === f.feature)!;
      expect(f.adjustedPValue).toBeCloseTo(Math.min(1, raw.pValue! * 3), 12);
    }
    expect(bonf.features.filter((f) => f.drifted).length).toBeLessThanOrEqual(
      none.features.filter((f) => f.drifted).length,
    );
  });

  it('given learned thresholds, then a window like the reference does not drift and a shifted one does', () => {
    const policy = { ...base, thresholds: 'learned' as const };
    expect(Object.keys(prof.learned).sort()).toEqual(['city', 't', 'u']);
    const same = driftReport(prof, ref.slice(300, 360), [], policy);
    expect(same.features.every((f) => f.thresholdSource === 'learned' && !f.drifted)).toBe(true);
    const moved = driftReport(
      prof,
      ref.slice(300, 360).map((r) => ({ ...r, t: r.t + 5 })),
      [],
      policy,
    );
    const t = moved.features.find((f) => f.feature === 't')!;
    expect(t.drifted).toBe(true);
    expect(t.threshold).toBeCloseTo(prof.learned.t!.mean + 3 * prof.learned.t!.std, 12);
  });

  it('given a drifted numeric feature, then the region names the reference bins that gained share', () => {
    const f = driftReport(prof, shifted, [], base).features.find((x) => x.feature === 't')!;
    expect(f.region.length).toBeGreaterThan(0);
    const top = f.region[0]!;
    expect(top.kind).toBe('range');
    expect(top.currentShare).toBeGreaterThan(top.referenceShare);
  });
});

describe('routing', () => {
  const policy = Policy.parse({}).drift;
  const window = reference.slice(0, 200).map((r) => ({ t: r.t + 8, city: r.city }));
  const good = Array.from({ length: 50 }, () => ({ truth: 'sun', predicted: 'sun' }));
  const bad = Array.from({ length: 50 }, (_, i) => ({ truth: 'sun', predicted: i < 20 ? 'sun' : 'rain' }));

  it('given feature drift while measured performance holds, then it is observed, not acted on', () => {
    const d = diagnose(driftReport(profile, window, good, policy), policy);
    expect(d).toMatchObject({ route: 'none' });
    expect(d.reason).toMatch(/performance holds, so feature drift is observed, not acted on/);
    const act = diagnose(driftReport(profile, window, good, { ...policy, featureDriftAlone: 'act' }), {
      ...policy,
      featureDriftAlone: 'act',
    });
    expect(act.route).not.toBe('none');
  });

  it('given a large measured drop, then a full cycle; given no labels and strong drift, then a full cycle too', () => {
    expect(diagnose(driftReport(profile, window, bad, policy), policy)).toMatchObject({
      severity: 'severe',
      route: 'full-cycle',
    });
    expect(diagnose(driftReport(profile, window, [], policy), policy).route).toBe('full-cycle');
  });

  it('given a small drop within tolerance plus a mild one beyond it, then fine-tune', () => {
    const mild = Array.from({ length: 50 }, (_, i) => ({ truth: 'sun', predicted: i < 36 ? 'sun' : 'rain' }));
    const p = { ...policy, performanceTolerance: 0.05 };
    // baseline 0.8, accuracy 0.72: drop 0.08 > 0.05 but < severeDrop 0.15, features untouched
    expect(diagnose(driftReport(profile, reference.slice(0, 200), mild, p), p)).toMatchObject({
      severity: 'mild',
      route: 'fine-tune',
    });
  });

  it('given log-loss as the metric, then the drop is the increase in log-loss', () => {
    const p = { ...policy, performanceMetric: 'logLoss' as const };
    const prof = buildReferenceProfile(
      spec,
      reference,
      reference.map(() => 'sun'),
      { accuracy: 0.8, logLoss: 0.3 },
    );
    const outcomes = Array.from({ length: 40 }, () => ({
      truth: 'sun',
      predicted: 'sun',
      probabilities: { sun: 0.5, rain: 0.5 },
    }));
    const perf = driftReport(prof, reference.slice(0, 50), outcomes, p).performance;
    expect(perf.current).toBeCloseTo(Math.log(2), 12);
    expect(perf.drop).toBeCloseTo(Math.log(2) - 0.3, 12);
    expect(perf.degraded).toBe(true);
    expect(perf.metrics.auc).toBeNull(); // one class only: AUC undefined
  });
});

describe('stored profiles of the first format', () => {
  it('given a profile stored before per-feature tests, then it is upgraded and still drives a report', () => {
    const old = {
      rows: 3,
      labels: { sun: 3 },
      baselineAccuracy: 0.7,
      features: {
        t: {
          type: 'numeric',
          sample: [1, 2, 3],
          edges: [2],
          shares: [1 / 3, 2 / 3],
          mean: 2,
          std: 0.8165,
          count: 3,
        },
        city: { type: 'categorical', counts: { a: 2, b: 1 }, count: 3 },
      },
    };
    const p = upgradeProfile(old);
    expect(p).toMatchObject({ format: 2, baseline: { accuracy: 0.7 }, learned: {} });
    expect(p.features.t).toMatchObject({
      type: 'numeric',
      min: 1,
      max: 3,
      distinct: 3,
      exact: true,
      sorted: [1, 2, 3],
    });
    const r = driftReport(p, [{ t: 2, city: 'a' }], [], Policy.parse({}).drift);
    // three values of t: tested like categories (chi-square); two cities: the z-test
    expect(r.features.map((f) => f.test).sort()).toEqual(['chisquare', 'ztest']);
    expect(upgradeProfile(p)).toBe(p);
  });
});
