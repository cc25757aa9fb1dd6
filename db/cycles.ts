/**
 * Remediation cycles: reserving one per trigger, their triggers, and the audit trail.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import type pg from 'pg';
import { withTransaction, type Queryable } from './pool.js';

export async function audit(
  q: Queryable,
  e: {
    key: string;
    cycleId?: string | null;
    modelId?: string | null;
    actor: string;
    action: string;
    details?: unknown;
  },
): Promise<void> {
  await q.query(
    `INSERT INTO audit_events (idempotency_key, cycle_id, model_id, actor, action, details) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [e.key, e.cycleId ?? null, e.modelId ?? null, e.actor, e.action, JSON.stringify(e.details ?? {})],
  );
}

/** What a reservation decided: a cycle started, the trigger attached to the open one, or held back. */
export type Reservation =
  | { cycleId: string; started: boolean; suppressed?: undefined }
  | { cycleId: null; started: false; suppressed: string };

/**
 * Starts a cycle for a trigger or attaches the trigger to the model's open cycle. Cycle IDs are
 * remediation-<model>-<n>, n one past the model's highest; the one-open-cycle-per-model index decides
 * races. When no cycle is open, `guard` (run under the model's reservation lock) may hold the trigger
 * back: it is recorded with the reason and no cycle. A retried call with the same trigger key returns
 * what the first one decided.
 */
export async function reserveCycle(
  pool: pg.Pool,
  t: {
    triggerKey: string;
    modelId: string;
    kind: string;
    evidence: Record<string, unknown>;
    /** The trigger's own clock (the workflow's), recorded as the decision time. */
    at?: string;
    guard?: (q: Queryable) => Promise<{ suppressed: string } | { note: string | null }>;
  },
): Promise<Reservation> {
  return withTransaction(pool, async (client) => {
    const seen = await client.query<{ cycle_id: string | null; started: boolean; suppressed: string | null }>(
      'SELECT cycle_id, started, suppressed FROM cycle_triggers WHERE trigger_key = $1',
      [t.triggerKey],
    );
    const prior = seen.rows[0];
    if (prior)
      return prior.cycle_id === null
        ? { cycleId: null, started: false, suppressed: prior.suppressed ?? 'suppressed' }
        : { cycleId: prior.cycle_id, started: prior.started };
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cycle-reservation:${t.modelId}`]);
    let evidence = t.evidence;
    if (t.guard && !(await openCycle(client, t.modelId))) {
      const decision = await t.guard(client);
      if ('suppressed' in decision) {
        await client.query(
          `INSERT INTO cycle_triggers (trigger_key, model_id, cycle_id, kind, started, evidence, suppressed, decided_at)
           VALUES ($1, $2, NULL, $3, false, $4, $5, COALESCE($6::timestamptz, now()))`,
          [t.triggerKey, t.modelId, t.kind, JSON.stringify(evidence), decision.suppressed, t.at ?? null],
        );
        return { cycleId: null, started: false, suppressed: decision.suppressed };
      }
      if (decision.note) evidence = { ...evidence, guard: decision.note };
    }
    const prefix = `remediation-${t.modelId}-`;
    const inserted = await client.query<{ cycle_id: string }>(
      `INSERT INTO cycles (cycle_id, model_id, stage, summary)
       SELECT $2 || (COALESCE(max(substring(cycle_id FROM length($2) + 1)::int), 0) + 1), $1, 'pending', $3
       FROM cycles WHERE model_id = $1 AND starts_with(cycle_id, $2) AND substring(cycle_id FROM length($2) + 1) ~ '^[0-9]{1,9}$'
       ON CONFLICT DO NOTHING RETURNING cycle_id`,
      [t.modelId, prefix, JSON.stringify({ trigger: { kind: t.kind, key: t.triggerKey } })],
    );
    let cycleId = inserted.rows[0]?.cycle_id;
    const started = cycleId !== undefined;
    if (!cycleId) {
      cycleId = (await openCycle(client, t.modelId))?.cycle_id;
      if (!cycleId)
        throw new Error(`could not reserve a cycle for ${t.modelId}: no open cycle and no free ID`);
    }
    await client.query(
      `INSERT INTO cycle_triggers (trigger_key, model_id, cycle_id, kind, started, evidence, decided_at)
       VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7::timestamptz, now())) ON CONFLICT (trigger_key) DO NOTHING`,
      [t.triggerKey, t.modelId, cycleId, t.kind, started, JSON.stringify(evidence), t.at ?? null],
    );
    return { cycleId, started };
  });
}

export async function cycleTriggers(
  q: Queryable,
  cycleId: string,
): Promise<{ triggerKey: string; kind: string; started: boolean; evidence: Record<string, unknown> }[]> {
  const { rows } = await q.query<{
    trigger_key: string;
    kind: string;
    started: boolean;
    evidence: Record<string, unknown>;
  }>(
    'SELECT trigger_key, kind, started, evidence FROM cycle_triggers WHERE cycle_id = $1 ORDER BY trigger_id',
    [cycleId],
  );
  return rows.map((r) => ({
    triggerKey: r.trigger_key,
    kind: r.kind,
    started: r.started,
    evidence: r.evidence,
  }));
}

/** Opens a cycle at its first stage; the same cycle ID again changes nothing. */
export async function insertCycle(
  q: Queryable,
  cycleId: string,
  modelId: string,
  summary: unknown,
): Promise<void> {
  await q.query(
    `INSERT INTO cycles (cycle_id, model_id, stage, summary) VALUES ($1, $2, 'confirm', $3)
     ON CONFLICT (cycle_id) DO NOTHING`,
    [cycleId, modelId, JSON.stringify(summary)],
  );
}

/**
 * Holds the model's cycle reservation lock until the transaction ends: no cycle of the model is reserved
 * meanwhile (reserveCycle takes the same lock), so what the caller read about open cycles stays true.
 */
export async function lockCycleReservation(q: Queryable, modelId: string): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cycle-reservation:${modelId}`]);
}

