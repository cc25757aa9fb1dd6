import { describe, expect, it } from 'vitest';
import { buildReferenceProfile, driftReport } from '../../core/drift.js';
import { Policy } from '../../core/schemas.js';

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
