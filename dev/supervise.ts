/**
 * The dev stack's supervisor: restarts a crashed worker, gateway or review page with backoff (1 s, 2 s,
 * 4 s … capped at 30 s; back to 1 s once it has run a healthy minute), and prints each restart: what
 * died, how (exit code or signal) and when it comes back.
 */
import type { Listening } from '../infra/http.js';

/** How a supervised thing ended: an exit code, a signal, or (for a server) why it stopped listening. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason?: string;
}

/** Something that runs until it exits: a child process, or a server in this process. */
export interface Running {
  exit: Promise<Exit>;
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  log: (msg: string) => void;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Running this long counts as healthy: the next crash restarts after the first delay again. */
  healthyMs?: number;
}

export interface Supervised<T extends Running> {
  /** The instance running now (the latest one started). */
  readonly current: T;
  /** How many times it was restarted. */
  readonly restarts: number;
  /** Stops supervising and stops the instance. */
  stop(): Promise<void>;
}

export const describeExit = (e: Exit): string =>
  e.reason ?? (e.signal ? `killed by ${e.signal}` : `exit code ${e.code ?? 'unknown'}`);

/**
 * Starts `name` and keeps it running: when it exits without being asked to, it is started again after
 * the backoff. A failed restart counts as another crash. The first start's failure is the caller's.
 */
export async function supervise<T extends Running>(
  name: string,
  start: () => Promise<T>,
  opts: SuperviseOptions,
): Promise<Supervised<T>> {
  const first = opts.firstDelayMs ?? 1000;
  const max = opts.maxDelayMs ?? 30_000;
  const healthy = opts.healthyMs ?? 60_000;
  let current = await start();
  let startedAt = Date.now();
  let restarts = 0;
  let delay = first;
  let stopping = false;
  let wake: (() => void) | null = null;

  const loop = async () => {
    for (;;) {
      const exit = await current.exit;
      if (stopping) return;
      await current.stop().catch(() => undefined); // a server that errored may still hold its port
      if (Date.now() - startedAt >= healthy) delay = first;
      for (let attempt = 0; ; attempt++) {
        const at = new Date(Date.now() + delay);
        const what = attempt === 0 ? `died (${describeExit(exit)})` : 'still down';
        opts.log(`${name} ${what}; restarting in ${delay / 1000} s, at ${at.toISOString()}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
        delay = Math.min(delay * 2, max);
        if (stopping) return;
        try {
          current = await start();
          startedAt = Date.now();
          restarts++;
          opts.log(`${name} restarted (restart ${restarts})`);
          break;
        } catch (err) {
          opts.log(`${name} could not restart: ${err instanceof Error ? err.message : String(err)}`);
          if (stopping) return;
        }
      }
    }
  };
  const looping = loop();

  return {
    get current() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      wake?.();
      await current.stop();
      await looping;
    },
  };
}

/**
 * A server in this process as a supervised thing: it "exits" when it stops listening without being
 * closed (an error on the listening socket, or a close nobody asked for).
 */
export function runningServer<S extends Listening>(server: S): S & Running {
  let closing = false;
  const exit = new Promise<Exit>((resolve) => {
    server.server.once('error', (err) =>
      resolve({ code: null, signal: null, reason: `server error: ${err.message}` }),
    );
    server.server.once('close', () =>
      resolve({ code: null, signal: null, reason: closing ? 'closed' : 'stopped listening' }),
    );
  });
  return {
    ...server,
    exit,
    async stop() {
      closing = true;
      if (server.server.listening) await server.close();
    },
  };
}

/** The port a server listens on, so a restart keeps the URL people were given. */
export const portOf = (url: string): number => Number(new URL(url).port);
