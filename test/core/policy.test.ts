import { describe, expect, it } from 'vitest';
import type { DriftReport } from '../../core/drift.js';
import {
  analyzeStep,
  diagnose,
  orderForLabeling,
  routesToCandidate,
  trafficBucket,
} from '../../core/policy.js';
import { durationMs, Policy } from '../../core/schemas.js';

const policy = Policy.parse({});

function report(
  overrides: Partial<DriftReport> & { perf?: Partial<DriftReport['performance']> },
): DriftReport {
  const { perf, ...rest } = overrides;
  return {
    windowRows: 500,
    referenceRows: 700,
    features: [],
    skipped: [],
    driftedShare: 0,
    datasetDrifted: false,
    correction: 'none',
    thresholds: 'fixed',
    dataQuality: { incident: false, issues: [] },
    labelShiftPsi: null,
    performance: {
      metric: 'accuracy',
      baseline: 0.7,
      current: 0.69,
      metrics: {},
      labeledRows: 100,
      baselineAccuracy: 0.7,
      currentAccuracy: 0.69,
      drop: 0.01,
      judged: true,
      degraded: false,
      ...perf,
    },
    ...rest,
  };
}

describe('diagnosis', () => {
  it('given no drifted features and steady accuracy, then severity is none', () => {
    expect(diagnose(report({}), policy.drift).severity).toBe('none');
  });

  it('given a large accuracy drop, then severity is severe and the performance signal fired', () => {
    const d = diagnose(report({ perf: { currentAccuracy: 0.45, drop: 0.25, degraded: true } }), policy.drift);
    expect(d.severity).toBe('severe');
    expect(d.signals).toContain('performance');
    expect(d.reason).toMatch(/accuracy 45\.0% vs baseline 70\.0% on 100 labeled rows/);
  });

  it('given a small degradation only, then severity is mild', () => {
    expect(
      diagnose(report({ perf: { currentAccuracy: 0.62, drop: 0.08, degraded: true } }), policy.drift)
        .severity,
    ).toBe('mild');
  });

  it('given half the features drifted, then the features signal fires', () => {
    const d = diagnose(report({ driftedShare: 0.5, datasetDrifted: true }), policy.drift);
    expect(d.signals).toEqual(['features']);
    expect(d.severity).toBe('mild');
  });
});

describe('canary analysis', () => {
  const rollout = policy.rollout;
  it('given fewer samples than the minimum, then inconclusive', () => {
    expect(analyzeStep({ n: 5, correct: 0 }, { n: 100, correct: 90 }, rollout).decision).toBe('inconclusive');
  });
  it('given a candidate significantly worse, then fail', () => {
    const a = analyzeStep({ n: 100, correct: 50 }, { n: 100, correct: 75 }, rollout);
    expect(a.decision).toBe('fail');
    expect(a.pValue).toBeLessThan(0.05);
  });
  it('given a candidate a little worse but not significantly, then pass', () => {
    expect(analyzeStep({ n: 30, correct: 20 }, { n: 30, correct: 21 }, rollout).decision).toBe('pass');
  });
  it('given a better candidate, then pass', () => {
    expect(analyzeStep({ n: 60, correct: 45 }, { n: 60, correct: 30 }, rollout).decision).toBe('pass');
  });
  it('given a candidate whose confidence runs 0.3 above its accuracy, worse calibrated than the champion, then fail on calibration', () => {
    const a = analyzeStep(
      { n: 100, correct: 60, meanConfidence: 0.9 },
      { n: 100, correct: 60, meanConfidence: 0.65 },
      rollout,
    );
    expect(a.decision).toBe('fail');
    expect(a.checks).toMatchObject({ accuracy: 'pass', calibration: 'fail' });
    expect(a.reason).toContain('candidate calibration gap 0.300 > 0.2');
    expect(
      analyzeStep(
        { n: 100, correct: 60, meanConfidence: 0.9 },
        { n: 100, correct: 60, meanConfidence: 0.65 },
        {
          ...rollout,
          maxCalibrationGap: 0.35,
        },
      ).decision,
    ).toBe('pass');
  });
  it('given a better candidate slower than the p95 ceiling, then fail on latency alone, saying by how much', () => {
    const a = analyzeStep(
      { n: 60, correct: 45, p95LatencyMs: 80 },
      { n: 60, correct: 30, p95LatencyMs: 4 },
      rollout,
    );
    expect(a.decision).toBe('fail');
    expect(a.checks).toMatchObject({ accuracy: 'pass', latency: 'fail' });
    expect(a.reason).toContain('candidate p95 latency 80.0 ms > 50 ms');
  });
});

describe('sticky routing', () => {
  it('given a key, then it always lands in the same bucket', () => {
    expect(trafficBucket('seattle:2015-01-01')).toBe(trafficBucket('seattle:2015-01-01'));
  });
  it('given weights, then the share routed to the candidate follows the weight', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
    for (const w of [0, 10, 50, 100]) {
      const share = keys.filter((k) => routesToCandidate(k, w)).length / keys.length;
      expect(Math.abs(share - w / 100)).toBeLessThan(0.02);
    }
  });
});

describe('policy schema', () => {
  it('given steps that do not end at 100, then it is refused naming the field', () => {
    const r = Policy.safeParse({ rollout: { steps: [10, 50] } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['rollout', 'steps']);
  });
  it('given durations, then they convert to milliseconds', () => {
    expect(durationMs('24h')).toBe(86_400_000);
    expect(durationMs('90s')).toBe(90_000);
    expect(() => durationMs('soon')).toThrow(/invalid duration/);
  });
});

describe('labeling order', () => {
  const item = (recordKey: string, confidence: number, margin: number) => ({
    recordKey,
    features: {},
    guess: 'sun',
    confidence,
    margin,
  });
  const items = [item('a', 0.5, 0.4), item('b', 0.4, 0.3), item('c', 0.6, 0.05), item('d', 0.9, 0.8)];
  it('given uncertainty, then lowest confidence first; given margin, then the closest call first; flagged cases lead both', () => {
    expect(orderForLabeling(items, 'uncertainty', () => 3, 's').map((i) => i.recordKey)).toEqual([
      'b',
      'a',
      'c',
      'd',
    ]);
    expect(orderForLabeling(items, 'margin', () => 3, 's').map((i) => i.recordKey)).toEqual([
      'c',
      'b',
      'a',
      'd',
    ]);
    expect(orderForLabeling(items, 'margin', (k) => (k === 'd' ? 0 : 3), 's')[0]!.recordKey).toBe('d');
  });
  it('given random, then a stable shuffle that ignores confidence, the same for the same campaign', () => {
    const once = orderForLabeling(items, 'random', () => 3, 'camp-1').map((i) => i.recordKey);
    expect(orderForLabeling(items, 'random', () => 3, 'camp-1').map((i) => i.recordKey)).toEqual(once);
    expect([...once].sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
