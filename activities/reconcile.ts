/**
 * No cycle left open: before a model's open cycle refuses a new one, and at every monitor check, the
 * open cycle's workflow execution is looked up; when it has closed without closing its row (terminated,
 * timed out), the row is closed with that outcome, a `cycle.reconciled` audit event records the
 * execution's status and close time, and the model is free again. Safe to run twice: the row closes
 * once and the audit event has a fixed key.
 */
import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { reconciledOutcome, type ReconciledOutcome } from '../core/reconcile.js';
import * as db from '../db/index.js';
import { withTransaction } from '../db/pool.js';

/** A workflow execution's status (WorkflowExecutionStatusName) and close time; null when there is none. */
export type DescribeExecution = (
  workflowId: string,
) => Promise<{ status: string; closeTime: Date | undefined } | null>;

export function describeWith(client: Client): DescribeExecution {
  return async (workflowId) => {
    try {
      const d = await client.workflow.getHandle(workflowId).describe();
      return { status: d.status.name, closeTime: d.closeTime };
    } catch (err) {
      if (err instanceof Error && err.name === 'WorkflowNotFoundError') return null;
      throw err;
    }
  };
}

/** The worker's client as the running activity sees it; undefined outside a worker (a mock environment). */
export function activityDescriber(): DescribeExecution | undefined {
  try {
    return describeWith(Context.current().client);
  } catch {
    return undefined;
  }
}

export interface Reconciled {
  cycleId: string;
  outcome: ReconciledOutcome;
  status: string;
  closedAt: string;
}

/**
 * Closes the model's open cycle when its workflow has ended; returns what was closed, or null when the
 * model has no open cycle or its workflow may still close it (running, or a reservation not started yet).
 */
export async function reconcileOpenCycle(
  pool: pg.Pool,
  describe: DescribeExecution,
  modelId: string,
): Promise<Reconciled | null> {
  const open = await db.openCycle(pool, modelId);
  if (!open) return null;
  const execution = await describe(open.cycle_id);
  // No execution: a trigger's reservation whose workflow is starting, or a manual start not yet open.
  if (!execution) return null;
  const outcome = reconciledOutcome(execution.status);
  if (!outcome) return null;
  const closedAt = execution.closeTime ?? new Date();
  const result: Reconciled = {
    cycleId: open.cycle_id,
    outcome,
    status: execution.status,
    closedAt: closedAt.toISOString(),
  };
  await withTransaction(pool, async (client) => {
    await db.closeCycleReconciled(client, open.cycle_id, outcome, closedAt, {
      status: execution.status,
      closeTime: result.closedAt,
      stage: open.stage,
    });
    await db.audit(client, {
      key: `${open.cycle_id}:reconciled`,
      cycleId: open.cycle_id,
      modelId,
      actor: 'remedy',
      action: 'cycle.reconciled',
      details: { status: execution.status, closeTime: result.closedAt, stage: open.stage, outcome },
    });
  });
  return result;
}

/**
 * The reconciliation as activities run it: with the worker's client (or the one given), and never the
 * reason an activity fails — a lookup that fails leaves the row as it was and the caller decides as before.
 */
export async function tryReconcile(
  pool: pg.Pool,
  modelId: string,
  describe: DescribeExecution | undefined = activityDescriber(),
): Promise<Reconciled | null> {
  if (!describe) return null;
  try {
    const reconciled = await reconcileOpenCycle(pool, describe, modelId);
    if (reconciled) log.warn('closed a cycle whose workflow ended without closing it', { ...reconciled });
    return reconciled;
  } catch (err) {
    log.warn('could not reconcile the open cycle', { modelId, error: String(err) });
    return null;
  }
}
