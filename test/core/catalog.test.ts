import { describe, expect, it } from 'vitest';
import {
  chiSquareQuantile,
  flagContext,
  flagOutcome,
  flagServed,
  traceVerdict,
  volumeDecision,
} from '../../core/catalog.js';
import { buildReferenceProfile } from '../../core/drift.js';
import { Policy } from '../../core/schemas.js';

const spec = { numeric: ['t', 'w'], categorical: ['city'] };
const rows = Array.from({ length: 1000 }, (_, i) => ({
  t: (i % 100) / 10,
  w: Math.sin(i) * 3,
  city: i % 2 ? 'a' : 'b',
}));
const profile = buildReferenceProfile(
  spec,
  rows,
  rows.map(() => 'sun'),
  0.8,
);
const policy = Policy.parse({}).failures;
const ctx = flagContext(spec, profile, policy);
const served = { predicted: 'sun', confidence: 0.9, latencyMs: 1, version: 3 };

describe('flagging served requests', () => {
  it('given the chi-square quantile, then it matches scipy.stats.chi2.ppf', () => {
    expect(chiSquareQuantile(0.999, 6)).toBeCloseTo(22.457744484825323, 8);
    expect(chiSquareQuantile(0.95, 10)).toBeCloseTo(18.307038053275146, 8);
  });

  it('given a typical request, then nothing is flagged', () => {
    expect(flagServed(ctx, { ...served, features: { t: 5, w: 0, city: 'a' } })).toEqual([]);
  });

  it('given an unsure prediction, then a low-confidence case in the slice of the prediction', () => {
    const [c] = flagServed(ctx, { ...served, confidence: 0.3, features: { t: 5, w: 0, city: 'a' } });
    expect(c).toMatchObject({
      kind: 'low-confidence',
      taxonomy: 'model-error',
      severity: 'low',
      patternKey: 'model-error/city=a/low-confidence/predicted=sun',
    });
  });

  it('given a value beyond the reference quantiles, then an out-of-distribution case names the feature and side', () => {
    const [c] = flagServed(ctx, { ...served, features: { t: 25, w: 0, city: 'a' } });
    expect(c).toMatchObject({
      kind: 'out-of-distribution',
      taxonomy: 'distribution-drift',
      patternKey: 'distribution-drift/t/above',
    });
    // 25 is far out: the multivariate score fires too, so the case is medium
    expect(c!.severity).toBe('medium');
    expect((c!.detail.reasons as string[]).some((r) => r.startsWith('multivariate score'))).toBe(true);
  });

  it('given a category never seen in the reference, then a data-quality case', () => {
    const [c] = flagServed(ctx, { ...served, features: { t: 5, w: 0, city: 'zurich' } });
    expect(c).toMatchObject({
      kind: 'out-of-distribution',
      taxonomy: 'data-quality',
      patternKey: 'data-quality/city/unseen',
    });
  });

  it('given a slow answer, then a deployment case for that version', () => {
    const flagged = flagServed(ctx, { ...served, latencyMs: 900, features: { t: 5, w: 0, city: 'a' } });
    expect(flagged).toEqual([
      expect.objectContaining({
        kind: 'slow-response',
        taxonomy: 'deployment',
        patternKey: 'deployment/slow/v3',
      }),
    ]);
  });

  it('given no reference profile (a candidate), then only confidence and latency are flagged', () => {
    const bare = flagContext(spec, null, policy);
    expect(flagServed(bare, { ...served, features: { t: 99, w: 99, city: 'zurich' } })).toEqual([]);
  });
});

describe('flagging outcomes', () => {
  it('given a wrong confident prediction, then a high-severity model error keyed by slice, truth and prediction', () => {
    expect(
      flagOutcome(['city'], {
        features: { city: 'a' },
        predicted: 'rain',
        confidence: 0.85,
        truth: 'sun',
        correction: false,
      }),
    ).toMatchObject({
      kind: 'wrong-prediction',
      severity: 'high',
      patternKey: 'model-error/city=a/truth=sun/predicted=rain',
      description: 'city=a: "sun" predicted as "rain"',
      truth: 'sun',
    });
  });
  it('given a right prediction, then no case; given a user correction, then a high-severity case', () => {
    expect(
      flagOutcome(['city'], {
        features: { city: 'a' },
        predicted: 'sun',
        confidence: 0.6,
        truth: 'sun',
        correction: false,
      }),
    ).toBeNull();
    expect(
      flagOutcome(['city'], {
        features: { city: 'a' },
        predicted: 'sun',
        confidence: 0.6,
        truth: 'fog',
        correction: true,
      }),
    ).toMatchObject({
      kind: 'user-correction',
      severity: 'high',
    });
  });
});

describe('the volume trigger', () => {
  const v = Policy.parse({}).triggers.volume;
  it('given one pattern dominating the window, then it fires naming the pattern', () => {
    const d = volumeDecision(
      {
        newLabeledFailures: 60,
        patterns: [
          { patternKey: 'p1', cases: 40 },
          { patternKey: 'p2', cases: 20 },
        ],
        windowFailures: 60,
      },
      v,
    );
    expect(d).toMatchObject({ fire: true, pattern: 'p1' });
    expect(d.reason).toMatch(/pattern p1 is 67% of 60 labeled failures/);
  });
  it('given failures spread over patterns but many of them, then it fires on the count', () => {
    const patterns = Array.from({ length: 10 }, (_, i) => ({ patternKey: `p${i}`, cases: 25 }));
    expect(volumeDecision({ newLabeledFailures: 250, patterns, windowFailures: 250 }, v)).toMatchObject({
      fire: true,
      pattern: null,
    });
  });
  it('given few spread failures, then it stays quiet and says why', () => {
    const d = volumeDecision(
      {
        newLabeledFailures: 20,
        patterns: [
          { patternKey: 'p1', cases: 8 },
          { patternKey: 'p2', cases: 12 },
        ],
        windowFailures: 20,
      },
      v,
    );
    expect(d.fire).toBe(false);
    expect(d.reason).toMatch(/20 labeled failures since the last cycle \(limit 200\)/);
  });
});

describe('remediation verdicts', () => {
  it('given a significant drop in the error rate, then fixed', () => {
    expect(traceVerdict({ rows: 100, errors: 60 }, { rows: 80, errors: 10 }).verdict).toBe('fixed');
  });
  it('given a significant rise, then regressed', () => {
    expect(traceVerdict({ rows: 100, errors: 10 }, { rows: 80, errors: 40 }).verdict).toBe('regressed');
  });
  it('given too few requests after, then still open and it says so', () => {
    const v = traceVerdict({ rows: 100, errors: 60 }, { rows: 5, errors: 0 });
    expect(v).toMatchObject({ verdict: 'still-open', pValue: null });
    expect(v.reason).toMatch(/too few labeled requests to judge/);
  });
  it('given no real change, then still open with its p-value', () => {
    expect(traceVerdict({ rows: 100, errors: 30 }, { rows: 100, errors: 28 })).toMatchObject({
      verdict: 'still-open',
    });
  });
});
