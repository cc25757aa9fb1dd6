/**
 * The notifications a closing cycle sends, from what `closeCycle` is given: always "cycle closed" (the
 * outcome and reason), and a data-quality incident when the cycle stopped on broken data.
 */
import type { Queryable } from '../db/pool.js';
import * as db from '../db/index.js';
import { type EventInput, recordEvent } from './notifications.js';

export function cycleClosedEvents(input: {
  cycleId: string;
  modelId: string;
  outcome: string;
  summary: unknown;
}): EventInput[] {
  const summary = (input.summary ?? {}) as {
    reason?: string | null;
    championVersion?: number | null;
    candidateVersion?: number | null;
    severity?: string | null;
  };
  const reason = typeof summary.reason === 'string' ? summary.reason : null;
  const details = {
    outcome: input.outcome,
    reason,
    championVersion: summary.championVersion ?? null,
    candidateVersion: summary.candidateVersion ?? null,
    severity: summary.severity ?? null,
  };
  const base = { modelId: input.modelId, cycleId: input.cycleId, details };
  const events: EventInput[] = [
    {
      ...base,
      eventKey: `${input.cycleId}:closed`,
      kind: 'cycle-closed',
      message: `cycle ${input.cycleId} of ${input.modelId} closed: ${input.outcome}${reason ? ` (${reason})` : ''}`,
    },
  ];
  if (input.outcome === 'data-quality-incident')
    events.push({
      ...base,
      eventKey: `${input.cycleId}:data-quality`,
      kind: 'data-quality',
      message: `data-quality incident on ${input.modelId}: ${reason ?? 'the window failed its data checks'}; the cycle did not retrain on it`,
    });
  return events;
}

/**
 * A candidate that passed evaluation waits for a person when the model's policy asks for approval
 * (workflows/cycle.ts awaitApproval): the approvers are told, once per cycle.
 */
export async function announceApprovalWait(
  q: Queryable,
  input: { cycleId: string; modelId: string; candidateVersion: number },
): Promise<void> {
  const model = await db.getModel(q, input.modelId);
  if (!model?.policy.rollout.requireApproval) return;
  const { approvers, approvalTimeout } = model.policy.rollout;
  await recordEvent(q, {
    eventKey: `${input.cycleId}:approval-waiting`,
    kind: 'approval-waiting',
    modelId: input.modelId,
    cycleId: input.cycleId,
    recipients: approvers,
    message: `${input.modelId} v${input.candidateVersion} passed evaluation and waits for approval: "remedy approve ${input.cycleId} --approver <name>" (or "remedy reject") within ${approvalTimeout}, or it is rejected`,
    details: { candidateVersion: input.candidateVersion, approvers, approvalTimeout },
  });
}
