/**
 * Fault injection (bench/faults-core.ts, also `npm run faults`): cycles in parallel while the worker is
 * killed with SIGKILL and restarted, the Temporal dev server restarted on its SQLite file, and Postgres
 * stopped mid-cycle. Half the models plug into the team's stack (bench/faults-adapters.ts): an `http`
 * traffic router and a webhook channel, real servers that count the splits they applied and the events
 * they received, per Idempotency-Key. The run brings up its own dev server and Postgres (it restarts
 * them), so it does not touch the ones the other test files share. REMEDY_FAULT_SEED replays a schedule.
 */
import { describe, expect, it } from 'vitest';
import { ACCEPTED_OUTCOMES, formatReport, runFaultInjection } from '../../bench/faults-core.js';

const seed = process.env.REMEDY_FAULT_SEED
  ? Number(process.env.REMEDY_FAULT_SEED)
  : Math.floor(Math.random() * 2 ** 31);

describe('fault injection', () => {
  it('given cycles in parallel, half through an http router and a webhook, when the worker is SIGKILLed, the dev server restarted and Postgres stopped, then every cycle reaches its outcome and no effect is duplicated', async () => {
    const report = await runFaultInjection({
      cycles: 6,
      seed,
      postgresOutageMs: 30_000,
      workerKills: 6,
      killEveryMs: [2_000, 6_000],
      // A cap, not a wait: the run ends as soon as every cycle has its outcome (about 2–3 minutes on a
      // quiet machine); a shared, loaded one needs more before a cycle counts as stuck.
      timeoutMs: 330_000,
      adapters: true,
      log: (m) => process.stderr.write(`[faults] ${m}\n`),
    });
    // In the CI log whatever happens: the counts, the cycles and the fault schedule with its seed.
    console.log(formatReport(report));

    expect(report.missedFaults).toEqual([]);
    expect(report.faults.filter((f) => f.kind === 'worker-kill')).toHaveLength(6);
    for (const kind of ['temporal-ready', 'postgres-ready'] as const)
      expect(report.faults.some((f) => f.kind === kind)).toBe(true);
    for (const c of report.cycles)
      expect(
        ACCEPTED_OUTCOMES,
        `${c.cycleId}: ${c.outcome ?? 'no outcome'} ${c.reason ?? ''} ${c.stuck ?? ''}`,
      ).toContain(c.outcome);
    expect(report.counts.filter((r) => !r.ok)).toEqual([]);
    // The adapters' half really went through the router and the webhook.
    const found = (check: string) => report.counts.find((r) => r.check === check)?.found ?? 0;
    expect(found('http router: splits applied (one per Idempotency-Key)')).toBeGreaterThan(0);
    expect(found('webhook: events delivered (distinct Idempotency-Keys)')).toBeGreaterThan(0);
    expect(report.ok).toBe(true);
  }, 480_000);
});
