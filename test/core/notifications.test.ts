import { describe, expect, it } from 'vitest';
import {
  channelsFor,
  type NotificationEvent,
  pagerDutyBody,
  reportUrl,
  retryDelayMs,
  severityOf,
  slackBody,
  webhookBody,
} from '../../core/notifications.js';
import { describeZodError, Policy } from '../../core/schemas.js';

const event: NotificationEvent = {
  idempotencyKey: '42:oncall',
  kind: 'cycle-closed',
  modelId: 'weather',
  cycleId: 'remediation-weather-1',
  campaignId: null,
  recipients: [],
  message: 'cycle remediation-weather-1 of weather closed: failed (<boom> & more)',
  details: { outcome: 'failed' },
  createdAt: '2026-01-01T00:00:00.000Z',
  reportUrl: 'https://remedy.example.com/reports/remediation-weather-1',
};

const policyError = (notifications: unknown) => {
  const r = Policy.safeParse({ notifications });
  return r.success ? null : describeZodError(r.error);
};

describe('channels in the policy', () => {
  it('given no notifications block, then there are no channels', () => {
    expect(Policy.parse({}).notifications.channels).toEqual([]);
  });

  it('given a webhook without a secret variable, then the policy is refused naming the field', () => {
    expect(
      policyError({ channels: [{ type: 'webhook', name: 'hooks', url: 'https://x.example/h' }] }),
    ).toContain('secretEnv');
  });

  it('given a secret written where its variable name belongs, then the policy is refused', () => {
    const err = policyError({
      channels: [{ type: 'webhook', name: 'hooks', url: 'https://x.example/h', secretEnv: 's3cr3t value!' }],
    });
    expect(err).toContain('never the secret itself');
  });

  it('given two channels with one name, or a slack channel with neither url nor urlEnv, then each is refused', () => {
    const hook = { type: 'webhook', name: 'a', url: 'https://x.example/h', secretEnv: 'S' };
    expect(policyError({ channels: [hook, hook] })).toContain('unique');
    expect(policyError({ channels: [{ type: 'slack', name: 'chat' }] })).toContain('exactly one of "urlEnv"');
  });

  it('given channels with and without an events list, then each event goes to the channels that want it', () => {
    const { channels } = Policy.parse({
      notifications: {
        channels: [
          { type: 'slack', name: 'chat', urlEnv: 'SLACK_URL' },
          { type: 'pagerduty', name: 'pager', routingKeyEnv: 'PD_KEY', events: ['rollback', 'data-quality'] },
        ],
      },
    }).notifications;
    expect(channelsFor(channels, 'rollback').map((c) => c.name)).toEqual(['chat', 'pager']);
    expect(channelsFor(channels, 'reminder').map((c) => c.name)).toEqual(['chat']);
  });
});

describe('request bodies', () => {
  it('given an event, then the webhook body carries it whole with its report link', () => {
    expect(webhookBody(event)).toMatchObject({
      idempotencyKey: '42:oncall',
      kind: 'cycle-closed',
      title: 'Cycle closed · weather',
      details: { outcome: 'failed' },
      reportUrl: event.reportUrl,
    });
  });

  it('given an event, then Slack gets text and blocks with the message escaped and the report linked', () => {
    const body = slackBody(event);
    expect(body.text).toBe(`Cycle closed · weather: ${event.message}`);
    expect(JSON.stringify(body.blocks)).toContain('(&lt;boom&gt; &amp; more)');
    expect(JSON.stringify(body.blocks)).toContain(`<${event.reportUrl}|Cycle report>`);
  });

  it('given a failed cycle, then PagerDuty gets a trigger deduplicated on the key, at error severity', () => {
    expect(pagerDutyBody(event, 'rk', 'remedy-prod')).toMatchObject({
      routing_key: 'rk',
      event_action: 'trigger',
      dedup_key: '42:oncall',
      payload: {
        source: 'remedy-prod',
        severity: 'error',
        component: 'weather',
        group: 'remediation-weather-1',
      },
      links: [{ href: event.reportUrl }],
    });
    expect(severityOf({ kind: 'cycle-closed', details: { outcome: 'promoted' } })).toBe('info');
    expect(severityOf({ kind: 'paused', details: {} })).toBe('warning');
  });

  it('given a review page root, then a cycle event links to its report; without one, no link', () => {
    expect(reportUrl('https://r.example/', 'c 1')).toBe('https://r.example/reports/c%201');
    expect(reportUrl(undefined, 'c')).toBeUndefined();
    expect(reportUrl('https://r.example', null)).toBeUndefined();
  });

  it('given attempts, then retries back off exponentially up to the cap', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, 1000, 5000))).toEqual([1000, 2000, 4000, 5000]);
  });
});
