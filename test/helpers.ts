import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { NativeConnection, Worker } from '@temporalio/worker';
import type pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';
import { runCli, type CliIo } from '../cli/main.js';
import { startGateway as startGatewayServer, type Gateway, type GatewayOptions } from '../gateway/server.js';
import { insertModelVersion } from '../db/models.js';
import { createPool, migrate, type Queryable } from '../db/pool.js';
import { createDatabase } from '../infra/postgres.js';
import { resolveTemporalCli } from '../infra/temporal-install.js';
import { startDeliveryLoop } from '../workers/deliveries.js';
import { createWorkers, workflowSpanSinks, type WorkerSetup } from '../workers/workers.js';

export const uniqueSuffix = () => randomBytes(4).toString('hex');

/** A candidate version registered straight from its artifact's JSON (no cycle, no dataset), as rollout tests need. */
export function insertTestCandidate(
  pool: pg.Pool,
  modelId: string,
  idempotencyKey: string,
  artifactJson: string,
): Promise<number> {
  return insertModelVersion(pool, {
    modelId,
    idempotencyKey,
    status: 'candidate',
    datasetId: null,
    cycleId: null,
    configHash: 'test',
    codeVersion: 'test',
    artifact: artifactJson,
    artifactSha256: createHash('sha256').update(artifactJson).digest('hex'),
    metrics: {},
  });
}

/** A queryable over `pool` that records each statement's text: what a read sent, or that it sent nothing. */
export function recordingQueryable(pool: pg.Pool): { q: Queryable; statements: string[] } {
  const statements: string[] = [];
  const q = {
    query: (text: string, values?: unknown[]) => {
      statements.push(text);
      return pool.query(text, values);
    },
  } as unknown as Queryable;
  return { q, statements };
}

/** A fresh, migrated database for one test file (left behind after a failure, for inspection). */
export async function freshDatabase(prefix: string): Promise<{ pool: pg.Pool; url: string }> {
  const url = await createDatabase(inject('databaseUrl'), `${prefix}_${uniqueSuffix()}`);
  const pool = createPool(url, 8);
  await migrate(pool);
  return { pool, url };
}

export interface TemporalHarness {
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  taskQueue: string;
  trainingTaskQueue: string;
  close(): Promise<void>;
}

