/**
 * Monitors: one Temporal Schedule per model that runs a drift check over the latest window, plus the
 * monitor's settings in Postgres. The CLI and the tests call these.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleClient,
  type ScheduleClientInterceptor,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type pg from 'pg';
import { z } from 'zod';
import { SCHEDULED_RUN_TRACE_HEADER } from '../core/trace-headers.js';
import { durationMs, DurationString, IsoDate, ModelId, describeZodError } from '../core/schemas.js';
import * as db from '../db/index.js';
import type { driftCheck, DriftCheckSummary } from '../workflows/monitor.js';
import type { TriggerSummary, volumeCheck } from '../workflows/triggers.js';
import { ModelIdKey } from '../workflows/search-attributes.js';
import { UserError, type Queues } from './cycles.js';

/** The three kinds of trigger that run on a Temporal Schedule, one Schedule per model and kind. */
export type ScheduledTrigger = 'drift' | 'volume' | 'schedule';
export const TRIGGERS: Record<
  ScheduledTrigger,
  { scheduleId: (m: string) => string; workflowType: string; workflowId: (m: string) => string }
> = {
  drift: {
    scheduleId: (m) => `monitor-${m}`,
    workflowType: 'driftCheck',
    workflowId: (m) => `drift-check-${m}`,
  },
  volume: {
    scheduleId: (m) => `volume-${m}`,
    workflowType: 'volumeCheck',
    workflowId: (m) => `volume-check-${m}`,
  },
  schedule: {
    scheduleId: (m) => `retrain-${m}`,
    workflowType: 'scheduledCycle',
    workflowId: (m) => `scheduled-cycle-${m}`,
  },
};
export const monitorScheduleId = TRIGGERS.drift.scheduleId;

const scheduleOf = (client: Client, modelId: string, kind: ScheduledTrigger) =>
  client.schedule.getHandle(TRIGGERS[kind].scheduleId(modelId));

export const MonitorSettings = z
  .object({
    modelId: ModelId,
    /** How often the check runs. */
    every: DurationString.default('1h'),
    /** How much of the production log each check looks at. */
    window: DurationString.default('1d'),
    /** clock: the window ending now; cursor: the next window after the last one checked (backfills). */
    mode: z.enum(['clock', 'cursor']).default('clock'),
    /** Cursor mode: where the first window starts (default: the first record in the log). */
    start: IsoDate.optional(),
    paused: z.boolean().default(false),
  })
  .strict();
export type MonitorSettingsInput = z.input<typeof MonitorSettings>;

export interface MonitorDescription {
  modelId: string;
  scheduleId: string;
  paused: boolean;
  note: string | null;
  every: string | null;
  mode: 'clock' | 'cursor' | null;
  windowMs: number | null;
  nextStart: string | null;
  nextRuns: string[];
  recentRuns: { workflowId: string; runId: string; takenAt: string }[];
}

export async function createMonitor(
  client: Client,
  pool: pg.Pool,
  queues: Queues,
  raw: MonitorSettingsInput,
): Promise<MonitorDescription> {
  const parsed = MonitorSettings.safeParse(raw);
  if (!parsed.success) throw new UserError(`cannot create the monitor: ${describeZodError(parsed.error)}`);
  const m = parsed.data;
  const model = await db.getModel(pool, m.modelId);
  if (!model) throw new UserError(`model "${m.modelId}" is not registered: register it first`);
  if ((await db.getAlias(pool, m.modelId, 'champion')) === null)
    throw new UserError(`model "${m.modelId}" has no champion to monitor`);
  const start = m.start
    ? new Date(m.start.length === 10 ? `${m.start}T00:00:00Z` : m.start).toISOString()
    : null;
  await db.upsertMonitor(pool, { modelId: m.modelId, mode: m.mode, windowMs: durationMs(m.window), start });
  await createSchedule(
    client,
    queues,
    'drift',
    m.modelId,
    m.every,
    m.paused,
    `Drift check of ${m.modelId} (${m.mode} windows of ${m.window})`,
  );
  return describeMonitor(client, pool, m.modelId);
}

/** Puts the trace marker (core/trace-headers.ts) into the action of every Schedule this client creates. */
const markRunsTraced: ScheduleClientInterceptor = {
  create: (input, next) =>
    next({
      ...input,
      headers: { ...input.headers, [SCHEDULED_RUN_TRACE_HEADER]: defaultPayloadConverter.toPayload(1) },
    }),
};

/** The client's Schedule client, with the marker that makes each scheduled run the root of its own trace. */
function tracedScheduleClient(client: Client): ScheduleClient {
  return new ScheduleClient({
    connection: client.connection,
    namespace: client.options.namespace,
    identity: client.options.identity,
    dataConverter: client.options.loadedDataConverter,
    interceptors: [...(client.options.interceptors.schedule ?? []), markRunsTraced],
  });
}

