/**
 * What the fault run finds in Postgres afterwards: counts that show whether any effect happened twice
 * (dataset versions, registry rows, rollbacks, labels, audit events, the traffic split).
 */
import type pg from 'pg';
import * as db from '../db/index.js';
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
  const rows: CountRow[] = [];
  const expect = (check: string, found: number, expected: number) =>
    rows.push({ check, found, expected, ok: found === expected });

  const closed = await db.cycleClosures(pool, ids);
  expect(
    'cycles closed with an accepted outcome',
    closed.filter((r) => r.closed && ACCEPTED_OUTCOMES.includes(r.outcome as Outcome)).length,
    n,
  );
  expect(
    'cycles left open (closed_at is null)',
    closed.filter((r) => !r.closed).length + (n - closed.length),
    0,
  );

  for (const kind of ['collected', 'labeled'] as const) {
    const perCycle = await db.datasetVersionsPerCycle(pool, ids, kind);
    expect(
      `dataset versions (${kind})`,
      perCycle.reduce((s, r) => s + Number(r.n), 0),
      n,
    );
    expect(`  cycles with more than one ${kind} version`, perCycle.filter((r) => Number(r.n) > 1).length, 0);
  }
  const versions = await db.modelVersionsPerCycle(pool, ids);
  expect(
    'registry rows (model_versions) of candidates',
    versions.reduce((s, r) => s + Number(r.n), 0),
    n,
  );
  expect('  cycles with more than one registry row', versions.filter((r) => Number(r.n) > 1).length, 0);

  const rolledBack = closed.filter((r) => r.outcome === 'rolled-back').map((r) => r.cycle_id);
  const rollbacks = await db.rollbacksPerCycle(pool, ids);
  expect(
    "rollbacks ('rollout.rolled_back' events)",
    rollbacks.reduce((s, r) => s + Number(r.n), 0),
    rolledBack.length,
  );
  expect('  cycles with more than one rollback', rollbacks.filter((r) => Number(r.n) > 1).length, 0);

  // What each campaign counted as answered (its result, in the cycle's summary) against what is stored.
  const answered = tracked.reduce((sum, c) => {
    const label = c.summary?.stages.find((st) => st.stage === 'label')?.summary;
    return sum + Number(label?.answered ?? 0);
  }, 0);
  expect(
    "people's labels stored (the campaigns counted)",
    await db.humanLabelCount(pool, campaigns),
    answered,
  );
  // The primary key (campaign_id, record_key) makes this impossible; counted so a schema change shows.
  expect('  items labeled more than once (primary key)', await db.itemsLabeledTwice(pool, campaigns), 0);
  for (const action of [
    'cycle.opened',
    'cycle.closed',
    'rollout.approved',
    'rollout.promoted',
    'candidate.rejected',
  ]) {
    expect(
      `cycles with more than one '${action}' event`,
      await db.cyclesWithRepeatedAudit(pool, ids, action),
      0,
    );
  }

  // The serving split after the outcome: promoted → the candidate serves everything; rolled back or
  // rejected → the old champion does; no candidate share left either way. The aliases agree.
  const state = await db.servingStateOfCycles(pool, ids);
  const before = new Map(tracked.map((c) => [c.cycleId, c.prepared.champion.version]));
  const inconsistent = state.filter((r) => {
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
