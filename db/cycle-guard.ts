/**
 * What the cooldown and budget read: the model's last closed cycle and when its cycles started, and the
 * suppressed triggers. Times are the workflows' clocks where they recorded one (a closed cycle's last
 * stage end, a trigger's decision time), so a time-skipping test sees the same times production would.
 */
import type { Queryable } from './pool.js';

/** The model's most recently closed cycle, with the workflow's close time and the severity it diagnosed. */
export async function lastClosedCycle(
  q: Queryable,
  modelId: string,
): Promise<{ cycleId: string; closedAt: string; severity: 'none' | 'mild' | 'severe' | null } | null> {
  const { rows } = await q.query<{ cycle_id: string; closed: Date; severity: string | null }>(
    `SELECT cycle_id, closed, severity FROM (
       SELECT cycle_id, summary->>'severity' AS severity,
              COALESCE(CASE WHEN jsonb_typeof(summary->'stages'->-1->'endedAt') = 'string'
                            THEN (summary->'stages'->-1->>'endedAt')::timestamptz END, closed_at) AS closed
       FROM cycles WHERE model_id = $1 AND closed_at IS NOT NULL) c
     ORDER BY closed DESC LIMIT 1`,
    [modelId],
  );
  const r = rows[0];
  if (!r) return null;
  const severity =
    r.severity === 'none' || r.severity === 'mild' || r.severity === 'severe' ? r.severity : null;
  return { cycleId: r.cycle_id, closedAt: r.closed.toISOString(), severity };
}

/** When each of the model's cycles started, for those that started in (since, until]. */
export async function cycleStartsBetween(
  q: Queryable,
  modelId: string,
  since: string,
  until: string,
): Promise<string[]> {
  const { rows } = await q.query<{ at: Date }>(
    `SELECT at FROM (
       SELECT COALESCE((SELECT min(t.decided_at) FROM cycle_triggers t WHERE t.cycle_id = c.cycle_id AND t.started),
                       CASE WHEN jsonb_typeof(c.summary->'stages'->0->'startedAt') = 'string'
                            THEN (c.summary->'stages'->0->>'startedAt')::timestamptz END,
                       c.started_at) AS at
       FROM cycles c WHERE c.model_id = $1) s
     WHERE at > $2 AND at <= $3 ORDER BY at`,
    [modelId, since, until],
  );
  return rows.map((r) => r.at.toISOString());
}

/** The model's suppressed triggers, newest first. */
export async function suppressedTriggers(
  q: Queryable,
  modelId: string,
  limit = 50,
): Promise<
  { triggerKey: string; kind: string; reason: string; at: string; evidence: Record<string, unknown> }[]
> {
  const { rows } = await q.query<{
    trigger_key: string;
    kind: string;
    suppressed: string;
    decided_at: Date;
    evidence: Record<string, unknown>;
  }>(
    `SELECT trigger_key, kind, suppressed, decided_at, evidence FROM cycle_triggers
     WHERE model_id = $1 AND suppressed IS NOT NULL ORDER BY decided_at DESC, trigger_id DESC LIMIT $2`,
    [modelId, limit],
  );
  return rows.map((r) => ({
    triggerKey: r.trigger_key,
    kind: r.kind,
    reason: r.suppressed,
    at: r.decided_at.toISOString(),
    evidence: r.evidence,
  }));
}
