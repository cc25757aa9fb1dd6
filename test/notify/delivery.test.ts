/**
 * Notifications delivered, against local HTTP receivers (real http.Servers on 127.0.0.1): the rows the
 * activities write at a cycle's moments, one delivery per channel that wants the kind, and the worker's
 * outbox loop sending them: webhook signatures, Slack and PagerDuty shapes, retries with backoff, a
 * receiver that is down, and a worker that dies between sending and recording.
 */
import { createHmac } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { recordEvent, sendToChannel } from '../../activities/notifications.js';
import { Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { SCENARIO } from '../../dev/scenario.js';
import { loadWeather, weatherModel } from '../../dev/weather.js';
import { registerModelWithChampion } from '../../ops/setup.js';
import { deliverDue, eventOf, startDeliveryLoop } from '../../workers/deliveries.js';
import { cliRunner, freshDatabase } from '../helpers.js';
import { downUrl, startReceiver, type Receiver } from './receiver.js';

let pool: pg.Pool;
let acts: ReturnType<typeof createActivities>;
const modelId = 'weather-notify';
const SECRET = 'webhook-shared-secret';
const env = { REMEDY_WEBHOOK_SECRET: SECRET, PD_ROUTING_KEY: 'pd-routing-key-1', SLACK_URL: '' };
const fast = { env, retryDelayMs: () => 0, timeoutMs: 2_000 };
const receivers: Receiver[] = [];
let keySeq = 0;
const inActivity = <R>(fn: () => Promise<R>): Promise<R> =>
  new MockActivityEnvironment().run<[], R, () => Promise<R>>(fn);

async function receiver(statuses?: number[]): Promise<Receiver> {
  const r = await startReceiver(statuses);
  receivers.push(r);
  return r;
}

/** The model's policy now sends to these channels. */
async function useChannels(channels: unknown[]): Promise<void> {
  await db.upsertModel(pool, weatherModel(modelId, { notifications: { channels } }));
}

async function rollbackEvent(): Promise<string> {
  const eventKey = `test-${++keySeq}:rollback`;
  await recordEvent(pool, {
    eventKey,
    kind: 'rollback',
    modelId,
    cycleId: 'remediation-weather-notify-x',
    message: 'weather-notify rolled back to champion v1',
    details: { candidateVersion: 2 },
  });
  return eventKey;
}

const deliveriesOf = async (eventKey: string) =>
  (await db.modelDeliveries(pool, modelId)).filter((d) => d.eventKey === eventKey);

beforeAll(async () => {
  ({ pool } = await freshDatabase('notify'));
  acts = createActivities({ pool });
  const rows = (await loadWeather()).slice(0, 120);
  await registerModelWithChampion(
    pool,
    weatherModel(modelId),
    rows.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
  );
});
afterEach(async () => {
  while (receivers.length > 0) await receivers.pop()!.close();
});
afterAll(async () => {
  await pool?.end();
});

describe('channels', () => {
  it('given a webhook channel, when an event is delivered, then the JSON body carries a valid HMAC signature and the idempotency key', async () => {
    const hook = await receiver();
    await useChannels([
      { type: 'webhook', name: 'hooks', url: `${hook.url}/remedy`, secretEnv: 'REMEDY_WEBHOOK_SECRET' },
    ]);
    const key = await rollbackEvent();
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 1, retrying: 0, failed: 0 });

    const [req] = hook.requests;
    expect(hook.requests).toHaveLength(1);
    const expected = `sha256=${createHmac('sha256', SECRET).update(req!.body).digest('hex')}`;
    expect(req!.headers['x-remedy-signature']).toBe(expected);
    const [d] = await deliveriesOf(key);
    expect(req!.headers['idempotency-key']).toBe(`${d!.notificationId}:hooks`);
    expect(req!.path).toBe('/remedy');
    expect(req!.json).toMatchObject({
      kind: 'rollback',
      modelId,
      cycleId: 'remediation-weather-notify-x',
      message: 'weather-notify rolled back to champion v1',
      details: { candidateVersion: 2 },
      idempotencyKey: `${d!.notificationId}:hooks`,
    });
    expect(d).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
  });

  it('given Slack and PagerDuty channels, then each gets its own format; a channel that lists events gets only those', async () => {
    const slack = await receiver();
    const pager = await receiver([202]);
    await useChannels([
      { type: 'slack', name: 'chat', urlEnv: 'SLACK_URL' },
      {
        type: 'pagerduty',
        name: 'pager',
        routingKeyEnv: 'PD_ROUTING_KEY',
        url: `${pager.url}/v2/enqueue`,
        events: ['rollback'],
      },
    ]);
    const options = { ...fast, env: { ...env, SLACK_URL: `${slack.url}/services/T0/B0/x` } };
    await recordEvent(pool, {
      eventKey: `test-${++keySeq}:started`,
      kind: 'cycle-started',
      modelId,
      message: 'cycle started',
    });
    const key = await rollbackEvent();
    expect(await deliverDue(pool, options)).toEqual({ delivered: 3, retrying: 0, failed: 0 });

    expect(slack.requests.map((r) => r.json.text)).toEqual([
      `Cycle started · ${modelId}: cycle started`,
      `Rolled back · ${modelId}: weather-notify rolled back to champion v1`,
    ]);
    expect(slack.requests[0]!.json.blocks).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'section' })]),
    );
    expect(pager.requests).toHaveLength(1);
    const [d] = (await deliveriesOf(key)).filter((x) => x.channel === 'pager');
    expect(pager.requests[0]!.json).toMatchObject({
      routing_key: 'pd-routing-key-1',
      event_action: 'trigger',
      dedup_key: `${d!.notificationId}:pager`,
      payload: {
        summary: `Rolled back · ${modelId}: weather-notify rolled back to champion v1`,
        source: 'remedy',
        severity: 'error',
      },
    });
  });

  it('given a channel whose secret variable is not set, then the delivery fails at once, naming the variable', async () => {
    await useChannels([
      { type: 'webhook', name: 'hooks', url: 'http://127.0.0.1:9/x', secretEnv: 'REMEDY_UNSET_SECRET' },
    ]);
    const key = await rollbackEvent();
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    const [d] = await deliveriesOf(key);
    expect(d).toMatchObject({ status: 'failed', attempts: 1 });
    expect(d!.lastError).toContain('REMEDY_UNSET_SECRET is not set');
  });
});

