/**
 * Structured logs of real processes: the worker process runs a drift check (a workflow and its
 * activities) and the gateway process answers requests, each with secrets in its environment; every line
 * they write is JSON, the SDK's lines carry the workflow's and activity's IDs, the gateway writes one
 * access line per request, and no secret appears in any line.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dataConverterFromEnv } from '../../codec/codec.js';
import { spawnGateway, type GatewayProcess } from '../../dev/gateway-process.js';
import { DEMO_POLICY, prepareWeatherModel } from '../../dev/scenario.js';
import { spawnWorker, type WorkerProcess } from '../../dev/stack.js';
import { rekeyApiClient } from '../../gateway/auth.js';
import { createMonitor, triggerMonitor } from '../../ops/monitor.js';
import { freshDatabase, uniqueSuffix } from '../helpers.js';

const MODEL = 'weather-logs';
const features = {
  location: 'Seattle',
  precipitation: 0,
  temp_max: 12.2,
  temp_min: 5.6,
  wind: 3.2,
  season_sin: 0.5,
  season_cos: 0.86,
};

// Secrets as an operator sets them: none may reach a log line.
const codecMaterial = randomBytes(32).toString('base64');
const secrets = {
  REMEDY_CODEC_KEYS: `k1:${codecMaterial}`,
  TEMPORAL_API_KEY: `tak-${randomBytes(12).toString('hex')}`,
  SLACK_WEBHOOK_URL: `https://hooks.slack.example/services/T0/B0/${randomBytes(12).toString('hex')}`,
};

let url: string;
let worker: WorkerProcess | undefined;
let gateway: GatewayProcess | undefined;
let workerLog: string;
let apiKey: string;

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`a log line is not JSON: ${line}`);
      }
    });

/** Every form in which a secret could leak: the whole value and its parts. */
function forbidden(): string[] {
  const password = decodeURIComponent(new URL(url).password);
  return [
    url,
    `:${password}@`,
    codecMaterial,
    secrets.REMEDY_CODEC_KEYS,
    secrets.TEMPORAL_API_KEY,
    secrets.SLACK_WEBHOOK_URL,
    apiKey,
  ];
}

beforeAll(async () => {
  const db = await freshDatabase('logs');
  url = db.url;
  await prepareWeatherModel(db.pool, MODEL, DEMO_POLICY, 'all');
  apiKey = await rekeyApiClient(db.pool, 'log-test');
  const queues = {
    taskQueue: `logs-${uniqueSuffix()}`,
    trainingTaskQueue: `logs-training-${uniqueSuffix()}`,
  };
  workerLog = path.join(mkdtempSync(path.join(os.tmpdir(), 'remedy-logs-')), 'worker.log');
  worker = await spawnWorker(
    {
      DATABASE_URL: url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      // An API key without TLS: the dev server ignores it, but the worker holds and sends it.
      TEMPORAL_TLS: 'false',
      REMEDY_LOG_LEVEL: 'debug',
      REMEDY_TASK_QUEUE: queues.taskQueue,
      REMEDY_TRAINING_TASK_QUEUE: queues.trainingTaskQueue,
      ...secrets,
    },
    workerLog,
  );
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection, dataConverter: dataConverterFromEnv(secrets)! });
  try {
    await createMonitor(client, db.pool, queues, {
      modelId: MODEL,
      every: '24h',
      window: '30d',
      mode: 'cursor',
      start: '2013-01-01',
    });
    const check = await triggerMonitor(client, MODEL, { wait: true });
    expect(check?.state).toBe('checked');
  } finally {
    await connection.close();
    await db.pool.end();
  }
  gateway = await spawnGateway({ DATABASE_URL: url, ...secrets });
});

afterAll(async () => {
  await worker?.stop();
  await gateway?.stop();
});

describe('structured logs', () => {
  it('given a drift check on the worker process, then its lines are JSON and carry the workflow and activity IDs', async () => {
    await worker!.stop();
    const lines = jsonLines(readFileSync(workerLog, 'utf8'));
    const ready = lines.find((l) => l.msg === 'worker ready');
    expect(ready).toMatchObject({ level: 'info', name: 'worker', namespace: 'default' });
    expect(ready!.database).toMatch(/^postgres:\/\/remedy:\*\*\*\*@/);
    // runDriftCheck's `log.info('drift check', …)` inside the activity, with the SDK's metadata.
    const activity = lines.find((l) => l.msg === 'drift check');
    expect(activity).toMatchObject({
      level: 'info',
      sdkComponent: 'activity',
      activityType: 'runDriftCheck',
      workflowType: 'driftCheck',
    });
    expect(activity!.activityId).toEqual(expect.any(String));
    expect(activity!.workflowId).toEqual(expect.stringContaining(MODEL));
    expect(activity!.checkKey).toBe(`${String(activity!.workflowId)}@${String(activity!.workflowRunId)}`);
    // The activity's task token lets anyone complete it: never written.
    expect(activity!.taskToken).toBe('[redacted]');
    // The workflow's own lines (the SDK's, at debug) carry its IDs and no activity's.
    const workflow = lines.find(
      (l) => l.msg === 'Workflow completed' && l.workflowId === activity!.workflowId,
    );
    expect(workflow).toMatchObject({
      level: 'debug',
      workflowType: 'driftCheck',
      runId: activity!.workflowRunId,
    });
    expect(workflow).not.toHaveProperty('activityId');
    for (const l of lines) {
      expect(typeof l.time).toBe('string');
      expect(typeof l.msg).toBe('string');
    }
  });

  it('given requests to the gateway process, then each gets one access line: method, path, status and ms, no body', async () => {
    const g = gateway!;
    const health = await fetch(`${g.url}/healthz`);
    expect(health.status).toBe(200);
    const predicted = await fetch(`${g.url}/v1/models/${MODEL}/predict?trace=abc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: 'logs-1', features }),
    });
    expect(predicted.status).toBe(200);
    const { label } = (await predicted.json()) as { label: string };
    const feedback = await fetch(`${g.url}/v1/models/${MODEL}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ requestId: 'logs-1', label }),
    });
    expect(feedback.status).toBe(200);
    const refused = await fetch(`${g.url}/v1/models/${MODEL}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets.TEMPORAL_API_KEY}` },
      body: JSON.stringify({ requestId: 'logs-1', label }),
    });
    expect(refused.status).toBe(401);
    expect(await g.stop()).toBe(0);

    const access = g.lines().filter((l) => l.msg === 'request');
    expect(access.map((l) => [l.method, l.path, l.status])).toEqual([
      ['GET', '/healthz', 200],
      ['POST', `/v1/models/${MODEL}/predict`, 200],
      ['POST', `/v1/models/${MODEL}/feedback`, 200],
      ['POST', `/v1/models/${MODEL}/feedback`, 401],
    ]);
    for (const l of access) {
      expect(l).toMatchObject({ level: 'info', name: 'gateway' });
      expect(l.ms).toEqual(expect.any(Number));
      expect(Object.keys(l).sort()).toEqual(
        [
          'level',
          'time',
          'pid',
          'name',
          'method',
          'path',
          'status',
          'ms',
          'msg',
          ...('model' in l ? ['model'] : []),
        ].sort(),
      );
    }
    expect(JSON.stringify(access)).not.toContain('precipitation');
  });

  it('given secrets in both environments, then no line of either process shows one', () => {
    const text =
      readFileSync(workerLog, 'utf8') +
      g()
        .map((l) => JSON.stringify(l))
        .join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const secret of forbidden()) expect(text).not.toContain(secret);
  });
});

const g = () => gateway!.lines();
