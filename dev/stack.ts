/**
 * Brings up what a cycle needs on one machine: the Temporal dev server (unless TEMPORAL_ADDRESS points
 * elsewhere), Postgres (DATABASE_URL or the embedded one), migrations, and a worker process; the worker,
 * the gateway and the review page are restarted when they die (dev/supervise.ts).
 * Temporal's settings are read as every Temporal tool reads them (infra/config.ts: TEMPORAL_* variables,
 * TEMPORAL_PROFILE of the config file); the dev server starts only when neither names an address.
 * Progress for people goes through `log`; the in-process gateway's and review page's JSON logs (access
 * lines, errors) go to stack.log beside worker.log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pino } from 'pino';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { createPool, migrate } from '../db/pool.js';
import {
  connectionOptions,
  loadListenConfig,
  loadTemporalConfig,
  type TemporalConfig,
} from '../infra/config.js';
import { createLogger } from '../infra/log.js';
import { dataDir } from '../infra/paths.js';
import { startPostgres } from '../infra/postgres.js';
import { startDevServer } from '../infra/temporal-dev-server.js';
import { gatewayAuthFromEnv, rekeyApiClient } from '../gateway/auth.js';
import { startGateway } from '../gateway/server.js';
import { startReviewServer } from '../review/server.js';
import type { Listening } from '../infra/http.js';
import { dataConverterFromEnv } from '../codec/codec.js';
import { tracingClientOptions, tracingFromEnv } from '../infra/tracing.js';
import { type Exit, portOf, type Running, runningServer, supervise, type Supervised } from './supervise.js';
import { startPythonWorker, type PythonWorkerOptions } from './python-worker.js';
import { ensurePythonEnv } from '../infra/python-env.js';
import { pythonTaskQueue } from '../workflows/cycle.js';

export type Log = (msg: string) => void;

export interface Stack {
  config: TemporalConfig;
  client: Client;
  pool: pg.Pool;
  databaseUrl: string;
  uiUrl: string | null;
  gatewayUrl: string;
  /**
   * The API key the dev stack's own traffic sends to the gateway's write endpoints (client "dev-traffic",
   * re-keyed at each start); null with REMEDY_GATEWAY_AUTH=off.
   */
  gatewayKey: string | null;
  /** The review page, where reviewers answer label requests. */
  reviewUrl: string;
  /** The review page server's root: reports are served under /reports/<cycle>. */
  reviewBase: string;
  /** The worker process, restarted on crash with backoff (as are the gateway and the review page). */
  worker: Supervised<WorkerProcess>;
  /**
   * Starts the Python training worker (workers/python) on the training queue's `-python` queue, for
   * models whose policy says `training.trainer: python`; creates its environment first. Idempotent.
   */
  startPythonWorker(): Promise<void>;
  stop(): Promise<void>;
}

/** The API client the dev stack's replayed traffic writes feedback as. */
export const DEV_CLIENT = 'dev-traffic';

