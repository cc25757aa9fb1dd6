import { describe, expect, it } from 'vitest';
import {
  agreementOf,
  agreesTooLittle,
  answersNeeded,
  batchAnswered,
  batchProgress,
  batchSizeOf,
  isOverlapped,
  settledBy,
  settledVerifiedBy,
  settledLabel,
  withVote,
} from '../../core/labeling.js';
import { LabelingSettings } from '../../core/labeling-settings.js';
import { Policy } from '../../core/schemas.js';

const v = (...labels: string[]) => labels.map((label, i) => ({ reviewer: `r${i + 1}`, label }));

describe('labeling settings', () => {
  it('given no settings, when parsed, then the policy and a campaign get the same defaults', () => {
    const defaults = LabelingSettings.parse({});
    expect(defaults).toEqual(Policy.parse({}).labeling);
    expect(defaults).toMatchObject({ budget: 40, minLabels: 20, deadline: '24h', strategy: 'uncertainty' });
    expect(defaults).toMatchObject({ reminderAt: 0.5, escalationGrace: '12h', decisionTimeout: '72h' });
    expect(defaults).toMatchObject({ overlap: 0, minKappa: 0.6, minOverlapItems: 5, batchSize: 0 });
  });

  it('given an unknown strategy, when parsed, then the error names the field', () => {
    const p = LabelingSettings.safeParse({ strategy: 'loudest' });
    expect(p.success).toBe(false);
    expect(p.error?.issues[0]?.path).toEqual(['strategy']);
  });
});

describe('overlap membership', () => {
  const keys = Array.from({ length: 400 }, (_, i) => `row-${i}`);

  it('given overlap 0, when asked, then no item is overlapped', () => {
    expect(keys.some((k) => isOverlapped('c1', k, 0))).toBe(false);
  });

  it('given overlap 1, when asked, then every item is overlapped', () => {
    expect(keys.every((k) => isOverlapped('c1', k, 1))).toBe(true);
  });

  it('given overlap 0.3, when asked twice, then the same items, about 30 % of them, are chosen', () => {
    const chosen = keys.filter((k) => isOverlapped('c1', k, 0.3));
    expect(keys.filter((k) => isOverlapped('c1', k, 0.3))).toEqual(chosen);
    expect(chosen.length).toBeGreaterThan(80);
    expect(chosen.length).toBeLessThan(160);
  });

  it('given two campaigns, when asked, then they overlap different items', () => {
    const a = keys.filter((k) => isOverlapped('c1', k, 0.3));
    const b = keys.filter((k) => isOverlapped('c2', k, 0.3));
    expect(a).not.toEqual(b);
  });
});

describe('settling an overlapped item', () => {
  it('given one answer, then it waits for a second', () => {
    expect(settledLabel(v('sun'))).toBeNull();
    expect(answersNeeded(v('sun'))).toBe(2);
  });

  it('given two agreeing answers, then it settles on their label', () => {
    expect(settledLabel(v('sun', 'sun'))).toBe('sun');
    expect(answersNeeded(v('sun', 'sun'))).toBe(2);
  });

  it('given two answers that disagree, then it needs a third', () => {
    expect(settledLabel(v('sun', 'rain'))).toBeNull();
    expect(answersNeeded(v('sun', 'rain'))).toBe(3);
  });

  it('given a disagreement and a third answer, then the majority of three settles it', () => {
    expect(settledLabel(v('sun', 'rain', 'rain'))).toBe('rain');
    expect(settledLabel(v('sun', 'rain', 'sun'))).toBe('sun');
  });

  it('given a three-way split, then the third answer decides', () => {
    expect(settledLabel(v('sun', 'rain', 'fog'))).toBe('fog');
  });

  it('given the reviewers who answered, then the settled label names them all, in order', () => {
    expect(settledBy(v('sun', 'rain', 'rain'))).toBe('r1+r2+r3');
  });

  it('given how each reviewer was identified, then the settled label keeps each method once, in order', () => {
    const votes = (...methods: (string | undefined)[]) =>
      methods.map((m, i) => ({ reviewer: `r${i + 1}`, label: 'sun', ...(m ? { verifiedBy: m } : {}) }));
    expect(settledVerifiedBy(votes('jwt', 'jwt'))).toBe('jwt');
    expect(settledVerifiedBy(votes('jwt', 'unverified', 'jwt'))).toBe('jwt+unverified');
    // Votes kept before methods were recorded count as typed names.
    expect(settledVerifiedBy(votes(undefined, 'trusted-proxy'))).toBe('unverified+trusted-proxy');
  });

  it('given a reviewer who answers twice, then the second answer is not another vote', () => {
    const once = withVote([], { reviewer: 'alice', label: 'sun' });
    const twice = withVote(once, { reviewer: 'alice', label: 'rain' });
    expect(twice).toEqual([{ reviewer: 'alice', label: 'sun' }]);
    expect(withVote(twice, { reviewer: 'bob', label: 'rain' })).toHaveLength(2);
  });
});

