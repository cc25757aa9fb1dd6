/**
 * The actors of the fault run, each a loop that retries through every outage as a real client would:
 * the people in the loop (reviewer and approver), production traffic with its feedback through the
 * gateway, and the caller waiting for each cycle's outcome. `Tracked` is what they know of one cycle.
 */
import type { Client } from '@temporalio/client';
import {
  approveFull,
  approveRollout,
  CycleEndedError,
  cycleStatus,
  pendingLabels,
  resolvePause,
  rolloutStatus,
  submitLabel,
  waitForCycle,
} from '../ops/cycles.js';
import { futureTraffic, SCENARIO, type PreparedModel } from '../dev/scenario.js';
import { STAGES, type CycleSummary, type Stage } from '../workflows/messages.js';
import { message, pause } from './faults-stack.js';

export const POLL_MS = 250;
const REVIEWER = SCENARIO.reviewer;
const APPROVER = SCENARIO.approver;
export const stageIndex = (s: Stage) => STAGES.indexOf(s);

export interface Tracked {
  prepared: PreparedModel;
  cycleId: string;
  stage: Stage | 'starting';
  summary: CycleSummary | null;
  ended: string | null;
  settled: boolean;
  labelsAnswered: number;
  requestsSent: number;
  retriedCalls: number;
  lastError: string | null;
}

/** A cycle as the actors first see it: prepared, not started. */
export function newTracked(prepared: PreparedModel): Tracked {
  return {
    prepared,
    cycleId: '',
    stage: 'starting',
    summary: null,
    ended: null,
    settled: false,
    labelsAnswered: 0,
    requestsSent: 0,
    retriedCalls: 0,
    lastError: null,
  };
}

/** What every actor shares: the Temporal client, calls that end when the run stops, the gateway. */
export interface ActorContext {
  client: Client;
  call: <T>(fn: () => Promise<T>) => Promise<T>;
  gatewayUrl: string;
  signal: AbortSignal;
}

function failed(c: Tracked, err: unknown): void {
  c.retriedCalls++;
  c.lastError = message(err);
}

// The people in the loop: the reviewer answers label requests, the approver approves the rollout
// (and the 100% step, and a pause for too few samples). Every call may fail while the server,
// the worker or Postgres is down; the loop reads the state again and carries on.
export async function reviewerAndApprover(ctx: ActorContext, c: Tracked): Promise<void> {
  const truth = new Map(c.prepared.rows.map((r) => [r.recordKey, r.label]));
  while (!c.settled && !ctx.signal.aborted) {
    try {
      await ctx.call(async () => {
        const s = await cycleStatus(ctx.client, c.cycleId);
        c.stage = s.stage;
        c.summary = s;
        if (s.outcome !== null) return;
        if (s.stage === 'label') {
          const pending = await pendingLabels(ctx.client, c.cycleId);
          if (pending.state === 'open' || pending.state === 'parked') {
            for (const item of pending.pending) {
              const label = truth.get(item.recordKey);
              if (label === undefined) continue;
              const r = await submitLabel(ctx.client, c.cycleId, {
                recordKey: item.recordKey,
                label,
                reviewer: REVIEWER,
              });
              if (!r.duplicate) c.labelsAnswered++;
            }
          }
        } else if (s.awaitingApproval) {
          await approveRollout(ctx.client, c.cycleId, {
            approver: APPROVER,
            approve: true,
            reason: 'fault run',
          });
        } else if (s.stage === 'rollout') {
          const r = await rolloutStatus(ctx.client, c.cycleId);
          if (r.state === 'paused')
            await resolvePause(ctx.client, c.cycleId, {
              actor: APPROVER,
              decision: 'continue',
              reason: 'fault run',
            });
          if (r.state === 'awaiting-approval')
            await approveFull(ctx.client, c.cycleId, {
              approver: APPROVER,
              approve: true,
              reason: 'fault run',
            });
        }
      });
    } catch (err) {
      failed(c, err);
    }
    await pause(POLL_MS, ctx.signal);
  }
}

// Production traffic with its feedback through the gateway while the candidate rolls out. A request
// that failed (Postgres down) is sent again with the same request ID, which the gateway stores once.
export async function traffic(ctx: ActorContext, c: Tracked): Promise<void> {
  const rows = futureTraffic(c.prepared);
  for (let i = 0; !c.settled && !ctx.signal.aborted;) {
    const atRollout = c.stage !== 'starting' && stageIndex(c.stage) >= stageIndex('approval');
    if (!atRollout) {
      await pause(POLL_MS, ctx.signal);
      continue;
    }
    const row = rows[i % rows.length]!;
    const requestId = `${c.cycleId}:${i}`;
    try {
      const base = `${ctx.gatewayUrl}/v1/models/${encodeURIComponent(c.prepared.modelId)}`;
      const post = async (p: string, body: unknown) => {
        const res = await fetch(`${base}/${p}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        if (!res.ok) throw new Error(`gateway ${p} answered ${res.status}: ${await res.text()}`);
      };
      await post('predict', { requestId, routingKey: row.recordKey, features: row.features });
      await post('feedback', { requestId, label: row.label });
      c.requestsSent++;
      i++;
    } catch (err) {
      failed(c, err);
      await pause(POLL_MS, ctx.signal);
    }
  }
}

// The outcome, from the workflow's result; the long poll breaks while the server restarts.
export async function awaitOutcome(ctx: ActorContext, c: Tracked): Promise<void> {
  while (!ctx.signal.aborted) {
    try {
      c.summary = await ctx.call(() => waitForCycle(ctx.client, c.cycleId));
      c.stage = c.summary.stage;
      break;
    } catch (err) {
      if (err instanceof CycleEndedError) {
        c.ended = err.message;
        break;
      }
      failed(c, err);
      await pause(500, ctx.signal);
    }
  }
  c.settled = true;
}

/** A stuck cycle: its stage and the activities it waits on, with their attempts and last failures. */
export async function describeStuck(client: Client, c: Tracked): Promise<string> {
  const parts = [`stage ${c.stage}`];
  if (c.lastError) parts.push(`last client error: ${c.lastError}`);
  for (const id of [c.cycleId, `${c.cycleId}-labeling`, `${c.cycleId}-rollout`]) {
    try {
      const d = await client.workflowService.describeWorkflowExecution({
        namespace: 'default',
        execution: { workflowId: id },
      });
      for (const a of d.pendingActivities ?? [])
        parts.push(
          `${id}: ${a.activityType?.name} attempt ${a.attempt}${a.lastFailure?.message ? ` (${a.lastFailure.message})` : ''}`,
        );
    } catch {
      // No such child (yet): nothing pending there.
    }
  }
  return parts.join('; ');
}
