/**
 * Verifies a model's audit chain (migrations/010_audit_chain.sql): every event's hash recomputed from
 * its content and its predecessor's hash, every link present, and the chain's head (last event and
 * count, kept where the application's roles cannot write) matching what is left. An edited event, a
 * deleted one (first, middle or last) or a forged link is reported with its event ID.
 */
import type { Queryable } from './pool.js';

export interface AuditProblem {
  eventId: number;
  problem: string;
}

export interface AuditVerification {
  modelId: string;
  /** Events found in the chain. */
  events: number;
  /** Events the chain's head says were written. */
  recorded: number;
  ok: boolean;
  problems: AuditProblem[];
  /** The last event's hash: keep it outside the database to detect a rewrite of the whole chain. */
  headHash: string | null;
}

interface ChainRow {
  event_id: string;
  prev_event_id: string | null;
  prev_hash: string | null;
  hash: string;
  expected: string;
}

const PAGE = 10_000;

export async function verifyAuditChain(q: Queryable, modelId: string): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  const hashes = new Map<number, string>();
  const links: { eventId: number; prev: number | null; prevHash: string | null }[] = [];
  let after = 0;
  for (;;) {
    const { rows } = await q.query<ChainRow>(
      `SELECT event_id, prev_event_id, prev_hash, hash, audit_event_hash(prev_hash, a) AS expected
       FROM audit_events a WHERE chain_key = $1 AND event_id > $2 ORDER BY event_id LIMIT $3`,
      [modelId, after, PAGE],
    );
    for (const r of rows) {
      const eventId = Number(r.event_id);
      if (r.hash !== r.expected)
        problems.push({ eventId, problem: 'its content does not match its hash: the event was edited' });
      hashes.set(eventId, r.hash);
      links.push({
        eventId,
        prev: r.prev_event_id === null ? null : Number(r.prev_event_id),
        prevHash: r.prev_hash,
      });
    }
    if (rows.length < PAGE) break;
    after = Number(rows[rows.length - 1]!.event_id);
  }
  for (const l of links) {
    if (l.prev === null) {
      if (l.eventId !== links[0]?.eventId)
        problems.push({
          eventId: l.eventId,
          problem: 'it claims to start the chain, but earlier events exist',
        });
      continue;
    }
    const prevHash = hashes.get(l.prev);
    if (prevHash === undefined)
      problems.push({ eventId: l.eventId, problem: `the event before it (#${l.prev}) is missing: deleted` });
    else if (prevHash !== l.prevHash)
      problems.push({
        eventId: l.eventId,
        problem: `its link to #${l.prev} does not match that event's hash`,
      });
  }
  const first = links[0];
  if (first && first.prev !== null && !problems.some((p) => p.eventId === first.eventId))
    problems.push({
      eventId: first.eventId,
      problem: `the event before it (#${first.prev}) is missing: deleted`,
    });

  const { rows: heads } = await q.query<{ last_event_id: string; hash: string; events: string }>(
    'SELECT last_event_id, hash, events FROM audit_heads WHERE chain_key = $1',
    [modelId],
  );
  const head = heads[0];
  const recorded = head ? Number(head.events) : 0;
  if (head) {
    const lastId = Number(head.last_event_id);
    if (hashes.get(lastId) !== head.hash)
      problems.push({
        eventId: lastId,
        problem: hashes.has(lastId)
          ? 'the last event does not match the hash the chain recorded for it'
          : 'the last event the chain recorded is missing: deleted',
      });
    if (links.some((l) => l.eventId > lastId))
      problems.push({
        eventId: links.find((l) => l.eventId > lastId)!.eventId,
        problem: 'it lies after the chain’s recorded last event: inserted outside the chain',
      });
  } else if (links.length > 0) {
    problems.push({ eventId: links[0]!.eventId, problem: 'the chain has events but no recorded head' });
  }
  if (links.length !== recorded && !problems.some((p) => /deleted/.test(p.problem)))
    problems.push({
      eventId: head ? Number(head.last_event_id) : 0,
      problem: `the chain recorded ${recorded} events and ${links.length} remain`,
    });
  return {
    modelId,
    events: links.length,
    recorded,
    ok: problems.length === 0,
    problems: problems.sort((a, b) => a.eventId - b.eventId),
    headHash: head?.hash ?? null,
  };
}
