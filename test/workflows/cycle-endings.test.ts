/**
 * Cycles that end at the diagnosis, through the real workflow: nothing to remedy (no-action), and a
 * broken feed (data-quality-incident). Neither collects, labels nor trains, and the champion keeps serving.
 */
import { describe, expect, it } from 'vitest';
import { startCycle, waitForCycle } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import * as db from '../../db/index.js';
import type { CycleSummary } from '../../workflows/messages.js';
import { searchAttributeUpserts, useStack } from '../helpers.js';

const stack = useStack('endings');

const stageSummary = (summary: CycleSummary, stage: string) =>
  summary.stages.find((s) => s.stage === stage)?.summary ?? {};

async function runCycle(modelId: string): Promise<CycleSummary> {
  const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: SCENARIO.window });
  return await waitForCycle(stack.h.client, cycleId);
}

describe('cycle endings at the diagnosis', () => {
  it('given performance within a tolerance that covers the drop, when a cycle runs, then it closes as no-action after the diagnosis', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-noaction', {
      ...DEMO_POLICY,
      drift: { performanceTolerance: 1, severeDrop: 1 },
    });

    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-noaction',
      window: SCENARIO.window,
    });
    const summary = await waitForCycle(stack.h.client, cycleId);

    expect(summary.outcome).toBe('no-action');
    expect(summary.reason).toMatch(/^no action: /);
    expect(summary.stages.map((s) => s.stage)).toEqual(['confirm', 'diagnose', 'close']);
    expect(stageSummary(summary, 'diagnose')).toMatchObject({ route: 'none' });
    expect(stageSummary(summary, 'diagnose').signals).not.toContain('performance');
    expect(stageSummary(summary, 'close')).toEqual({ outcome: 'no-action', reason: summary.reason });
    expect(summary.candidateVersion).toBeNull();
    expect(await db.getAlias(stack.pool, 'weather-noaction', 'champion')).toBe(prepared.champion.version);
    // The diagnosis, its severity and the outcome go out with the close stage: one upsert.
    expect(await searchAttributeUpserts(stack.h.client, cycleId)).toEqual(
      [
        ['RemediationStage=confirm'],
        [`DriftSeverity=${summary.severity}`, 'Outcome=no-action', 'RemediationStage=close'],
      ].map((upsert) => [upsert]),
    );
  });

  it('given rows whose temp_max is not a number in the window, when a cycle runs, then it closes as a data-quality incident naming the feature, without retraining', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-broken', DEMO_POLICY);
    const inWindow = prepared.rows.filter((r) => r.ts >= SCENARIO.window.start && r.ts < SCENARIO.window.end);
    const broken = inWindow.slice(0, 12).map((r, i) => ({
      recordKey: `${r.recordKey}-broken`,
      ts: new Date(Date.parse(r.ts) + 60_000 * (i + 1)).toISOString(),
      features: { ...r.features, temp_max: 'n/a' },
    }));
    expect(await db.insertRecords(stack.pool, 'weather-broken', broken)).toBe(12);

    const summary = await runCycle('weather-broken');

    expect(summary.outcome).toBe('data-quality-incident');
    expect(summary.reason).toMatch(/^not retraining on broken data: .*temp_max schema/);
    expect(summary.stages.map((s) => s.stage)).toEqual(['confirm', 'diagnose', 'close']);
    expect(stageSummary(summary, 'diagnose')).toMatchObject({ route: 'data-quality' });
    expect(stageSummary(summary, 'diagnose').signals).toContain('data-quality');
    expect(summary.candidateVersion).toBeNull();
    expect(await db.getAlias(stack.pool, 'weather-broken', 'champion')).toBe(prepared.champion.version);
  });
});
