/**
 * One policy over one dataset's stream, through the real system: the model is registered with its
 * champion, then window by window the stream's records are logged and served by the champion of that
 * time (the prequential prediction: predict first, learn after), the window that has just completed is
 * checked by the model's monitor (a Temporal Schedule, triggered by hand), and a cycle it starts (or the
 * schedule policy's cycle) is followed to its close before the next window arrives.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { serve, ModelCache, type Served } from '../gateway/routing.js';
import { startCycle, type Queues } from '../ops/cycles.js';
import { createMonitor, deleteMonitor, triggerMonitor } from '../ops/monitor.js';
import { ingestRecords, registerModelWithChampion } from '../ops/setup.js';
import {
  mergePolicy,
  policyOverrides,
  SCHEDULE_EVERY_WINDOWS,
  isRegressionDataset,
  sharedPolicy,
  windowsOf,
  type Dataset,
  type PolicyName,
} from './efficacy-data.js';
import { followCycle, type FollowedCycle, type ReviewerSettings } from './efficacy-cycle.js';
import { seededRandom } from '../core/seeded-random.js';
import { deliveredFeedback, LABEL_FREE, labelFreeRefusal } from './efficacy-label-free.js';

export interface ReplayEnv {
  client: Client;
  pool: pg.Pool;
  queues: Queues;
  gatewayUrl: string;
}

export interface WindowResult {
  start: string;
  end: string;
  rows: number;
  correct: number;
  /** A regression dataset's sum of absolute errors over the window (its MAE times its rows). */
  absError?: number;
  /** The champion version that served the window. */
  champion: number;
}

export interface CycleResult {
  cycleId: string;
  trigger: 'drift' | 'schedule';
  window: { start: string; end: string };
  outcome: string | null;
  reason: string | null;
  /** Replay time at which the cycle closed: the end of the window being replayed then. */
  closedAtDataTime: string;
  requested: number;
  answered: number;
  wrong: number;
  /** Label-free policy: rollout pauses (steps with no feedback to judge) answered with "continue". */
  pausesContinued?: number;
  /** A rollout that paused for too few samples (a loaded machine), rolled back by the replay at once. */
  pausesRolledBack?: number;
  /** Rollout requests answered by a version the step's split does not give their key (none expected). */
  offSplit?: number;
  retrainSeconds: number;
  candidateVersion: number | null;
  severity: string | null;
  /** What the cycle noted at its diagnose and retrain stages (route, rows trained on, ...). */
  notes: { diagnose?: Record<string, unknown>; retrain?: Record<string, unknown> };
}

export interface ReplayResult {
  dataset: string;
  policy: PolicyName;
  modelId: string;
  records: number;
  /** sha256 of the served record keys in order: equal for every policy of a dataset. */
  keysHash: string;
  windows: WindowResult[];
  cycles: CycleResult[];
  checks: { window: string; state: string; reason: string }[];
  wallSeconds: number;
  /** A regression dataset's first champion: its MAE on the reference's holdout. */
  championHoldoutMae?: number | null;
}

const BATCH_PREFIX = 'efficacy:';
export const replayBatchPrefix = BATCH_PREFIX;