describe('agreement', () => {
  it('given votes, then pairs, disagreements and third answers are counted over the first two answers', () => {
    const a = agreementOf([v('sun', 'sun'), v('sun', 'rain', 'rain'), v('rain', 'rain'), v('fog')], 5, 0.6);
    expect(a).toMatchObject({ overlapped: 5, pairs: 3, disagreements: 1, settledByThird: 1, minKappa: 0.6 });
    // pairs (sun,sun) (sun,rain) (rain,rain): p_o = 2/3, p_e = (2/3·1/3 + 1/3·2/3) = 4/9, kappa = 0.4
    expect(a.kappa).toBeCloseTo(0.4, 12);
  });

  it('given no item answered twice, then kappa is null and the gate stays open', () => {
    const a = agreementOf([v('sun')], 1, 0.6);
    expect(a.kappa).toBeNull();
    expect(agreesTooLittle(a, 1)).toBe(false);
  });

  it('given kappa below the minimum on fewer pairs than needed, then the gate stays open', () => {
    const a = agreementOf([v('sun', 'rain'), v('rain', 'sun')], 2, 0.6);
    expect(agreesTooLittle(a, 5)).toBe(false);
    expect(agreesTooLittle(a, 2)).toBe(true);
  });

  it('given kappa at the minimum, then the gate stays open', () => {
    expect(agreesTooLittle({ ...agreementOf([v('a', 'a'), v('b', 'b')], 2, 1) }, 2)).toBe(false);
  });
});

describe('batches', () => {
  it('given a batch-by-batch strategy without a batch size, then batches are of 10', () => {
    expect(batchSizeOf({ strategy: 'candidate', batchSize: 0 })).toBe(10);
    expect(batchSizeOf({ strategy: 'disagreement', batchSize: 4 })).toBe(4);
    expect(batchSizeOf({ strategy: 'uncertainty', batchSize: 0 })).toBe(0);
    expect(batchSizeOf({ strategy: 'margin', batchSize: 6 })).toBe(6);
  });

  it('given 12 of 30 items out in batches of 6, then batch 2 of 5 is out', () => {
    expect(batchProgress(12, 30, 6)).toEqual({ current: 2, of: 5, size: 6 });
  });

  it('given the batch out answered and more to send, then it is done; not before, and not after the last', () => {
    const items = ['a', 'b', 'c', 'd'].map((recordKey) => ({ recordKey }));
    expect(batchAnswered(items, 2, 4, 2, new Map([['a', 'x']]))).toBe(false);
    expect(
      batchAnswered(
        items,
        2,
        4,
        2,
        new Map([
          ['a', 'x'],
          ['b', 'y'],
        ]),
      ),
    ).toBe(true);
    expect(batchAnswered(items, 4, 4, 2, new Map(items.map((i) => [i.recordKey, 'x'])))).toBe(false);
    expect(batchAnswered(items, 4, 4, 0, new Map())).toBe(false);
  });
});
