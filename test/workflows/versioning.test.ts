/**
 * Worker Versioning on the real dev server: a cycle started on build A finishes on build A after build B
 * became current, while cycles and checks started afterwards run on B (docs/operations.md section 5).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { abortCycle, startCycle, waitForCycle } from '../../ops/cycles.js';
import { createMonitor, deleteMonitor, triggerMonitor } from '../../ops/monitor.js';
import { atStage, waitForStatus } from '../../dev/reviewer.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { createWorkers } from '../../workers/workers.js';
import { freshDatabase, temporalHarness, uniqueSuffix, until, type TemporalHarness } from '../helpers.js';
import type pg from 'pg';

const { EventType, VersioningBehavior } = temporal.api.enums.v1;

let pool: pg.Pool;
/** The task queues and deployment of one scenario: each test has its own. */
interface Deployment {
  h: TemporalHarness;
  deploymentName: string;
}
let release: Deployment;
let migration: Deployment;
const running = new Map<string, { workers: Worker[]; done: Promise<unknown> }>();
const keyOf = (d: Deployment, buildId: string | null) => `${d.deploymentName}/${buildId ?? 'unversioned'}`;

/**
 * Both queues of one build, as `REMEDY_DEPLOYMENT_NAME` + `REMEDY_BUILD_ID` run them in workers/main.ts;
 * a null build is an unversioned worker (neither variable set).
 */
async function startBuild(d: Deployment, buildId: string | null): Promise<void> {
  const workers = await createWorkers({
    connection: d.h.nativeConnection,
    namespace: 'default',
    pool,
    taskQueue: d.h.taskQueue,
    trainingTaskQueue: d.h.trainingTaskQueue,
    queues: ['main', 'training'],
    workflowBundle: { codePath: inject('workflowBundlePath') },
    ...(buildId === null ? {} : { deployment: { deploymentName: d.deploymentName, buildId } }),
  });
  running.set(keyOf(d, buildId), { workers, done: Promise.all(workers.map((w) => w.run())) });
}

async function stopBuild(d: Deployment, buildId: string | null): Promise<void> {
  await stopRunning(keyOf(d, buildId));
}

async function stopRunning(key: string): Promise<void> {
  const build = running.get(key);
  if (!build) return;
  running.delete(key);
  for (const w of build.workers) if (w.getState() === 'RUNNING') w.shutdown();
  await build.done;
}

/** What an operator does with `temporal worker deployment set-current-version`. */
async function setCurrent(d: Deployment, buildId: string): Promise<void> {
  // The server knows a version once its pollers have reached it: retry until they have.
  await until(
    () =>
      d.h.connection.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: 'default',
        deploymentName: d.deploymentName,
        buildId,
        identity: 'versioning test',
      }),
    () => true,
    30_000,
  );
}

async function versioningOf(client: Client, workflowId: string) {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  const info = raw.workflowExecutionInfo?.versioningInfo;
  return { buildId: info?.deploymentVersion?.buildId ?? null, behavior: info?.behavior ?? null };
}

/** The build that completed each of the workflow's tasks, with the behaviour it reported: "A PINNED". */
async function taskBuilds(client: Client, workflowId: string, withBehavior = true): Promise<Set<string>> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const completed = (history.events ?? [])
    .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    .map((e) => e.workflowTaskCompletedEventAttributes!);
  return new Set(
    completed.map((t) => {
      const build = t.deploymentVersion?.buildId ?? '(unversioned)';
      const behavior = (VersioningBehavior[t.versioningBehavior ?? 0] ?? '?').replace(
        'VERSIONING_BEHAVIOR_',
        '',
      );
      return withBehavior ? `${build} ${behavior}` : build;
    }),
  );
}

beforeAll(async () => {
  ({ pool } = await freshDatabase('versioning'));
  release = { h: await temporalHarness('versioning'), deploymentName: `remedy-${uniqueSuffix()}` };
  migration = { h: await temporalHarness('versioning'), deploymentName: `remedy-${uniqueSuffix()}` };
});

afterAll(async () => {
  for (const key of [...running.keys()]) await stopRunning(key);
  await release?.h.close();
  await migration?.h.close();
  await pool?.end();
});

