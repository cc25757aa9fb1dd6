/**
 * OpenTelemetry traces of a real cycle: a client with tracing on starts a cycle (ops/cycles.ts
 * startCycle, as the CLI does) on real workers and the dev server; the client's start span is the root
 * and the workflow's and activities' spans descend from it in the same trace. Then the worker process
 * itself (workers/main.ts) with OTEL_EXPORTER_OTLP_ENDPOINT set exports its spans to a real OTLP HTTP
 * receiver, including the trace a Schedule's run opens for itself and the cycle it starts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { spawnWorker } from '../../dev/stack.js';
import { createTracing, tracingClientOptions, tracingFromEnv, type Tracing } from '../../infra/tracing.js';
import { startCycle, waitForCycle } from '../../ops/cycles.js';
import { createTrigger, deleteMonitor, triggerMonitor } from '../../ops/monitor.js';
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

/** The few fields of OTLP's ExportTraceServiceRequest the tests read (field numbers as in opentelemetry-proto). */
const OTLP_TRACES = protobuf
  .parse(
    `syntax = "proto3";
    message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    message Resource { repeated KeyValue attributes = 1; }
    message KeyValue { string key = 1; AnyValue value = 2; }
    message AnyValue { string string_value = 1; }
    message ScopeSpans { repeated Span spans = 2; }
    message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; }`,
  )
  .root.lookupType('ExportTraceServiceRequest');

interface SentSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

/** The spans of OTLP protobuf bodies, as a collector would read them. */
function decodeSpans(bodies: Buffer[]): SentSpan[] {
  const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');
  type Decoded = {
    resourceSpans?: {
      resource?: { attributes?: { key: string; value?: { stringValue?: string } }[] };
      scopeSpans?: {
        spans?: { traceId?: Uint8Array; spanId?: Uint8Array; parentSpanId?: Uint8Array; name: string }[];
      }[];
    }[];
  };
  return bodies.flatMap((body) =>
    ((OTLP_TRACES.decode(body) as unknown as Decoded).resourceSpans ?? []).flatMap((rs) => {
      const service =
        rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '';
      return (rs.scopeSpans ?? []).flatMap((ss) =>
        (ss.spans ?? []).map((sp) => ({
          service,
          name: sp.name,
          traceId: hex(sp.traceId),
          spanId: hex(sp.spanId),
          parentSpanId: hex(sp.parentSpanId),
        })),
      );
    }),
  );
}

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

  it('given a schedule trigger (created by a client without tracing) and a worker exporting over OTLP, when the schedule runs, then its run is the root of a new trace that the cycle it starts continues', async () => {
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const modelId = 'weather-scheduled-otlp';
    await prepareWeatherModel(db.pool, modelId, { ...NO_ACTION, triggers: { scheduleWindow: '60d' } });
    const queues = {
      taskQueue: `otlp-sched-${uniqueSuffix()}`,
      trainingTaskQueue: `otlp-sched-training-${uniqueSuffix()}`,
    };
    const worker = await spawnWorker(
      {
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        REMEDY_TASK_QUEUE: queues.taskQueue,
        REMEDY_TRAINING_TASK_QUEUE: queues.trainingTaskQueue,
        REMEDY_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_SERVICE_NAME: 'remedy-worker-scheduled',
      },
      path.join(mkdtempSync(path.join(os.tmpdir(), 'remedy-otlp-')), 'worker.log'),
    );
    let cycleId: string | null = null;
    try {
      const client = new Client({ connection: h.connection });
      await createTrigger(client, db.pool, queues, { modelId, kind: 'schedule', every: '7d' });
      const fired = (await triggerMonitor(client, modelId, { wait: true, kind: 'schedule' }))!;
      expect(fired.state).toBe('cycle-started');
      cycleId = fired.cycleId;
      expect((await waitForCycle(client, cycleId!)).outcome).toBe('no-action');
      // The scheduled run (its history carries the marker header) replays against the same bundle.
      const [taken] = (await client.schedule.getHandle(`retrain-${modelId}`).describe()).info.recentActions;
      const runId = taken!.action.workflow.workflowId;
      await expect(
        Worker.runReplayHistory(
          { workflowBundle: { codePath: inject('workflowBundlePath') }, sinks: workflowSpanSinks(null) },
          await client.workflow.getHandle(runId).fetchHistory(),
          runId,
        ),
      ).resolves.toBeUndefined();
      await deleteMonitor(client, db.pool, modelId, 'schedule');
    } finally {
      await worker.stop();
    }
    expect(await worker.exited).toBe(0);

    const spans = decodeSpans(posts.map((p) => p.body)).filter(
      (s) => s.service === 'remedy-worker-scheduled',
    );
    const roots = spans.filter((s) => s.name === 'RunWorkflow:scheduledCycle');
    expect(roots).toHaveLength(1);
    const root = roots[0]!;
    expect(root.parentSpanId).toBe('');
    const trace = spans.filter((s) => s.traceId === root.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const ancestors = (s: SentSpan): string[] => {
      const parent = byId.get(s.parentSpanId);
      return s.parentSpanId === '' ? [] : [parent?.name ?? 'missing', ...(parent ? ancestors(parent) : [])];
    };
    // Every span of the trace descends from the scheduled run, with no gap.
    for (const s of trace.filter((t) => t !== root))
      expect(ancestors(s).at(-1), `${s.name}'s oldest ancestor`).toBe('RunWorkflow:scheduledCycle');
    // The run's own activity, the child cycle it started, and that cycle's activities.
    const names = trace.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'RunActivity:latestWindow',
        'StartChildWorkflow:remediationCycle',
        'RunWorkflow:remediationCycle',
        'RunActivity:openCycle',
        'RunActivity:closeCycle',
      ]),
    );
    expect(ancestors(trace.find((s) => s.name === 'RunActivity:openCycle')!)).toContain(
      'RunWorkflow:remediationCycle',
    );
    // The cycle's spans are all in this trace.
    expect(spans.filter((s) => s.traceId !== root.traceId && s.name.endsWith('Cycle'))).toEqual([]);
  });
});
