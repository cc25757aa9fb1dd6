import { describe, expect, it } from 'vitest';
import {
  approvalDeniedReason,
  labelingExpiredReason,
  labelingInputOf,
  round,
  traceNote,
} from '../../core/cycle-notes.js';
import { LabelingSettings } from '../../core/labeling-settings.js';

const identity = {
  campaignId: 'remediation-m-1-labeling',
  cycleId: 'remediation-m-1',
  modelId: 'm',
  datasetId: 7,
  championVersion: 1,
  labelSet: ['rain', 'sun'],
};

describe("the campaign's input from the policy", () => {
  it('given overlap and batches off, when built, then neither is passed and the campaign reads the same defaults', () => {
    const input = labelingInputOf(identity, LabelingSettings.parse({}));
    expect(input).toMatchObject({ ...identity, budget: 40, minLabels: 20, strategy: 'uncertainty' });
    expect(input).not.toHaveProperty('overlap');
    expect(input).not.toHaveProperty('batchSize');
    expect(input).not.toHaveProperty('autoLabelAbove');
    expect(LabelingSettings.parse(input)).toEqual(LabelingSettings.parse({}));
  });

  it('given overlap, batches and auto-labeling on, when built, then every setting reaches the campaign', () => {
    const settings = LabelingSettings.parse({
      overlap: 0.3,
      minKappa: 0.5,
      batchSize: 8,
      autoLabelAbove: 0.95,
    });
    const input = labelingInputOf(identity, settings);
    expect(input).toMatchObject({
      overlap: 0.3,
      minKappa: 0.5,
      minOverlapItems: 5,
      batchSize: 8,
      autoLabelAbove: 0.95,
    });
    expect(LabelingSettings.parse(input)).toEqual(settings);
  });
});

describe('ending reasons and notes', () => {
  it('given a campaign that expired parked, then the reason names the deadline, the counts and the decision timeout', () => {
    const l = LabelingSettings.parse({ deadline: '24h', minLabels: 20, decisionTimeout: '72h' });
    expect(labelingExpiredReason({ answered: 3, requested: 40, parked: true }, l)).toBe(
      'labeling deadline (24h) passed with 3 of 40 labels; at least 20 needed, and nobody decided within 72h',
    );
    expect(labelingExpiredReason({ answered: 3, requested: 40 }, l)).toBe(
      'labeling deadline (24h) passed with 3 of 40 labels; at least 20 needed',
    );
  });

  it('given a denial with and without a reason, then the reason names the approver', () => {
    expect(approvalDeniedReason({ approver: 'bob', reason: 'too risky' })).toBe(
      'rollout denied by bob: too risky',
    );
    expect(approvalDeniedReason({ approver: 'bob' })).toBe('rollout denied by bob');
  });

  it('given a trace, then rates are rounded to four decimals and a missing after stays null', () => {
    expect(round(0.123456)).toBe(0.1235);
    expect(
      traceNote({ patternKey: 'p', cases: 9, before: { rate: 1 / 3 }, after: null, verdict: null }),
    ).toEqual({ pattern: 'p', cases: 9, before: 0.3333, after: null, verdict: null });
  });
});
