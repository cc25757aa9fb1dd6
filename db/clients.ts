/**
 * The gateway's API clients (migrations/013_gateway_clients.sql): who may write feedback and corrections.
 * Keys are never stored, only their SHA-256. Also the LISTEN the gateway's caches are invalidated by.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import type pg from 'pg';
import { type Queryable } from './pool.js';

export interface ApiClientRow {
  clientId: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Adds a client with its key's hash; false when a client of that name exists already (revoked or not). */
export async function insertApiClient(q: Queryable, clientId: string, keyHash: string): Promise<boolean> {
  const res = await q.query(
    'INSERT INTO api_clients (client_id, key_hash) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING',
    [clientId, keyHash],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Gives a client a new key (the old one stops working) and un-revokes it; creates it when missing. */
export async function rekeyApiClient(q: Queryable, clientId: string, keyHash: string): Promise<void> {
  await q.query(
    `INSERT INTO api_clients (client_id, key_hash) VALUES ($1, $2)
     ON CONFLICT (client_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, revoked_at = NULL`,
    [clientId, keyHash],
  );
}

export async function listApiClients(q: Queryable): Promise<ApiClientRow[]> {
  const { rows } = await q.query<{ client_id: string; created_at: Date; revoked_at: Date | null }>(
    'SELECT client_id, created_at, revoked_at FROM api_clients ORDER BY client_id',
  );
  return rows.map((r) => ({ clientId: r.client_id, createdAt: r.created_at, revokedAt: r.revoked_at }));
}

/** Revokes a client; null when there is no such client, else when it was revoked (now or before). */
export async function revokeApiClient(q: Queryable, clientId: string): Promise<Date | null> {
  const { rows } = await q.query<{ revoked_at: Date }>(
    `UPDATE api_clients SET revoked_at = COALESCE(revoked_at, now()) WHERE client_id = $1 RETURNING revoked_at`,
    [clientId],
  );
  return rows[0]?.revoked_at ?? null;
}

/** The client a key hash belongs to, with whether it is revoked; null for an unknown key. */
export async function apiClientByKeyHash(
  q: Queryable,
  keyHash: string,
): Promise<{ clientId: string; revoked: boolean } | null> {
  const { rows } = await q.query<{ client_id: string; revoked: boolean }>(
    'SELECT client_id, revoked_at IS NOT NULL AS revoked FROM api_clients WHERE key_hash = $1',
    [keyHash],
  );
  const r = rows[0];
  return r ? { clientId: r.client_id, revoked: r.revoked } : null;
}

/**
 * Subscribes a dedicated connection to the notifications the gateway's caches follow (sent by the
 * triggers of migrations/013_gateway_clients.sql): `remedy_traffic` and `remedy_clients`.
 */
export async function listenForChanges(client: pg.Client): Promise<void> {
  await client.query('LISTEN remedy_traffic');
  await client.query('LISTEN remedy_clients');
}
