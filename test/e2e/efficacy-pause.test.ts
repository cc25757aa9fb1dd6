/**
 * The efficacy replay when a rollout step pauses under a policy with feedback (too few samples in its
 * dwell, as on a loaded machine): no person answers in a replay, so the replay rolls it back at once, as
 * the rollout itself would at its decisionTimeout an hour later, and says so in the cycle's record.
 */
import { describe, expect, it } from 'vitest';
import { weatherDataset, type Dataset } from '../../bench/efficacy-data.js';
import { replayPolicy } from '../../bench/efficacy-replay.js';
import { useStack } from '../helpers.js';

const stack = useStack('efficacy_pause', { gateway: true });

describe('bench:efficacy when a rollout pauses', () => {
  it('given steps that can never gather their samples, then each paused rollout is rolled back at once, with the reason', async () => {
    const weather = await weatherDataset(true);
    const dataset: Dataset = {
      ...weather,
      windows: 6,
      // Gates a short campaign passes, and a rollout whose first step can never be judged.
      policy: {
        labeling: { budget: 60 },
        evaluation: { minHoldout: 6, maxEce: 0.6 },
        rollout: { minSamples: 1_000_000, stepSamples: 1_000_000, sampleWait: '0s' },
      },
    };
    const env = { client: stack.h.client, pool: stack.pool, queues: stack.h, gatewayUrl: stack.gateway.url };
    const run = await replayPolicy(env, dataset, 'every-alarm', {
      modelId: 'pause-every-alarm',
      quick: true,
      reviewer: { delayMs: 0, errorRate: 0, seed: 3 },
      log: () => undefined,
    });
    const rolledOut = run.cycles.filter((c) => c.candidateVersion !== null && c.outcome !== 'rejected');
    expect(rolledOut.length).toBeGreaterThan(0);
    for (const c of rolledOut) {
      expect(c.outcome).toBe('rolled-back');
      expect(c.pausesRolledBack).toBe(1);
      expect(c.reason).toContain(
        'rolled back at the pause by efficacy-operator: no person answers in the replay',
      );
    }
    // Nothing was promoted, so every window was served by the first champion.
    expect(new Set(run.windows.map((w) => w.champion))).toEqual(new Set([1]));
  });
});
