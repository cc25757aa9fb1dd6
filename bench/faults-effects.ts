/**
 * What the fault run finds in Postgres afterwards: counts that show whether any effect happened twice
 * (dataset versions, registry rows, rollbacks, labels, audit events, the traffic split).
 */
import type pg from 'pg';
import type { Outcome } from '../workflows/messages.js';
import type { Tracked } from './faults-actors.js';

/** Outcomes a cycle may end with under faults: the business decides; infrastructure must not. */
export const ACCEPTED_OUTCOMES: readonly Outcome[] = ['promoted', 'rolled-back', 'rejected'];

export interface CountRow {
  check: string;
  found: number;
  expected: number;
  ok: boolean;
}

/** The counts that show whether any effect happened twice. Labels and rollbacks are also totalled. */
export async function countEffects(pool: pg.Pool, tracked: readonly Tracked[]): Promise<CountRow[]> {
  const ids = tracked.map((c) => c.cycleId);
  const campaigns = ids.map((id) => `${id}-labeling`);
  const n = ids.length;
  const one = async (sql: string, params: unknown[]): Promise<number> =>
    Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);
  const rows: CountRow[] = [];
  const expect = (check: string, found: number, expected: number) =>
    rows.push({ check, found, expected, ok: found === expected });

  const closed = await pool.query<{ cycle_id: string; outcome: string | null; closed: boolean }>(
    'SELECT cycle_id, outcome, closed_at IS NOT NULL AS closed FROM cycles WHERE cycle_id = ANY($1)',
    [ids],
  );
  expect(
    'cycles closed with an accepted outcome',
    closed.rows.filter((r) => r.closed && ACCEPTED_OUTCOMES.includes(r.outcome as Outcome)).length,
    n,
  );
  expect(
    'cycles left open (closed_at is null)',
    closed.rows.filter((r) => !r.closed).length + (n - closed.rowCount!),
    0,
  );

  for (const kind of ['collected', 'labeled'] as const) {
    const perCycle = await pool.query<{ cycle_id: string; n: string }>(
      'SELECT cycle_id, count(*) AS n FROM dataset_versions WHERE cycle_id = ANY($1) AND kind = $2 GROUP BY cycle_id',
      [ids, kind],
    );
    expect(
      `dataset versions (${kind})`,
      perCycle.rows.reduce((s, r) => s + Number(r.n), 0),
      n,
    );
    expect(
      `  cycles with more than one ${kind} version`,
      perCycle.rows.filter((r) => Number(r.n) > 1).length,
      0,
    );
  }
  const versions = await pool.query<{ cycle_id: string; n: string }>(
    'SELECT cycle_id, count(*) AS n FROM model_versions WHERE cycle_id = ANY($1) GROUP BY cycle_id',
    [ids],
  );
  expect(
    'registry rows (model_versions) of candidates',
    versions.rows.reduce((s, r) => s + Number(r.n), 0),
    n,
  );
  expect('  cycles with more than one registry row', versions.rows.filter((r) => Number(r.n) > 1).length, 0);

  const rolledBack = closed.rows.filter((r) => r.outcome === 'rolled-back').map((r) => r.cycle_id);
  const rollbacks = await pool.query<{ cycle_id: string; n: string }>(
    "SELECT cycle_id, count(*) AS n FROM audit_events WHERE cycle_id = ANY($1) AND action = 'rollout.rolled_back' GROUP BY cycle_id",
    [ids],
  );
  expect(
    "rollbacks ('rollout.rolled_back' events)",
    rollbacks.rows.reduce((s, r) => s + Number(r.n), 0),
    rolledBack.length,
  );
  expect('  cycles with more than one rollback', rollbacks.rows.filter((r) => Number(r.n) > 1).length, 0);

  // What each campaign counted as answered (its result, in the cycle's summary) against what is stored.
  const answered = tracked.reduce((sum, c) => {
    const label = c.summary?.stages.find((st) => st.stage === 'label')?.summary;
    return sum + Number(label?.answered ?? 0);
  }, 0);
  expect(
    "people's labels stored (the campaigns counted)",
    await one("SELECT count(*) AS n FROM labels WHERE campaign_id = ANY($1) AND source = 'human'", [
      campaigns,
    ]),
    answered,
  );
  // The primary key (campaign_id, record_key) makes this impossible; counted so a schema change shows.
  expect(
    '  items labeled more than once (primary key)',
    await one(
      'SELECT count(*) AS n FROM (SELECT 1 FROM labels WHERE campaign_id = ANY($1) GROUP BY campaign_id, record_key HAVING count(*) > 1) d',
      [campaigns],
    ),
    0,
  );
  for (const action of [
    'cycle.opened',
    'cycle.closed',
    'rollout.approved',
    'rollout.promoted',
    'candidate.rejected',
  ]) {
    expect(
      `cycles with more than one '${action}' event`,
      await one(
        'SELECT count(*) AS n FROM (SELECT 1 FROM audit_events WHERE cycle_id = ANY($1) AND action = $2 GROUP BY cycle_id HAVING count(*) > 1) d',
        [ids, action],
      ),
      0,
    );
  }

  // The serving split after the outcome: promoted → the candidate serves everything; rolled back or
  // rejected → the old champion does; no candidate share left either way. The aliases agree.
  const state = await pool.query<{
    cycle_id: string;
    outcome: string | null;
    champion_version: number | null;
    candidate_version: number | null;
    candidate_weight: number | null;
    champion_alias: number | null;
    candidate_alias: number | null;
    candidate: number | null;
    candidate_status: string | null;
  }>(
    `SELECT c.cycle_id, c.outcome, t.champion_version, t.candidate_version, t.candidate_weight,
            (SELECT version FROM model_aliases a WHERE a.model_id = c.model_id AND alias = 'champion') AS champion_alias,
            (SELECT version FROM model_aliases a WHERE a.model_id = c.model_id AND alias = 'candidate') AS candidate_alias,
            v.version AS candidate, v.status AS candidate_status
       FROM cycles c
       LEFT JOIN traffic_weights t ON t.model_id = c.model_id
       LEFT JOIN model_versions v ON v.cycle_id = c.cycle_id
      WHERE c.cycle_id = ANY($1)`,
    [ids],
  );
  const before = new Map(tracked.map((c) => [c.cycleId, c.prepared.champion.version]));
  const inconsistent = state.rows.filter((r) => {
    const serving = r.outcome === 'promoted' ? r.candidate : before.get(r.cycle_id);
    const status =
      r.outcome === 'promoted' ? 'champion' : r.outcome === 'rolled-back' ? 'rolled_back' : 'rejected';
    return !(
      r.champion_version === serving &&
      r.candidate_version === null &&
      r.candidate_weight === 0 &&
      r.champion_alias === serving &&
      r.candidate_alias === null &&
      r.candidate_status === status
    );
  });
  expect('models whose traffic split or aliases disagree with the outcome', inconsistent.length, 0);
  return rows;
}