describe('retries', () => {
  it('given a receiver that answers 500 twice then 200, then the event is delivered once, after 3 attempts', async () => {
    const hook = await receiver([500, 500, 200]);
    await useChannels([
      { type: 'webhook', name: 'hooks', url: hook.url, secretEnv: 'REMEDY_WEBHOOK_SECRET' },
    ]);
    const key = await rollbackEvent();
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    const [waiting] = await deliveriesOf(key);
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1 });
    expect(waiting!.lastError).toContain('HTTP 500');
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 0, retrying: 0, failed: 0 });

    expect(await deliveriesOf(key)).toMatchObject([{ status: 'delivered', attempts: 3, lastError: null }]);
    expect(hook.requests).toHaveLength(3);
    expect(hook.distinctKeys().size).toBe(1);
  });

  it('given a retry not yet due, then a pass leaves it alone (the backoff holds)', async () => {
    const hook = await receiver([500, 200]);
    await useChannels([
      { type: 'webhook', name: 'hooks', url: hook.url, secretEnv: 'REMEDY_WEBHOOK_SECRET' },
    ]);
    const key = await rollbackEvent();
    const slow = { ...fast, retryDelayMs: () => 3_600_000 };
    expect(await deliverDue(pool, slow)).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    expect(await deliverDue(pool, slow)).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    expect(hook.requests).toHaveLength(1);
    // Once it is due, the next pass delivers it (and leaves nothing pending for the next test).
    expect(await deliveriesOf(key)).toMatchObject([{ status: 'pending', attempts: 1 }]);
    await pool.query("UPDATE notification_deliveries SET next_attempt_at = now() WHERE status = 'pending'");
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 1, retrying: 0, failed: 0 });
  });

  it('given a receiver that is down, then the cycle opens and closes as ever and the delivery fails after N attempts with the error recorded', async () => {
    await useChannels([
      { type: 'webhook', name: 'hooks', url: await downUrl(), secretEnv: 'REMEDY_WEBHOOK_SECRET' },
    ]);
    const cycleId = 'remediation-weather-notify-down';
    await inActivity(() => acts.openCycle({ cycleId, modelId, window: SCENARIO.window, trigger: 'manual' }));
    await inActivity(() =>
      acts.closeCycle({
        cycleId,
        modelId,
        outcome: 'data-quality-incident',
        summary: { reason: 'not retraining on broken data: 40% nulls in temp_max' },
      }),
    );
    expect(await db.openCycle(pool, modelId)).toBeNull();
    const events = (await db.modelNotifications(pool, modelId)).filter((n) => n.cycle_id === cycleId);
    expect(events.map((e) => e.kind)).toEqual(['cycle-started', 'cycle-closed', 'data-quality']);
    expect(events[1]!.message).toContain('data-quality-incident (not retraining on broken data');

    const three = { ...fast, maxAttempts: 3 };
    expect(await deliverDue(pool, three)).toEqual({ delivered: 0, retrying: 3, failed: 0 });
    expect(await deliverDue(pool, three)).toEqual({ delivered: 0, retrying: 3, failed: 0 });
    expect(await deliverDue(pool, three)).toEqual({ delivered: 0, retrying: 0, failed: 3 });
    expect(await deliverDue(pool, three)).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    const rows = (await db.modelDeliveries(pool, modelId)).filter((d) => d.eventKey.startsWith(cycleId));
    expect(rows).toHaveLength(3);
    for (const d of rows) {
      expect(d).toMatchObject({ status: 'failed', attempts: 3, deliveredAt: null });
      expect(d.lastError).toMatch(/unreachable: .*ECONNREFUSED.*gave up after 3 attempts/);
    }
  });
});

