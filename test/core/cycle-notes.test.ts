import { describe, expect, it } from 'vitest';
import {
  approvalDeniedReason,
  labelingExpiredReason,
  labelingInputOf,
  rolloutNote,
  round,
  traceNote,
} from '../../core/cycle-notes.js';
import { analyzeStep } from '../../core/policy.js';
import { analyzeRegressionStep } from '../../core/regression-rollout.js';
import { Policy } from '../../core/schemas.js';
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

describe('the rollout note', () => {
  const policy = Policy.parse({}).rollout;
  it('given a regressor’s step, then the note keeps each arm’s MAE; a classifier’s keeps accuracy', () => {
    const arm = (error: number, n: number) => ({
      pairs: Array.from({ length: n }, (_, i) => ({ predicted: 20 + (i % 2 ? error : -error), actual: 20 })),
      p95LatencyMs: 2,
    });
    const regression = analyzeRegressionStep(arm(1.23456, 20), arm(2.5, 30), policy);
    const classes = analyzeStep({ n: 20, correct: 15 }, { n: 30, correct: 24 }, policy);
    const note = rolloutNote({
      outcome: 'promoted',
      reason: 'every step passed its analysis',
      steps: [
        { weight: 10, analysis: regression },
        { weight: 25, analysis: classes },
      ],
    });
    expect(note.steps).toEqual([
      { weight: 10, decision: 'pass', candidateMae: 1.2346, championMae: 2.5, candidateN: 20, championN: 30 },
      {
        weight: 25,
        decision: 'pass',
        candidateAccuracy: 0.75,
        championAccuracy: 0.8,
        candidateN: 20,
        championN: 30,
      },
    ]);
  });
});