function retrainSeconds(f: FollowedCycle): number {
  const s = f.summary.stages.find((x) => x.stage === 'retrain');
  if (!s?.endedAt) return 0;
  return (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
}

/** The stream's records of one window, in stream order. */
function rowsIn(dataset: Dataset, w: { start: string; end: string }) {
  return dataset.stream.filter((r) => r.ts >= w.start && r.ts < w.end);
}

/** The sum of a regressor's absolute errors over served rows (their values against the true numbers). */
function absoluteError(served: Served[], truth: ReadonlyMap<string, string>): number {
  return served.reduce((a, s) => {
    const t = Number(truth.get(s.recordKey));
    if (s.value === undefined || !Number.isFinite(t))
      throw new Error(`${s.recordKey}: served without a value, or its truth is not a number`);
    return a + Math.abs(s.value - t);
  }, 0);
}

export async function replayPolicy(
  env: ReplayEnv,
  dataset: Dataset,
  policy: PolicyName,
  opts: {
    modelId: string;
    quick: boolean;
    reviewer: ReviewerSettings;
    log: (m: string) => void;
    /** The policy sections of the `custom` policy. */
    custom?: Record<string, unknown>;
  },
): Promise<ReplayResult> {
  const t0 = Date.now();
  const { modelId } = opts;
  const labelFree = policy === LABEL_FREE;
  if (labelFree && isRegressionDataset(dataset)) throw new Error(labelFreeRefusal([dataset.name])!);
  const def = dataset.model(
    modelId,
    mergePolicy(
      mergePolicy(sharedPolicy(opts.quick), dataset.policy ?? {}),
      policyOverrides(policy, dataset.windowDays, opts.custom),
    ),
  );
  const registered = dataset.register
    ? await dataset.register(env.pool, def, dataset.reference)
    : (await registerModelWithChampion(env.pool, def, dataset.reference), null);
  const monitored = policy !== 'never' && policy !== 'schedule';
  if (monitored)
    // Paused: only the replay's own triggers run checks, one per completed window.
    await createMonitor(env.client, env.pool, env.queues, {
      modelId,
      every: '24h',
      window: `${dataset.windowDays}d`,
      mode: 'cursor',
      start: dataset.start,
      paused: true,
    });
  const truth = new Map(dataset.stream.map((r) => [r.recordKey, r.label]));
  // The same seed gives the same wrong answers.
  const random = seededRandom(opts.reviewer.seed);
  const cache = new ModelCache(env.pool);
  const keys = createHash('sha256');
  const result: ReplayResult = {
    dataset: dataset.name,
    policy,
    modelId,
    records: 0,
    keysHash: '',
    windows: [],
    cycles: [],
    checks: [],
    wallSeconds: 0,
    ...(registered ? { championHoldoutMae: registered.holdoutMae } : {}),
  };
  const windows = windowsOf(dataset);
  for (const [i, w] of windows.entries()) {
    const rows = rowsIn(dataset, w);
    // The window arrives: logged with the feedback the pipeline delivers, and served by today's champion.
    await ingestRecords(
      env.pool,
      modelId,
      rows.map((r) => ({
        recordKey: r.recordKey,
        ts: r.ts,
        features: r.features,
        feedback: deliveredFeedback(r, policy),
      })),
    );
    const served = await serve(
      env.pool,
      cache,
      modelId,
      `${BATCH_PREFIX}${i}`,
      rows.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features })),
    );
    for (const r of rows) keys.update(`${r.recordKey}\n`);
    result.records += rows.length;
    const correct = served.filter((s) => truth.get(s.recordKey) === s.label).length;
    const versions = new Set(served.map((s) => s.version));
    result.windows.push({
      ...w,
      rows: rows.length,
      correct,
      ...(isRegressionDataset(dataset) ? { absError: absoluteError(served, truth) } : {}),
      champion: Math.max(...versions),
    });
    if (versions.size > 1)
      throw new Error(`${modelId}: window ${w.start} was served by versions ${[...versions].join(', ')}`);
    const started = await startForWindow(env, dataset, policy, modelId, i, windows, result);
    if (!started) continue;
    const followed = await followCycle(env.client, started.cycleId, {
      pool: env.pool,
      samplesPerArm: def.policy.rollout.stepSamples ?? def.policy.rollout.minSamples,
      gatewayUrl: env.gatewayUrl,
      modelId,
      truth,
      labelSet: def.labelSet,
      reviewer: opts.reviewer,
      random,
      // The rollout happens while the next window's traffic arrives: its rows, their truth as feedback
      // (none under the label-free policy, whose rollout pauses are answered instead). Not this window's:
      // the candidate trained on its labeled rows, and a step judged on them would favour it. After the
      // last window there is no next one, and its own rows stand in (nothing is served after it).
      labelFree,
      traffic: (i + 1 < windows.length ? rowsIn(dataset, windows[i + 1]!) : rows).map((r) => ({
        recordKey: r.recordKey,
        features: r.features,
        label: r.label,
      })),
    });
    result.cycles.push({
      cycleId: followed.cycleId,
      trigger: started.trigger,
      window: followed.summary.window,
      outcome: followed.summary.outcome,
      reason: followed.summary.reason,
      closedAtDataTime: w.end,
      requested: followed.requested,
      answered: followed.answered,
      wrong: followed.wrong,
      ...(labelFree ? { pausesContinued: followed.pausesContinued } : {}),
      ...(followed.pausesRolledBack > 0 ? { pausesRolledBack: followed.pausesRolledBack } : {}),
      ...(followed.offSplit > 0 && !labelFree ? { offSplit: followed.offSplit } : {}),
      retrainSeconds: retrainSeconds(followed),
      candidateVersion: followed.summary.candidateVersion,
      severity: followed.summary.severity,
      notes: {
        diagnose: followed.summary.stages.find((x) => x.stage === 'diagnose')?.summary,
        retrain: followed.summary.stages.find((x) => x.stage === 'retrain')?.summary,
      },
    });
    opts.log(
      `${modelId} ${w.end.slice(0, 10)}: ${followed.cycleId} ${followed.summary.outcome} (${followed.answered} labels)`,
    );
  }
  if (monitored) await deleteMonitor(env.client, env.pool, modelId);
  result.keysHash = keys.digest('hex');
  result.wallSeconds = (Date.now() - t0) / 1000;
  return result;
}