/** The model's open cycle (at most one), with its stage. */
export async function openCycle(
  q: Queryable,
  modelId: string,
): Promise<{ cycle_id: string; stage: string } | null> {
  const { rows } = await q.query<{ cycle_id: string; stage: string }>(
    'SELECT cycle_id, stage FROM cycles WHERE model_id = $1 AND closed_at IS NULL',
    [modelId],
  );
  return rows[0] ?? null;
}

/** Closes a cycle with its outcome and summary; a closed cycle is left as it is. */
export async function closeCycle(
  q: Queryable,
  cycleId: string,
  outcome: string,
  summary: unknown,
): Promise<void> {
  await q.query(
    `UPDATE cycles SET outcome = $2, summary = $3, stage = 'closed', closed_at = now()
     WHERE cycle_id = $1 AND closed_at IS NULL`,
    [cycleId, outcome, JSON.stringify(summary)],
  );
}

/**
 * Closes a cycle whose workflow ended without closing it (terminated, timed out), keeping its summary
 * and adding why; returns false when the row was already closed (a second reconciliation changes nothing).
 */
export async function closeCycleReconciled(
  q: Queryable,
  cycleId: string,
  outcome: string,
  closedAt: Date,
  note: Record<string, unknown>,
): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE cycles SET outcome = $2, stage = 'closed', closed_at = $3,
       summary = summary || jsonb_build_object('reconciled', $4::jsonb)
     WHERE cycle_id = $1 AND closed_at IS NULL`,
    [cycleId, outcome, closedAt, JSON.stringify(note)],
  );
  return (rowCount ?? 0) > 0;
}

/** Gives back a reservation: the cycle (only while still pending) and the trigger that reserved it. */
export async function releasePendingCycle(q: Queryable, cycleId: string, triggerKey: string): Promise<void> {
  await q.query("DELETE FROM cycles WHERE cycle_id = $1 AND stage = 'pending'", [cycleId]);
  await q.query('DELETE FROM cycle_triggers WHERE trigger_key = $1 AND cycle_id = $2', [triggerKey, cycleId]);
}

/** When the audit event with this key was recorded. */
export async function auditTime(q: Queryable, key: string): Promise<Date | undefined> {
  const { rows } = await q.query<{ at: Date }>('SELECT at FROM audit_events WHERE idempotency_key = $1', [
    key,
  ]);
  return rows[0]?.at;
}

export interface CycleRow<Summary> {
  model_id: string;
  stage: string;
  outcome: string | null;
  summary: Summary;
  started_at: Date;
  closed_at: Date | null;
}

/** One cycle as the database records it; `Summary` is the shape the cycle workflow writes. */
export async function getCycle<Summary>(
  q: Queryable,
  cycleId: string,
): Promise<CycleRow<Summary> | undefined> {
  const { rows } = await q.query<CycleRow<Summary>>(
    'SELECT model_id, stage, outcome, summary, started_at, closed_at FROM cycles WHERE cycle_id = $1',
    [cycleId],
  );
  return rows[0];
}

/** A cycle's audit trail, oldest first. */
export async function cycleAudit(
  q: Queryable,
  cycleId: string,
): Promise<{ at: Date; actor: string; action: string; details: { trigger?: string } }[]> {
  const { rows } = await q.query<{ at: Date; actor: string; action: string; details: { trigger?: string } }>(
    'SELECT at, actor, action, details FROM audit_events WHERE cycle_id = $1 ORDER BY event_id',
    [cycleId],
  );
  return rows;
}
