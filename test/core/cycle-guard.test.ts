import { describe, expect, it } from 'vitest';
import { guardCycleStart, triggerSeverity, type GuardInput } from '../../core/cycle-guard.js';
import { Policy } from '../../core/schemas.js';

const policy = { cooldown: '7d', maxCycles: 4, budgetPeriod: '30d' };
const base: GuardInput = {
  now: '2026-03-10T00:00:00.000Z',
  policy,
  severity: 'mild',
  lastClosed: { cycleId: 'remediation-m-1', closedAt: '2026-03-05T00:00:00.000Z', severity: 'mild' },
  startedInPeriod: ['2026-03-01T00:00:00.000Z'],
};

describe('cooldown and budget', () => {
  it('given no settings, then neither cooldown nor budget holds anything back', () => {
    const triggers = Policy.parse({}).triggers;
    expect(triggers).toMatchObject({ cooldown: '0s', budgetPeriod: '30d' });
    expect(triggers.maxCycles).toBeUndefined();
    expect(
      guardCycleStart({ ...base, policy: triggers, startedInPeriod: Array(50).fill(base.now) as string[] }),
    ).toMatchObject({ suppressed: false });
  });

  it('given a cycle closed 5 days ago, then a trigger of the same severity is suppressed until 7 days after', () => {
    expect(guardCycleStart(base)).toEqual({
      suppressed: true,
      rule: 'cooldown',
      until: '2026-03-12T00:00:00.000Z',
      reason:
        'suppressed: cooldown until 2026-03-12T00:00:00.000Z (remediation-m-1 closed 2026-03-05T00:00:00.000Z; severity mild is not above its mild)',
    });
  });

  it('given a higher severity, then the cooldown is lifted and the reason says so', () => {
    expect(guardCycleStart({ ...base, severity: 'severe' })).toEqual({
      suppressed: false,
      reason: 'cooldown after remediation-m-1 lifted: severity rose from mild to severe',
    });
  });

  it('given the cooldown has passed or is 0s, then the trigger may start a cycle', () => {
    expect(guardCycleStart({ ...base, now: '2026-03-12T00:00:00.000Z' })).toEqual({
      suppressed: false,
      reason: null,
    });
    expect(guardCycleStart({ ...base, policy: { ...policy, cooldown: '0s' } }).suppressed).toBe(false);
  });

  it('given 4 starts in 30 days, then the fifth is suppressed by the budget until the oldest leaves the period', () => {
    const decision = guardCycleStart({
      ...base,
      lastClosed: null,
      startedInPeriod: [
        '2026-02-12T00:00:00.000Z',
        '2026-02-20T00:00:00.000Z',
        '2026-03-01T00:00:00.000Z',
        '2026-03-08T00:00:00.000Z',
      ],
    });
    expect(decision).toEqual({
      suppressed: true,
      rule: 'budget',
      until: '2026-03-14T00:00:00.000Z',
      reason: 'suppressed: budget 4/4 in 30d (next slot 2026-03-14T00:00:00.000Z)',
    });
    // A start older than the period does not count.
    expect(
      guardCycleStart({
        ...base,
        lastClosed: null,
        startedInPeriod: ['2026-01-01T00:00:00.000Z', '2026-02-20T00:00:00.000Z'],
      }).suppressed,
    ).toBe(false);
  });

  it('reads a drift trigger severity from its route; volume triggers have none', () => {
    expect(triggerSeverity({ route: 'full-cycle' })).toBe('severe');
    expect(triggerSeverity({ route: 'fine-tune' })).toBe('mild');
    expect(triggerSeverity({})).toBe('none');
  });

  it('refuses a budget period of zero', () => {
    expect(() => Policy.parse({ triggers: { budgetPeriod: '0d' } })).toThrow(/longer than zero/);
  });
});