/**
 * What the policy does once window i has arrived: the monitor checks the previous window (complete now
 * that the log has passed its end); the schedule policy starts a cycle every few windows over the last
 * ones. Returns the cycle started, if any.
 */
async function startForWindow(
  env: ReplayEnv,
  dataset: Dataset,
  policy: PolicyName,
  modelId: string,
  i: number,
  windows: { start: string; end: string }[],
  result: ReplayResult,
): Promise<{ cycleId: string; trigger: 'drift' | 'schedule' } | null> {
  if (policy === 'never' || i === 0) return null;
  if (policy === 'schedule') {
    if (i % SCHEDULE_EVERY_WINDOWS !== 0) return null;
    // As the schedule trigger does (a cycle over the latest scheduleWindow of the log), on the replay's
    // clock: the gateway's rollout traffic is logged at today's date, which the trigger would take as
    // the log's end.
    const window = { start: windows[i - SCHEDULE_EVERY_WINDOWS]!.start, end: windows[i - 1]!.end };
    const { cycleId } = await startCycle(env.client, env.queues, {
      modelId,
      window,
      trigger: `schedule every ${dataset.windowDays * SCHEDULE_EVERY_WINDOWS}d (efficacy replay)`,
    });
    return { cycleId, trigger: 'schedule' };
  }
  const check = await triggerMonitor(env.client, modelId, { wait: true, timeoutMs: 120_000 });
  if (!check) throw new Error(`${modelId}: the monitor's check returned nothing`);
  result.checks.push({
    window: check.check ? `${check.check.window.start} .. ${check.check.window.end}` : '-',
    state: check.state,
    reason: check.reason,
  });
  if (check.state === 'waiting')
    throw new Error(`${modelId}: the check of window ${i - 1} waited: ${check.reason}`);
  if (check.state === 'cycle-started' && check.cycleId) return { cycleId: check.cycleId, trigger: 'drift' };
  if (check.state === 'attached-to-cycle')
    throw new Error(
      `${modelId}: a check found a cycle still open (${check.cycleId}); the replay waits for each`,
    );
  return null;
}
