import { describe, expect, it } from 'vitest';
import {
  buildReferenceProfile,
  driftReport,
  estimateWindow,
  fitWindowEstimator,
  Reservoir,
  type ScoredRow,
} from '../../core/drift.js';
import { diagnose } from '../../core/policy.js';
import { Policy } from '../../core/schemas.js';
import { seededRandom } from '../../core/seeded-random.js';

/** A small deterministic generator, so every run sees the same data. */
const random = seededRandom;

/**
 * Rows of one feature x and a calibrated classifier: P(yes | x) = sigmoid(2x), and the truth is drawn
 * with that chance. Wide x is easy (confident, mostly right); x near 0 is a coin toss.
 */
function rows(n: number, spread: number, seed: number) {
  const rnd = random(seed);
  return Array.from({ length: n }, () => {
    const x = (rnd() * 2 - 1) * spread;
    const p = 1 / (1 + Math.exp(-2 * x));
    const truth = rnd() < p ? 'yes' : 'no';
    const scored: ScoredRow = { predicted: p >= 0.5 ? 'yes' : 'no', probabilities: { yes: p, no: 1 - p } };
    return { features: { x }, truth, scored };
  });
}

const CLASSES = ['no', 'yes'];
const policy = Policy.parse({}).drift;
const accuracyOf = (rs: ReturnType<typeof rows>) =>
  rs.filter((r) => r.scored.predicted === r.truth).length / rs.length;

describe('performance without labels in the drift check', () => {
  const reference = rows(3000, 4, 1);
  const baseline = accuracyOf(reference);
  const profile = buildReferenceProfile(
    { numeric: ['x'], categorical: [] },
    reference.map((r) => r.features),
    reference.map((r) => r.truth),
    { accuracy: baseline },
  );
  const estimator = fitWindowEstimator(
    CLASSES,
    reference.map((r) => ({ ...r.scored, truth: r.truth })),
    'the reference holdout',
  );
  if ('unavailable' in estimator) throw new Error(estimator.unavailable);

  it('given a window moved to where the champion is unsure, then the estimate falls with the realized accuracy and, its band below the baseline, counts as degraded', () => {
    const window = rows(4000, 0.6, 2);
    const outcome = estimateWindow(
      estimator,
      window.map((r) => r.scored),
      window.length,
    );
    if (!('estimate' in outcome)) throw new Error(outcome.unavailable);
    const { accuracy } = outcome.estimate;
    const realized = accuracyOf(window);
    expect(realized).toBeLessThan(baseline - 0.15);
    expect(accuracy.band[0]).toBeLessThanOrEqual(realized);
    expect(accuracy.band[1]).toBeGreaterThanOrEqual(realized);
    expect(Math.abs(accuracy.estimate - realized)).toBeLessThan(0.03);

    const report = driftReport(
      profile,
      window.map((r) => r.features),
      [],
      policy,
      { estimate: outcome },
    );
    expect(report.performance).toMatchObject({ basis: 'estimated', degraded: true, judged: false });
    const d = diagnose(report, policy);
    expect(d.signals).toContain('performance');
    expect(d.severity).toBe('severe');
    expect(d.reason).toContain(
      `estimated accuracy ${(accuracy.estimate * 100).toFixed(1)}% (CBPE, no labels) vs baseline ${(baseline * 100).toFixed(1)}%, band`,
    );
  });

  it('given a small window, then the band is wide and an estimate below the baseline is not yet a degradation', () => {
    const window = rows(12, 1.5, 3);
    const outcome = estimateWindow(
      estimator,
      window.map((r) => r.scored),
      window.length,
    );
    const report = driftReport(
      profile,
      window.map((r) => r.features),
      [],
      policy,
      { estimate: outcome },
    );
    expect(report.performance.basis).toBe('estimated');
    expect(report.performance.degraded).toBe(false);
    expect(report.performance.estimate!.drop).toBeGreaterThan(policy.performanceTolerance);
    expect(report.performance.estimate!.accuracy.band[1]).toBeGreaterThan(baseline);
  });

  it('given enough labeled rows, then the performance is measured and the estimate is not used', () => {
    const window = rows(200, 0.6, 4);
    const outcomes = window.map((r) => ({ truth: r.truth, predicted: r.scored.predicted }));
    const outcome = estimateWindow(
      estimator,
      window.map((r) => r.scored),
      window.length,
    );
    const report = driftReport(
      profile,
      window.map((r) => r.features),
      outcomes,
      policy,
      { estimate: outcome },
    );
    expect(report.performance.basis).toBe('measured');
    expect(report.performance).not.toHaveProperty('estimate');
    expect(diagnose(report, policy).reason).toContain(
      `measured accuracy ${(accuracyOf(window) * 100).toFixed(1)}% vs baseline`,
    );
  });

  it('given too few labeled reference rows, then there is no estimate and the diagnosis says why', () => {
    const few = fitWindowEstimator(
      CLASSES,
      reference.slice(0, 10).map((r) => ({ ...r.scored, truth: r.truth })),
      'the holdout',
    );
    expect(few).toEqual({
      unavailable:
        'only 10 labeled reference rows the champion was not trained on (the holdout); CBPE needs at least 30',
    });
    const report = driftReport(profile, [{ x: 0.1 }], [], policy, {
      estimate: few as { unavailable: string },
    });
    expect(report.performance.basis).toBe('none');
    expect(diagnose(report, policy).reason).toContain(
      'no feedback in the window and no estimate (only 10 labeled reference rows',
    );
  });

  it('given a stream longer than the reservoir, then it keeps a sample of its size, the same for the same seed', () => {
    const take = (seed: string) => {
      const r = new Reservoir<number>(100, seed);
      for (let i = 0; i < 10_000; i++) r.offer(i);
      return r;
    };
    const a = take('w');
    expect(a.items).toHaveLength(100);
    expect(a.seen).toBe(10_000);
    expect(take('w').items).toEqual(a.items);
    // A uniform sample reaches across the stream, not only its start.
    expect(Math.max(...a.items)).toBeGreaterThan(9_000);
    expect(Math.min(...a.items)).toBeLessThan(1_000);
  });
});
