/**
 * The efficacy benchmark's label-free policy against the test stack's real Temporal, Postgres, worker and
 * gateway: on the same weather stream as Remedy's default, no record of its model carries feedback, its
 * monitor judges the windows on the label-free estimate, a cycle's labels are the reviewer's alone, and
 * each step of a promoted candidate's rollout (no feedback to judge) paused and was continued.
 */
import { describe, expect, it } from 'vitest';
import { weatherDataset, type Dataset, type PolicyName } from '../../bench/efficacy-data.js';
import { replayPolicy } from '../../bench/efficacy-replay.js';
import { summarize } from '../../bench/efficacy-report.js';
import { countModelFeedback, countModelLabels, modelCycleOutcomes } from '../../db/efficacy.js';
import { useStack } from '../helpers.js';

const stack = useStack('efficacy_label_free', { gateway: true });

describe('bench:efficacy --label-free', () => {
  it('given the weather stream with no feedback, then the monitor judges on the estimate, people give every label and each rollout pause is continued', async () => {
    const weather = await weatherDataset(true);
    // Nine windows, and gates a campaign of people's labels alone can pass (a holdout of a few rows).
    const dataset: Dataset = {
      ...weather,
      windows: 9,
      policy: { labeling: { budget: 60 }, evaluation: { minHoldout: 6, maxEce: 0.6 } },
    };
    const env = { client: stack.h.client, pool: stack.pool, queues: stack.h, gatewayUrl: stack.gateway.url };
    const policies: PolicyName[] = ['remedy-default', 'label-free'];
    const [remedy, labelFree] = await Promise.all(
      policies.map((policy) =>
        replayPolicy(env, dataset, policy, {
          modelId: `lf-${policy}`,
          quick: true,
          reviewer: { delayMs: 0, errorRate: 0, seed: 3 },
          log: () => undefined,
        }),
      ),
    );
    // The same stream; only the default's pipeline delivered feedback.
    expect(labelFree!.keysHash).toBe(remedy!.keysHash);
    expect(labelFree!.records).toBe(remedy!.records);
    expect(await countModelFeedback(stack.pool, remedy!.modelId)).toBeGreaterThan(0);
    expect(await countModelFeedback(stack.pool, labelFree!.modelId)).toBe(0);
    // Every check of a window before a promotion judged on the estimate, never on labels.
    const firstPromoted = labelFree!.cycles.find((c) => c.outcome === 'promoted');
    expect(firstPromoted).toBeDefined();
    const before = labelFree!.checks.filter((c) => c.window.slice(0, 24) < firstPromoted!.window.end);
    expect(before.length).toBeGreaterThan(0);
    for (const c of before) expect(c.reason).toMatch(/estimated accuracy [\d.]+% \(CBPE, no labels\)/);
    // The counts match the database; each promoted rollout paused at each of its 4 steps and went on.
    const s = summarize(dataset, labelFree!);
    expect(await modelCycleOutcomes(stack.pool, labelFree!.modelId)).toEqual(s.outcomes);
    expect(await countModelLabels(stack.pool, labelFree!.modelId)).toEqual({
      requested: s.labelsAsked,
      answered: s.labelsAnswered,
    });
    for (const c of labelFree!.cycles) expect(c.pausesContinued).toBe(c.outcome === 'promoted' ? 4 : 0);
    expect(remedy!.cycles.every((c) => c.pausesContinued === undefined)).toBe(true);
  }, 600_000);
});
