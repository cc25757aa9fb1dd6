/**
 * The monitor on the real weather data: a Temporal Schedule per model runs drift checks over successive
 * 30-day windows of the production log (cursor mode replays 2013–2015 as if it arrived live).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { resolveTemporalCli } from '../../infra/temporal-install.js';
import { abortCycle, cycleStatus } from '../../ops/cycles.js';
import {
  createMonitor,
  deleteMonitor,
  describeMonitor,
  pauseMonitor,
  resumeMonitor,
  triggerMonitor,
} from '../../ops/monitor.js';
import { DEMO_POLICY, prepareWeatherModel } from '../../dev/scenario.js';
import { ingestRecords, registerModelWithChampion } from '../../ops/setup.js';
import { loadWeather, weatherModel } from '../../dev/weather.js';
import * as db from '../../db/index.js';
import type { DriftCheckSummary } from '../../workflows/monitor.js';
import { recordHistories, until, useStack } from '../helpers.js';

const stack = useStack('monitor');

/** Triggers checks one after another until `stop` holds or the log has no complete window left. */
async function runChecks(
  modelId: string,
  stop: (s: DriftCheckSummary) => boolean,
  max = 40,
): Promise<DriftCheckSummary[]> {
  const out: DriftCheckSummary[] = [];
  for (let i = 0; i < max; i++) {
    const s = (await triggerMonitor(stack.h.client, modelId, { wait: true }))!;
    out.push(s);
    if (s.state === 'waiting' || stop(s)) break;
  }
  return out;
}