describe('worker versioning', () => {
  it('given a cycle started on build A, when build B becomes current, then the cycle finishes on A and new work runs on B', async () => {
    const { h } = release;
    const { client } = h;
    const deploymentName = release.deploymentName;
    await prepareWeatherModel(pool, 'weather-old-build', DEMO_POLICY);
    await prepareWeatherModel(pool, 'weather-new-build', DEMO_POLICY, 'all');

    await startBuild(release, 'A');
    await setCurrent(release, 'A');
    const old = await startCycle(client, h, { modelId: 'weather-old-build', window: SCENARIO.window });
    await waitForStatus(client, old.cycleId, atStage('label'));
    const oldLabeling = `${old.cycleId}-labeling`;
    expect(await versioningOf(client, old.cycleId)).toEqual({
      buildId: 'A',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
    });
    expect((await versioningOf(client, oldLabeling)).buildId).toBe('A');
    // The query an operator runs to see what still holds build A (docs/operations.md section 5).
    const pinnedToA = `TemporalWorkerDeploymentVersion = '${deploymentName}:A' AND ExecutionStatus = 'Running'`;
    await until(
      () => client.workflow.count(pinnedToA),
      (c) => c.count === 2,
      30_000,
    );

    // Build B is deployed beside A and made current; A is taken down before the old cycle's next task.
    await startBuild(release, 'B');
    await setCurrent(release, 'B');
    await stopBuild(release, 'A');
    await abortCycle(client, old.cycleId);

    // New work goes to B: a cycle (pinned to B) and a drift check (auto-upgrading, on B).
    const fresh = await startCycle(client, h, { modelId: 'weather-new-build', window: SCENARIO.window });
    await waitForStatus(client, fresh.cycleId, atStage('label'));
    expect(await versioningOf(client, fresh.cycleId)).toEqual({
      buildId: 'B',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
    });
    await createMonitor(client, pool, h, {
      modelId: 'weather-new-build',
      every: '24h',
      window: '30d',
      mode: 'cursor',
      start: '2013-01-01',
    });
    const check = (await triggerMonitor(client, 'weather-new-build', { wait: true }))!;
    expect(check.state).toBe('checked');
    const checkId = check.checkKey.split('@')[0]!;
    expect(await versioningOf(client, checkId)).toEqual({
      buildId: 'B',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE,
    });
    expect(await taskBuilds(client, checkId, false)).toEqual(new Set(['B']));

    // While B served all of that, B never took the old cycle's task: its abort is still unhandled.
    const oldHistory = await client.workflow.getHandle(old.cycleId).fetchHistory();
    const events = oldHistory.events ?? [];
    const cancelAt = events.findIndex(
      (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
    );
    expect(cancelAt).toBeGreaterThan(0);
    expect(
      events.slice(cancelAt).filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
    ).toEqual([]);
    const { rows: open } = await pool.query<{ closed: boolean }>(
      'SELECT closed_at IS NOT NULL AS closed FROM cycles WHERE cycle_id = $1',
      [old.cycleId],
    );
    expect(open).toEqual([{ closed: false }]);

    // Build A back (draining): the old cycle finishes there, every one of its tasks on A.
    await startBuild(release, 'A');
    await expect(waitForCycle(client, old.cycleId)).rejects.toThrow(/ended without an outcome: .*cancel/i);
    const { rows } = await pool.query<{ outcome: string }>(
      'SELECT outcome FROM cycles WHERE cycle_id = $1 AND closed_at IS NOT NULL',
      [old.cycleId],
    );
    expect(rows).toEqual([{ outcome: 'aborted' }]);
    // Every task on A and pinned: none (not even one the SDK answers itself) let the cycle move to B.
    expect(await taskBuilds(client, old.cycleId)).toEqual(new Set(['A PINNED']));
    expect(await taskBuilds(client, oldLabeling)).toEqual(new Set(['A PINNED']));
    expect((await versioningOf(client, old.cycleId)).buildId).toBe('A');
    // Build A is drained: nothing open holds it any more, and it can be retired.
    await until(
      () => client.workflow.count(pinnedToA),
      (c) => c.count === 0,
      30_000,
    );

    // The new cycle, on B, is untouched by A's return.
    await abortCycle(client, fresh.cycleId);
    await expect(waitForCycle(client, fresh.cycleId)).rejects.toThrow(/cancel/i);
    expect(await taskBuilds(client, fresh.cycleId)).toEqual(new Set(['B PINNED']));
    await deleteMonitor(client, pool, 'weather-new-build');
  });
  it('given a cycle started on unversioned workers, when the first version becomes current, then the cycle continues on it, pinned', async () => {
    const { h } = migration;
    const { client } = h;
    await prepareWeatherModel(pool, 'weather-unversioned', DEMO_POLICY);
    await startBuild(migration, null);
    const cycle = await startCycle(client, h, { modelId: 'weather-unversioned', window: SCENARIO.window });
    await waitForStatus(client, cycle.cycleId, atStage('label'));
    expect(await versioningOf(client, cycle.cycleId)).toEqual({ buildId: null, behavior: null });

    await startBuild(migration, 'A');
    await setCurrent(migration, 'A');
    await stopBuild(migration, null);
    await abortCycle(client, cycle.cycleId);
    await expect(waitForCycle(client, cycle.cycleId)).rejects.toThrow(/ended without an outcome: .*cancel/i);
    // Its tasks before the switch were unversioned; from the switch on, A took them and pinned it.
    expect(await taskBuilds(client, cycle.cycleId)).toEqual(
      new Set(['(unversioned) UNSPECIFIED', 'A PINNED']),
    );
    expect(await versioningOf(client, cycle.cycleId)).toEqual({
      buildId: 'A',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
    });
  });
});
