/**
 * The Python training worker as a real process against the test run's Temporal dev server and a fresh
 * database: it says when it polls, refuses to start without DATABASE_URL, and stops cleanly on SIGTERM; it
 * reads Temporal's settings from a TOML profile as the Node processes do.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
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

  /** A Temporal config file holding `body` as [profile.<name>], and the variables that select it alone. */
  const profileEnv = (name: string, body: string): Record<string, string> => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'remedy-profile-')), 'temporal.toml');
    writeFileSync(file, `[profile.${name}]\n${body}`);
    return {
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: name,
      // Blank means unset: nothing but the profile says where Temporal is.
      TEMPORAL_ADDRESS: '',
      TEMPORAL_NAMESPACE: '',
      TEMPORAL_API_KEY: '',
    };
  };
  const startFromProfile = (env: Record<string, string>) => {
    const worker = startPythonWorker({ taskQueue: `py-training-${uniqueSuffix()}`, databaseUrl, env });
    started.push(worker);
    return worker;
  };

  it('given only a Temporal profile (TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE), then it polls the server the profile names', async () => {
    const env = profileEnv('tests', `address = "${inject('temporalAddress')}"\nnamespace = "default"\n`);
    const worker = startFromProfile(env);
    await worker.ready;
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('given a profile with an API key, then it connects with TLS and says so when the server does not speak TLS', async () => {
    const env = profileEnv('cloud', `address = "${inject('temporalAddress')}"\napi_key = "not-a-real-key"\n`);
    const worker = startFromProfile(env);
    await expect(worker.ready).rejects.toThrow(
      new RegExp(
        `exited \\(code 2\\) before it was ready:\n.*cannot connect to Temporal at ${inject('temporalAddress')} ` +
          `\\(profile "cloud" of ${env.TEMPORAL_CONFIG_FILE}; with TLS\\): Failed client connect`,
      ),
    );
  });

  it('given a TEMPORAL_PROFILE the file does not have, then it exits naming the profiles there', async () => {
    const env = { ...profileEnv('prod', 'address = "prod.example:7233"\n'), TEMPORAL_PROFILE: 'staging' };
    await expect(startFromProfile(env).ready).rejects.toThrow(
      /TEMPORAL_PROFILE is "staging" but .*temporal\.toml has no profile "staging" \(it has "prod"\)/,
    );
  });
});
