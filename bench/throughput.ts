/**
 * Cycle throughput: complete remediation cycles per second, next to a baseline workflow that runs the
 * same number of no-op activities, measured in the same run on the same worker setup.
 *
 *   npm run bench:throughput [-- --cycles 20]
 *
 * Remedy side: N weather models are registered up front (not timed; one open cycle per model), then N
 * cycles start at once with `startCycle` and the clock stops when every cycle has its result. The
 * policy keeps the adapters instant and needs no person:
 * - labeling `{ budget: 0, minLabels: 0 }`: the campaign asks for no labels, so the labeling child
 *   opens, finds nothing to wait for and completes at once (checked: `answers.size >= items.length`);
 * - training `{ trainer: 'softmax', epochs: 20 }` on the training queue (one training at a time per
 *   worker process, as in production);
 * - evaluation gates opened (`minGain: -1`, …) so every cycle goes on to the rollout;
 * - rollout `{ steps: [100], dwell: '1ms', sampleWait: '1ms', decisionTimeout: '1ms' }` and no
 *   traffic: the one step's analysis is inconclusive (no samples), the step pauses for a person, nobody
 *   answers within 1 ms, and the rollout rolls back. So each cycle runs every stage (confirm → diagnose →
 *   collect → label child → retrain → evaluate → rollout child → close) and ends `rolled-back`, with
 *   two 1 ms timers; it does not exercise the traffic-driven promotion path (no HTTP load, which on a
 *   2-core machine would compete with the worker for CPU).
 * Baseline side: `baselineWorkflow` (bench/workflows) runs K no-op activities in sequence, where K is
 * the number of ActivityTaskScheduled events of a Remedy cycle (the cycle's history plus its labeling
 * and rollout children, counted from a warm-up cycle and checked on every timed cycle). N baseline
 * workflows start at once on a second worker in this process, on its own task queue, with the same
 * default worker options. The baseline has no child workflows and no timers.
 * Target: Remedy's rate ≥ 50% of the baseline's.
 */
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import { startCycle, waitForCycle } from '../client/cycles.js';
import { prepareWeatherModel, SCENARIO } from '../client/scenario.js';
import { labelingWorkflowId, rolloutWorkflowId } from '../workflows/cycle.js';
import type { CycleSummary } from '../workflows/messages.js';
import { log, machine, startBenchEnv, writeReport } from './harness.js';

const opts = new Command('bench:throughput')
  .option('--cycles <n>', 'concurrent cycles (and baseline workflows) to time', '20')
  .parse()
  .opts<{ cycles: string }>();
const cycles = Number(opts.cycles);
if (!Number.isInteger(cycles) || cycles < 1 || cycles > 500)
  throw new Error('--cycles must be a whole number from 1 to 500');

const TARGET_RATIO = 0.5;
const POLICY = {
  labeling: { budget: 0, minLabels: 0 },
  training: { trainer: 'softmax', epochs: 20 },
  evaluation: { minGain: -1, maxSliceDrop: 1, maxEce: 1, maxLatencyMs: 10_000 },
  rollout: { steps: [100], dwell: '1ms', sampleWait: '1ms', decisionTimeout: '1ms', minSamples: 15 },
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
      if (!(err instanceof Error && err.name === 'WorkflowNotFoundError')) throw err;
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

  // Not timed: register the models (one for the warm-up, one per timed cycle).
  const t0 = Date.now();
  const models: string[] = [];
  for (let i = 0; i <= cycles; i++) {
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

  // Remedy: N cycles at once.
  const r0 = performance.now();
  const started = await Promise.all(models.slice(1).map((m) => startCycle(env.client, queues, request(m))));
  const summaries: CycleSummary[] = await Promise.all(
    started.map((s) => waitForCycle(env.client, s.cycleId)),
  );
  const remedySeconds = (performance.now() - r0) / 1000;
  const outcomes: Record<string, number> = {};
  for (const s of summaries) outcomes[s.outcome ?? 'none'] = (outcomes[s.outcome ?? 'none'] ?? 0) + 1;
  // Where a cycle's time goes: mean seconds per stage over the timed cycles (queueing included).
  const stageSeconds: Record<string, number> = {};
  for (const s of summaries)
    for (const st of s.stages)
      if (st.endedAt)
        stageSeconds[st.stage] =
          (stageSeconds[st.stage] ?? 0) + (Date.parse(st.endedAt) - Date.parse(st.startedAt)) / 1000 / cycles;
  const counts: number[] = [];
  for (const s of started) counts.push(await cycleActivities(env.client, s.cycleId));
  log(`remedy: ${cycles} cycles in ${remedySeconds.toFixed(2)} s; outcomes ${JSON.stringify(outcomes)}`);

  // Baseline: N workflows of K no-op activities at once.
  const b0 = performance.now();
  const stamp = Date.now();
  await Promise.all(
    Array.from({ length: cycles }, (_, i) =>
      env.client.workflow.execute('baselineWorkflow', {
        workflowId: `bench-baseline-${stamp}-${i}`,
        taskQueue: BASELINE_QUEUE,
        args: [activities],
      }),
    ),
  );
  const baselineSeconds = (performance.now() - b0) / 1000;
  log(`baseline: ${cycles} workflows in ${baselineSeconds.toFixed(2)} s`);

  const remedyRate = cycles / remedySeconds;
  const baselineRate = cycles / baselineSeconds;
  const ratio = remedyRate / baselineRate;
  const met = ratio >= TARGET_RATIO;
  const report = {
    benchmark: 'cycle-throughput',
    machine: machine(),
    cycles,
    policy: POLICY,
    activitiesPerCycle: { warmUp: activities, timedMin: Math.min(...counts), timedMax: Math.max(...counts) },
    remedy: { seconds: remedySeconds, cyclesPerSecond: remedyRate, outcomes, meanStageSeconds: stageSeconds },
    baseline: {
      workflow: 'baselineWorkflow',
      activities,
      seconds: baselineSeconds,
      workflowsPerSecond: baselineRate,
    },
    target: { ratio: TARGET_RATIO, measured: ratio, met, missedBy: met ? 0 : TARGET_RATIO - ratio },
  };
  const file = await writeReport('throughput', report);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  process.stdout.write(
    [
      `Cycle throughput (${cycles} at once, ${activities} activities each)`,
      '  run                 seconds   per second   vs baseline',
      `  remedy cycles    ${remedySeconds.toFixed(2).padStart(10)} ${remedyRate.toFixed(2).padStart(12)}   ${pct(ratio).padStart(11)}`,
      `  baseline (no-op) ${baselineSeconds.toFixed(2).padStart(10)} ${baselineRate.toFixed(2).padStart(12)}   ${pct(1).padStart(11)}`,
      `  activities/cycle    warm-up ${activities}, timed ${Math.min(...counts)}..${Math.max(...counts)}`,
      `  outcomes            ${JSON.stringify(outcomes)}`,
      `  mean s per stage    ${Object.entries(stageSeconds)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}`,
      `  target              remedy ≥ ${pct(TARGET_RATIO)} of baseline: ${met ? 'met' : `MISSED by ${pct(TARGET_RATIO - ratio)} points`}`,
      `  report              ${file}`,
      '',
    ].join('\n'),
  );
} finally {
  await env.close();
}
