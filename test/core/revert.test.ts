/**
 * Which reverts Remedy accepts, and what it tells a person when it does not; and the bake's bound on a
 * rollout's analyses.
 */
import { describe, expect, it } from 'vitest';
import { decideRevert, RevertRequest, type RevertFacts } from '../../core/revert.js';
import { Policy, rolloutAnalysesAtMost } from '../../core/schemas.js';

/** weather: v1 registered, replaced by v2 (champion now); v3 rejected at its gate; v4 waiting as candidate. */
const facts = (over: Partial<RevertFacts> = {}): RevertFacts => ({
  modelId: 'weather',
  toVersion: 1,
  modelExists: true,
  versions: [
    { version: 1, status: 'retired' },
    { version: 2, status: 'champion' },
    { version: 3, status: 'rejected' },
    { version: 4, status: 'candidate' },
  ],
  champion: 2,
  openCycle: null,
  targetHasReference: true,
  ...over,
});

describe('revert decisions', () => {
  it('given a retired former champion and no open cycle, then the model reverts to it from the champion', () => {
    expect(decideRevert(facts())).toEqual({ kind: 'revert', fromVersion: 2, toVersion: 1 });
  });

  it('given a version reverted away from earlier, then it may come back (it served as champion)', () => {
    const f = facts({
      versions: [
        { version: 1, status: 'champion' },
        { version: 2, status: 'reverted' },
      ],
      champion: 1,
      toVersion: 2,
    });
    expect(decideRevert(f)).toEqual({ kind: 'revert', fromVersion: 1, toVersion: 2 });
  });

  it('given the current champion, then nothing is done and the message says so', () => {
    expect(decideRevert(facts({ toVersion: 2 }))).toEqual({
      kind: 'no-op',
      message: 'v2 is already the champion of weather: nothing to revert',
    });
  });

  it('given an unknown model or version, then it is refused naming what exists', () => {
    expect(decideRevert(facts({ modelExists: false, versions: [] }))).toEqual({
      kind: 'refused',
      message: 'no model "weather": see "remedy models list"',
    });
    expect(decideRevert(facts({ toVersion: 9 })).kind).toBe('refused');
    expect(decideRevert(facts({ toVersion: 9 }))).toMatchObject({
      message:
        'weather has no version 9 (its versions: v1, v2, v3, v4); "remedy models show weather" lists them',
    });
  });

  it('given a version that never served as champion, then it is refused, listing the former champions', () => {
    expect(decideRevert(facts({ toVersion: 3 }))).toEqual({
      kind: 'refused',
      message:
        'v3 of weather never served as champion (a candidate rejected at its gate): a revert goes back to a former champion: v1',
    });
    expect(decideRevert(facts({ toVersion: 4 })).kind).toBe('refused');
  });

  it('given an open cycle in its rollout, then it is refused and says how to end the rollout first', () => {
    const rolling = facts({
      openCycle: {
        cycleId: 'remediation-weather-3',
        rollout: { candidateVersion: 4, weight: 25, promoted: false },
      },
    });
    expect(decideRevert(rolling)).toEqual({
      kind: 'refused',
      message:
        'cycle remediation-weather-3 is rolling out v4 (25% of traffic): end it first with "remedy rollback remediation-weather-3 --actor <you>" (traffic returns to v2) or wait until it closes, then revert',
    });
    const baking = facts({
      openCycle: {
        cycleId: 'remediation-weather-3',
        rollout: { candidateVersion: 2, weight: 100, promoted: true },
      },
    });
    const message = (f: RevertFacts) => {
      const d = decideRevert(f);
      return d.kind === 'refused' ? d.message : `not refused: ${d.kind}`;
    };
    expect(message(baking)).toMatch(
      /still watching it \(rollout.bakeTime\): "remedy rollback remediation-weather-3/,
    );
    const labeling = facts({ openCycle: { cycleId: 'remediation-weather-3', rollout: null } });
    expect(message(labeling)).toMatch(/abort it with "remedy abort remediation-weather-3"/);
  });

  it('given a former champion without a reference profile, then it is refused (drift checks need one)', () => {
    const d = decideRevert(facts({ targetHasReference: false }));
    expect(d.kind).toBe('refused');
    expect(d.kind === 'refused' && d.message).toMatch(/has no reference profile/);
  });

  it('given a request without a reason, then it says to give one', () => {
    const r = RevertRequest.safeParse({ modelId: 'weather', toVersion: 1, reason: ' ', actor: 'ana' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/say why the champion is reverted \(--reason\)/);
  });
});

describe('bake time in the rollout policy', () => {
  it('given no bakeTime, then it is "0s" and the rollout analyses as many times as before', () => {
    const rollout = Policy.parse({}).rollout;
    expect(rollout.bakeTime).toBe('0s');
    expect(rolloutAnalysesAtMost(rollout)).toBe(4 * (0 + 1 + 12));
  });

  it('given a bake, then it adds one analysis per dwell, and a bake with no dwell is refused', () => {
    const rollout = Policy.parse({ rollout: { dwell: '10m', bakeTime: '24h' } }).rollout;
    expect(rolloutAnalysesAtMost(rollout)).toBe(4 * (0 + 1 + 1) + 144);
    expect(Policy.safeParse({ rollout: { dwell: '0ms', sampleWait: '0ms', bakeTime: '1h' } }).success).toBe(
      false,
    );
    const r = Policy.safeParse({ rollout: { bakeTime: 'a day' } });
    expect(r.error!.issues[0]!.message).toMatch(/must be a duration like "30s"/);
  });
});
