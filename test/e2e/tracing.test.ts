/**
 * OpenTelemetry traces of a real cycle: a client with tracing on starts a cycle (ops/cycles.ts
 * startCycle, as the CLI does) on real workers and the dev server; the client's start span is the root
 * and the workflow's and activities' spans descend from it in the same trace. Then the worker process
 * itself (workers/main.ts) with OTEL_EXPORTER_OTLP_ENDPOINT set exports its spans to a real OTLP HTTP
 * receiver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { spawnWorker } from '../../dev/stack.js';
import { createTracing, tracingClientOptions, tracingFromEnv, type Tracing } from '../../infra/tracing.js';
import { startCycle, waitForCycle } from '../../ops/cycles.js';
import { workflowSpanSinks } from '../../workers/workers.js';
import {
  freshDatabase,
  startTestWorkers,
  temporalHarness,
  uniqueSuffix,
  until,
  type TemporalHarness,
} from '../helpers.js';

/** A policy whose tolerance covers the drop: the cycle closes as no-action after confirm and diagnose. */
const NO_ACTION = { ...DEMO_POLICY, drift: { performanceTolerance: 1, severeDrop: 1 } };

let db: Awaited<ReturnType<typeof freshDatabase>>;
let h: TemporalHarness;

beforeAll(async () => {
  db = await freshDatabase('tracing');
  h = await temporalHarness('tracing');
});
afterAll(async () => {
  await h?.close();
  await db?.pool.end();
});

const spanId = (s: ReadableSpan) => s.spanContext().spanId;

describe('traces of a cycle', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let workers: Awaited<ReturnType<typeof startTestWorkers>>;

  beforeAll(async () => {
    tracing = createTracing('remedy-test', new SimpleSpanProcessor(exporter));
    workers = await startTestWorkers(h, db.pool, { tracing });
  });
  afterAll(async () => {
    await workers?.stop();
    await tracing?.shutdown();
  });

  it('given a client with tracing on, when it starts a cycle, then its start span is the root and the workflow and every activity are its descendants in one trace', async () => {
    await prepareWeatherModel(db.pool, 'weather-traced', NO_ACTION);
    const client = new Client({ connection: h.connection, ...tracingClientOptions(tracing) });
    const { cycleId } = await startCycle(client, h, { modelId: 'weather-traced', window: SCENARIO.window });
    const summary = await waitForCycle(client, cycleId);
    expect(summary.outcome).toBe('no-action');

    // Workflow spans reach the exporter through the worker's sink once the last activation is done.
    const spans = await until(
      async () => Promise.resolve(exporter.getFinishedSpans()),
      (all) => all.some((s) => s.name === 'RunWorkflow:remediationCycle'),
    );
    const root = spans.find((s) => s.name === 'StartWorkflow:remediationCycle')!;
    expect(root).toBeDefined();
    expect(root.parentSpanId).toBeUndefined();
    expect(root.attributes).toMatchObject({ temporalWorkflowId: cycleId });
    expect(root.resource.attributes['service.name']).toBe('remedy-test');

    const trace = spans.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
    const byId = new Map(trace.map((s) => [spanId(s), s]));
    // Every span of the trace has its parent in the trace, up to the client's start span.
    const ancestors = (s: ReadableSpan): string[] =>
      s.parentSpanId
        ? [byId.get(s.parentSpanId)?.name ?? 'missing', ...ancestors(byId.get(s.parentSpanId)!)]
        : [];
    for (const s of trace.filter((t) => t !== root)) {
      expect(ancestors(s).at(-1), `${s.name}'s oldest ancestor`).toBe('StartWorkflow:remediationCycle');
    }
    const run = trace.find((s) => s.name === 'RunWorkflow:remediationCycle')!;
    expect(run.parentSpanId).toBe(spanId(root));

    // The activities the cycle ran: each scheduled by the workflow, each run on the worker under it.
    const ran = trace.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.name.slice(12));
    expect(ran).toEqual(expect.arrayContaining(['openCycle', 'confirmDrift', 'closeCycle']));
    for (const activity of trace.filter((s) => s.name.startsWith('RunActivity:'))) {
      const scheduled = byId.get(activity.parentSpanId!)!;
      expect(scheduled.name).toBe(activity.name.replace('RunActivity:', 'StartActivity:'));
      expect(ancestors(scheduled)).toContain('RunWorkflow:remediationCycle');
    }
    // Nothing of this cycle fell out of the trace.
    const elsewhere = spans.filter(
      (s) => s.spanContext().traceId !== root.spanContext().traceId && s.name.endsWith('Cycle'),
    );
    expect(elsewhere.map((s) => s.name)).toEqual([]);

    // The traced run (its history carries the trace headers) replays against the same bundle.
    const history = await client.workflow.getHandle(cycleId).fetchHistory();
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: { codePath: inject('workflowBundlePath') }, sinks: workflowSpanSinks(null) },
        history,
        cycleId,
      ),
    ).resolves.toBeUndefined();
  });
});

describe('export over OTLP', () => {
  let receiver: Server;
  const posts: { path: string; contentType: string | undefined; body: Buffer }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({
          path: `${req.method} ${req.url}`,
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks),
        });
        // An empty ExportTraceServiceResponse: everything accepted.
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('given OTEL_EXPORTER_OTLP_ENDPOINT on the worker process and the client, when a cycle runs, then the receiver gets the spans of both as OTLP protobuf on /v1/traces', async () => {
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    await prepareWeatherModel(db.pool, 'weather-otlp', NO_ACTION);
    const queues = {
      taskQueue: `otlp-${uniqueSuffix()}`,
      trainingTaskQueue: `otlp-training-${uniqueSuffix()}`,
    };
    const worker = await spawnWorker(
      {
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        REMEDY_TASK_QUEUE: queues.taskQueue,
        REMEDY_TRAINING_TASK_QUEUE: queues.trainingTaskQueue,
        REMEDY_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_SERVICE_NAME: 'remedy-worker-otlp-test',
      },
      path.join(mkdtempSync(path.join(os.tmpdir(), 'remedy-otlp-')), 'worker.log'),
    );
    // The same configuration the CLI reads from its environment.
    const tracing = tracingFromEnv('remedy-cli', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })!;
    try {
      const client = new Client({ connection: h.connection, ...tracingClientOptions(tracing) });
      const { cycleId } = await startCycle(client, queues, {
        modelId: 'weather-otlp',
        window: SCENARIO.window,
      });
      expect((await waitForCycle(client, cycleId)).outcome).toBe('no-action');
    } finally {
      // Both flush what they still hold as they stop: the worker on SIGTERM, the client on shutdown.
      await worker.stop();
      await tracing.shutdown();
    }
    expect(await worker.exited).toBe(0);

    expect(posts.length).toBeGreaterThan(0);
    expect(new Set(posts.map((p) => p.path))).toEqual(new Set(['POST /v1/traces']));
    expect(new Set(posts.map((p) => p.contentType))).toEqual(new Set(['application/x-protobuf']));
    // Protobuf keeps strings as UTF-8: the service names and span names are in the bodies as sent.
    const sent = Buffer.concat(posts.map((p) => p.body)).toString('latin1');
    for (const text of [
      'remedy-cli',
      'StartWorkflow:remediationCycle',
      'remedy-worker-otlp-test',
      'RunWorkflow:remediationCycle',
      'RunActivity:openCycle',
    ]) {
      expect(sent, text).toContain(text);
    }
  });
});
