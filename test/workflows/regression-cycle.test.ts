/**
 * A regression model's cycle through the real workflow, on the vega cars: the champion trained on
 * 1970–74, production 1975–80 with numeric feedback for two cars in three. The confirm stage measures
 * the champion's MAE against its holdout, diagnose judges it a severe degradation (not a data-quality
 * incident) and the cycle goes on to collect the window and ask for labels.
 */
import { describe, expect, it } from 'vitest';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';
import { atStage, waitForStatus } from '../../dev/reviewer.js';
import { startCycle } from '../../ops/cycles.js';
import { registerRegressionModel } from '../../ops/register-regression.js';
import { ingestRecords } from '../../ops/setup.js';
import type { CycleSummary } from '../../workflows/messages.js';
import { useStack } from '../helpers.js';

const stack = useStack('regcycle');

const cars = labeledCars().map(({ features: { year: _year, ...features }, ...c }, i) => ({
  ...c,
  features,
  ts: new Date(Date.UTC(c.year, 0, 1) + i * 3_600_000).toISOString(),
}));
const stageSummary = (summary: CycleSummary, stage: string) =>
  summary.stages.find((s) => s.stage === stage)?.summary ?? {};

describe('the cycle of a regression model', () => {
  it('given the cars of 1975–80, when a cycle runs, then confirm measures MAE against the holdout, diagnose routes a full cycle and the cycle collects and asks for labels', async () => {
    const modelId = 'cars-cycle';
    const def = ModelDefinition.parse({
      modelId,
      task: 'regression',
      features: CAR_MEASUREMENTS,
      policy: { labeling: { budget: 20, minLabels: 10, deadline: '1h', reviewers: ['rev'] } },
    });
    const reference = cars.filter((c) => c.year <= 1974);
    const champion = await registerRegressionModel(
      stack.pool,
      def,
      reference.map((c) => ({
        recordKey: c.recordKey,
        ts: c.ts,
        features: c.features,
        label: String(c.value),
      })),
    );
    const later = cars.filter((c) => c.year >= 1975 && c.year <= 1980);
    await ingestRecords(
      stack.pool,
      modelId,
      later.map((c, i) => ({ ...c, feedback: i % 3 === 2 ? null : String(c.value) })),
      '1981-01-01T00:00:00Z',
    );

    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId,
      window: { start: '1975-01-01T00:00:00Z', end: '1981-01-01T00:00:00Z' },
    });
    const status = await waitForStatus(
      stack.h.client,
      cycleId,
      (s) => atStage('label')(s) || s.outcome !== null,
    );
    try {
      expect(status.outcome).toBeNull();
      expect(status.stages.map((s) => s.stage)).toEqual(['confirm', 'diagnose', 'collect', 'label']);
      const labeled = later.filter((_, i) => i % 3 !== 2).length;
      expect(stageSummary(status, 'confirm')).toMatchObject({
        labeledRows: labeled,
        performanceMetric: 'mae',
        baseline: Math.round(champion.holdoutErrors!.mae * 10_000) / 10_000,
        performanceBasis: 'measured',
        targetDrift: { test: 'ks', drifted: true },
      });
      const diagnosis = stageSummary(status, 'diagnose');
      expect(diagnosis).toMatchObject({ severity: 'severe', route: 'full-cycle' });
      expect(diagnosis.signals).toEqual(expect.arrayContaining(['performance', 'label-shift']));
      expect(diagnosis.signals).not.toContain('data-quality');
      expect(String(diagnosis.reason)).toMatch(
        new RegExp(
          `measured MAE \\d+\\.\\d+ vs baseline 1\\.41 \\(holdout, 35 rows\\), \\+\\d+% on ${labeled} labeled rows`,
        ),
      );
      expect(stageSummary(status, 'collect')).toMatchObject({
        rowCount: later.length,
        labeledCount: labeled,
      });
    } finally {
      await stack.h.client.workflow.getHandle(cycleId).terminate('the test ends here');
    }
  });
});
