/**
 * The weather scenario end to end on a running stack: register a model with a champion trained on
 * 2012, log 2013–2015 production traffic (feedback for a third of 2013–2014 and for 2015), start a
 * cycle over April 2013 .. 2014, and play the reviewer and the approver.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Features, Window } from '../core/schemas.js';
import type { CycleSummary } from '../workflows/messages.js';
import { startCycle, waitForCycle, type Queues } from '../ops/cycles.js';
import { answerLabels, approveWhenAsked, atStage, waitForStatus } from './reviewer.js';
import { ingestRecords, registerModelWithChampion } from '../ops/setup.js';
import { backgroundTraffic, type TrafficReport, type TrafficRow } from './traffic.js';
import { stepTraffic } from './step-traffic.js';
import * as db from '../db/index.js';
import { hasFeedback, loadWeather, weatherModel, type WeatherRow } from './weather.js';

export const SCENARIO = {
  referenceEnd: '2013-01-01',
  window: { start: '2013-04-01T00:00:00Z', end: '2015-01-01T00:00:00Z' },
  reviewer: 'scripted-reviewer',
  approver: 'scripted-approver',
} as const;

export interface PreparedModel {
  modelId: string;
  rows: WeatherRow[];
  champion: { version: number; baselineAccuracy: number };
  log: { added: number; served: number };
}

export async function prepareWeatherModel(
  pool: pg.Pool,
  modelId: string,
  policy: Record<string, unknown> = {},
  /** Ground truth for a third of 2013–2014 (the demo: the rest is for people to label) or for every day. */
  feedback: 'third' | 'all' = 'third',
): Promise<PreparedModel> {
  const rows = await loadWeather();
  const def = weatherModel(modelId, policy);
  const reference = rows.filter((r) => r.date < SCENARIO.referenceEnd);
  const champion = await registerModelWithChampion(
    pool,
    def,
    reference.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
  );
  const production = rows
    .filter((r) => r.date >= SCENARIO.referenceEnd)
    .map((r) => ({
      recordKey: r.recordKey,
      ts: r.ts,
      features: r.features,
      feedback:
        feedback === 'all' || r.ts >= SCENARIO.window.end || hasFeedback(r.recordKey) ? r.label : null,
    }));
  const log = await ingestRecords(pool, modelId, production, SCENARIO.window.end);
  return { modelId, rows, champion, log };
}

/** A policy for running the scenario quickly: short dwell, approval by the scripted approver. */
export const DEMO_POLICY = {
  labeling: { budget: 40, minLabels: 20, deadline: '24h', reviewers: [SCENARIO.reviewer] },
  rollout: { dwell: '2s', minSamples: 30, requireApproval: true, approvers: [SCENARIO.approver] },
};

/**
 * The demo's policy with each rollout step judged on a fixed sample of 30 answers an arm
 * (`rollout.stepSamples`): with `runScriptedCycle`'s `pool` the traffic is paced by the steps, so the
 * rollout decides the same on a loaded machine as on a quiet one (what a test expecting one outcome needs).
 */
export const FIXED_SAMPLE_POLICY = {
  ...DEMO_POLICY,
  rollout: { ...DEMO_POLICY.rollout, stepSamples: 30 },
};

/** A row of a scenario's data: its key, time, features and ground truth (a class, or a number as text). */
export interface ScenarioRow {
  recordKey: string;
  ts: string;
  features: Features;
  label: string;
}

/** What a scripted cycle needs of a prepared model: its ID, every row with its truth, the cycle's window. */
export interface ScriptedModel {
  modelId: string;
  rows: readonly ScenarioRow[];
  /** The cycle's window (default: the weather scenario's). */
  window?: Window;
}

/** Requests after the cycle's window: the production traffic the rollout is judged on. */
export function futureTraffic(prepared: ScriptedModel): TrafficRow[] {
  const end = (prepared.window ?? SCENARIO.window).end;
  return prepared.rows
    .filter((r) => r.ts >= end)
    .map((r) => ({ recordKey: r.recordKey, features: r.features, label: r.label }));
}

/** Production keeps sending requests while the cycle runs; bounded so a stuck cycle cannot flood. */
export const TRAFFIC_BOUND = 50_000;

export async function runScriptedCycle(
  client: Client,
  queues: Queues,
  prepared: ScriptedModel,
  /** With `cycleId`, plays the people of a cycle a trigger already started instead of starting one. */
  opts: {
    gatewayUrl: string;
    /** The key the replayed traffic sends (the dev stack's `gatewayKey`). */
    gatewayKey?: string | null;
    onEvent?: (msg: string) => void;
    cycleId?: string;
    reviewBase?: string;
    /**
     * The registry: when the model's policy judges each rollout step on a fixed sample
     * (`rollout.stepSamples`), traffic is paced by the steps, each arm's sample sent as a step begins
     * (dev/step-traffic.ts), instead of a steady stream while the cycle runs, so a loaded machine judges
     * the same rows as a quiet one.
     */
    pool?: pg.Pool;
  },
): Promise<{
  cycleId: string;
  summary: CycleSummary;
  labelsAnswered: number;
  traffic: TrafficReport & { offSplit?: number };
}> {
  const onEvent = opts.onEvent ?? (() => {});
  const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
  const cycleId =
    opts.cycleId ??
    (
      await startCycle(
        client,
        queues,
        { modelId: prepared.modelId, window: prepared.window ?? SCENARIO.window, trigger: 'demo' },
        opts.reviewBase ? { reviewBase: opts.reviewBase } : {},
      )
    ).cycleId;
  onEvent(`${opts.cycleId ? 'following' : 'started'} ${cycleId}`);
  const target = { gatewayUrl: opts.gatewayUrl, apiKey: opts.gatewayKey ?? null, modelId: prepared.modelId };
  const rollout = opts.pool ? (await db.getModel(opts.pool, prepared.modelId))?.policy.rollout : undefined;
  const traffic: { stop(): Promise<TrafficReport & { offSplit?: number }> } =
    opts.pool && rollout?.stepSamples !== undefined
      ? stepTraffic({
          ...target,
          pool: opts.pool,
          cycleId,
          rows: futureTraffic(prepared),
          // Every analysis a step may make: a failed one is followed by one on the next sample.
          perArm: rollout.stepSamples * (rollout.failureLimit + 1),
          maxPerStep: 5_000,
        })
      : backgroundTraffic({ ...target, rows: futureTraffic(prepared), maxRequests: TRAFFIC_BOUND });
  let summary: CycleSummary;
  let sent: TrafficReport & { offSplit?: number };
  let labelsAnswered = 0;
  try {
    const atLabel = await waitForStatus(client, cycleId, atStage('label'));
    if (atLabel.outcome === null) {
      labelsAnswered = await answerLabels(client, cycleId, (k) => truth.get(k), SCENARIO.reviewer);
      onEvent(`answered ${labelsAnswered} label requests as ${SCENARIO.reviewer}`);
      const s = await approveWhenAsked(client, cycleId, SCENARIO.approver, 'holdout gain reviewed');
      if (s.awaitingApproval) onEvent(`approved the rollout as ${SCENARIO.approver}`);
    }
    summary = await waitForCycle(client, cycleId);
  } finally {
    // Production traffic stops with the cycle, whether it closed or the script failed.
    sent = await traffic.stop();
  }
  onEvent(`sent ${sent.sent} requests with feedback through the gateway (${JSON.stringify(sent.byVersion)})`);
  return { cycleId, summary, labelsAnswered, traffic: sent };
}
