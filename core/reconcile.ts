/**
 * Reconciling a cycle's row with its workflow: a cycle workflow that was terminated, timed out or failed
 * never reaches its close stage, so its `cycles` row would stay open and the model could never start
 * another cycle. What a closed execution's status means for the row.
 */

/** Outcomes written by reconciliation (the workflow writes the others, see workflows/messages.ts). */
export const RECONCILED_OUTCOMES = {
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
  FAILED: 'failed',
  CANCELLED: 'aborted',
  COMPLETED: 'closed-unrecorded',
} as const;

export type ReconciledOutcome = (typeof RECONCILED_OUTCOMES)[keyof typeof RECONCILED_OUTCOMES];

/**
 * The outcome to record for a cycle row still open whose workflow execution has this status, or null
 * when the execution may still close the row itself (running, or a status this code does not know).
 */
export function reconciledOutcome(status: string): ReconciledOutcome | null {
  return Object.hasOwn(RECONCILED_OUTCOMES, status)
    ? RECONCILED_OUTCOMES[status as keyof typeof RECONCILED_OUTCOMES]
    : null;
}
