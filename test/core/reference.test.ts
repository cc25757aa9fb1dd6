import { describe, expect, it } from 'vitest';
import { buildReferenceProfile, driftReport } from '../../core/drift.js';
import { diagnose } from '../../core/policy.js';
import {
  chooseReferenceSpan,
  describeBaseline,
  measureBaseline,
  wilsonInterval,
} from '../../core/reference.js';
import { Policy } from '../../core/schemas.js';

const DAY = 86_400_000;
const year2012 = { start: '2012-01-01T00:00:00.000Z', end: '2013-01-01T00:00:00.000Z' };
const aprilToJune = { start: '2013-04-01T00:00:00.000Z', end: '2013-07-01T00:00:00.000Z' };

describe('the span a promoted champion’s reference covers', () => {
  it('given a previous span and a window, then by default it is both combined', () => {
    const span = chooseReferenceSpan({
      previous: { span: year2012, source: 'profile' },
      window: aprilToJune,
      referenceSpanMs: null,
      earliest: null,
    });
    expect(span).toEqual({
      start: year2012.start,
      end: aprilToJune.end,
      rule: "the previous reference's span combined with the cycle's window",
    });
  });

  it('given drift.referenceSpan, then it is the last that much up to the window’s end, whatever came before', () => {
    const span = chooseReferenceSpan({
      previous: { span: year2012, source: 'profile' },
      window: aprilToJune,
      referenceSpanMs: 365 * DAY,
      earliest: null,
    });
    expect(span.start).toBe('2012-07-01T00:00:00.000Z');
    expect(span.end).toBe(aprilToJune.end);
    expect(span.rule).toBe("the last 365 days of production up to the window's end");
  });

  it('given a previous reference without a span, then its training data window, or else everything logged before the window’s end', () => {
    expect(
      chooseReferenceSpan({
        previous: { span: year2012, source: 'training-data' },
        window: aprilToJune,
        referenceSpanMs: null,
        earliest: null,
      }).rule,
    ).toMatch(/training-data window/);
    const all = chooseReferenceSpan({
      previous: null,
      window: aprilToJune,
      referenceSpanMs: null,
      earliest: '2012-01-01T12:00:00Z',
    });
    expect(all).toMatchObject({ start: '2012-01-01T12:00:00.000Z', end: aprilToJune.end });
    expect(all.rule).toMatch(/span is unknown/);
  });

  it('given a window that ends before the previous span, then the span still ends at the later of the two', () => {
    const span = chooseReferenceSpan({
      previous: { span: { start: '2013-01-01T00:00:00Z', end: '2014-01-01T00:00:00Z' }, source: 'profile' },
      window: aprilToJune,
      referenceSpanMs: null,
      earliest: null,
    });
    expect(span).toMatchObject({ start: '2013-01-01T00:00:00.000Z', end: '2014-01-01T00:00:00.000Z' });
  });

  it('given neither a window nor a previous span, then it refuses saying what is missing', () => {
    expect(() =>
      chooseReferenceSpan({ previous: null, window: null, referenceSpanMs: null, earliest: '2012-01-01' }),
    ).toThrow(/neither the cycle window nor the previous reference span is known/);
  });

  it('given a zero or malformed referenceSpan in a policy, then the policy is refused naming the field', () => {
    expect(() => Policy.parse({ drift: { referenceSpan: '0d' } })).toThrow(/referenceSpan/);
    expect(() => Policy.parse({ drift: { referenceSpan: 'a year' } })).toThrow(/referenceSpan/);
    expect(Policy.parse({ drift: { referenceSpan: '365d' } }).drift.referenceSpan).toBe('365d');
    expect(Policy.parse({}).drift.referenceSpan).toBeUndefined();
  });
});

describe('the baseline’s interval', () => {
  it('given 11 of 18 right, then the Wilson interval is wide (the 18-row holdout of the walkthrough)', () => {
    const ci = wilsonInterval(11, 18)!;
    // Reference values of the Wilson score interval for 11/18 at 95%.
    expect(ci.low).toBeCloseTo(0.3862, 3);
    expect(ci.high).toBeCloseTo(0.7969, 3);
    expect(ci.level).toBe(0.95);
  });

  it('given more rows at the same accuracy, then the interval narrows; all right or all wrong stays inside [0, 1]', () => {
    const small = wilsonInterval(60, 100)!;
    const large = wilsonInterval(600, 1000)!;
    expect(large.high - large.low).toBeLessThan(small.high - small.low);
    expect(wilsonInterval(0, 5)!.low).toBe(0);
    expect(wilsonInterval(5, 5)!.high).toBe(1);
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(6, 5)).toThrow(/6 successes out of 5 trials/);
  });

  it('given predictions on unseen rows, then the baseline states the count and interval, and the diagnosis prints them', () => {
    const truth = ['rain', 'sun', 'sun', 'rain', 'sun'];
    const predictions = ['rain', 'sun', 'rain', 'rain', 'sun'].map((label) => ({
      label,
      probabilities: label === 'rain' ? { rain: 0.8, sun: 0.2 } : { rain: 0.3, sun: 0.7 },
    }));
    const { baseline, evidence } = measureBaseline(truth, predictions, 'test rows');
    expect(baseline.accuracy).toBeCloseTo(0.8);
    expect(evidence).toMatchObject({ rows: 5, source: 'test rows' });
    expect(describeBaseline(baseline.accuracy!, evidence)).toBe('80.0% (95% CI 37.6%–96.4% on 5 rows)');
    expect(() => measureBaseline([], [], 'the span')).toThrow(
      /no labeled rows to measure the baseline on \(the span\)/,
    );

    const spec = { numeric: ['t'], categorical: [] };
    const rows = Array.from({ length: 200 }, (_, i) => ({ t: i % 50 }));
    const profile = {
      ...buildReferenceProfile(spec, rows, [], baseline),
      baselineEvidence: evidence,
    };
    const outcomes = Array.from({ length: 40 }, (_, i) => ({
      truth: 'sun',
      predicted: i % 2 ? 'sun' : 'rain',
    }));
    const report = driftReport(profile, rows.slice(0, 100), outcomes, Policy.parse({}).drift);
    expect(diagnose(report, Policy.parse({}).drift).reason).toContain(
      'accuracy 50.0% vs baseline 80.0% (95% CI 37.6%–96.4% on 5 rows) on 40 labeled rows',
    );
  });
});
