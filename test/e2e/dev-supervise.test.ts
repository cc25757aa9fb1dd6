/**
 * `npm run dev` supervises what it runs: the worker process SIGKILLed comes back on its own (a new
 * process that polls again), the gateway that stops listening is served again on the same URL, and each
 * restart is printed.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { superviseWorker } from '../../dev/stack.js';
import { runningServer, supervise } from '../../dev/supervise.js';
import { startGateway, type Gateway } from '../../gateway/server.js';
import { freshDatabase, temporalHarness, until, type TemporalHarness } from '../helpers.js';

let pool: pg.Pool;
let url: string;
let h: TemporalHarness;

beforeAll(async () => {
  ({ pool, url } = await freshDatabase('supervise'));
  h = await temporalHarness('supervise');
});
afterAll(async () => {
  await h?.close();
  await pool?.end();
});

describe('the dev stack supervisor', () => {
  it('given the supervised worker is SIGKILLed, then it is restarted, polls again, and the restart is printed', async () => {
    const lines: string[] = [];
    const logFile = path.join(await mkdtemp(path.join(tmpdir(), 'remedy-supervise-')), 'worker.log');
    const worker = await superviseWorker(
      {
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        REMEDY_TASK_QUEUE: h.taskQueue,
        REMEDY_TRAINING_TASK_QUEUE: h.trainingTaskQueue,
      },
      (l) => lines.push(l),
      { logFile },
    );
    try {
      const firstPid = worker.current.child.pid;
      worker.current.child.kill('SIGKILL');
      // Ready again: a new process that said "worker ready" (spawnWorker waits for it).
      await until(
        () => Promise.resolve(worker.restarts),
        (n) => n === 1,
      );
      expect(worker.current.child.pid).not.toBe(firstPid);
      expect(worker.current.child.exitCode).toBeNull();
      expect(lines).toEqual([
        expect.stringMatching(/^worker died \(killed by SIGKILL\); restarting in 1 s, at \d{4}-\d\d-\d\dT/),
        'worker restarted (restart 1)',
      ]);
    } finally {
      await worker.stop();
    }
    expect(worker.current.child.signalCode ?? worker.current.child.exitCode).not.toBeNull();
  });

  it('given the gateway stops listening, then it is served again on the same URL', async () => {
    const lines: string[] = [];
    let port = 0;
    // Every gateway started, the crashed one included: each holds a LISTEN connection of the pool
    // until it is closed, and the pool cannot end before they are released.
    const started: Gateway[] = [];
    const gateway = await supervise(
      'gateway',
      async () => {
        const g = await startGateway(pool, { port, host: '127.0.0.1' });
        started.push(g);
        port = Number(new URL(g.url).port);
        return runningServer(g);
      },
      { log: (l) => lines.push(l), firstDelayMs: 50 },
    );
    try {
      const before = gateway.current.url;
      expect((await fetch(`${before}/healthz`)).status).toBe(200);
      gateway.current.server.closeAllConnections();
      gateway.current.server.close(); // not through stop(): a crash as the supervisor sees one
      await until(
        () => fetch(`${before}/healthz`).then((r) => r.status),
        (s) => s === 200 && gateway.restarts === 1,
      );
      expect(gateway.current.url).toBe(before);
      expect(lines[0]).toMatch(/^gateway died \(stopped listening\); restarting in 0.05 s/);
    } finally {
      await gateway.stop();
      await Promise.all(started.map((g) => g.close().catch(() => undefined)));
    }
  });
});
