/**
 * Cycle throughput: complete remediation cycles per second, next to a baseline workflow that runs the
 * same number of no-op activities, measured in the same run on the same worker setup.
 *
 *   npm run bench:throughput [-- --cycles 20 --rounds 3]
 *
 * Remedy side: N weather models per round are registered up front (not timed; one open cycle per
 * model), then N cycles start at once with `startCycle` and the clock stops when every cycle has its
 * result. The policy keeps the adapters instant and needs no person:
 * - labeling `{ budget: 0, minLabels: 0 }`: the policy asks for no labels, so the cycle starts no
 *   labeling child (cycles recorded before `patched('no-empty-campaign')` started one that closed at once);
 * - training `{ trainer: 'softmax', epochs: 20 }` on the training queue (one training at a time per
 *   worker process, as in production);
 * - evaluation gates opened (`minGain: -1`, `minHoldout: 1`, the backtest reported only, …) so every cycle goes on to the rollout;
 * - rollout `{ steps: [100], dwell: '0ms', sampleWait: '0ms', decisionTimeout: '0ms' }` and no
 *   traffic: the one step's analysis is inconclusive (no samples), the step would pause for a person
 *   but the policy gives no time to answer, and the rollout rolls back. A zero wait starts no timer (a
 *   dev-server timer fires after about a second whatever its duration). So each cycle runs every stage
 *   (confirm → diagnose → collect → label → retrain → evaluate → rollout child → close) and ends
 *   `rolled-back`; it does not exercise the traffic-driven promotion path (no HTTP load, which on a
 *   2-core machine would compete with the worker for CPU).
 * Baseline side: `baselineWorkflow` (bench/workflows) runs K no-op activities in sequence, where K is
 * the number of ActivityTaskScheduled events of a Remedy cycle (the cycle's history plus its labeling
 * and rollout children, counted from a warm-up cycle and checked on every timed cycle). N baseline
 * workflows start at once on a second worker in this process, on its own task queue, with the same
 * default worker options. The baseline has no child workflows and no timers.
 * Rounds alternate which side runs first (Remedy, baseline; then baseline, Remedy; …) so a slow spell
 * of the machine does not land on one side; the ratio reported is the median of the rounds' ratios.
 * Target: Remedy's rate ≥ 60% of the baseline's (the production-volume target; it was 50%).
 */
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCycle, waitForCycle } from '../ops/cycles.js';
import { prepareWeatherModel, SCENARIO } from '../dev/scenario.js';
import { labelingWorkflowId, rolloutWorkflowId } from '../workflows/cycle.js';
import type { CycleSummary } from '../workflows/messages.js';
import { log, machine, startBenchEnv, writeReport } from './harness.js';
import { cpuBetween, processCpu, sumUsage, threadCpu } from './cpu-accounting.js';
import { summarise } from './cpuprofile-summary.js';

// Every SQL statement this process sends (the worker's activities share it): a pool's query goes through
// a client's, so counting the client's counts each statement once. The timed cycles' count over their
// number is the queries a cycle costs, bookkeeping and all; the baseline sends none.
let statements = 0;
// Statement texts counted while a timed Remedy round runs (the first 90 characters, spaces folded).
const texts = new Map<string, number>();
let countTexts = false;
const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const clientQuery = proto.query;
proto.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  if (countTexts) {
    const q = args[0];
    const text = typeof q === 'string' ? q : ((q as { text?: string } | null)?.text ?? '(a cursor or COPY)');
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 90);
    texts.set(key, (texts.get(key) ?? 0) + 1);
  }
  return clientQuery.apply(this, args);
};

const opts = new Command('bench:throughput')
  .option('--cycles <n>', 'concurrent cycles (and baseline workflows) to time', '20')
  .option('--rounds <n>', 'timed rounds, alternating which side goes first', '3')
  .option('--profile <dir>', "write the main thread's CPU profile of each timed Remedy round into <dir>")
  .parse()
  .opts<{ cycles: string; rounds: string; profile?: string }>();