describe('a worker that dies between sending and recording', () => {
  it('given a claimed delivery sent and never recorded, then it is resent with the same Idempotency-Key once its lease ends', async () => {
    const hook = await receiver();
    await useChannels([
      { type: 'webhook', name: 'hooks', url: hook.url, secretEnv: 'REMEDY_WEBHOOK_SECRET' },
    ]);
    const key = await rollbackEvent();

    // The first worker claims it (a one-minute lease), sends it, and dies before recording the result.
    const [claimed] = await db.claimDueDeliveries(pool, { limit: 10, leaseMs: 60_000 });
    expect(claimed).toMatchObject({ channel: 'hooks', attempts: 1 });
    const sent = await sendToChannel(claimed!.target, eventOf(claimed!), fast);
    expect(sent.ok).toBe(true);
    // While the lease lasts, another worker's pass does not take it.
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    // The lease ends.
    await pool.query(
      'UPDATE notification_deliveries SET next_attempt_at = now() WHERE notification_id = $1',
      [claimed!.notificationId],
    );
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 1, retrying: 0, failed: 0 });

    expect(hook.requests).toHaveLength(2);
    expect(hook.distinctKeys()).toEqual(new Set([`${claimed!.notificationId}:hooks`]));
    expect(hook.requests[1]!.body).toBe(hook.requests[0]!.body);
    expect(await deliveriesOf(key)).toMatchObject([{ status: 'delivered', attempts: 2 }]);
  });
});

