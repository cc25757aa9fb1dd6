/**
 * Counts across tables that show whether an effect happened twice: what the fault-injection benchmark
 * checks after it has killed workers, Postgres and the Temporal server under load.
 */
import type { Queryable } from './pool.js';

/** Each cycle's outcome and whether it closed. */
export async function cycleClosures(
  q: Queryable,
  cycleIds: readonly string[],
): Promise<{ cycle_id: string; outcome: string | null; closed: boolean }[]> {
  const { rows } = await q.query<{ cycle_id: string; outcome: string | null; closed: boolean }>(
    'SELECT cycle_id, outcome, closed_at IS NOT NULL AS closed FROM cycles WHERE cycle_id = ANY($1)',
    [cycleIds],
  );
  return rows;
}

/** Dataset versions of one kind per cycle. */
export async function datasetVersionsPerCycle(
  q: Queryable,
  cycleIds: readonly string[],
  kind: 'collected' | 'labeled',
): Promise<{ cycle_id: string; n: string }[]> {
  const { rows } = await q.query<{ cycle_id: string; n: string }>(
    'SELECT cycle_id, count(*) AS n FROM dataset_versions WHERE cycle_id = ANY($1) AND kind = $2 GROUP BY cycle_id',
    [cycleIds, kind],
  );
  return rows;
}

/** Registry rows (model versions) per cycle. */
export async function modelVersionsPerCycle(
  q: Queryable,
  cycleIds: readonly string[],
): Promise<{ cycle_id: string; n: string }[]> {
  const { rows } = await q.query<{ cycle_id: string; n: string }>(
    'SELECT cycle_id, count(*) AS n FROM model_versions WHERE cycle_id = ANY($1) GROUP BY cycle_id',
    [cycleIds],
  );
  return rows;
}

/** Rollback audit events per cycle. */
export async function rollbacksPerCycle(
  q: Queryable,
  cycleIds: readonly string[],
): Promise<{ cycle_id: string; n: string }[]> {
  const { rows } = await q.query<{ cycle_id: string; n: string }>(
    "SELECT cycle_id, count(*) AS n FROM audit_events WHERE cycle_id = ANY($1) AND action = 'rollout.rolled_back' GROUP BY cycle_id",
    [cycleIds],
  );
  return rows;
}

const n = (r: { rows: { n: string }[] }): number => Number(r.rows[0]!.n);

/** People's labels stored for these campaigns. */
export const humanLabelCount = (q: Queryable, campaignIds: readonly string[]) =>
  q
    .query<{ n: string }>(
      "SELECT count(*) AS n FROM labels WHERE campaign_id = ANY($1) AND source = 'human'",
      [campaignIds],
    )
    .then(n);

/** Items labeled more than once in these campaigns. */
export const itemsLabeledTwice = (q: Queryable, campaignIds: readonly string[]) =>
  q
    .query<{ n: string }>(
      'SELECT count(*) AS n FROM (SELECT 1 FROM labels WHERE campaign_id = ANY($1) GROUP BY campaign_id, record_key HAVING count(*) > 1) d',
      [campaignIds],
    )
    .then(n);

/** Cycles with more than one audit event of this action. */
export const cyclesWithRepeatedAudit = (q: Queryable, cycleIds: readonly string[], action: string) =>
  q
    .query<{ n: string }>(
      'SELECT count(*) AS n FROM (SELECT 1 FROM audit_events WHERE cycle_id = ANY($1) AND action = $2 GROUP BY cycle_id HAVING count(*) > 1) d',
      [cycleIds, action],
    )
    .then(n);

export interface ServingStateRow {
  cycle_id: string;
  outcome: string | null;
  champion_version: number | null;
  candidate_version: number | null;
  candidate_weight: number | null;
  champion_alias: number | null;
  candidate_alias: number | null;
  candidate: number | null;
  candidate_status: string | null;
}

/** Each cycle's model's serving split and aliases now, with the cycle's candidate and its status. */
export async function servingStateOfCycles(
  q: Queryable,
  cycleIds: readonly string[],
): Promise<ServingStateRow[]> {
  const { rows } = await q.query<ServingStateRow>(
    `SELECT c.cycle_id, c.outcome, t.champion_version, t.candidate_version, t.candidate_weight,
            (SELECT version FROM model_aliases a WHERE a.model_id = c.model_id AND alias = 'champion') AS champion_alias,
            (SELECT version FROM model_aliases a WHERE a.model_id = c.model_id AND alias = 'candidate') AS candidate_alias,
            v.version AS candidate, v.status AS candidate_status
       FROM cycles c
       LEFT JOIN traffic_weights t ON t.model_id = c.model_id
       LEFT JOIN model_versions v ON v.cycle_id = c.cycle_id
      WHERE c.cycle_id = ANY($1)`,
    [cycleIds],
  );
  return rows;
}

/** Each cycle's traffic moves (its 'traffic.set' audit events): the splits a router was asked for. */
export async function trafficMovesOfCycles(
  q: Queryable,
  cycleIds: readonly string[],
): Promise<{ cycle_id: string; weight: number }[]> {
  const { rows } = await q.query<{ cycle_id: string; weight: number }>(
    `SELECT DISTINCT cycle_id, (details->>'weight')::int AS weight FROM audit_events
     WHERE action = 'traffic.set' AND cycle_id = ANY($1)`,
    [cycleIds],
  );
  return rows;
}
