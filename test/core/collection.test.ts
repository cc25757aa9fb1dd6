import { describe, expect, it } from 'vitest';
import { createPseudonymiser, parsePiiKeys } from '../../activities/pseudonym.js';
import { planCollection, type Candidate } from '../../core/collection.js';
import type { DriftReport } from '../../core/drift.js';
import { ModelDefinition, Policy } from '../../core/schemas.js';

const spec = { numeric: ['t'], categorical: ['city'] };
const base = Policy.parse({}).collection;
const rows = (n: number, f: (i: number) => Partial<Candidate['features']> = () => ({})): Candidate[] =>
  Array.from({ length: n }, (_, i) => ({
    recordKey: `r${i}`,
    ts: `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0')}Z`,
    features: { t: i % 50, city: i % 2 ? 'a' : 'b', ...f(i) },
    feedback: null,
  }));
// t drifted: the window gained share in [40, ∞)
const report = {
  features: [
    {
      feature: 't',
      drifted: true,
      region: [{ kind: 'range', from: 40, to: null, referenceShare: 0.05, currentShare: 0.2 }],
    },
  ],
} as unknown as Pick<DriftReport, 'features'>;

describe('collection plan', () => {
  it('given more records than maxRows, then it keeps the drifted region and a control share of the rest, the same every time', () => {
    const policy = { ...base, maxRows: 100, controlShare: 0.2 };
    const plan = planCollection(rows(1000), spec, report, policy, 'salt');
    expect(plan.passed).toBe(true);
    expect(plan.rows).toHaveLength(100);
    expect(plan.plan).toMatchObject({ drifted: 80, control: 20, candidates: 1000 });
    expect(
      plan.rows.filter((r) => r.stratum === 'drifted').every((r) => (r.features.t as number) >= 40),
    ).toBe(true);
    expect(planCollection(rows(1000), spec, report, policy, 'salt').rows).toEqual(plan.rows);
  });

  it('given no drifted region (a performance drop), then every record is relevant and sampled evenly', () => {
    const plan = planCollection(rows(300), spec, { features: [] }, { ...base, maxRows: 100 }, 'salt');
    expect(plan.passed).toBe(true);
    expect(plan.rows).toHaveLength(100);
    expect(plan.gates.find((g) => g.gate === 'relevance')!.detail).toMatch(/no drifted region/);
  });

  it('given too many broken records, then the schema gate fails and says how many', () => {
    const plan = planCollection(
      rows(100, (i) => (i < 10 ? { t: Number.NaN } : {})),
      spec,
      report,
      base,
      'salt',
    );
    expect(plan.passed).toBe(false);
    expect(plan.reason).toBe(
      'quality gate "schema" failed: 10 of 100 records lack a feature or have one of the wrong type',
    );
  });

  it('given duplicates, then they are dropped, and too many fail the gate', () => {
    const dup = (n: number) =>
      rows(100).map((r, i) => (i < n ? { ...rows(100)[0]!, recordKey: `d${i}` } : r));
    const some = planCollection(dup(5), spec, report, base, 'salt');
    expect(some.passed).toBe(true);
    expect(some.plan.droppedDuplicates).toBe(4);
    expect(planCollection(dup(40), spec, report, base, 'salt').reason).toMatch(
      /quality gate "duplicates" failed: 39 exact duplicates/,
    );
  });

  it('given collected rows that miss the drifted region, then the relevance gate fails', () => {
    const policy = { ...base, minDriftedShare: 0.5 };
    const plan = planCollection(
      rows(100, () => ({ t: 3 })),
      spec,
      report,
      policy,
      'salt',
    );
    expect(plan.reason).toBe(
      'quality gate "relevance" failed: 0 of 100 collected records lie in the drifted region',
    );
  });

  it('given too few complete records, then the completeness gate fails', () => {
    expect(planCollection(rows(5), spec, report, base, 'salt').reason).toMatch(
      /quality gate "completeness" failed: 5 complete records/,
    );
  });

  it('given personal data in the log, then dropped columns are gone and masked ones are keyed tokens', () => {
    const policy = { ...base, pii: { drop: ['email'], mask: ['user'] } };
    const pseudonymise = createPseudonymiser(parsePiiKeys(`p1:${Buffer.alloc(32, 7).toString('base64')}`));
    const plan = planCollection(
      rows(30, (i) => ({ email: `u${i}@x.org`, user: `user-${i % 3}` })),
      spec,
      report,
      policy,
      'salt',
      pseudonymise,
    );
    expect(plan.rows.every((r) => !('email' in r.features))).toBe(true);
    const users = plan.rows.map((r) => r.features.user as string);
    expect(users.every((u) => /^pii:p1:[A-Za-z0-9_-]{22}$/.test(u))).toBe(true);
    expect(new Set(users).size).toBe(3);
    expect(users).toContain(pseudonymise('user-1'));
  });

  it('given a PII mask and no pseudonymiser, then planning refuses rather than keep the values', () => {
    const policy = { ...base, pii: { drop: [], mask: ['user'] } };
    expect(() =>
      planCollection(
        rows(30, () => ({ user: 'alice' })),
        spec,
        report,
        policy,
        'salt',
      ),
    ).toThrow(/REMEDY_PII_KEYS/);
  });

  it('given a PII rule naming a feature, then the model definition is refused', () => {
    const r = ModelDefinition.safeParse({
      modelId: 'm',
      labelSet: ['a', 'b'],
      features: spec,
      policy: { collection: { pii: { drop: ['city'] } } },
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(
      /"city" is a feature of the model: it cannot be dropped as personal data/,
    );
  });
});