describe('events from the activities', () => {
  it('given a labeling reminder, an inconclusive rollout step past its sample wait and a rollback, then each reaches the channel once', async () => {
    const hook = await receiver();
    await useChannels([
      { type: 'webhook', name: 'hooks', url: hook.url, secretEnv: 'REMEDY_WEBHOOK_SECRET' },
    ]);
    const cycleId = 'remediation-weather-notify-events';
    await inActivity(() => acts.openCycle({ cycleId, modelId, window: SCENARIO.window, trigger: 'manual' }));
    const reminder = {
      eventKey: `${cycleId}-labeling:reminder:0`,
      campaignId: `${cycleId}-labeling`,
      kind: 'reminder' as const,
      recipients: ['ana'],
      message: '12 of 40 items still need a label',
    };
    await inActivity(() => acts.notify(reminder));
    await inActivity(() => acts.notify(reminder)); // a retry: stored and sent once
    const policy = Policy.parse({ rollout: { sampleWait: '1m', approvers: ['ops'] } }).rollout;
    await inActivity(() =>
      acts.analyzeRolloutStep({
        cycleId,
        modelId,
        stepIndex: 0,
        attempt: 3,
        weight: 10,
        stepSince: new Date(Date.now() - 3_600_000).toISOString(),
        rolloutSince: new Date(Date.now() - 3_600_000).toISOString(),
        candidateVersion: 1,
        championVersion: 1,
        policy,
      }),
    );
    const loop = startDeliveryLoop(pool, { ...fast, intervalMs: 50 });
    try {
      await hook.nth(3);
    } finally {
      await loop.stop();
    }
    const kinds = hook.requests.map((r) => r.json.kind);
    expect(kinds).toEqual(['cycle-started', 'reminder', 'paused']);
    expect(hook.requests[1]!.json).toMatchObject({ modelId, cycleId, recipients: ['ana'] });
    expect(hook.requests[2]!.json.message).toContain('paused at 10%');
    // The rollback path, run twice as a retry would: one event, with the breach's reason.
    const rollback = {
      cycleId,
      modelId,
      championVersion: 1,
      candidateVersion: 1,
      actor: 'remedy',
      evidence: { reason: 'candidate accuracy 0.61 below the champion 0.70' },
    };
    await inActivity(() => acts.rollback(rollback));
    await inActivity(() => acts.rollback(rollback));
    await inActivity(() => acts.closeCycle({ cycleId, modelId, outcome: 'rolled-back', summary: {} }));
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 2, retrying: 0, failed: 0 });
    expect(hook.requests.slice(3).map((r) => [r.json.kind, r.json.message])).toEqual(
      expect.arrayContaining([
        [
          'rollback',
          `${modelId} rolled back to champion v1: candidate v1 withdrawn by remedy (candidate accuracy 0.61 below the champion 0.70)`,
        ],
        ['cycle-closed', `cycle ${cycleId} of ${modelId} closed: rolled-back`],
      ]),
    );
  });
});

describe('remedy notify test', () => {
  const remedy = cliRunner(() => ({
    client: undefined as unknown as Client, // the command needs no Temporal
    queues: { taskQueue: 'unused', trainingTaskQueue: 'unused' },
    pool,
  }));

  it("given a working webhook and a Slack channel that is down, then each channel's result is printed and the command fails", async () => {
    const hook = await receiver();
    process.env.REMEDY_NOTIFY_CLI_SECRET = SECRET;
    process.env.REMEDY_NOTIFY_CLI_SLACK = `${await downUrl()}/services/x`;
    await useChannels([
      { type: 'webhook', name: 'hooks', url: hook.url, secretEnv: 'REMEDY_NOTIFY_CLI_SECRET' },
      { type: 'slack', name: 'chat', urlEnv: 'REMEDY_NOTIFY_CLI_SLACK' },
    ]);
    const r = await remedy('notify', 'test', modelId, '--timeout', '5');
    expect(r.code).toBe(1);
    expect(r.out).toContain('hooks (webhook): delivered, HTTP 200');
    expect(r.out).toMatch(/chat \(slack\): FAILED: 127\.0\.0\.1:\d+ unreachable/);
    expect(r.err).toContain('1 of 2 channels failed the test');
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]!.json).toMatchObject({ kind: 'test', modelId });
    expect(hook.requests[0]!.headers['x-remedy-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(hook.requests[0]!.body).digest('hex')}`,
    );
    // A test event is sent now, not stored: nothing waits in the outbox.
    expect(await deliverDue(pool, fast)).toEqual({ delivered: 0, retrying: 0, failed: 0 });
  });

  it('given a model without channels, then the command says how to add them', async () => {
    await useChannels([]);
    const r = await remedy('notify', 'test', modelId);
    expect(r.code).toBe(2);
    expect(r.err).toContain('has no notification channels: add policy.notifications.channels');
  });
});
