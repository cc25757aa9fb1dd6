/**
 * Stack control for the fault run: the worker process under a supervisor that restarts it (and kills it
 * on demand), waiting for a stopped server's port, and waits that end when the run stops.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { spawnWorker, type WorkerProcess } from '../dev/stack.js';
import { canListen } from '../infra/ports.js';
import type { FaultKind } from './faults-core.js';

/** Waits `ms` unless `signal` aborts first; false when aborted. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** A stopped server's port is reused for its restart (clients keep their address): wait until it is free. */
export async function untilPortFree(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canListen(port))) {
    if (Date.now() > deadline)
      throw new Error(`port ${port} still in use ${timeoutMs} ms after its server stopped`);
    await delay(100);
  }
}

export const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

/**
 * The worker process and its supervisor: a process that dies (killed, or exiting because Postgres or
 * Temporal is unreachable at start) is started again, as systemd or Kubernetes would.
 */
export class WorkerSupervisor {
  private current: WorkerProcess | null = null;
  private starting: Promise<void> | null = null;
  private stopped = false;
  kills = 0;
  starts = 0;
  failedStarts = 0;

  constructor(
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly event: (kind: FaultKind, detail: string) => void,
  ) {
    process.on('exit', this.onExit);
  }

  /** A run that ends without stop() (a test runner giving up on it) must not leave a worker behind. */
  private readonly onExit = () => {
    this.current?.child.kill('SIGKILL');
  };

  /** Starts a worker unless one runs or is starting; resolves once one is ready (or the run stopped). */
  ensureRunning(): Promise<void> {
    if (this.current || this.stopped) return Promise.resolve();
    this.starting ??= this.startLoop().finally(() => (this.starting = null));
    return this.starting;
  }

  private async startLoop(): Promise<void> {
    const began = Date.now();
    while (!this.stopped) {
      let p: WorkerProcess;
      try {
        p = await spawnWorker(this.env, this.logFile);
      } catch {
        // Postgres or Temporal is down: the new process could not migrate or connect and exited.
        this.failedStarts++;
        await delay(1000);
        continue;
      }
      if (this.stopped) {
        await p.stop('SIGKILL');
        return;
      }
      this.current = p;
      this.starts++;
      this.event(
        'worker-ready',
        `pid ${p.child.pid} ready ${Date.now() - began} ms after the start was asked for`,
      );
      void p.exited.then((code) => {
        // Killed by us: `current` was cleared first. Anything else is the process dying by itself.
        if (this.current !== p) return;
        this.current = null;
        if (this.stopped) return;
        this.event(
          'worker-exit',
          `pid ${p.child.pid} exited by itself (code ${code}, signal ${p.child.signalCode})`,
        );
        void this.ensureRunning();
      });
      return;
    }
  }

  /** SIGKILL, as a crash or an OOM kill would. False when no worker was running at that moment. */
  async kill(): Promise<boolean> {
    const p = this.current;
    if (!p) return false;
    this.current = null;
    p.child.kill('SIGKILL');
    await p.exited;
    this.kills++;
    this.event('worker-kill', `pid ${p.child.pid} killed with SIGKILL`);
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    process.off('exit', this.onExit);
    await this.starting;
    const p = this.current;
    this.current = null;
    await p?.stop('SIGKILL');
  }
}
