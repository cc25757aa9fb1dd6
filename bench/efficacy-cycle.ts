/**
 * One cycle of the efficacy replay, followed to its close: the scripted reviewer answers the label
 * requests from the ground truth (after a delay, wrong at a given rate), while production traffic with
 * feedback flows through the gateway so a staged rollout has something to judge.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { pendingLabels, submitLabel, UserError, waitForCycle } from '../ops/cycles.js';
import { waitForStatus } from '../dev/reviewer.js';
import type pg from 'pg';
import { stepTraffic } from '../dev/step-traffic.js';
import type { TrafficRow } from '../dev/traffic.js';
import { STAGES, type CycleSummary, type LabelingStatus } from '../workflows/messages.js';
import { REVIEWER } from './efficacy-data.js';
import { answerPausedRollout } from './efficacy-label-free.js';

export interface ReviewerSettings {
  /** Wall-clock wait before each answer. */
  delayMs: number;
  /** Share of answers that name a wrong label (chosen at random among the others, seeded). */
  errorRate: number;
  seed: number;
}

export interface FollowedCycle {
  cycleId: string;
  summary: CycleSummary;
  /** Label requests the campaign made, answers the reviewer gave, and how many were wrong on purpose. */
  requested: number;
  answered: number;
  wrong: number;
  trafficSent: number;
  /** Rollout traffic answered by a version the step's split does not give its key (should be none). */
  offSplit: number;
  /** Rollout pauses answered with "continue" (label-free: the steps have no feedback to judge). */
  pausesContinued: number;
  /** Pauses of a policy with feedback (too few samples in a step's dwell), answered with "rollback". */
  pausesRolledBack: number;
}

const LABEL_STAGE = STAGES.indexOf('label');

/**
 * A wrong answer: another class at random, or for a regressor (no classes) the number off by a quarter,
 * up or down at random.
 */
export function wrongAnswer(right: string, labelSet: readonly string[], random: () => number): string {
  if (labelSet.length === 0) {
    const value = Number(right) * (random() < 0.5 ? 0.75 : 1.25);
    return String(Math.round(value * 10) / 10);
  }
  const others = labelSet.filter((l) => l !== right);
  return others[Math.floor(random() * others.length)]!;
}

/** A query the worker did not answer in time (its gRPC deadline passed), as opposed to a refusal. */
const queryTimedOut = (err: unknown): boolean =>
  err instanceof Error && /DEADLINE_EXCEEDED|query timed out/.test(`${err.message} ${String(err.cause)}`);

/** Answers every label request of the cycle's campaign until it stops asking (or closes). */
async function review(
  client: Client,
  cycleId: string,
  truth: ReadonlyMap<string, string>,
  labelSet: readonly string[],
  settings: ReviewerSettings,
  random: () => number,
): Promise<{ requested: number; answered: number; wrong: number }> {
  let answered = 0;
  let wrong = 0;
  let requested = 0;
  const deadline = Date.now() + 300_000;
  for (;;) {
    let status: LabelingStatus | null = null;
    try {
      status = await pendingLabels(client, cycleId);
    } catch (err) {
      // The cycle enters its label stage just before it starts the campaign: not there yet. On a loaded
      // machine a query can also time out while the worker is busy: asked again.
      if (!(err instanceof UserError) && !queryTimedOut(err)) throw err;
    }
    if (status) requested = Math.max(requested, status.requested);
    if (status && status.state !== 'open') return { requested, answered, wrong };
    if (status && status.requested > 0 && status.pending.length === 0) return { requested, answered, wrong };
    if (!status || status.pending.length === 0) {
      if (Date.now() > deadline) throw new Error(`${cycleId}: no label requests within 300 s`);
      await sleep(100);
      continue;
    }
    for (const item of status.pending) {
      const right = truth.get(item.recordKey);
      if (right === undefined) throw new Error(`${cycleId} asked for ${item.recordKey}, not in the stream`);
      let label = right;
      if (random() < settings.errorRate) {
        label = wrongAnswer(right, labelSet, random);
        wrong++;
      }
      if (settings.delayMs > 0) await sleep(settings.delayMs);
      await submitLabel(client, cycleId, { recordKey: item.recordKey, label, reviewer: REVIEWER });
      answered++;
    }
  }
}

/**
 * Follows a started cycle to its close. `traffic` is the production the rollout is judged on (rows
 * with their true labels posted as feedback), sent as each rollout step begins until every arm has
 * `samplesPerArm` answers, so each step is judged on the same rows whatever the machine's load
 * (the policy's `rollout.stepSamples`).
 */
export async function followCycle(
  client: Client,
  cycleId: string,
  opts: {
    pool: pg.Pool;
    samplesPerArm: number;
    gatewayUrl: string;
    modelId: string;
    truth: ReadonlyMap<string, string>;
    labelSet: readonly string[];
    reviewer: ReviewerSettings;
    random: () => number;
    traffic: TrafficRow[];
    /** No feedback: the traffic posts none, and each rollout pause is answered with "continue". */
    labelFree?: boolean;
  },
): Promise<FollowedCycle> {
  const traffic = stepTraffic({
    gatewayUrl: opts.gatewayUrl,
    pool: opts.pool,
    modelId: opts.modelId,
    cycleId,
    rows: opts.traffic,
    perArm: opts.samplesPerArm,
    maxPerStep: 10_000,
    feedback: opts.labelFree !== true,
  });
  let requested = 0;
  let answered = 0;
  let wrong = 0;
  let summary: CycleSummary;
  let sent = 0;
  let offSplit = 0;
  let pausesContinued = 0;
  let pausesRolledBack = 0;
  try {
    const reached = await waitForStatus(
      client,
      cycleId,
      (s) => STAGES.indexOf(s.stage) >= LABEL_STAGE,
      300_000,
    );
    if (reached.outcome === null && reached.stage === 'label')
      ({ requested, answered, wrong } = await review(
        client,
        cycleId,
        opts.truth,
        opts.labelSet,
        opts.reviewer,
        opts.random,
      ));
    if (opts.labelFree) pausesContinued = await answerPausedRollout(client, cycleId, 'continue');
    else pausesRolledBack = await answerPausedRollout(client, cycleId, 'rollback');
    summary = await waitForCycle(client, cycleId);
  } finally {
    ({ sent, offSplit } = await traffic.stop());
  }
  return {
    cycleId,
    summary,
    requested,
    answered,
    wrong,
    trafficSent: sent,
    offSplit,
    pausesContinued,
    pausesRolledBack,
  };
}
