/**
 * The feedback loop on the weather data: failure cases flagged as 2013–2014 traffic is served, a volume
 * trigger that starts a cycle, targeted patterns traced after promotion; the schedule trigger; and the
 * rule that a model never has two cycles (a second trigger is attached as evidence).
 */
import { describe, expect, it } from 'vitest';
import { abortCycle, cycleStatus } from '../../ops/cycles.js';
import { createTrigger, deleteMonitor, triggerMonitor } from '../../ops/monitor.js';
import {
  DEMO_POLICY,
  FIXED_SAMPLE_POLICY,
  prepareWeatherModel,
  runScriptedCycle,
} from '../../dev/scenario.js';
import * as db from '../../db/index.js';
import { recordHistories, until, useStack } from '../helpers.js';

const stack = useStack('triggers', { gateway: true });

async function monthlyRate(modelId: string, from: string, to: string): Promise<number> {
  const { rows } = await stack.pool.query<{ cases: string; labeled: string }>(
    `SELECT (SELECT count(*) FROM failure_cases WHERE model_id = $1 AND kind = 'wrong-prediction' AND occurred_at >= $2 AND occurred_at < $3) AS cases,
            (SELECT count(*) FROM records WHERE model_id = $1 AND feedback IS NOT NULL AND ts >= $2 AND ts < $3) AS labeled`,
    [modelId, from, to],
  );
  return Number(rows[0]!.cases) / Number(rows[0]!.labeled);
}

