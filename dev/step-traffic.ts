/**
 * Traffic paced by a rollout's steps, for a rollout judged on a fixed sample (`rollout.stepSamples`):
 * nothing is sent between steps; when a step begins (its traffic move is recorded), the rows are sent
 * from the first, one at a time with their feedback, until every version serving at that weight has
 * answered `perArm` of them. Sticky routing sends each key to the same arm, so each step's sample is
 * the same rows whatever the machine's load: the rollout's decisions repeat from run to run.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { routesToCandidate } from '../core/policy.js';
import * as db from '../db/index.js';
import { postToGateway, type TrafficRow } from './traffic.js';

export interface StepTrafficOptions {
  gatewayUrl: string;
  apiKey?: string | null;
  pool: pg.Pool;
  modelId: string;
  /** The cycle whose rollout paces the traffic (its `traffic.set` audit events mark the steps). */
  cycleId: string;
  rows: readonly TrafficRow[];
  /** Answers each serving version needs in a step: stepSamples × (failureLimit + 1). */
  perArm: number;
  /** Hard bound on requests in one step (a weight no key routes to would otherwise never fill). */
  maxPerStep: number;
  /** Post each row's true label after its prediction (default true). */
  feedback?: boolean;
  /** How often the audit trail is read for the next step (default 50 ms). */
  pollMs?: number;
}

export interface StepTrafficReport {
  sent: number;
  feedback: number;
  byVersion: Record<string, number>;
  /** The steps traffic was sent for, in order: weight and requests sent. */
  steps: { weight: number; sent: number }[];
  /** Answers whose version is not the one the step's split gives the key (a gateway on a stale split). */
  offSplit: number;
}

/** One step's traffic: rows from the first until each serving version has `perArm` answers. */
async function sendStep(
  opts: StepTrafficOptions,
  weight: number,
  stepAt: number,
  report: StepTrafficReport,
  signal: AbortSignal,
): Promise<void> {
  if (opts.rows.length === 0) throw new Error('no rows to send');
  const split = await db.getTraffic(opts.pool, opts.modelId);
  const run = randomBytes(4).toString('hex');
  const arms = new Map<number, number>();
  const armsWanted = weight === 100 ? 1 : 2;
  let sent = 0;
  for (let i = 0; i < opts.maxPerStep && !signal.aborted; i++) {
    // The rollout may have moved on without this step's sample (a pause resolved, a rollback): stop then.
    if (i > 0 && i % 25 === 0 && (await moved(opts, stepAt))) break;
    const row = opts.rows[i % opts.rows.length]!;
    const requestId = `${run}:${weight}:${i}:${row.recordKey}`;
    const served = await postToGateway(opts, 'predict', {
      requestId,
      routingKey: row.recordKey,
      features: row.features,
    });
    sent++;
    report.sent++;
    const version = Number(served.version);
    report.byVersion[`v${version}`] = (report.byVersion[`v${version}`] ?? 0) + 1;
    if (split) {
      const expected = routesToCandidate(row.recordKey, weight)
        ? split.candidateVersion
        : split.championVersion;
      if (version !== expected) report.offSplit++;
    }
    if (opts.feedback !== false) {
      await postToGateway(opts, 'feedback', { requestId, label: row.label });
      report.feedback++;
    }
    arms.set(version, (arms.get(version) ?? 0) + 1);
    const filled = [...arms.values()].filter((n) => n >= opts.perArm).length;
    if (filled >= armsWanted) break;
  }
  report.steps.push({ weight, sent });
}

/** Whether the rollout has left the step that began at `stepAt` (a later step, or its end). */
async function moved(opts: StepTrafficOptions, stepAt: number): Promise<boolean> {
  const move = await db.latestTrafficMove(opts.pool, opts.cycleId);
  return !move || move.ended || move.at.getTime() !== stepAt;
}

/** Runs until `stop()`; `stop()` returns the report (or throws what the traffic failed with). */
export function stepTraffic(opts: StepTrafficOptions): { stop(): Promise<StepTrafficReport> } {
  const controller = new AbortController();
  const report: StepTrafficReport = { sent: 0, feedback: 0, byVersion: {}, steps: [], offSplit: 0 };
  const running = (async () => {
    let lastStep: number | null = null;
    while (!controller.signal.aborted) {
      const move = await db.latestTrafficMove(opts.pool, opts.cycleId);
      if (!move || move.ended || move.weight === 0 || move.at.getTime() === lastStep) {
        await sleep(opts.pollMs ?? 50);
        continue;
      }
      lastStep = move.at.getTime();
      await sendStep(opts, move.weight, lastStep, report, controller.signal);
    }
    return report;
  })();
  // A failure is reported by stop(); until then it must not count as an unhandled rejection.
  running.catch(() => undefined);
  return {
    async stop() {
      controller.abort();
      return running;
    },
  };
}
