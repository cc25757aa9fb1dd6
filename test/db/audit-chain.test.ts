/**
 * The tamper-evident audit trail against a real Postgres: events chained per model as they are written
 * (retries included), UPDATE/DELETE/TRUNCATE refused, and the verification finding an edited event, a
 * deleted one in the middle and a deleted last one — the edits made as a superuser with the triggers
 * off, as someone with full access to the database would.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../db/audit-chain.js';
import * as db from '../../db/index.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;

beforeAll(async () => {
  ({ pool } = await freshDatabase('audit'));
});
afterAll(async () => {
  await pool?.end();
});

async function writeEvents(modelId: string, n: number): Promise<number[]> {
  for (let i = 1; i <= n; i++) {
    const e = {
      key: `${modelId}:e${i}`,
      cycleId: `${modelId}-c1`,
      modelId,
      actor: i % 2 ? 'remedy' : 'alice',
      action: `step.${i}`,
      details: { i, note: 'ünïcode ok' },
    };
    await db.audit(pool, e);
    await db.audit(pool, e); // an activity's retry: no second event, and the chain stays whole
  }
  const { rows } = await pool.query<{ event_id: string }>(
    'SELECT event_id FROM audit_events WHERE model_id = $1 ORDER BY event_id',
    [modelId],
  );
  return rows.map((r) => Number(r.event_id));
}

/** Runs statements with triggers off: what a superuser could do to the table. */
async function tamper(...statements: string[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SET session_replication_role = replica');
    for (const s of statements) await client.query(s);
  } finally {
    await client.query('RESET session_replication_role');
    client.release();
  }
}

describe('the audit chain', () => {
  it('given events written with retries for two models, then each chain verifies whole', async () => {
    await writeEvents('chain-a', 6);
    await writeEvents('chain-b', 3);
    const a = await verifyAuditChain(pool, 'chain-a');
    expect(a).toMatchObject({ ok: true, events: 6, recorded: 6, problems: [] });
    expect(a.headHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifyAuditChain(pool, 'chain-b')).toMatchObject({ ok: true, events: 3 });
  });

  it('given an UPDATE, a DELETE or a TRUNCATE of audit_events, then Postgres refuses it', async () => {
    await writeEvents('chain-c', 2);
    for (const sql of [
      "UPDATE audit_events SET actor = 'mallory' WHERE model_id = 'chain-c'",
      "DELETE FROM audit_events WHERE model_id = 'chain-c'",
      'TRUNCATE audit_events',
    ])
      await expect(pool.query(sql)).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('audit_events is append-only') as string,
      });
    expect(await verifyAuditChain(pool, 'chain-c')).toMatchObject({ ok: true, events: 2 });
  });

  it('given an event edited behind the triggers, then verify names that event', async () => {
    const ids = await writeEvents('chain-d', 5);
    await tamper(`UPDATE audit_events SET actor = 'mallory' WHERE event_id = ${ids[2]}`);
    const v = await verifyAuditChain(pool, 'chain-d');
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      { eventId: ids[2], problem: 'its content does not match its hash: the event was edited' },
    ]);
  });

  it('given an event deleted from the middle, then verify names the gap', async () => {
    const ids = await writeEvents('chain-e', 5);
    await tamper(`DELETE FROM audit_events WHERE event_id = ${ids[1]}`);
    const v = await verifyAuditChain(pool, 'chain-e');
    expect(v).toMatchObject({ ok: false, events: 4, recorded: 5 });
    expect(v.problems).toEqual([
      { eventId: ids[2], problem: `the event before it (#${ids[1]}) is missing: deleted` },
    ]);
  });

  it('given the last event deleted, then verify says the chain lost its end', async () => {
    const ids = await writeEvents('chain-f', 4);
    await tamper(`DELETE FROM audit_events WHERE event_id = ${ids[3]}`);
    const v = await verifyAuditChain(pool, 'chain-f');
    expect(v).toMatchObject({ ok: false, events: 3, recorded: 4 });
    expect(v.problems).toEqual([
      { eventId: ids[3], problem: 'the last event the chain recorded is missing: deleted' },
    ]);
  });

  it('given the first event deleted, then verify names the gap at the start', async () => {
    const ids = await writeEvents('chain-g', 3);
    await tamper(`DELETE FROM audit_events WHERE event_id = ${ids[0]}`);
    const v = await verifyAuditChain(pool, 'chain-g');
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      { eventId: ids[1], problem: `the event before it (#${ids[0]}) is missing: deleted` },
    ]);
  });
});
