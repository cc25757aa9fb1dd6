/**
 * The bounds that keep workflow histories far below Temporal's limits: a rollout's analyses, a
 * campaign's items, and the history length at which a campaign continues as new.
 */
import { describe, expect, it } from 'vitest';
import { labelingInputOf } from '../../core/cycle-notes.js';
import { LabelingSettings, MAX_BUDGET, MAX_HISTORY_EVENTS } from '../../core/labeling-settings.js';
import { MAX_ROLLOUT_ANALYSES, Policy, rolloutAnalysesAtMost } from '../../core/schemas.js';

const identity = {
  campaignId: 'c-labeling',
  cycleId: 'c',
  modelId: 'm',
  datasetId: 1,
  championVersion: 1,
  labelSet: ['a', 'b'],
};

describe('history bounds', () => {
  it('given the default rollout, then it analyses a bounded number of times, well under the maximum', () => {
    const rollout = Policy.parse({}).rollout;
    expect(rolloutAnalysesAtMost(rollout)).toBe(4 * (0 + 1 + 12));
    expect(rolloutAnalysesAtMost(rollout)).toBeLessThan(MAX_ROLLOUT_ANALYSES);
  });

  it('given a rollout that would re-analyse every second for an hour, then the policy is refused and says what to change', () => {
    const r = Policy.safeParse({ rollout: { dwell: '1s', sampleWait: '1h' } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(
      /at most 600 times .* use fewer steps, a longer dwell or a shorter sampleWait/,
    );
  });

  it('given no dwell and a sample wait, then the policy is refused (analyses would repeat back to back)', () => {
    expect(Policy.safeParse({ rollout: { dwell: '0ms', sampleWait: '1m' } }).success).toBe(false);
    expect(Policy.safeParse({ rollout: { dwell: '0ms', sampleWait: '0ms' } }).success).toBe(true);
  });

  it('given a labeling budget above the maximum, then it is refused, naming the maximum', () => {
    const r = LabelingSettings.safeParse({ budget: MAX_BUDGET + 1 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['budget']);
    expect(LabelingSettings.parse({ budget: MAX_BUDGET }).budget).toBe(MAX_BUDGET);
  });

  it('given the default history limit, then the campaign input leaves it out (as cycles always passed it); a lowered one is passed', () => {
    const settings = LabelingSettings.parse({});
    expect(settings.maxHistoryEvents).toBe(MAX_HISTORY_EVENTS);
    expect(labelingInputOf(identity, settings)).not.toHaveProperty('maxHistoryEvents');
    const low = LabelingSettings.parse({ maxHistoryEvents: 500 });
    expect(labelingInputOf(identity, low)).toMatchObject({ maxHistoryEvents: 500 });
    expect(LabelingSettings.safeParse({ maxHistoryEvents: 20_000 }).success).toBe(false);
  });
});
