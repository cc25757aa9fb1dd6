/**
 * Server administration: statements run on the Postgres server rather than inside Remedy's database.
 * (The schema's migrations run from db/pool.ts.)
 */
import type pg from 'pg';

/** Creates database `name` unless it exists. Safe to call concurrently for the same name. */
export async function createDatabaseIfMissing(
  client: Pick<pg.Client, 'query' | 'escapeIdentifier'>,
  name: string,
): Promise<void> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
  if (rowCount) return;
  try {
    await client.query(`create database ${client.escapeIdentifier(name)}`);
  } catch (err) {
    // 42P04 duplicate_database, or 23505 when a concurrent CREATE DATABASE won the race.
    const code = (err as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw err;
  }
}

/** How many client connections to the cluster other than this one are open (any database, any process). */
export async function otherClientConnections(client: Pick<pg.Client, 'query'>): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `select count(*) as n from pg_stat_activity
     where backend_type = 'client backend' and pid <> pg_backend_pid()`,
  );
  return Number(rows[0]!.n);
}
