import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export function createPool(url: string, max = 5): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client's error (e.g. the server restarting) must not crash the process; the next query retries.
  pool.on('error', () => undefined);
  // Nor a checked-out client's: Postgres can end the connection between two statements of a transaction,
  // when no query is active to fail, and pg then emits 'error' on a client the pool does not listen to while
  // it is lent out. The next statement fails instead, and release() drops the dead client.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Runs `fn` in a transaction on one client, committing on success and always releasing the client. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const migrationsDir = fileURLToPath(new URL('../migrations/', import.meta.url));
// Any fixed number works; it only has to be the same for every Remedy process sharing the database.
const MIGRATION_LOCK = 4_242_001;
const CREATE_MIGRATIONS_TABLE =
  'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())';

/**
 * Migrations are pending and the connected role may not apply them (SQLSTATE 42501: a least-privilege
 * role such as remedy_app or remedy_gateway of docs/database-roles.md). Nothing was changed.
 */
export class PendingMigrationsError extends Error {
  override readonly name = 'PendingMigrationsError';
  readonly code = '42501';

  constructor(
    readonly pending: string[],
    readonly role: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const one = pending.length === 1;
    const them = one ? 'it' : 'them';
    super(
      `${pending.length} database migration${one ? ' is' : 's are'} pending (${pending.join(', ')}) ` +
        `and role "${role}" may not apply ${them} (${reason}). Nothing was changed. ` +
        `Apply ${them} as the role that owns the schema (remedy_owner in docs/database-roles.md), e.g. start ` +
        "the worker once with the owner's DATABASE_URL, then start this process again.",
      { cause },
    );
  }
}

const isPermissionDenied = (err: unknown): boolean => (err as { code?: unknown }).code === '42501';

/** The migrations recorded in `schema_migrations`, or null when the table does not exist yet. */
async function recorded(db: Queryable): Promise<Set<string> | null> {
  const { rows } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (!rows[0]!.present) return null;
  const done = await db.query<{ name: string }>('SELECT name FROM schema_migrations');
  return new Set(done.rows.map((r) => r.name));
}

/**
 * Applies pending SQL migrations in order, once, even when several processes start together.
 *
 * When `schema_migrations` exists and records every migration file, it only reads (no DDL, no lock), so a
 * role without rights on the schema can run it. Otherwise it takes an advisory lock for the transaction,
 * looks again, and applies what is still pending; a role that may not do so gets a PendingMigrationsError
 * naming the pending files, with everything rolled back.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
  const pendingIn = (done: Set<string> | null) => files.filter((f) => !done?.has(f));
  const role = async (): Promise<string> =>
    (await pool.query<{ role: string }>('SELECT current_user AS role')).rows[0]!.role;

  let pending: string[];
  try {
    pending = pendingIn(await recorded(pool));
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    const who = await role();
    throw new Error(
      `role "${who}" may not read schema_migrations, so it cannot tell whether the database is migrated ` +
        `(${(err as Error).message}). Grant it SELECT on schema_migrations (docs/database-roles.md, step 5).`,
      { cause: err },
    );
  }
  if (pending.length === 0) return [];

  try {
    return await withTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      // Another process may have migrated while this one waited for the lock.
      const done = await recorded(client);
      pending = pendingIn(done);
      if (pending.length === 0) return [];
      if (done === null) await client.query(CREATE_MIGRATIONS_TABLE);
      const applied: string[] = [];
      for (const file of pending) {
        await client.query(await readFile(path.join(migrationsDir, file), 'utf8'));
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        applied.push(file);
      }
      return applied;
    });
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    throw new PendingMigrationsError(pending, await role(), err);
  }
}
