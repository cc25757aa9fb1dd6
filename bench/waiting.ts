/**
 * Waiting at scale: N labeling campaigns parked on one worker, waiting for people. Reports the RSS of
 * this process (which hosts the worker, its workflow cache, the Postgres pool and the clients) before
 * and after parking, and the round trip of a label Update (`submitLabel`, as the CLI sends it) to a
 * random parked campaign, p50/p95 over sequential updates sent only once every campaign is parked.
 *
 *   npm run bench:waiting [-- --cycles 20000 --updates 200 --batch 100 --cache <maxCachedWorkflows>]
 *
 * What is parked: one real remediation cycle is started and runs confirm → diagnose → collect into its
 * labeling wait; that gives a real frozen dataset. Then N `labelingCampaign` workflows (the child that
 * does the waiting in a cycle) are started directly, all on that dataset, model and champion, each with
 * its own campaign id (`openLabelTasks` keys tasks by campaign id, so they do not collide). Parking N
 * full cycles would need N models and N confirm/collect runs, which on a 2-core machine is too slow for
 * N = 5000; the waiting workflow and its Update handler are the same either way. Starts go out in
 * bounded concurrent batches; a batch waits until the campaigns before it have opened their tasks.
 * "Parked" is checked twice: every campaign has its label tasks in Postgres, and a random sample
 * answers the `labelingStatus` query with `state === 'open'`. The worker's workflow cache (`--cache`,
 * REMEDY_WORKFLOW_CACHE for the worker process) defaults to 50: parked campaigns are evicted and an Update
 * to one replays its short history first. Each cached campaign costs ~1.9 MiB of RSS (measured with all
 * 1000 of 1000 cached); with all 5000 cached, the workflow thread ran out of heap.
 * Targets: RSS ≤ 1 GiB, Update p95 ≤ 300 ms.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Command } from 'commander';
import { submitLabel, cycleStatus, startCycle } from '../ops/cycles.js';
import { atStage, waitForStatus } from '../dev/reviewer.js';
import { prepareWeatherModel, SCENARIO } from '../dev/scenario.js';
import { weatherModel } from '../dev/weather.js';
import * as db from '../db/index.js';
import type { LabelingInput } from '../workflows/labeling.js';
import { labelingStatusQuery, type LabelingStatus } from '../workflows/messages.js';
import { log, machine, percentile, startBenchEnv, writeReport } from './harness.js';

const opts = new Command('bench:waiting')
  .option('--cycles <n>', 'labeling campaigns to park', '20000')
  .option('--updates <n>', 'label Updates to time, one at a time', '200')
  .option('--batch <n>', 'workflow starts in flight at once', '100')
  .option('--cache <n>', "the worker's maxCachedWorkflows (REMEDY_WORKFLOW_CACHE)", '50')
  .parse()
  .opts<{ cycles: string; updates: string; batch: string; cache: string }>();
const whole = (v: string, name: string, min: number, max: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
};
const parked = whole(opts.cycles, 'cycles', 1, 20_000);
const updates = whole(opts.updates, 'updates', 1, 2000);
const batch = whole(opts.batch, 'batch', 1, 1000);
const cache = whole(opts.cache, 'cache', 0, 100_000);

const TARGET_RSS = 2 ** 30;
const TARGET_P95_MS = 300;
const PARK_LIMIT_MS = 45 * 60_000;
const BUDGET = 40;
const REVIEWER = 'bench-reviewer';
const MODEL = 'bench-wait';
const campaignOf = (i: number) => `bench-wait-${i}`;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const memory = () => {
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), externalMiB: mib(m.external) };
};

const env = await startBenchEnv('waiting', { mainWorker: { maxCachedWorkflows: cache } });
try {
  // One real cycle up to its labeling wait: a real dataset for every campaign.
  const policy = { labeling: { budget: BUDGET, minLabels: 0, deadline: '24h', reviewers: [REVIEWER] } };
  await prepareWeatherModel(env.pool, MODEL, policy);
  const { cycleId } = await startCycle(
    env.client,
    { taskQueue: env.taskQueue, trainingTaskQueue: env.trainingTaskQueue },
    { modelId: MODEL, window: SCENARIO.window, trigger: 'bench' },
  );
  const atLabel = await waitForStatus(env.client, cycleId, atStage('label'));
  if (atLabel.outcome !== null) throw new Error(`cycle ${cycleId} closed early: ${atLabel.reason}`);
  const status = await cycleStatus(env.client, cycleId);
  const datasetId = status.stages.find((s) => s.stage === 'collect')?.summary?.datasetId;
  if (typeof datasetId !== 'number' || status.championVersion === null)
    throw new Error('the cycle did not report its dataset');
  log(`cycle ${cycleId} waits for labels on dataset ${datasetId}`);
  const input = (i: number): LabelingInput => ({
    campaignId: `${campaignOf(i)}-labeling`,
    cycleId: campaignOf(i),
    modelId: MODEL,
    datasetId,
    championVersion: status.championVersion!,
    labelSet: weatherModel(MODEL).labelSet,
    budget: BUDGET,
    minLabels: 0,
    deadline: '24h',
    reviewers: [REVIEWER],
  });
  const opened = () => db.countCampaignsWithPrefix(env.pool, 'bench-wait-');

  const before = memory();
  log(`before parking: ${JSON.stringify(before)}`);
  const p0 = performance.now();
  const parkDeadline = Date.now() + PARK_LIMIT_MS;
  for (let from = 0; from < parked; from += batch) {
    const to = Math.min(parked, from + batch);
    await Promise.all(
      Array.from({ length: to - from }, (_, k) =>
        env.client.workflow.start('labelingCampaign', {
          workflowId: `${campaignOf(from + k)}-labeling`,
          taskQueue: env.taskQueue,
          args: [input(from + k)],
        }),
      ),
    );
    // Keep at most two batches opening at once.
    while ((await opened()) < to - batch) {
      env.checkWorkers();
      if (Date.now() > parkDeadline) throw new Error(`parking took longer than ${PARK_LIMIT_MS} ms`);
      await delay(100);
    }
    if (to % 1000 === 0 || to === parked) log(`started ${to}/${parked}; ${JSON.stringify(memory())}`);
  }
  while ((await opened()) < parked) {
    if (Date.now() > parkDeadline) throw new Error(`parking took longer than ${PARK_LIMIT_MS} ms`);
    await delay(100);
  }
  const parkSeconds = (performance.now() - p0) / 1000;
  // The campaign's workflow task after its activity puts it into the wait; then sample the state.
  await delay(2000);
  const sample = Array.from({ length: Math.min(50, parked) }, () => Math.floor(Math.random() * parked));
  let items: LabelingStatus['pending'] = [];
  for (const i of sample) {
    const s = await env.client.workflow.getHandle(`${campaignOf(i)}-labeling`).query(labelingStatusQuery);
    if (s.state !== 'open' || s.requested !== BUDGET)
      throw new Error(`campaign ${i} is not parked: ${s.state}, ${s.requested} requested`);
    items = s.pending;
  }
  const after = memory();
  log(`parked ${parked} campaigns in ${parkSeconds.toFixed(1)} s; ${JSON.stringify(after)}`);

  // Update round trips, one at a time, to random parked campaigns; never the last item of a campaign.
  const answered = new Map<number, Set<string>>();
  const rtts: number[] = [];
  for (let u = 0; u < updates; u++) {
    const i = Math.floor(Math.random() * parked);
    const done = answered.get(i) ?? new Set<string>();
    const open = items.filter((it) => !done.has(it.recordKey));
    if (open.length <= 1) {
      u--;
      continue;
    }
    const item = open[Math.floor(Math.random() * open.length)]!;
    const t = performance.now();
    const res = await submitLabel(env.client, campaignOf(i), {
      recordKey: item.recordKey,
      label: item.guess,
      reviewer: REVIEWER,
    });
    rtts.push(performance.now() - t);
    if (res.duplicate) throw new Error(`update ${u}: ${item.recordKey} was already labeled`);
    done.add(item.recordKey);
    answered.set(i, done);
  }
  const afterUpdates = memory();
  const p50 = percentile(rtts, 50);
  const p95 = percentile(rtts, 95);
  const rssMet = after.rssMiB * 2 ** 20 <= TARGET_RSS && afterUpdates.rssMiB * 2 ** 20 <= TARGET_RSS;
  const rttMet = p95 <= TARGET_P95_MS;
  const report = {
    benchmark: 'waiting-at-scale',
    machine: machine(),
    parked: { workflow: 'labelingCampaign', count: parked, plusFullCycles: 1, budget: BUDGET, datasetId },
    worker: { maxCachedWorkflows: cache, process: 'this process (worker, Postgres pool, clients, gateway)' },
    parkingSeconds: parkSeconds,
    memory: { beforeParking: before, afterParking: after, afterUpdates },
    updateRttMs: { count: rtts.length, p50, p95, max: Math.max(...rtts), samples: rtts },
    target: {
      rssBytes: TARGET_RSS,
      rssMet,
      p95Ms: TARGET_P95_MS,
      p95Met: rttMet,
      rssRatio: (Math.max(after.rssMiB, afterUpdates.rssMiB) * 2 ** 20) / TARGET_RSS,
      p95Ratio: p95 / TARGET_P95_MS,
    },
  };
  const file = await writeReport('waiting', report);
  const maxRss = Math.max(after.rssMiB, afterUpdates.rssMiB);
  process.stdout.write(
    [
      `Waiting at scale (${parked} labeling campaigns parked on one worker, maxCachedWorkflows ${cache})`,
      '  measure                     value        target      ratio',
      `  RSS before parking     ${`${before.rssMiB} MiB`.padStart(12)}`,
      `  RSS parked             ${`${after.rssMiB} MiB`.padStart(12)}   ≤ 1024 MiB  ${(after.rssMiB / 1024).toFixed(3)}`,
      `  RSS after updates      ${`${afterUpdates.rssMiB} MiB`.padStart(12)}   ≤ 1024 MiB  ${(afterUpdates.rssMiB / 1024).toFixed(3)}  ${rssMet ? 'met' : 'MISSED'}`,
      `  Update RTT p50         ${`${p50.toFixed(1)} ms`.padStart(12)}`,
      `  Update RTT p95         ${`${p95.toFixed(1)} ms`.padStart(12)}   ≤ ${TARGET_P95_MS} ms   ${(p95 / TARGET_P95_MS).toFixed(3)}  ${rttMet ? 'met' : 'MISSED'}`,
      `  Update RTT max         ${`${Math.max(...rtts).toFixed(1)} ms`.padStart(12)}   (${rtts.length} updates)`,
      `  parking                ${`${parkSeconds.toFixed(1)} s`.padStart(12)}   (${(parked / parkSeconds).toFixed(1)} / s)`,
      `  max RSS                ${`${maxRss} MiB`.padStart(12)}`,
      `  report                 ${file}`,
      '',
    ].join('\n'),
  );
} finally {
  await env.close();
}
