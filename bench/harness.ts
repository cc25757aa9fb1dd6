/**
 * What every benchmark shares: its own Temporal dev server and Postgres (never the user's), a worker in
 * this process, the serving gateway, and a report with the machine's details.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type pg from 'pg';
import { createPool, migrate } from '../db/pool.js';
import { startGateway, type Gateway } from '../gateway/server.js';
import { dataDir } from '../infra/paths.js';
import { createDatabase, startPostgres } from '../infra/postgres.js';
import { freePort } from '../infra/ports.js';
import { startDevServer } from '../infra/temporal-dev-server.js';
import { createActivities } from '../activities/index.js';
import {
  createWorkers,
  WORKFLOW_INTERCEPTOR_MODULES,
  workflowSpanSinks,
  workflowsPath,
} from '../workers/workers.js';

export { machine, percentile, writeReport } from './report.js';

export interface BenchEnv {
  client: Client;
  pool: pg.Pool;
  gateway: Gateway;
  taskQueue: string;
  trainingTaskQueue: string;
  /** Throws if a worker of this environment has failed. */
  checkWorkers(): void;
  close(): Promise<void>;
}

/** Optional worker settings for a benchmark; without them the workers are exactly the production ones. */
export interface BenchEnvOptions {
  /** Settings for the main Remedy worker (e.g. its workflow cache); same workflows and activities. */
  mainWorker?: Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions'>;
  /** More workers in this process on their own task queues, e.g. a baseline workflow. */
  extraWorkers?: { taskQueue: string; workflowsPath: string; activities: object }[];
}

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export async function startBenchEnv(name: string, options: BenchEnvOptions = {}): Promise<BenchEnv> {
  const dir = path.join(dataDir(), 'bench');
  await mkdir(dir, { recursive: true });
  const temporal = await startDevServer({
    dbFile: path.join(dir, `${name}-${Date.now()}.sqlite`),
    port: await freePort(),
    headless: true,
    log,
  });
  const pgServer = await startPostgres({ log, dataDir: path.join(dir, 'pg'), databaseName: 'bench' });
  const url = await createDatabase(pgServer.url, `${name}_${Date.now()}`);
  const pool = createPool(url, 10);
  await migrate(pool);
  const connection = await Connection.connect({ address: temporal.address });
  const native = await NativeConnection.connect({ address: temporal.address });
  const taskQueue = `bench-${name}`;
  const trainingTaskQueue = `bench-${name}-training`;
  const workers = await createWorkers({
    connection: native,
    namespace: 'default',
    pool,
    taskQueue,
    trainingTaskQueue,
    queues: options.mainWorker ? ['training'] : ['main', 'training'],
  });
  if (options.mainWorker) {
    // The same worker createWorkers builds for the main queue, with the benchmark's settings on top.
    workers.push(
      await Worker.create({
        connection: native,
        namespace: 'default',
        taskQueue,
        workflowsPath,
        interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES },
        sinks: workflowSpanSinks(null),
        activities: createActivities({ pool }),
        ...options.mainWorker,
      }),
    );
  }
  for (const extra of options.extraWorkers ?? []) {
    workers.push(
      await Worker.create({
        connection: native,
        namespace: 'default',
        taskQueue: extra.taskQueue,
        workflowsPath: extra.workflowsPath,
        activities: extra.activities,
      }),
    );
  }
  // A worker that dies (e.g. its workflow thread runs out of heap) is reported, and close() still runs.
  let workerFailure: Error | null = null;
  const running = workers.map((w) =>
    w.run().catch((err: unknown) => {
      workerFailure = err instanceof Error ? err : new Error(String(err));
      log(`a worker stopped: ${workerFailure.message}`);
    }),
  );
  const gateway = await startGateway(pool, { auth: 'off' }); // measures serving, not credentials
  return {
    client: new Client({ connection }),
    pool,
    gateway,
    taskQueue,
    trainingTaskQueue,
    checkWorkers() {
      if (workerFailure) throw new Error(`a worker failed: ${workerFailure.message}`);
    },
    async close() {
      await gateway.close();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
      await native.close();
      await connection.close();
      await pool.end();
      await pgServer.stop();
      await temporal.stop();
    },
  };
}