describe('drift monitor', () => {
  it('given 2013–2015 traffic, then the April 2013 change persists through the performance path and starts one cycle', async () => {
    const modelId = 'weather-monitor';
    await prepareWeatherModel(stack.pool, modelId, DEMO_POLICY, 'all');
    await createMonitor(stack.h.client, stack.pool, stack.h, {
      modelId,
      every: '24h',
      window: '30d',
      mode: 'cursor',
      start: '2013-01-01',
    });
    const checks = await runChecks(modelId, (s) => s.state === 'cycle-started');
    const started = checks[checks.length - 1]!;
    expect(started.state).toBe('cycle-started');
    // Windows before April 2013 never make three in a row; from April the performance path fires.
    const before = checks.filter((c) => c.check!.window.end <= '2013-04-01T00:00:00.000Z');
    expect(before.length).toBe(3);
    expect(before.every((c) => !c.check!.persistent)).toBe(true);
    expect(started.check).toMatchObject({
      streak: 3,
      persistent: true,
      route: 'full-cycle',
      runWindow: { start: '2013-04-01T00:00:00.000Z', end: '2013-06-30T00:00:00.000Z' },
    });
    expect(started.check!.signals).toContain('performance');
    expect(started.reason).toMatch(
      /accuracy 4\d\.\d% vs baseline 70\.3% \(95% CI \d+\.\d%–\d+\.\d% on \d+ rows\) on 60 labeled rows/,
    );

    // The cycle runs over the persistent run's window and says what started it.
    const cycleId = started.cycleId!;
    expect(cycleId).toBe(`remediation-${modelId}-1`);
    const summary = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => s.stages.some((st) => st.stage === 'diagnose'),
    );
    expect(summary.window).toEqual({ start: '2013-04-01T00:00:00.000Z', end: '2013-06-30T00:00:00.000Z' });
    const diagnosed = summary.stages.find((st) => st.stage === 'diagnose')!.summary!;
    expect(diagnosed.signals).toContain('performance');

    // The official CLI finds the open cycle by its search attributes, as the README shows.
    const cli = (await resolveTemporalCli({ install: false }))!.path;
    const found = await until(
      async () => {
        const { stdout } = await promisify(execFile)(cli, [
          'workflow',
          'list',
          '--query',
          `ModelId='${modelId}' AND ExecutionStatus='Running' AND TriggerKind='drift'`,
          '--address',
          inject('temporalAddress'),
          '--output',
          'json',
        ]);
        return stdout.trim() === '' ? [] : (JSON.parse(stdout) as { execution: { workflowId: string } }[]);
      },
      (rows) => rows.length === 1,
    );
    expect(found[0]!.execution.workflowId).toBe(cycleId);

    // A further drifted window while the cycle runs is attached to it as evidence, not a second cycle.
    const next = (await triggerMonitor(stack.h.client, modelId, { wait: true }))!;
    expect(next).toMatchObject({ state: 'attached-to-cycle', cycleId });
    const withEvidence = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => (s.evidence ?? []).length === 1,
    );
    expect(withEvidence.evidence![0]).toMatchObject({ kind: 'drift', window: next.check!.window, streak: 4 });
    const triggers = await db.cycleTriggers(stack.pool, cycleId);
    expect(triggers.map((t) => [t.kind, t.started])).toEqual([
      ['drift', true],
      ['drift', false],
    ]);
    const { rows } = await stack.pool.query<{ cycle_id: string }>(
      'SELECT cycle_id FROM cycles WHERE model_id = $1',
      [modelId],
    );
    expect(rows.map((r) => r.cycle_id)).toEqual([cycleId]);
    const listed = await db.listDriftChecks(stack.pool, modelId, 100);
    expect(listed.filter((c) => c.cycleId === cycleId).length).toBe(2);

    await abortCycle(stack.h.client, cycleId);
    await until(
      () => stack.h.client.workflow.getHandle(cycleId).describe(),
      (d) => d.status.name !== 'RUNNING',
    );
    // A check that started the cycle, one attached to it, and the cycle with its evidence and abort.
    await recordHistories([started.checkKey, next.checkKey, cycleId]);
    await deleteMonitor(stack.h.client, stack.pool, modelId);
  });

  it('given 2012 traffic only (the reference year), then the checks find no persistent drift and start no cycle', async () => {
    const modelId = 'weather-control';
    const rows = (await loadWeather()).filter((r) => r.date < '2013-01-01');
    await registerModelWithChampion(
      stack.pool,
      weatherModel(modelId, DEMO_POLICY),
      rows.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
    );
    await ingestRecords(
      stack.pool,
      modelId,
      rows.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, feedback: r.label })),
    );
    await createMonitor(stack.h.client, stack.pool, stack.h, {
      modelId,
      every: '24h',
      window: '30d',
      mode: 'cursor',
    });
    const checks = await runChecks(modelId, () => false);
    expect(checks[checks.length - 1]!.state).toBe('waiting');
    expect(checks.length).toBe(13); // twelve 30-day windows, then waiting for data past the last one
    expect(checks.every((c) => c.state === 'checked' || c.state === 'waiting')).toBe(true);
    expect(checks.some((c) => c.check?.persistent)).toBe(false);
    const { rows: cycles } = await stack.pool.query('SELECT cycle_id FROM cycles WHERE model_id = $1', [
      modelId,
    ]);
    expect(cycles).toEqual([]);
    await deleteMonitor(stack.h.client, stack.pool, modelId);
  });

  it('given a monitor, then it can be paused, resumed and deleted, and bad settings are refused', async () => {
    const modelId = 'weather-sched';
    await prepareWeatherModel(stack.pool, modelId);
    const created = await createMonitor(stack.h.client, stack.pool, stack.h, {
      modelId,
      every: '6h',
      window: '7d',
    });
    expect(created).toMatchObject({
      paused: false,
      every: '21600s',
      mode: 'clock',
      windowMs: 7 * 86_400_000,
    });
    expect(created.nextRuns.length).toBeGreaterThan(0);
    await expect(createMonitor(stack.h.client, stack.pool, stack.h, { modelId })).rejects.toThrow(
      /already has a monitor/,
    );
    await pauseMonitor(stack.h.client, modelId, 'maintenance');
    expect(await describeMonitor(stack.h.client, stack.pool, modelId)).toMatchObject({
      paused: true,
      note: 'maintenance',
    });
    await resumeMonitor(stack.h.client, modelId);
    expect((await describeMonitor(stack.h.client, stack.pool, modelId)).paused).toBe(false);
    await deleteMonitor(stack.h.client, stack.pool, modelId);
    await expect(describeMonitor(stack.h.client, stack.pool, modelId)).rejects.toThrow(
      /has no monitor: create one/,
    );
    expect(await db.getMonitor(stack.pool, modelId)).toBeNull();
    await expect(
      createMonitor(stack.h.client, stack.pool, stack.h, { modelId, every: 'often' }),
    ).rejects.toThrow(/every: must be a duration like "30s"/);
    await expect(createMonitor(stack.h.client, stack.pool, stack.h, { modelId: 'nope' })).rejects.toThrow(
      /"nope" is not registered/,
    );
  });
});
