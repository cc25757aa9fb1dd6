/**
 * No cycle left open: a cycle workflow terminated on the dev server (not cancelled, so it never reaches
 * its close stage) leaves its row open; the next cycle for the model closes it as terminated, with a
 * `cycle.reconciled` audit event, and starts.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { describeWith, reconcileOpenCycle } from '../../activities/reconcile.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { atStage, waitForStatus } from '../../dev/reviewer.js';
import * as db from '../../db/index.js';
import { startCycle } from '../../ops/cycles.js';
import { until, useStack } from '../helpers.js';

const stack = useStack('reconcile');

/** Starts a cycle, waits until it waits for labels, and terminates its workflow. */
async function terminatedCycle(modelId: string): Promise<string> {
  await prepareWeatherModel(stack.pool, modelId, DEMO_POLICY);
  const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: SCENARIO.window });
  await waitForStatus(stack.h.client, cycleId, atStage('label'));
  await stack.h.client.workflow.getHandle(cycleId).terminate('operator terminated it');
  const row = await db.getCycle(stack.pool, cycleId);
  expect(row).toMatchObject({ closed_at: null }); // what the workflow could not do
  return cycleId;
}

const reconciledEvents = async (cycleId: string) =>
  (await db.cycleAudit(stack.pool, cycleId)).filter((e) => e.action === 'cycle.reconciled');

describe('reconciling cycles whose workflow ended without closing them', () => {
  it('given a terminated cycle, when a new cycle starts for the model, then it opens and the old row closes as terminated with an audit event', async () => {
    const old = await terminatedCycle('weather-terminated');
    const closedAt = (await stack.h.client.workflow.getHandle(old).describe()).closeTime!;

    const next = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-terminated',
      window: SCENARIO.window,
    });
    expect(next.cycleId).not.toBe(old);
    await waitForStatus(stack.h.client, next.cycleId, atStage('label'));

    expect(await db.getCycle(stack.pool, old)).toMatchObject({
      stage: 'closed',
      outcome: 'terminated',
      closed_at: closedAt,
    });
    const events = await reconciledEvents(old);
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toMatchObject({
      status: 'TERMINATED',
      closeTime: closedAt.toISOString(),
      outcome: 'terminated',
    });
    expect((await db.openCycle(stack.pool, 'weather-terminated'))?.cycle_id).toBe(next.cycleId);
    await stack.h.client.workflow.getHandle(next.cycleId).terminate('test over');
  });

  it('given a terminated cycle, when reconciliation runs twice at once, then the row closes once with one audit event', async () => {
    const old = await terminatedCycle('weather-twice');
    const describe = describeWith(stack.h.client);
    const results = await Promise.all([
      reconcileOpenCycle(stack.pool, describe, 'weather-twice'),
      reconcileOpenCycle(stack.pool, describe, 'weather-twice'),
    ]);
    expect(results.some((r) => r?.outcome === 'terminated')).toBe(true);
    expect(await reconcileOpenCycle(stack.pool, describe, 'weather-twice')).toBeNull();
    expect(await reconciledEvents(old)).toHaveLength(1);
    expect(await db.getCycle(stack.pool, old)).toMatchObject({ outcome: 'terminated' });
  });

  it('given a terminated cycle, when a trigger reserves the next cycle, then it starts a new one instead of attaching to the dead one', async () => {
    const old = await terminatedCycle('weather-trigger');
    const env = new MockActivityEnvironment(undefined, { client: stack.h.client });
    const acts = createActivities({ pool: stack.pool });
    const reserved = await env.run<[], db.Reservation, () => ReturnType<typeof acts.reserveCycle>>(() =>
      acts.reserveCycle({
        triggerKey: 'test-trigger-1',
        modelId: 'weather-trigger',
        kind: 'manual',
        evidence: {},
      }),
    );
    expect(reserved.started).toBe(true);
    expect(reserved.cycleId).not.toBe(old);
    expect(await db.getCycle(stack.pool, old)).toMatchObject({ outcome: 'terminated' });
    expect(await reconciledEvents(old)).toHaveLength(1);
  });

  it('given a running cycle, when reconciliation runs, then the row stays open', async () => {
    await prepareWeatherModel(stack.pool, 'weather-running', DEMO_POLICY);
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-running',
      window: SCENARIO.window,
    });
    await until(
      () => db.openCycle(stack.pool, 'weather-running'),
      (open) => open?.cycle_id === cycleId,
    );
    expect(await reconcileOpenCycle(stack.pool, describeWith(stack.h.client), 'weather-running')).toBeNull();
    expect(await db.getCycle(stack.pool, cycleId)).toMatchObject({ closed_at: null });
    await stack.h.client.workflow.getHandle(cycleId).terminate('test over');
  });
});