export async function temporalHarness(prefix: string): Promise<TemporalHarness> {
  const address = inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const suffix = uniqueSuffix();
  return {
    client: new Client({ connection }),
    connection,
    nativeConnection,
    taskQueue: `${prefix}-${suffix}`,
    trainingTaskQueue: `${prefix}-training-${suffix}`,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * The main and training workers on the harness's queues. With a data converter they bundle the
 * workflows themselves (the bundle must carry its failure converter); otherwise they share the run's bundle.
 */
export async function startTestWorkers(
  h: TemporalHarness,
  pool: pg.Pool,
  opts: {
    dataConverter?: WorkerSetup['dataConverter'];
    /** Also run the notification delivery loop, as workers/main.ts does. */
    deliveries?: Parameters<typeof startDeliveryLoop>[1];
    /** OpenTelemetry tracing (infra/tracing.ts), as workers/main.ts sets it up when configured. */
    tracing?: WorkerSetup['tracing'];
  } = {},
): Promise<{ workers: Worker[]; stop(): Promise<void> }> {
  const workers = await createWorkers({
    connection: h.nativeConnection,
    namespace: 'default',
    pool,
    taskQueue: h.taskQueue,
    trainingTaskQueue: h.trainingTaskQueue,
    queues: ['main', 'training'],
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
    ...(opts.dataConverter
      ? { dataConverter: opts.dataConverter }
      : { workflowBundle: { codePath: inject('workflowBundlePath') } }),
  });
  const running = workers.map((w) => w.run());
  const deliveries = opts.deliveries ? startDeliveryLoop(pool, opts.deliveries) : null;
  return {
    workers,
    async stop() {
      await deliveries?.stop();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
    },
  };
}

/**
 * Re-reads `read` until `done` holds: polling a condition a user could watch (a query, a row), with a
 * short pause between reads. Errors while the workflow is still starting count as "not yet".
 */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await read();
      if (done(value)) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `condition not reached within ${timeoutMs} ms; last: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Each workflow's history, as the server holds it now, replays against the worker's code: what a restarted
 * worker (or a query to a workflow no worker has cached) does. A history that does not replay is saved
 * under .remedy/replay-failures/ and fails the test with the error.
 */
export async function expectReplays(client: Client, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    try {
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: inject('workflowBundlePath') }, sinks: workflowSpanSinks(null) },
        history,
        id,
      );
    } catch (err) {
      await mkdir('.remedy/replay-failures', { recursive: true });
      const file = `.remedy/replay-failures/${id}.json`;
      await writeFile(file, historyToJSON(history));
      throw new Error(`${id} does not replay (history in ${file}): ${String(err)}`, { cause: err });
    }
  }
}

/**
 * With REMEDY_RECORD_HISTORIES=1 (npm run record-histories), writes each workflow's history to
 * test/histories/<workflowId>.json, or <workflowId>@<runId>.json for one run of an ID that several
 * runs share, or under a given stable name, with the official CLI (the format historyFromJSON reads),
 * for the replay test. Existing files are kept: histories of code that has run must stay as they were.
 */
export async function recordHistories(
  ids: readonly (string | { key: string; name: string })[],
): Promise<void> {
  if (process.env.REMEDY_RECORD_HISTORIES !== '1') return;
  const cli = (await resolveTemporalCli({ install: false }))!.path;
  for (const entry of ids) {
    // A workflow ID with a per-run suffix is saved under a stable name, so a second recording adds nothing.
    const { key, name } = typeof entry === 'string' ? { key: entry, name: entry } : entry;
    const file = `test/histories/${name}.json`;
    if (existsSync(file)) continue;
    const [id, runId] = key.split('@') as [string, string | undefined];
    const args = [
      'workflow',
      'show',
      '-w',
      id,
      ...(runId ? ['-r', runId] : []),
      '--address',
      inject('temporalAddress'),
      '--output',
      'json',
    ];
    const { stdout } = await promisify(execFile)(cli, args, { maxBuffer: 64 << 20 });
    await writeFile(file, stdout);
  }
}

/**
 * The usual stack of an integration test file, set up before its tests and torn down after: a fresh
 * database, a Temporal harness with its own task queues, the workers, and optionally the gateway. The
 * returned object is filled in by the time the tests run.
 */
export function useStack(prefix: string, opts: { gateway?: boolean } = {}) {
  const stack = {} as {
    pool: pg.Pool;
    /** The test database's URL, for processes of their own (the Python worker). */
    url: string;
    h: TemporalHarness;
    workers: Awaited<ReturnType<typeof startTestWorkers>>;
    gateway: Gateway;
  };
  beforeAll(async () => {
    ({ pool: stack.pool, url: stack.url } = await freshDatabase(prefix));
    stack.h = await temporalHarness(prefix);
    stack.workers = await startTestWorkers(stack.h, stack.pool);
    if (opts.gateway) stack.gateway = await startGateway(stack.pool);
  });
  afterAll(async () => {
    await stack.gateway?.close();
    await stack.workers?.stop();
    await stack.h?.close();
    await stack.pool?.end();
  });
  return stack;
}

/** recordHistories for a server the official CLI cannot reach (the time-skipping test server). */
export async function recordHistoryOf(handle: WorkflowHandle, name = handle.workflowId): Promise<void> {
  if (process.env.REMEDY_RECORD_HISTORIES !== '1') return;
  const file = `test/histories/${name}.json`;
  if (existsSync(file)) return;
  await writeFile(file, historyToJSON(await handle.fetchHistory()));
}

/**
 * The gateway as most tests use it: without credentials, so they post feedback as before. The tests of
 * credentials (test/gateway/auth.test.ts) and of the database roles pass `auth: 'required'`.
 */
export function startGateway(pool: pg.Pool, opts: GatewayOptions = {}): Promise<Gateway> {
  return startGatewayServer(pool, { auth: 'off', ...opts });
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/**
 * The `remedy` CLI against a test stack, as a person runs it: the arguments they type, what it prints
 * and its exit code. `stack` is read at each call (the stack is set up in beforeAll); `env` is the
 * environment identity is read from (default: the process's).
 */
export function cliRunner(
  stack: () => { client: Client; queues: { taskQueue: string; trainingTaskQueue: string }; pool: pg.Pool },
  env?: NodeJS.ProcessEnv,
): (...argv: string[]) => Promise<CliResult> {
  return async (...argv) => {
    const { client, queues, pool } = stack();
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (t) => (out += t),
      err: (t) => (err += t),
      connect: () => Promise.resolve({ client, queues, close: () => Promise.resolve() }),
      database: () => Promise.resolve({ pool, close: () => Promise.resolve() }),
      ...(env ? { env } : {}),
    };
    const code = await runCli(argv, io);
    return { code, out, err };
  };
}

/** Debian's Chromium, headless, for the browser tests (CHROMIUM_PATH overrides the path). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(
      `no Chromium at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
}

/**
 * A workflow's own search-attribute upserts, task by task, as `key=value` sorted (tasks with none left
 * out): what the Web UI was told, and in how many events. The SDK's TemporalChangeVersion upserts (one per
 * patch) are not the workflow's and are skipped.
 */
export async function searchAttributeUpserts(client: Client, workflowId: string): Promise<string[][][]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const tasks: string[][][] = [];
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) tasks.push([]);
    const fields = Object.entries(
      e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
    );
    if (fields.length === 0 || fields.some(([key]) => key === 'TemporalChangeVersion')) continue;
    tasks
      .at(-1)!
      .push(fields.map(([key, p]) => `${key}=${String(defaultPayloadConverter.fromPayload(p))}`).sort());
  }
  return tasks.filter((task) => task.length > 0);
}
