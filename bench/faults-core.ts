/**
 * Fault injection: many remediation cycles run in parallel while the worker process is killed with
 * SIGKILL at random moments and restarted, the Temporal dev server is restarted on its persistent
 * SQLite file, and Postgres is stopped for a while mid-cycle. Afterwards Postgres is counted: every
 * cycle must have reached its outcome, and no effect may have happened twice (one dataset version of
 * each kind per cycle, one registry row per candidate, one rollback per rolled-back cycle, one label per
 * item, one audit event per one-off action, a traffic split that matches the outcome).
 *
 * The run owns its infrastructure, because it restarts it: a dev server on a SQLite file and an
 * embedded Postgres cluster, both in a temporary directory on ports of their own, and the worker as its
 * own process (spawnWorker), so SIGKILL is real. The people in the loop (reviewer, approver) and the
 * production traffic are loops that retry through every outage, as real clients would.
 *
 * Random choices (kill moments, the delays before the restarts) come from a seeded generator: the seed
 * is printed, and the same seed gives the same schedule.
 *
 * This file runs the schedule; the worker supervisor is in bench/faults-stack.ts, the reviewer, approver,
 * traffic and outcome loops in bench/faults-actors.ts, and the counting in bench/faults-effects.ts.
 *
 * Used by `npm run faults` (bench/faults.ts) and by test/e2e/faults.test.ts.
 */
import { setMaxListeners } from 'node:events';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { startCycle, type Queues } from '../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../dev/scenario.js';
import { createPool, migrate } from '../db/pool.js';
import { startGateway, type Gateway } from '../gateway/server.js';
import { startPostgres, type PostgresServer } from '../infra/postgres.js';
import { freePort, LOCAL_HOST } from '../infra/ports.js';
import { startDevServer, type DevServer } from '../infra/temporal-dev-server.js';
import type { Outcome, Stage } from '../workflows/messages.js';
import {
  awaitOutcome,
  describeStuck,
  newTracked,
  reviewerAndApprover,
  stageIndex,
  traffic,
  type ActorContext,
  type Tracked,
} from './faults-actors.js';
import { countTeamSide, deliveriesDrained, startTeamSide, type TeamSide } from './faults-adapters.js';
import { ACCEPTED_OUTCOMES, countEffects, type CountRow } from './faults-effects.js';
import { message, pause, untilPortFree, WorkerSupervisor } from './faults-stack.js';
import { seededRandom } from '../core/seeded-random.js';

export { ACCEPTED_OUTCOMES, type CountRow };

export interface FaultOptions {
  /** Cycles run in parallel, each on its own model. */
  cycles: number;
  seed: number;
  /** How long Postgres stays stopped. */
  postgresOutageMs: number;
  /** How many times the worker is killed (SIGKILL) and restarted. */
  workerKills: number;
  /** Each kill comes this long (uniformly random between the two) after the worker was last ready. */
  killEveryMs: readonly [number, number];
  /**
   * Every other model plugs into the team's stack (bench/faults-adapters.ts): its traffic moves through an
   * `http` router and its events go to a webhook channel, both real servers; the rest keep the built-in
   * gateway router. The counts then include the router's applied keys and the webhook's deliveries.
   */
  adapters?: boolean;
  /** Every cycle must have its outcome within this time after the cycles started. */
  timeoutMs: number;
  log?: (msg: string) => void;
  /** Keep the temporary directory (SQLite file, Postgres cluster, worker log) even when the run passed. */
  keep?: boolean;
}

export const FAULT_DEFAULTS = {
  cycles: 12,
  postgresOutageMs: 30_000,
  workerKills: 12,
  killEveryMs: [2_000, 6_000],
  timeoutMs: 15 * 60_000,
} as const satisfies Partial<FaultOptions>;

/**
 * The demo's policy (short dwell, scripted reviewer and approver), with a shorter heartbeat timeout for
 * training: a worker killed mid-training is noticed after 10 s instead of 30 s, and the retry resumes
 * from the saved trees.
 */
export const FAULT_POLICY = { ...DEMO_POLICY, training: { heartbeatTimeout: '10s' } };

export type FaultKind =
  | 'worker-kill'
  | 'worker-ready'
  | 'worker-exit'
  | 'temporal-stop'
  | 'temporal-ready'
  | 'postgres-stop'
  | 'postgres-ready';

export interface FaultEvent {
  /** Milliseconds since the first worker was started. */
  atMs: number;
  kind: FaultKind;
  detail: string;
}

