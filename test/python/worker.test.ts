/**
 * The Python training worker as a real process against the test run's Temporal dev server and a fresh
 * database: it says when it polls, refuses to start without DATABASE_URL, and stops cleanly on SIGTERM.
 */
import { hostname } from 'node:os';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPythonWorker, type PythonWorker } from '../../dev/python-worker.js';
import { ensurePythonEnv } from '../../infra/python-env.js';
import { freshDatabase, uniqueSuffix } from '../helpers.js';

describe('the Python training worker process', () => {
  let databaseUrl = '';
  let closePool: () => Promise<void> = () => Promise.resolve();
  const started: PythonWorker[] = [];

  beforeAll(async () => {
    await ensurePythonEnv();
    const { pool, url } = await freshDatabase('pyworker');
    databaseUrl = url;
    closePool = () => pool.end();
  });
  afterAll(async () => {
    await Promise.all(started.map((w) => w.stop()));
    await closePool();
  });

  const start = (env?: Record<string, string>) => {
    const worker = startPythonWorker({
      temporalAddress: inject('temporalAddress'),
      taskQueue: `py-training-${uniqueSuffix()}`,
      databaseUrl,
      ...(env ? { env } : {}),
    });
    started.push(worker);
    return worker;
  };

  it('given Temporal and the database, then it prints its ready line once it polls, and exits 0 on SIGTERM', async () => {
    const taskQueue = `py-training-${uniqueSuffix()}`;
    const worker = startPythonWorker({ temporalAddress: inject('temporalAddress'), taskQueue, databaseUrl });
    started.push(worker);
    await worker.ready;
    // The server lists it as a poller of the activity task queue.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      expect(pollers.map((p) => p.identity)).toContain(`remedy-python-${worker.pid}@${hostname()}`);
    } finally {
      await connection.close();
    }
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('given no DATABASE_URL, then it exits before it is ready and says what to set', async () => {
    const worker = start({ DATABASE_URL: '' });
    await expect(worker.ready).rejects.toThrow(
      /exited \(code 2\) before it was ready:\n.*DATABASE_URL is not set: .*set DATABASE_URL to the same URL the Node worker uses/,
    );
  });

  it("given a database without Remedy's tables, then it exits and says to run the migrations", async () => {
    const bare = new URL(databaseUrl);
    bare.pathname = '/postgres';
    const worker = start({ DATABASE_URL: bare.toString() });
    await expect(worker.ready).rejects.toThrow(/no model_blobs table: run Remedy's migrations first/);
  });
});