describe('triggers and the failure catalog', () => {
  it('given 2013–2014 served with feedback, then failures jump after April 2013, a volume trigger starts one cycle, and promotion fixes the targeted patterns', async () => {
    const modelId = 'weather-volume';
    const prepared = await prepareWeatherModel(stack.pool, modelId, {
      ...FIXED_SAMPLE_POLICY,
      triggers: { volume: { window: '365d' } },
    });

    // Failure cases accumulate after the April 2013 change.
    const before = await monthlyRate(modelId, '2013-01-01', '2013-04-01');
    const after = await monthlyRate(modelId, '2013-04-01', '2013-07-01');
    // January–March 2013: about 32% of labeled requests wrong; April–June: about 57%.
    expect(before).toBeLessThan(0.4);
    expect(after).toBeGreaterThan(before + 0.15);
    const wrongPatterns = (await db.failurePatterns(stack.pool, modelId)).filter((p) =>
      p.patternKey.includes('/truth='),
    );
    // The most frequent wrong predictions: wet-looking days the source now calls sun or fog, predicted rain.
    expect(wrongPatterns[0]!.patternKey).toMatch(
      /^model-error\/location=(Seattle|New York)\/truth=(sun|fog)\/predicted=rain$/,
    );
    expect(wrongPatterns[0]!.trend.length).toBeGreaterThan(12);

    await createTrigger(stack.h.client, stack.pool, stack.h, { modelId, kind: 'volume', every: '24h' });
    const fired = (await triggerMonitor(stack.h.client, modelId, { wait: true, kind: 'volume' }))!;
    expect(fired).toMatchObject({ state: 'cycle-started', cycleId: `remediation-${modelId}-1` });
    expect(fired.reason).toMatch(/labeled failures/);
    const described = await stack.h.client.workflow.getHandle(fired.cycleId!).describe();
    expect(described.searchAttributes).toMatchObject({ TriggerKind: ['volume'], ModelId: [modelId] });
    const cycleId = fired.cycleId!;

    // While the cycle runs, the next volume check is attached to it as evidence.
    const again = (await triggerMonitor(stack.h.client, modelId, { wait: true, kind: 'volume' }))!;
    expect(again).toMatchObject({ state: 'attached-to-cycle', cycleId });

    const run = await runScriptedCycle(stack.h.client, stack.h, prepared, {
      gatewayUrl: stack.gateway.url,
      cycleId,
      pool: stack.pool,
    });
    expect(run.summary.outcome).toBe('promoted');
    // Flagged cases without ground truth (unsure, out of distribution) were asked first, the more severe first.
    const { rows: asked } = await stack.pool.query<{ record_key: string; rank: number | null }>(
      `SELECT t.record_key,
              (SELECT min(CASE f.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END) FROM failure_cases f
               WHERE f.model_id = $2 AND f.record_key = t.record_key AND f.truth IS NULL) AS rank
       FROM label_tasks t WHERE t.campaign_id = $1 ORDER BY t.priority`,
      [`${cycleId}-labeling`, modelId],
    );
    const ranks = asked.map((a) => a.rank ?? 3);
    expect(ranks[0]).toBeLessThan(3);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(run.summary.evidence?.map((e) => e.kind)).toEqual(['volume']);
    const targets = run.summary.targets!;
    expect(targets.length).toBeGreaterThan(0);
    expect(targets[0]!.verdict).toBe('fixed');
    expect(targets[0]!.after!.rate!).toBeLessThan(targets[0]!.before.rate!);
    const status = (await db.failurePatterns(stack.pool, modelId)).find(
      (p) => p.patternKey === targets[0]!.patternKey,
    )!;
    expect(status).toMatchObject({ status: 'fixed', lastCycleId: cycleId });
    for (const t of targets) expect(t.reason).toMatch(/error rate .* before, .* after/);
    // Replay: the volume check that started the cycle, the one attached to it, and the traced cycle.
    await recordHistories([fired.key, again.key, cycleId, `${cycleId}-labeling`, `${cycleId}-rollout`]);
    await deleteMonitor(stack.h.client, stack.pool, modelId, 'volume');

    // After the cycle closed, the counter restarts: nothing new was flagged since, so the check stays quiet.
    await createTrigger(stack.h.client, stack.pool, stack.h, { modelId, kind: 'volume', every: '24h' });
    const quiet = (await triggerMonitor(stack.h.client, modelId, { wait: true, kind: 'volume' }))!;
    expect(quiet.state).toBe('quiet');
    await deleteMonitor(stack.h.client, stack.pool, modelId, 'volume');
  });

  it('given a schedule trigger, then it starts one cycle over the latest window and a second run is attached as evidence', async () => {
    const modelId = 'weather-scheduled';
    await prepareWeatherModel(stack.pool, modelId, { ...DEMO_POLICY, triggers: { scheduleWindow: '60d' } });
    await createTrigger(stack.h.client, stack.pool, stack.h, { modelId, kind: 'schedule', every: '7d' });
    const first = (await triggerMonitor(stack.h.client, modelId, { wait: true, kind: 'schedule' }))!;
    expect(first).toMatchObject({ state: 'cycle-started', cycleId: `remediation-${modelId}-1` });
    // The latest 60 days of the log, which ends on 2015-12-31.
    expect(first.window).toEqual({ start: '2015-11-01T12:00:00.001Z', end: '2015-12-31T12:00:00.001Z' });
    const second = (await triggerMonitor(stack.h.client, modelId, { wait: true, kind: 'schedule' }))!;
    expect(second).toMatchObject({ state: 'attached-to-cycle', cycleId: first.cycleId });
    const withEvidence = await until(
      () => cycleStatus(stack.h.client, first.cycleId!),
      (s) => (s.evidence ?? []).length === 1,
    );
    expect(withEvidence.evidence![0]).toMatchObject({ kind: 'schedule', key: second.key });
    const { rows } = await stack.pool.query<{ cycle_id: string }>(
      'SELECT cycle_id FROM cycles WHERE model_id = $1',
      [modelId],
    );
    expect(rows.map((r) => r.cycle_id)).toEqual([first.cycleId]);
    expect((await db.cycleTriggers(stack.pool, first.cycleId!)).map((t) => [t.kind, t.started])).toEqual([
      ['schedule', true],
      ['schedule', false],
    ]);
    await abortCycle(stack.h.client, first.cycleId!);
    await recordHistories([first.key, second.key]);
    await deleteMonitor(stack.h.client, stack.pool, modelId, 'schedule');
    await expect(triggerMonitor(stack.h.client, modelId, { kind: 'schedule' })).rejects.toThrow(
      /has no schedule trigger: create one with remedy triggers create weather-scheduled --kind schedule/,
    );
  });

  it('given the gateway, then wrong feedback and user corrections are flagged, and bad corrections are refused', async () => {
    const modelId = 'weather-gw-flags';
    const prepared = await prepareWeatherModel(stack.pool, modelId);
    const row = prepared.rows.find((r) => r.date === '2015-06-01' && r.features.location === 'Seattle')!;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${stack.gateway.url}/v1/models/${modelId}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const p1 = await post('predict', { requestId: 'gw-1', features: row.features });
    const p2 = await post('predict', { requestId: 'gw-2', features: row.features });
    const predicted = p1.body.label as string;
    const other = prepared.rows.map((r) => r.label).find((l) => l !== predicted)!;

    expect(await post('feedback', { requestId: 'gw-1', label: other })).toMatchObject({
      status: 200,
      body: { flagged: true },
    });
    expect(await post('feedback', { requestId: 'gw-1', label: other })).toMatchObject({
      status: 200,
      body: { duplicate: true, flagged: false },
    });
    expect(await post('corrections', { requestId: 'gw-2', label: other, by: 'alice' })).toMatchObject({
      status: 200,
      body: { flagged: true },
    });
    expect(await post('corrections', { requestId: 'gw-2', label: predicted })).toMatchObject({
      status: 422,
      body: { error: `the model answered "${predicted}" already: a correction needs another label` },
    });
    expect(await post('corrections', { requestId: 'nope', label: other })).toMatchObject({ status: 404 });
    expect(await post('corrections', { requestId: 'gw-2', label: 'hail' })).toMatchObject({ status: 422 });
    expect(p2.status).toBe(200);

    const cases = await db.failureCases(stack.pool, modelId, { limit: 10 });
    const byKey = Object.fromEntries(
      cases.filter((c) => c.recordKey.startsWith('gw-')).map((c) => [`${c.recordKey}:${c.kind}`, c]),
    );
    expect(byKey['gw-1:wrong-prediction']).toMatchObject({
      truth: other,
      predicted,
      taxonomy: 'model-error',
    });
    expect(byKey['gw-2:user-correction']).toMatchObject({ truth: other, severity: 'high' });
    // The correction also became the request's ground truth.
    const { rows } = await stack.pool.query<{ feedback: string }>(
      'SELECT feedback FROM records WHERE model_id = $1 AND record_key = $2',
      [modelId, 'gw-2'],
    );
    expect(rows[0]!.feedback).toBe(other);
  });
});