const workerMain = fileURLToPath(new URL('../workers/main.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** The same, with the signal that killed it, if one did. */
  exit: Promise<Exit>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `workers/main.ts` as its own process and waits until it polls. Its output goes to a log file. */
export async function spawnWorker(
  env: Record<string, string>,
  logFile = path.join(dataDir(), 'worker.log'),
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', workerMain], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(out);
  const exit = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const exited = exit.then((e) => e.code);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk: Buffer) => {
      out.write(chunk);
      if (seen !== 'ready') {
        seen += chunk.toString();
        if (seen.includes('worker ready')) {
          seen = 'ready';
          resolve();
        }
      }
    });
    void exited.then((code) =>
      reject(new Error(`the worker exited with code ${code} before it was ready; see ${logFile}`)),
    );
  });
  return {
    child,
    exited,
    exit,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** The Python worker as something the supervisor runs: ready once it polls. */
async function pythonProcess(opts: PythonWorkerOptions): Promise<Running> {
  const worker = startPythonWorker(opts);
  await worker.ready;
  return {
    exit: worker.exited.then(({ code, signal }): Exit => ({ code, signal })),
    stop: () => worker.stop(),
  };
}

/** A worker process that is restarted when it dies, each restart printed through `log`. */
export function superviseWorker(
  env: Record<string, string>,
  log: Log,
  opts: { logFile?: string; firstDelayMs?: number } = {},
): Promise<Supervised<WorkerProcess>> {
  return supervise('worker', () => spawnWorker(env, opts.logFile), {
    log,
    ...(opts.firstDelayMs !== undefined ? { firstDelayMs: opts.firstDelayMs } : {}),
  });
}

/** An in-process server restarted on the same port when it stops listening unexpectedly. */
async function superviseServer<S extends Listening>(
  name: string,
  listenOn: { port: number; host: string },
  start: (listenOn: { port: number; host: string }) => Promise<S>,
  log: Log,
) {
  let where = listenOn;
  return supervise(
    name,
    async () => {
      const s = await start(where);
      where = { ...where, port: portOf(s.url) };
      return runningServer(s);
    },
    { log },
  );
}

export async function startStack(log: Log): Promise<Stack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`while stopping: ${String(err)}`));
  };
  try {
    let config = loadTemporalConfig(process.env, { warn: log });
    let uiUrl: string | null = null;
    const logs = createLogger('dev-stack', {
      destination: pino.destination({
        dest: path.join(dataDir(), 'stack.log'),
        append: true,
        mkdir: true,
        sync: true,
      }),
    });
    if (config.addressFrom === 'default') {
      const server = await startDevServer({ log, namespace: config.namespace });
      stops.push(() => server.stop());
      config = { ...config, address: server.address };
      uiUrl = server.uiUrl;
    }
    const pgServer = await startPostgres({ log });
    stops.push(() => pgServer.stop());
    const pool = createPool(pgServer.url);
    stops.push(() => pool.end());
    await migrate(pool);
    const auth = gatewayAuthFromEnv();
    const gateway = await superviseServer(
      'gateway',
      loadListenConfig('GATEWAY', { port: 0, host: '127.0.0.1' }),
      (where) =>
        startGateway(pool, {
          ...where,
          ...auth,
          accessLog: logs.child({ service: 'gateway' }),
          onError: (msg) => logs.error({ service: 'gateway' }, msg),
        }),
      log,
    );
    stops.push(() => gateway.stop());
    // Zero setup and still the production default: the stack's own traffic gets a key of its own.
    const gatewayKey = auth.auth === 'off' ? null : await rekeyApiClient(pool, DEV_CLIENT);
    log(
      `serving gateway on ${gateway.current.url} (${gatewayKey ? `writes need a key: client "${DEV_CLIENT}" has ${gatewayKey}` : 'REMEDY_GATEWAY_AUTH=off: no credentials'})`,
    );
    const worker = await superviseWorker(
      { DATABASE_URL: pgServer.url, TEMPORAL_ADDRESS: config.address, TEMPORAL_NAMESPACE: config.namespace },
      log,
    );
    stops.push(() => worker.stop());
    const connection = await Connection.connect(connectionOptions(config));
    stops.push(() => connection.close());
    const dataConverter = dataConverterFromEnv();
    // The worker inherits the OTEL_* variables; the stack's own client (the review page's) traces too.
    const tracing = tracingFromEnv('remedy-dev');
    if (tracing) stops.push(() => tracing.shutdown());
    const client = new Client({
      connection,
      namespace: config.namespace,
      ...(dataConverter ? { dataConverter } : {}),
      ...tracingClientOptions(tracing),
    });
    const reviewServer = await superviseServer(
      'review page',
      loadListenConfig('REVIEW', { port: 0, host: '127.0.0.1' }),
      (where) =>
        startReviewServer(client, {
          ...where,
          pool,
          ...(uiUrl ? { webUiBase: uiUrl } : {}),
          namespace: config.namespace,
        }),
      log,
    );
    stops.push(() => reviewServer.stop());
    const review = reviewServer.current;
    let python: Promise<void> | null = null;
    const startPython = async () => {
      await ensurePythonEnv({ log });
      const taskQueue = pythonTaskQueue(config.trainingTaskQueue);
      const supervised = await supervise(
        'python worker',
        () =>
          pythonProcess({
            temporalAddress: config.address,
            namespace: config.namespace,
            taskQueue,
            databaseUrl: pgServer.url,
          }),
        { log },
      );
      stops.push(() => supervised.stop());
      log(`python training worker polling ${taskQueue}`);
    };
    log(`review page on ${review.url}/review`);
    return {
      config,
      client,
      pool,
      databaseUrl: pgServer.url,
      uiUrl,
      gatewayUrl: gateway.current.url,
      gatewayKey,
      reviewUrl: `${review.url}/review`,
      reviewBase: review.url,
      worker,
      startPythonWorker: () => (python ??= startPython()),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export function workflowUrl(uiUrl: string | null, namespace: string, workflowId: string): string | null {
  return uiUrl
    ? `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`
    : null;
}