const cycles = Number(opts.cycles);
if (!Number.isInteger(cycles) || cycles < 1 || cycles > 500)
  throw new Error('--cycles must be a whole number from 1 to 500');
const rounds = Number(opts.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9)
  throw new Error('--rounds must be a whole number from 1 to 9');

const TARGET_RATIO = 0.6;
const POLICY = {
  labeling: { budget: 0, minLabels: 0 },
  training: { trainer: 'softmax', epochs: 20 },
  evaluation: {
    minGain: -1,
    minHoldout: 1,
    backtest: 'report',
    maxSliceDrop: 1,
    maxEce: 1,
    maxLatencyMs: 10_000,
  },
  rollout: { steps: [100], dwell: '0ms', sampleWait: '0ms', decisionTimeout: '0ms', minSamples: 15 },
};
const BASELINE_QUEUE = 'bench-throughput-baseline';

async function activitiesOf(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes != null).length;
}

async function cycleActivities(client: Client, cycleId: string): Promise<number> {
  const ids = [cycleId, labelingWorkflowId(cycleId), rolloutWorkflowId(cycleId)];
  let total = 0;
  for (const id of ids) {
    try {
      total += await activitiesOf(client, id);
    } catch (err) {
      // A child that never started: fetchHistory reports gRPC NOT_FOUND (code 5), not WorkflowNotFoundError.
      const notFound =
        err instanceof Error &&
        (err.name === 'WorkflowNotFoundError' || (err as { code?: number }).code === 5);
      if (!notFound) throw err;
    }
  }
  return total;
}

