/**
 * A regression model's remedy through the real workflow, on the vega cars: the champion trained on
 * 1970–74 under-predicts the 1975–80 cars; the cycle asks for labels, a reviewer answers with the true
 * miles per gallon, the retrain stage trains the forest regressor and the evaluate stage judges it on
 * error metrics, stopping at the approval the policy requires.
 */
import { describe, expect, it } from 'vitest';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { answerLabels, atStage, waitForStatus } from '../../dev/reviewer.js';
import * as db from '../../db/index.js';
import { startCycle } from '../../ops/cycles.js';
import { registerRegressionModel } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import type { CycleSummary } from '../../workflows/messages.js';
import { useStack } from '../helpers.js';

const stack = useStack('regremedy');

const cars = labeledCars().map(({ features: { year: _year, ...features }, ...c }, i) => ({
  ...c,
  features,
  ts: new Date(Date.UTC(c.year, 0, 1) + i * 3_600_000).toISOString(),
}));
const stageSummary = (summary: CycleSummary, stage: string): Record<string, unknown> =>
  summary.stages.find((s) => s.stage === stage)?.summary ?? {};

describe('the remedy of a regression model', () => {
  it('given labels for the 1975–80 cars, when the cycle retrains and evaluates, then the forest regressor passes on a lower MAE and waits for approval', async () => {
    const modelId = 'cars-remedy';
    const def = ModelDefinition.parse({
      modelId,
      task: 'regression',
      features: CAR_MEASUREMENTS,
      policy: {
        labeling: { budget: 120, minLabels: 20, deadline: '1h', reviewers: ['rev'] },
        rollout: { requireApproval: true, approvers: ['appr'] },
      },
    });
    await registerRegressionModel(
      stack.pool,
      def,
      cars
        .filter((c) => c.year <= 1974)
        .map((c) => ({ recordKey: c.recordKey, ts: c.ts, features: c.features, label: String(c.value) })),
    );
    const later = cars.filter((c) => c.year >= 1975 && c.year <= 1980);
    await ingestRecords(
      stack.pool,
      modelId,
      later.map((c, i) => ({ ...c, feedback: i % 3 === 0 ? String(c.value) : null })),
      '1981-01-01T00:00:00Z',
    );
    const truth = new Map(later.map((c) => [c.recordKey, String(c.value)]));

    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId,
      window: { start: '1975-01-01T00:00:00Z', end: '1981-01-01T00:00:00Z' },
    });
    try {
      expect(await answerLabels(stack.h.client, cycleId, (k) => truth.get(k), 'rev')).toBeGreaterThan(0);
      const status = await waitForStatus(
        stack.h.client,
        cycleId,
        (s) => atStage('approval')(s) || s.outcome !== null,
      );
      expect(status.outcome).toBeNull();
      const trained = stageSummary(status, 'retrain');
      expect(trained).toMatchObject({ trainer: 'forest-regressor', task: 'regression', trees: 60 });
      expect(trained).not.toHaveProperty('trainAccuracy');
      const evaluated = stageSummary(status, 'evaluate') as {
        task: string;
        candidate: { mae: number };
        champion: { mae: number; meanError: number };
        gates: { gate: string; passed: boolean }[];
        gate: string;
        reason: string;
      };
      expect(evaluated.task).toBe('regression');
      expect(evaluated.gate).toBe('go');
      expect(evaluated.candidate.mae).toBeLessThan(evaluated.champion.mae);
      expect(evaluated.champion.meanError).toBeLessThan(0);
      expect(evaluated.gates.map((g) => g.gate)).toEqual([
        'min-holdout',
        'min-gain',
        'slice-drop',
        'latency',
        'backtest',
      ]);
      expect(evaluated.reason).toMatch(/^all gates passed \(MAE reduction \d+\.\d%, 90% interval /);
      // The card the approver reads is the regression card.
      const card = await db.getModelCard(stack.pool, modelId, status.candidateVersion!);
      expect(card?.markdown).toContain('## Residual bias by decile');
      expect(card?.html).toContain('aria-label="Predicted against actual, candidate and champion"');
    } finally {
      await stack.h.client.workflow.getHandle(cycleId).terminate('the test ends here');
    }
  });
});
