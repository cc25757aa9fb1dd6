/**
 * What every benchmark shares: its own Temporal dev server and Postgres (never the user's), a worker in
 * this process, the serving gateway, and a report with the machine's details.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type pg from 'pg';
import { createPool, migrate } from '../db/pool.js';
import { startGateway, type Gateway } from '../gateway/server.js';
import { dataDir } from '../infra/paths.js';
import { createDatabase, startPostgres } from '../infra/postgres.js';
import { freePort, startDevServer } from '../infra/temporal-cli.js';
import { createWorkers } from '../workers/workers.js';

export interface BenchEnv {
  client: Client;
  pool: pg.Pool;
  gateway: Gateway;
  taskQueue: string;
  trainingTaskQueue: string;
  close(): Promise<void>;
}

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export async function startBenchEnv(name: string): Promise<BenchEnv> {
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
    queues: ['main', 'training'],
  });
  const running = workers.map((w) => w.run());
  const gateway = await startGateway(pool);
  return {
    client: new Client({ connection }),
    pool,
    gateway,
    taskQueue,
    trainingTaskQueue,
    async close() {
      await gateway.close();
      for (const w of workers) w.shutdown();
      await Promise.all(running);
      await native.close();
      await connection.close();
      await pool.end();
      await pgServer.stop();
      await temporal.stop();
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function machine() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

export async function writeReport(name: string, report: unknown): Promise<string> {
  const dir = path.join(dataDir(), 'bench');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
