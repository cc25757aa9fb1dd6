/**
 * The dev stack's supervisor with stand-ins for a process: each crash is printed and restarted after a
 * delay that doubles up to its cap, returns to the first delay after a healthy run, and stop() ends it.
 */
import { describe, expect, it, vi } from 'vitest';
import { type Exit, type Running, supervise } from '../../dev/supervise.js';

/** A stand-in process: crash() ends it as a signal would; stop() ends it as asked. */
function fakeProcess() {
  let end!: (e: Exit) => void;
  const exit = new Promise<Exit>((resolve) => (end = resolve));
  const p: Running & { crash(): void; stopped: boolean } = {
    exit,
    stopped: false,
    crash: () => end({ code: null, signal: 'SIGKILL' }),
    stop: () => {
      p.stopped = true;
      end({ code: 0, signal: null });
      return Promise.resolve();
    },
  };
  return p;
}

describe('supervise', () => {
  it('given repeated crashes, then each is printed and restarted with a doubling, capped delay', async () => {
    const lines: string[] = [];
    const started: ReturnType<typeof fakeProcess>[] = [];
    const sup = await supervise(
      'worker',
      () => {
        const p = fakeProcess();
        started.push(p);
        return Promise.resolve(p);
      },
      { log: (l) => lines.push(l), firstDelayMs: 10, maxDelayMs: 40, healthyMs: 60_000 },
    );
    for (let i = 1; i <= 4; i++) {
      sup.current.crash();
      await vi.waitFor(() => expect(sup.restarts).toBe(i), { timeout: 5000, interval: 5 });
    }
    expect(started).toHaveLength(5);
    const died = lines.filter((l) => l.includes('died'));
    expect(died.map((l) => /restarting in ([\d.]+) s, at \d{4}-/.exec(l)?.[1])).toEqual([
      '0.01',
      '0.02',
      '0.04',
      '0.04',
    ]);
    expect(died.every((l) => l.startsWith('worker died (killed by SIGKILL); '))).toBe(true);
    expect(lines).toContain('worker restarted (restart 4)');
    await sup.stop();
    expect(started.at(-1)!.stopped).toBe(true);
    expect(lines.filter((l) => l.includes('died'))).toHaveLength(4); // a requested stop is no crash
  });

  it('given a healthy run before a crash, then the restart waits the first delay again', async () => {
    const lines: string[] = [];
    const sup = await supervise('gateway', () => Promise.resolve(fakeProcess()), {
      log: (l) => lines.push(l),
      firstDelayMs: 10,
      maxDelayMs: 1000,
      healthyMs: 0,
    });
    for (let i = 1; i <= 3; i++) {
      sup.current.crash();
      await vi.waitFor(() => expect(sup.restarts).toBe(i), { timeout: 5000, interval: 5 });
    }
    expect(lines.filter((l) => l.includes('died')).every((l) => l.includes('restarting in 0.01 s'))).toBe(
      true,
    );
    await sup.stop();
  });

  it('given a restart that fails, then it is printed and retried after a longer delay', async () => {
    const lines: string[] = [];
    let n = 0;
    const sup = await supervise(
      'review page',
      () => {
        n++;
        return n === 2 ? Promise.reject(new Error('port in use')) : Promise.resolve(fakeProcess());
      },
      { log: (l) => lines.push(l), firstDelayMs: 10, maxDelayMs: 1000 },
    );
    sup.current.crash();
    await vi.waitFor(() => expect(sup.restarts).toBe(1), { timeout: 5000, interval: 5 });
    expect(lines).toEqual([
      expect.stringMatching(/^review page died \(killed by SIGKILL\); restarting in 0.01 s/),
      'review page could not restart: port in use',
      expect.stringMatching(/^review page still down; restarting in 0.02 s/),
      'review page restarted (restart 1)',
    ]);
    await sup.stop();
  });
});