const env = await startBenchEnv('throughput', {
  extraWorkers: [
    {
      taskQueue: BASELINE_QUEUE,
      workflowsPath: fileURLToPath(new URL('./workflows/index.ts', import.meta.url)),
      activities: { noop: () => Promise.resolve(1) },
    },
  ],
});
try {
  const queues = { taskQueue: env.taskQueue, trainingTaskQueue: env.trainingTaskQueue };
  const request = (modelId: string) => ({ modelId, window: SCENARIO.window, trigger: 'bench' });

  // Not timed: register the models (one for the warm-up, one per timed cycle of every round).
  const t0 = Date.now();
  const models: string[] = [];
  for (let i = 0; i <= cycles * rounds; i++) {
    const modelId = `bench-tp-${i}`;
    await prepareWeatherModel(env.pool, modelId, POLICY);
    models.push(modelId);
  }
  log(`registered ${models.length} models in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // Warm-up (not timed): one cycle, which also tells how many activities a cycle runs.
  const warm = await startCycle(env.client, queues, request(models[0]!));
  const warmSummary = await waitForCycle(env.client, warm.cycleId);
  const activities = await cycleActivities(env.client, warm.cycleId);
  log(
    `warm-up cycle ${warm.cycleId}: ${warmSummary.outcome} (${warmSummary.reason}); ${activities} activities`,
  );
  await env.client.workflow.execute('baselineWorkflow', {
    workflowId: `bench-baseline-warmup-${Date.now()}`,
    taskQueue: BASELINE_QUEUE,
    args: [activities],
  });

  const summaries: CycleSummary[] = [];
  const counts: number[] = [];
  const queriesPerRound: number[] = [];
  // CPU seconds by process and by this process's thread, per side, summed over the timed rounds.
  const usage = {
    remedy: { processes: [] as [string, number][][], threads: [] as [string, number][][] },
    baseline: { processes: [] as [string, number][][], threads: [] as [string, number][][] },
  };
  const measured = async (side: 'remedy' | 'baseline', run: () => Promise<number>): Promise<number> => {
    const p0 = processCpu();
    const t0 = threadCpu();
    const seconds = await run();
    usage[side].processes.push(cpuBetween(p0, processCpu()));
    usage[side].threads.push(cpuBetween(t0, threadCpu()));
    return seconds;
  };
  // --profile: the main thread (activities, the pg clients, the SDK's JS side) while Remedy's round runs.
  const profiler = opts.profile ? new Session() : null;
  const profiles: string[] = [];
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await mkdir(opts.profile!, { recursive: true });
  }
  const runRemedy = async (round: number): Promise<number> => {
    if (profiler) await profiler.post('Profiler.start');
    const r0 = performance.now();
    const q0 = statements;
    countTexts = true;
    const mine = models.slice(1 + round * cycles, 1 + (round + 1) * cycles);
    const started = await Promise.all(mine.map((m) => startCycle(env.client, queues, request(m))));
    const done = await Promise.all(started.map((s) => waitForCycle(env.client, s.cycleId)));
    const seconds = (performance.now() - r0) / 1000;
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      const file = path.join(opts.profile!, `throughput-round-${round + 1}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      profiles.push(file);
      if (round === 0) log(['main thread, round 1:', ...summarise(profile, 20)].join('\n'));
    }
    countTexts = false;
    queriesPerRound.push(statements - q0);
    summaries.push(...done);
    for (const s of started) counts.push(await cycleActivities(env.client, s.cycleId));
    return seconds;
  };
  const runBaseline = async (round: number): Promise<number> => {
    const b0 = performance.now();
    const stamp = Date.now();
    await Promise.all(
      Array.from({ length: cycles }, (_, i) =>
        env.client.workflow.execute('baselineWorkflow', {
          workflowId: `bench-baseline-${stamp}-${round}-${i}`,
          taskQueue: BASELINE_QUEUE,
          args: [activities],
        }),
      ),
    );
    return (performance.now() - b0) / 1000;
  };
  const perRound: {
    round: number;
    first: string;
    remedySeconds: number;
    baselineSeconds: number;
    ratio: number;
  }[] = [];
  for (let round = 0; round < rounds; round++) {
    const remedyFirst = round % 2 === 0;
    let remedySeconds: number;
    let baselineSeconds: number;
    const remedy = () => measured('remedy', () => runRemedy(round));
    const baseline = () => measured('baseline', () => runBaseline(round));
    if (remedyFirst) {
      remedySeconds = await remedy();
      baselineSeconds = await baseline();
    } else {
      baselineSeconds = await baseline();
      remedySeconds = await remedy();
    }
    const ratio = baselineSeconds / remedySeconds;
    perRound.push({
      round: round + 1,
      first: remedyFirst ? 'remedy' : 'baseline',
      remedySeconds,
      baselineSeconds,
      ratio,
    });
    log(
      `round ${round + 1}: remedy ${remedySeconds.toFixed(2)} s, baseline ${baselineSeconds.toFixed(2)} s, ratio ${(ratio * 100).toFixed(1)} %`,
    );
  }
  const outcomes: Record<string, number> = {};
  for (const s of summaries) outcomes[s.outcome ?? 'none'] = (outcomes[s.outcome ?? 'none'] ?? 0) + 1;
  // Where a cycle's time goes: mean seconds per stage over the timed cycles (queueing included).
  const stageSeconds: Record<string, number> = {};
  for (const s of summaries)
    for (const st of s.stages)
      if (st.endedAt)
        stageSeconds[st.stage] =
          (stageSeconds[st.stage] ?? 0) +
          (Date.parse(st.endedAt) - Date.parse(st.startedAt)) / 1000 / summaries.length;
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const medianRound = [...perRound].sort((a, b) => a.ratio - b.ratio)[Math.floor((perRound.length - 1) / 2)]!;
  const remedySeconds = medianRound.remedySeconds;
  const baselineSeconds = medianRound.baselineSeconds;
  const remedyRate = cycles / remedySeconds;
  const baselineRate = cycles / baselineSeconds;
  const ratio = median(perRound.map((r) => r.ratio));
  const met = ratio >= TARGET_RATIO;
  const queriesPerCycle = queriesPerRound.reduce((a, q) => a + q, 0) / (cycles * rounds);
  // The statements a cycle sends most often, per cycle.
  const topStatements = [...texts]
    .sort((a, b) => b[1] - a[1])
    .map(([text, n]) => ({ perCycle: n / (cycles * rounds), text }));
  // CPU seconds per workflow (cycle or baseline run), by process and by thread of this process.
  const perRun = (xs: [string, number][]) =>
    Object.fromEntries(xs.map(([name, s]) => [name, Math.round((s / (cycles * rounds)) * 1e4) / 1e4]));
  const cpu = {
    remedy: {
      processes: perRun(sumUsage(usage.remedy.processes)),
      threads: perRun(sumUsage(usage.remedy.threads)),
    },
    baseline: {
      processes: perRun(sumUsage(usage.baseline.processes)),
      threads: perRun(sumUsage(usage.baseline.threads)),
    },
  };
  const report = {
    benchmark: 'cycle-throughput',
    machine: machine(),
    cycles,
    rounds: perRound,
    policy: POLICY,
    activitiesPerCycle: { warmUp: activities, timedMin: Math.min(...counts), timedMax: Math.max(...counts) },
    remedy: {
      seconds: remedySeconds,
      cyclesPerSecond: remedyRate,
      outcomes,
      meanStageSeconds: stageSeconds,
      sqlStatementsPerCycle: queriesPerCycle,
      sqlStatementsByText: topStatements,
    },
    cpuSecondsPerWorkflow: cpu,
    baseline: {
      workflow: 'baselineWorkflow',
      activities,
      seconds: baselineSeconds,
      workflowsPerSecond: baselineRate,
    },
    target: { ratio: TARGET_RATIO, measured: ratio, met, missedBy: met ? 0 : TARGET_RATIO - ratio },
  };
  const file = await writeReport('throughput', report);
  const fmtCpu = (xs: Record<string, number>) =>
    Object.entries(xs)
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join(', ') || 'none read';
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  process.stdout.write(
    [
      `Cycle throughput (${cycles} at once, ${activities} activities each; median of ${rounds} rounds)`,
      ...perRound.map(
        (r) =>
          `  round ${r.round} (${r.first} first)   remedy ${r.remedySeconds.toFixed(2)} s, baseline ${r.baselineSeconds.toFixed(2)} s: ${pct(r.ratio)}`,
      ),
      '  median round        seconds   per second   vs baseline',
      `  remedy cycles    ${remedySeconds.toFixed(2).padStart(10)} ${remedyRate.toFixed(2).padStart(12)}   ${pct(ratio).padStart(11)}`,
      `  baseline (no-op) ${baselineSeconds.toFixed(2).padStart(10)} ${baselineRate.toFixed(2).padStart(12)}   ${pct(1).padStart(11)}`,
      `  activities/cycle    warm-up ${activities}, timed ${Math.min(...counts)}..${Math.max(...counts)}`,
      `  outcomes            ${JSON.stringify(outcomes)}`,
      `  mean s per stage    ${Object.entries(stageSeconds)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}`,
      `  SQL per cycle       ${queriesPerCycle.toFixed(1)} statements (this process's pg clients, timed rounds); most sent:`,
      ...topStatements.slice(0, 12).map((t) => `    ${t.perCycle.toFixed(1).padStart(5)}  ${t.text}`),
      ...(['remedy', 'baseline'] as const).map(
        (side) =>
          `  CPU s per ${side === 'remedy' ? 'cycle   ' : 'baseline'}  by process: ${fmtCpu(cpu[side].processes)}; this process by thread: ${fmtCpu(cpu[side].threads)}`,
      ),
      ...(profiles.length ? [`  CPU profiles        ${profiles.join(', ')}`] : []),
      `  target              remedy ≥ ${pct(TARGET_RATIO)} of baseline: ${met ? 'met' : `MISSED by ${pct(TARGET_RATIO - ratio)} points`}`,
      `  report              ${file}`,
      '',
    ].join('\n'),
  );
} finally {
  await env.close();
}