async function createSchedule(
  client: Client,
  queues: Queues,
  kind: ScheduledTrigger,
  modelId: string,
  every: string,
  paused: boolean,
  summary: string,
): Promise<void> {
  const t = TRIGGERS[kind];
  try {
    await tracedScheduleClient(client).create({
      scheduleId: t.scheduleId(modelId),
      spec: { intervals: [{ every }] },
      action: {
        type: 'startWorkflow',
        workflowType: t.workflowType,
        workflowId: t.workflowId(modelId),
        taskQueue: queues.taskQueue,
        args: [{ modelId }, { trainingTaskQueue: queues.trainingTaskQueue }],
        typedSearchAttributes: [{ key: ModelIdKey, value: modelId }],
        staticSummary: summary,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      state: {
        paused,
        note: `Remedy ${kind === 'drift' ? 'monitor' : `${kind} trigger`} for ${modelId}: every ${every}`,
      },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning)
      throw new UserError(
        kind === 'drift'
          ? `model "${modelId}" already has a monitor: pause, resume or delete it (remedy monitor delete ${modelId})`
          : `model "${modelId}" already has a ${kind} trigger: delete it first (remedy triggers delete ${modelId} --kind ${kind})`,
      );
    throw err;
  }
}

export const TriggerSettings = z
  .object({
    modelId: ModelId,
    kind: z.enum(['volume', 'schedule']),
    every: DurationString.default('1h'),
    paused: z.boolean().default(false),
  })
  .strict();

/** The volume trigger (volume-<model>) or the schedule trigger (retrain-<model>) of a model. */
export async function createTrigger(
  client: Client,
  pool: pg.Pool,
  queues: Queues,
  raw: z.input<typeof TriggerSettings>,
): Promise<MonitorDescription> {
  const parsed = TriggerSettings.safeParse(raw);
  if (!parsed.success) throw new UserError(`cannot create the trigger: ${describeZodError(parsed.error)}`);
  const t = parsed.data;
  if (!(await db.getModel(pool, t.modelId)))
    throw new UserError(`model "${t.modelId}" is not registered: register it first`);
  const summary =
    t.kind === 'volume'
      ? `Failure-volume check of ${t.modelId}`
      : `Scheduled remediation cycle of ${t.modelId} over the latest window of its log`;
  await createSchedule(client, queues, t.kind, t.modelId, t.every, t.paused, summary);
  return describeMonitor(client, pool, t.modelId, t.kind);
}

async function onSchedule<T>(modelId: string, kind: ScheduledTrigger, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new UserError(
        kind === 'drift'
          ? `model "${modelId}" has no monitor: create one with remedy monitor create ${modelId}`
          : `model "${modelId}" has no ${kind} trigger: create one with remedy triggers create ${modelId} --kind ${kind}`,
      );
    throw err;
  }
}

export async function describeMonitor(
  client: Client,
  pool: pg.Pool,
  modelId: string,
  kind: ScheduledTrigger = 'drift',
): Promise<MonitorDescription> {
  const d: ScheduleDescription = await onSchedule(modelId, kind, () =>
    scheduleOf(client, modelId, kind).describe(),
  );
  const settings = kind === 'drift' ? await db.getMonitor(pool, modelId) : null;
  const interval = d.spec.intervals?.[0]?.every;
  return {
    modelId,
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    note: d.state.note ?? null,
    every: interval === undefined ? null : `${Math.round(Number(interval) / 1000)}s`,
    mode: settings?.mode ?? null,
    windowMs: settings?.windowMs ?? null,
    nextStart: settings?.nextStart ?? null,
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map((a) => ({
      workflowId: a.action.workflow.workflowId,
      runId: a.action.workflow.firstExecutionRunId,
      takenAt: a.takenAt.toISOString(),
    })),
  };
}

export async function pauseMonitor(
  client: Client,
  modelId: string,
  note?: string,
  kind: ScheduledTrigger = 'drift',
): Promise<void> {
  await onSchedule(modelId, kind, () =>
    scheduleOf(client, modelId, kind).pause(note ?? 'paused from the remedy CLI'),
  );
}

export async function resumeMonitor(
  client: Client,
  modelId: string,
  note?: string,
  kind: ScheduledTrigger = 'drift',
): Promise<void> {
  await onSchedule(modelId, kind, () =>
    scheduleOf(client, modelId, kind).unpause(note ?? 'resumed from the remedy CLI'),
  );
}

export async function deleteMonitor(
  client: Client,
  pool: pg.Pool,
  modelId: string,
  kind: ScheduledTrigger = 'drift',
): Promise<void> {
  await onSchedule(modelId, kind, () => scheduleOf(client, modelId, kind).delete());
  if (kind === 'drift') await db.deleteMonitor(pool, modelId);
}

/**
 * Runs a check now (the schedule's overlap policy applies: skipped while a check runs) and, with `wait`,
 * returns the check's result once it finishes.
 */
export async function triggerMonitor(
  client: Client,
  modelId: string,
  opts?: { wait?: boolean; timeoutMs?: number; kind?: 'drift' },
): Promise<DriftCheckSummary | null>;
export async function triggerMonitor(
  client: Client,
  modelId: string,
  opts: { wait?: boolean; timeoutMs?: number; kind: 'volume' | 'schedule' },
): Promise<TriggerSummary | null>;
export async function triggerMonitor(
  client: Client,
  modelId: string,
  opts: { wait?: boolean; timeoutMs?: number; kind?: ScheduledTrigger } = {},
): Promise<DriftCheckSummary | TriggerSummary | null> {
  const kind = opts.kind ?? 'drift';
  const handle = scheduleOf(client, modelId, kind);
  const before = new Set(
    (await onSchedule(modelId, kind, () => handle.describe())).info.recentActions.map(
      (a) => a.action.workflow.firstExecutionRunId,
    ),
  );
  await handle.trigger();
  if (!opts.wait) return null;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const fresh = (await handle.describe()).info.recentActions.find(
      (a) => !before.has(a.action.workflow.firstExecutionRunId),
    );
    if (fresh) {
      const wf = fresh.action.workflow;
      return client.workflow
        .getHandle<typeof driftCheck | typeof volumeCheck>(wf.workflowId, undefined, {
          firstExecutionRunId: wf.firstExecutionRunId,
        })
        .result();
    }
    if (Date.now() > deadline)
      throw new UserError(
        `the triggered check of "${modelId}" did not start within ${opts.timeoutMs ?? 60_000} ms (is a worker running?)`,
      );
    await sleep(delay);
  }
}
