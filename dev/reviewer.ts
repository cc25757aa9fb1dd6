/**
 * A scripted reviewer and approver: it answers a cycle's label requests and approval through the same
 * client functions the CLI uses. The demo and the end-to-end tests use it in place of a person.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { CycleSummary, LabelingStatus, Stage } from '../workflows/messages.js';
import { approveRollout, cycleStatus, pendingLabels, submitLabel, UserError } from '../ops/cycles.js';

/** Polls the cycle's status query until `until` holds (or the cycle has closed). */
export async function waitForStatus(
  client: Client,
  cycleId: string,
  until: (s: CycleSummary) => boolean,
  timeoutMs = 120_000,
): Promise<CycleSummary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let status: CycleSummary | null = null;
    try {
      status = await cycleStatus(client, cycleId);
    } catch (err) {
      // Right after start the first workflow task may not have run yet: no query handler exists.
      if (!(err instanceof UserError)) throw err;
    }
    if (status && (until(status) || status.outcome !== null)) return status;
    if (Date.now() > deadline)
      throw new Error(`cycle ${cycleId} did not reach the expected state within ${timeoutMs} ms`);
    await delay(200);
  }
}

export const atStage = (stage: Stage) => (s: CycleSummary) => s.stage === stage;

/** Answers every pending label request with the oracle's label. Returns how many were answered. */
export async function answerLabels(
  client: Client,
  cycleId: string,
  oracle: (recordKey: string) => string | undefined,
  reviewer: string,
  timeoutMs = 120_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let answered = 0;
  for (;;) {
    let status: LabelingStatus | null = null;
    try {
      status = await pendingLabels(client, cycleId);
    } catch (err) {
      // The cycle enters its label stage just before it starts the campaign: not there yet.
      if (!(err instanceof UserError)) throw err;
    }
    if (status && status.state !== 'open') return answered;
    if (status && status.requested > 0 && status.pending.length === 0) return answered;
    if (!status || status.requested === 0) {
      if (Date.now() > deadline) throw new Error(`no label requests from ${cycleId} within ${timeoutMs} ms`);
      await delay(200);
      continue;
    }
    for (const item of status.pending) {
      const label = oracle(item.recordKey);
      if (label === undefined) continue;
      await submitLabel(client, cycleId, { recordKey: item.recordKey, label, reviewer });
      answered++;
    }
  }
}

export async function approveWhenAsked(
  client: Client,
  cycleId: string,
  approver: string,
  reason: string,
): Promise<CycleSummary> {
  const status = await waitForStatus(client, cycleId, (s) => s.awaitingApproval || s.stage === 'rollout');
  if (status.awaitingApproval) await approveRollout(client, cycleId, { approver, approve: true, reason });
  return status;
}