export interface CycleResult {
  cycleId: string;
  modelId: string;
  outcome: Outcome | null;
  reason: string | null;
  /** Where the cycle was when the run gave up on it (only for cycles without an outcome). */
  stuck?: string;
  championBefore: number;
  candidateVersion: number | null;
  labelsAnswered: number;
  requestsSent: number;
  /** Calls by the people and traffic loops that failed during outages and were retried. */
  retriedCalls: number;
}

export interface FaultReport {
  seed: number;
  options: Omit<FaultOptions, 'log'>;
  cycles: CycleResult[];
  faults: FaultEvent[];
  counts: CountRow[];
  /** Faults the schedule could not inject (every cycle had closed before their moment). */
  missedFaults: string[];
  durationMs: number;
  prepareMs: number;
  dir: string;
  ok: boolean;
}

const HOST = LOCAL_HOST;
const DATABASE = 'remedy_faults';

export async function runFaultInjection(opts: FaultOptions): Promise<FaultReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[faults] ${m}\n`));
  if (process.env.DATABASE_URL)
    throw new Error(
      'The fault run stops and starts its own embedded Postgres; unset DATABASE_URL (a Postgres it may not stop).',
    );
  const random = seededRandom(opts.seed);
  const between = ([lo, hi]: readonly [number, number]) => Math.round(lo + random() * (hi - lo));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-faults-'));
  // As root, Postgres runs as the postgres user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const dbFile = path.join(dir, 'temporal.sqlite');
  const pgDir = path.join(dir, 'pg');
  const [temporalPort, pgPort] = [await freePort(), await freePort()];
  const address = `${HOST}:${temporalPort}`;
  const quiet = (what: string) => (m: string) => log(`${what}: ${m}`);
  log(`seed ${opts.seed}; ${opts.cycles} cycles; state in ${dir}`);

  let t0 = Date.now();
  const faults: FaultEvent[] = [];
  const event = (kind: FaultKind, detail: string) => {
    faults.push({ atMs: Date.now() - t0, kind, detail });
    log(`${((Date.now() - t0) / 1000).toFixed(1)} s  ${kind}: ${detail}`);
  };

  let temporal: DevServer | null = null;
  let pgServer: PostgresServer | null = null;
  let pool: pg.Pool | null = null;
  let connection: Connection | null = null;
  let gateway: Gateway | null = null;
  let supervisor: WorkerSupervisor | null = null;
  let team: TeamSide | null = null;
  const stop = new AbortController();
  // Every loop waits on this signal (two per cycle, plus the schedule): more than the default ten.
  setMaxListeners(0, stop.signal);
  const running: Promise<unknown>[] = [];
  let report: FaultReport | null = null;

  const startTemporal = async () => {
    const server = await startDevServer({
      dbFile,
      port: temporalPort,
      headless: true,
      log: quiet('temporal'),
    });
    if (server.address !== address)
      throw new Error(`the dev server came back at ${server.address}, not ${address}: clients would lose it`);
    return server;
  };
  const startPg = async () => {
    const server = await startPostgres({
      dataDir: pgDir,
      port: pgPort,
      databaseName: DATABASE,
      log: quiet('postgres'),
    });
    if (new URL(server.url).port !== String(pgPort))
      throw new Error(`Postgres came back on ${server.url}, not port ${pgPort}: clients would lose it`);
    return server;
  };

  try {
    [temporal, pgServer] = await Promise.all([startTemporal(), startPg()]);
    const url = pgServer.url;
    pool = createPool(url, 8);
    await migrate(pool);
    gateway = await startGateway(pool, { auth: 'off' }); // faults in serving, not credentials
    connection = await Connection.connect({ address });
    const client = new Client({ connection });
    // Client calls end when the run stops: a label Update or a result long poll may wait on a stuck cycle.
    const call = <T>(fn: () => Promise<T>) => client.withAbortSignal(stop.signal, fn);
    const queues: Queues = { taskQueue: 'faults', trainingTaskQueue: 'faults-training' };

    const prepareStarted = Date.now();
    const tracked: Tracked[] = [];
    if (opts.adapters) team = await startTeamSide(pool, stop.signal);
    const viaTeam = (i: number) => team !== null && i % 2 === 1;
    for (let i = 1; i <= opts.cycles; i++) {
      const policy =
        team && viaTeam(i)
          ? {
              ...FAULT_POLICY,
              rollout: { ...FAULT_POLICY.rollout, router: team.policy.router },
              notifications: team.policy.notifications,
            }
          : FAULT_POLICY;
      const prepared = await prepareWeatherModel(pool, `faults-${i}${viaTeam(i) ? '-http' : ''}`, policy);
      tracked.push(newTracked(prepared));
    }
    const prepareMs = Date.now() - prepareStarted;
    log(`${opts.cycles} models registered with their champion and production log in ${prepareMs} ms`);

    supervisor = new WorkerSupervisor(
      {
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'default',
        REMEDY_TASK_QUEUE: queues.taskQueue,
        REMEDY_TRAINING_TASK_QUEUE: queues.trainingTaskQueue,
        ...team?.env,
      },
      path.join(dir, 'worker.log'),
      event,
    );
    t0 = Date.now();
    await supervisor.ensureRunning();
    const cyclesStarted = Date.now();
    for (const c of tracked) {
      c.cycleId = (
        await startCycle(client, queues, {
          modelId: c.prepared.modelId,
          window: SCENARIO.window,
          trigger: 'faults',
        })
      ).cycleId;
    }
    log(`started ${tracked.map((c) => c.cycleId).join(', ')}`);

    const actors: ActorContext = { client, call, gatewayUrl: gateway.url, signal: stop.signal };
    const outcomes = tracked.map((c) => {
      running.push(reviewerAndApprover(actors, c), traffic(actors, c));
      return awaitOutcome(actors, c);
    });

    // The kills: each one a random 2–6 s (by default) after the worker was last ready.
    const killer = (async () => {
      while (supervisor.kills < opts.workerKills && !stop.signal.aborted) {
        await supervisor.ensureRunning();
        if (!(await pause(between(opts.killEveryMs), stop.signal))) return;
        await supervisor.kill();
      }
      await supervisor.ensureRunning();
    })();
    running.push(killer);

    // The dev server restart once a cycle waits for labels, the Postgres outage once a cycle is past its
    // labels (training, evaluation, rollout: the stages that write the most). Each at a random delay.
    const missedFaults: string[] = [];
    const whenAnyOpenCycleReaches = async (stage: Stage): Promise<boolean> => {
      for (;;) {
        const open = tracked.filter((c) => !c.settled);
        if (open.length === 0 || stop.signal.aborted) return false;
        if (open.some((c) => c.stage !== 'starting' && stageIndex(c.stage) >= stageIndex(stage))) return true;
        await pause(100, stop.signal);
      }
    };
    const schedule = (async () => {
      if ((await whenAnyOpenCycleReaches('label')) && (await pause(between([0, 3000]), stop.signal))) {
        event('temporal-stop', `dev server at ${address} stopped (SIGTERM)`);
        const stoppedAt = Date.now();
        await temporal.stop();
        await untilPortFree(temporalPort);
        temporal = await startTemporal();
        event(
          'temporal-ready',
          `restarted on the same SQLite file and port after ${Date.now() - stoppedAt} ms`,
        );
      } else missedFaults.push('dev server restart');
      if ((await whenAnyOpenCycleReaches('retrain')) && (await pause(between([0, 3000]), stop.signal))) {
        const stages = tracked
          .filter((c) => !c.settled)
          .map((c) => `${c.cycleId.replace('remediation-', '')}@${c.stage}`);
        event(
          'postgres-stop',
          `Postgres stopped for ${opts.postgresOutageMs} ms; open cycles: ${stages.join(' ')}`,
        );
        const stoppedAt = Date.now();
        // Forced: the worker's connections would otherwise keep it running (the last user stops it).
        await pgServer.stop({ force: true });
        // Not abortable: whatever happens, Postgres comes back before the counting.
        await delay(opts.postgresOutageMs);
        await untilPortFree(pgPort);
        pgServer = await startPg();
        event(
          'postgres-ready',
          `restarted on the same data directory and port after ${Date.now() - stoppedAt} ms`,
        );
      } else missedFaults.push('Postgres outage');
    })();

    const deadline = new Promise<'timeout'>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
      void Promise.all(outcomes).then(() => clearTimeout(timer));
    });
    const finished = await Promise.race([Promise.all(outcomes).then(() => 'done' as const), deadline]);
    const durationMs = Date.now() - cyclesStarted;
    log(
      finished === 'done' ? `every cycle settled after ${durationMs} ms` : `gave up after ${durationMs} ms`,
    );

    // The last events (a cycle's close) still leave the outbox: the worker sends them before the counting.
    const teamTracked = tracked.filter((c) => c.prepared.modelId.endsWith('-http'));
    if (
      team &&
      !(await deliveriesDrained(
        pool,
        teamTracked.map((c) => c.prepared.modelId),
        90_000,
      ))
    )
      log('notifications still pending after 90 s: the counts will show which');

    // What the stuck cycles were doing, before anything is stopped.
    const stuck = new Map<string, string>();
    for (const c of tracked.filter((t) => !t.settled)) stuck.set(c.cycleId, await describeStuck(client, c));

    stop.abort();
    await schedule;
    await Promise.all([...running, ...outcomes]);
    if (!supervisor.kills) missedFaults.push('worker kills');

    const counts = await countEffects(pool, tracked);
    if (team) {
      counts.push(...(await countTeamSide(pool, team, teamTracked)));
      log(
        `http router: ${team.router.posts} POSTs for ${team.router.applied.size} splits; webhook: ${team.webhook.deliveries.length} deliveries`,
      );
    }
    const cycles: CycleResult[] = tracked.map((c) => ({
      cycleId: c.cycleId,
      modelId: c.prepared.modelId,
      outcome: c.settled ? (c.summary?.outcome ?? null) : null,
      reason: c.ended ?? (c.settled ? (c.summary?.reason ?? null) : null),
      ...(stuck.has(c.cycleId) ? { stuck: stuck.get(c.cycleId)! } : {}),
      championBefore: c.prepared.champion.version,
      candidateVersion: c.summary?.candidateVersion ?? null,
      labelsAnswered: c.labelsAnswered,
      requestsSent: c.requestsSent,
      retriedCalls: c.retriedCalls,
    }));
    const ok =
      cycles.every((c) => c.outcome !== null && ACCEPTED_OUTCOMES.includes(c.outcome)) &&
      counts.every((r) => r.ok) &&
      missedFaults.length === 0;
    const { log: _log, ...options } = opts;
    report = {
      seed: opts.seed,
      options,
      cycles,
      faults,
      counts,
      missedFaults,
      durationMs,
      prepareMs,
      dir,
      ok,
    };
    return report;
  } finally {
    stop.abort();
    await Promise.allSettled(running);
    await supervisor?.stop().catch((err: unknown) => log(`stopping the worker: ${message(err)}`));
    await team?.close().catch(() => undefined);
    await gateway?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await temporal?.stop().catch((err: unknown) => log(`stopping the dev server: ${message(err)}`));
    // Its own cluster in a temporary directory: stopped whoever is still connected.
    await pgServer?.stop({ force: true }).catch((err: unknown) => log(`stopping Postgres: ${message(err)}`));
    if (report?.ok && !opts.keep) await rm(dir, { recursive: true, force: true });
    else log(`state kept for inspection in ${dir} (worker.log, temporal.sqlite, pg/)`);
  }
}

/** The counts as a table, then the cycles and the faults, for a terminal or a CI log. */
export function formatReport(r: FaultReport): string {
  const width = Math.max(...r.counts.map((c) => c.check.length));
  const lines = [
    `fault injection, seed ${r.seed}: ${r.cycles.length} cycles, ${r.options.workerKills} worker kills planned, Postgres outage ${r.options.postgresOutageMs} ms`,
    '',
    `${'check'.padEnd(width)}  found  expected`,
    ...r.counts.map(
      (c) =>
        `${c.check.padEnd(width)}  ${String(c.found).padStart(5)}  ${String(c.expected).padStart(8)}${c.ok ? '' : '   <-- WRONG'}`,
    ),
    '',
    'cycle                           outcome       candidate  labels  requests  retried calls',
    ...r.cycles.map(
      (c) =>
        `${c.cycleId.padEnd(32)}${String(c.outcome ?? 'NONE').padEnd(14)}${String(c.candidateVersion === null ? '-' : `v${c.candidateVersion}`).padStart(9)}  ${String(c.labelsAnswered).padStart(6)}  ${String(c.requestsSent).padStart(8)}  ${String(c.retriedCalls).padStart(13)}` +
        (c.outcome === null || !ACCEPTED_OUTCOMES.includes(c.outcome)
          ? `\n    ${c.reason ?? ''} ${c.stuck ?? ''}`
          : ''),
    ),
    '',
    'faults (seconds after the first worker was started):',
    ...r.faults.map((f) => `  ${(f.atMs / 1000).toFixed(1).padStart(6)}  ${f.kind.padEnd(14)} ${f.detail}`),
    ...(r.missedFaults.length ? [`not injected (every cycle had closed): ${r.missedFaults.join(', ')}`] : []),
    '',
    `${r.ok ? 'PASS' : 'FAIL'}: models prepared in ${(r.prepareMs / 1000).toFixed(1)} s; cycles ran ${(r.durationMs / 1000).toFixed(1)} s. Reproduce the schedule with --seed ${r.seed}.`,
  ];
  return lines.join('\n');
}
