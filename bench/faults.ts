/**
 * Fault injection: cycles in parallel while the worker is SIGKILLed at random moments and restarted,
 * the Temporal dev server restarted on its SQLite file, and Postgres stopped mid-cycle; then the counts
 * in Postgres that show every cycle reached its outcome and no effect happened twice.
 *
 *   npm run faults [-- --cycles 12 --seed 42 --outage 30 --kills 12 --no-adapters]
 *
 * Exits 1 when a cycle has no accepted outcome, a count is off, or a fault could not be injected.
 */
import { Command } from 'commander';
import { FAULT_DEFAULTS, formatReport, runFaultInjection } from './faults-core.js';

const opts = new Command('faults')
  .option('--cycles <n>', 'cycles in parallel, each on its own model', String(FAULT_DEFAULTS.cycles))
  .option('--seed <n>', 'seed of the fault schedule (default: random, printed)')
  .option(
    '--outage <seconds>',
    'how long Postgres stays stopped',
    String(FAULT_DEFAULTS.postgresOutageMs / 1000),
  )
  .option('--kills <n>', 'how many times the worker is killed', String(FAULT_DEFAULTS.workerKills))
  .option(
    '--timeout <seconds>',
    'time every cycle has to reach its outcome',
    String(FAULT_DEFAULTS.timeoutMs / 1000),
  )
  .option(
    '--no-adapters',
    'every model on the built-in gateway router, no webhook (default: every other model uses an http router and a webhook channel)',
  )
  .option('--keep', 'keep the temporary directory (SQLite file, Postgres cluster, worker log)')
  .parse()
  .opts<{
    cycles: string;
    seed?: string;
    outage: string;
    kills: string;
    timeout: string;
    adapters: boolean;
    keep?: boolean;
  }>();

const whole = (name: string, value: string, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  return n;
};
const seed =
  opts.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole('seed', opts.seed, 0, 2 ** 32 - 1);

const report = await runFaultInjection({
  cycles: whole('cycles', opts.cycles, 1, 50),
  seed,
  postgresOutageMs: whole('outage', opts.outage, 0, 600) * 1000,
  workerKills: whole('kills', opts.kills, 0, 200),
  killEveryMs: FAULT_DEFAULTS.killEveryMs,
  timeoutMs: whole('timeout', opts.timeout, 10, 7200) * 1000,
  adapters: opts.adapters,
  ...(opts.keep ? { keep: true } : {}),
});
console.log(formatReport(report));
process.exitCode = report.ok ? 0 : 1;
