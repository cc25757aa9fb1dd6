/**
 * The least-privilege roles of docs/database-roles.md, applied from the page itself: its SQL blocks are
 * read, given unique role and database names (roles are shared by every database of the server, and test
 * files run in parallel), and run in order on a fresh database; then each role is put to work with the
 * application's own queries and refused what it must not do. A change to the page is a change to this test.
 *
 * It needs the integration project's Postgres (`inject('databaseUrl')`); anywhere else it is skipped.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { windowReport } from '../../activities/drift.js';
import { createLabelingActivities } from '../../activities/labeling.js';
import { ingestRecords, registerModelWithChampion } from '../../ops/setup.js';
import { loadWeather, weatherModel, type WeatherRow } from '../../dev/weather.js';
import { diagnose } from '../../core/policy.js';
import { verifyAuditChain } from '../../db/audit-chain.js';
import { createPool, migrate, PendingMigrationsError, withTransaction } from '../../db/pool.js';
import * as db from '../../db/index.js';
import { addApiClient } from '../../gateway/auth.js';
import { startGateway, type Gateway } from '../../gateway/server.js';
import { projectRoot } from '../../infra/paths.js';
import { createDatabase } from '../../infra/postgres.js';

const serverUrl = inject('databaseUrl') as string | undefined;
const DOC = path.join(projectRoot, 'docs', 'database-roles.md');
const MIGRATIONS = readdirSync(path.join(projectRoot, 'migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();
const ROLES = ['owner', 'app', 'gateway', 'reader'] as const;
type Role = (typeof ROLES)[number];

// ---------------------------------------------------------------------------------------------------
// Reading the page
// ---------------------------------------------------------------------------------------------------

interface Step {
  step: string;
  as: 'a superuser' | 'remedy_owner';
  where: 'any database' | 'the remedy database';
  sql: string;
}

const HEADER = /^-- step (\w+): as (a superuser|remedy_owner), in (any database|the remedy database)\s*$/;

function docSteps(): Map<string, Step> {
  const steps = new Map<string, Step>();
  for (const [, body] of readFileSync(DOC, 'utf8').matchAll(/^```sql\n([\s\S]*?)^```$/gm)) {
    const header = HEADER.exec(body!.split('\n')[0]!);
    if (!header) throw new Error(`an SQL block of ${DOC} does not start with "-- step …: as …, in …"`);
    steps.set(header[1]!, {
      step: header[1]!,
      as: header[2] as Step['as'],
      where: header[3] as Step['where'],
      sql: body!,
    });
  }
  return steps;
}

/** The statements of a block one by one, as psql sends them (quotes, dollar quotes and comments kept whole). */
function statements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < sql.length;) {
    const rest = sql.slice(i);
    const dollar = /^\$\w*\$/.exec(rest);
    let token: string;
    const newline = rest.indexOf('\n');
    if (rest.startsWith('--')) token = newline === -1 ? rest : rest.slice(0, newline);
    else if (rest[0] === "'") token = /^'(?:[^']|'')*'/.exec(rest)![0];
    else if (dollar) token = rest.slice(0, rest.indexOf(dollar[0], dollar[0].length) + dollar[0].length);
    else token = rest[0]!;
    i += token.length;
    if (token === ';') {
      if (current.replace(/--.*$/gm, '').trim()) out.push(current.trim());
      current = '';
    } else current += token;
  }
  if (current.replace(/--.*$/gm, '').trim()) out.push(current.trim());
  return out;
}

/** One set of roles and one database, named apart from every other run and file. */
class Names {
  readonly suffix = randomBytes(4).toString('hex');
  readonly passwords = new Map<string, string>();
  constructor(readonly database: string) {}

  role(r: Role): string {
    return `remedy_${r}_${this.suffix}`;
  }

  /** The page's SQL with this run's names and fresh passwords; refuses a block the renaming missed. */
  apply(sql: string): string {
    const out = sql
      .replace(/\bremedy_(owner|app|gateway|reader)\b/g, (_m, r: Role) => this.role(r))
      .replace(/\bDATABASE remedy\b/g, `DATABASE ${this.database}`)
      .replace(/\bCREATE ROLE (\w+) LOGIN PASSWORD '[^']*'/g, (_m, role: string) => {
        const password = randomBytes(12).toString('hex');
        this.passwords.set(role, password);
        return `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`;
      });
    const code = out.replace(/--.*$/gm, '').replace(/'(?:[^']|'')*'/g, "''");
    // Any other mention of the production names would act on a real database or role of this server.
    expect(code).not.toMatch(/\bremedy\b|\bremedy_(owner|app|gateway|reader)\b/);
    return out;
  }
}

const urlWith = (base: string, change: { user?: string; password?: string; database?: string }): string => {
  const url = new URL(base);
  if (change.user !== undefined) url.username = change.user;
  if (change.password !== undefined) url.password = change.password;
  if (change.database !== undefined) url.pathname = `/${change.database}`;
  return url.toString();
};

async function runAs(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements(sql)) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Runs one step of the page where its header says, as whom it says. */
async function runStep(step: Step, names: Names, server: string): Promise<void> {
  const sql = names.apply(step.sql);
  const database = step.where === 'the remedy database' ? names.database : undefined;
  const url =
    step.as === 'a superuser'
      ? urlWith(server, database ? { database } : {})
      : urlWith(server, {
          user: names.role('owner'),
          password: names.passwords.get(names.role('owner'))!,
          database: names.database,
        });
  await runAs(url, sql);
}

const poolAs = (server: string, names: Names, r: Role, max = 4): pg.Pool =>
  createPool(
    urlWith(server, {
      user: names.role(r),
      password: names.passwords.get(names.role(r))!,
      database: names.database,
    }),
    max,
  );

/** Postgres's refusal: insufficient_privilege, whatever the wording. */
async function expectRefused(pool: pg.Pool, sql: string): Promise<void> {
  const err = await pool.query(sql).then(
    () => null,
    (e: unknown) => e as { code?: string; message?: string },
  );
  expect(err, `expected Postgres to refuse: ${sql}`).not.toBeNull();
  expect({ sql, code: err!.code }).toEqual({ sql, code: '42501' });
  expect(err!.message).toMatch(/permission denied|must be owner/);
}

const publicTables = async (pool: pg.Pool): Promise<string[]> =>
  (
    await pool.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
  ).rows.map((r) => r.tablename);

/** What a migration could change: the recorded migrations, the tables and their columns, indexes and owners. */
async function schemaSnapshot(pool: pg.Pool): Promise<unknown> {
  const query = async (sql: string) => (await pool.query<Record<string, unknown>>(sql)).rows;
  return {
    migrations: await query('SELECT name, applied_at FROM schema_migrations ORDER BY name'),
    tables: await query(
      "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    ),
    columns: await query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, column_name`,
    ),
    indexes: await query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"),
  };
}

/** migrate()'s refusal for a role that may not migrate: which files, and what to do instead. */
function expectPendingError(error: unknown, pending: string[], role: string): void {
  expect(error).toBeInstanceOf(PendingMigrationsError);
  const err = error as PendingMigrationsError;
  expect({ pending: err.pending, role: err.role, code: err.code }).toEqual({ pending, role, code: '42501' });
  expect((err.cause as { code?: string }).code).toBe('42501');
  for (const file of pending) expect(err.message).toContain(file);
  expect(err.message).toContain(`role "${role}" may not apply`);
  expect(err.message).toContain('Nothing was changed');
  expect(err.message).toContain("start the worker once with the owner's DATABASE_URL");
}

// ---------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------

describe.skipIf(!serverUrl)('database roles of docs/database-roles.md (integration project)', () => {
  const server = serverUrl!;
  const steps = docSteps();
  const step = (id: string): Step => {
    const s = steps.get(id);
    if (!s) throw new Error(`${DOC} has no "-- step ${id}" block`);
    return s;
  };
  const fresh = new Names(`roles_${randomBytes(4).toString('hex')}`);
  let existing: Names | undefined;
  const pools: pg.Pool[] = [];
  const open = (r: Role, names = fresh): pg.Pool => {
    const pool = poolAs(server, names, r);
    pools.push(pool);
    return pool;
  };
  let owner: pg.Pool;
  let app: pg.Pool;
  let gateway: pg.Pool;
  let reader: pg.Pool;
  let applied: string[];
  let appBeforeOwner: { error: unknown; tables: string[] };
  let weather: WeatherRow[];
  let keep = true; // left behind for inspection unless every test passes
  const modelId = 'roles-weather';

  beforeAll(async () => {
    await runStep(step('1'), fresh, server);
    await runStep(step('2a'), fresh, server);
    await runStep(step('3'), fresh, server);
    owner = open('owner');
    // The worker started as remedy_app before anyone migrated: every migration is pending.
    app = open('app');
    appBeforeOwner = {
      error: await migrate(app).then(
        () => null,
        (e: unknown) => e,
      ),
      tables: await publicTables(owner),
    };
    applied = await migrate(owner);
    await runStep(step('5'), fresh, server);
    gateway = open('gateway');
    reader = open('reader');

    // The registration `npm run dev` does, as remedy_app: a champion trained on 2012, and January 2013 as
    // production traffic, served (predictions and failure cases logged), a third with feedback.
    weather = await loadWeather();
    await registerModelWithChampion(
      app,
      weatherModel(modelId),
      weather.filter((r) => r.date < '2013-01-01'),
    );
    const early2013 = weather.filter((r) => r.date >= '2013-01-01' && r.date < '2013-02-01');
    await ingestRecords(
      app,
      modelId,
      early2013.map((r, i) => ({ ...r, feedback: i % 3 === 0 ? r.label : null })),
      '2013-02-01',
    );
    keep = false;
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') keep = true;
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    if (keep) return;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    try {
      for (const names of [fresh, existing]) {
        if (!names) continue;
        await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(names.database)} WITH (FORCE)`);
        for (const r of ROLES)
          await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(names.role(r))}`);
      }
    } finally {
      await admin.end();
    }
  });

  it('given the page, then it has every step this test runs, each saying as whom and where', () => {
    expect([...steps.keys()]).toEqual(['1', '2a', '2b', '3', '5']);
    expect(step('1').as).toBe('a superuser');
    expect(step('5').as).toBe('remedy_owner');
  });

  it('given a new database, when remedy_owner runs the migrations, then it applies them all and owns every table', async () => {
    expect(applied).toEqual(MIGRATIONS);
    const { rows } = await owner.query<{ tableowner: string; n: string }>(
      "SELECT tableowner, count(*) AS n FROM pg_tables WHERE schemaname = 'public' GROUP BY tableowner",
    );
    expect(rows.map((r) => r.tableowner)).toEqual([fresh.role('owner')]);
  });

  it("given remedy_app, when the worker's and the CLI's queries run, then it reads and writes what they need", async () => {
    // The registry and the prediction log written in beforeAll, read back.
    expect((await db.getModel(app, modelId))?.labelSet).toEqual(['drizzle', 'fog', 'rain', 'snow', 'sun']);
    expect(await db.getAlias(app, modelId, 'champion')).toBe(1);
    expect(await db.getTraffic(app, modelId)).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    const key = 'seattle:2013-01-02';
    const served = await db.servedRequest(app, modelId, key);
    expect(served?.version).toBe(1);
    expect((await db.recordFeedback(app, modelId, key, 'rain'))?.label).toMatch(/^[a-z]+$/);
    const stats = await db.armStatsSince(app, modelId, '2000-01-01T00:00:00Z', [1]);
    expect(stats.get(1)?.served).toBe(62);

    // A drift check over January 2013 (the monitor's path) and its row.
    const model = (await db.getModel(app, modelId))!;
    const window = { start: '2013-01-01T00:00:00Z', end: '2013-02-01T00:00:00Z' };
    const report = await windowReport(app, {
      modelId,
      championVersion: 1,
      window,
      policy: model.policy.drift,
      maxRows: 1000,
    });
    await withTransaction(app, (client) =>
      db.insertDriftCheck(client, {
        checkKey: 'roles-check-1',
        modelId,
        referenceVersion: 1,
        window,
        report,
        diagnosis: diagnose(report, model.policy.drift),
        actionable: false,
        persistence: 3,
      }),
    );
    expect((await db.listDriftChecks(app, modelId)).map((c) => c.checkKey)).toEqual(['roles-check-1']);

    // A cycle reserved by a trigger, a collected dataset, a labeling campaign and one person's label.
    const { cycleId, started } = await db.reserveCycle(app, {
      triggerKey: 'roles-trigger-1',
      modelId,
      kind: 'manual',
      evidence: {},
    });
    expect({ cycleId, started }).toEqual({ cycleId: `remediation-${modelId}-1`, started: true });
    const january = weather.filter((r) => r.date >= '2013-01-01' && r.date < '2013-02-01');
    const { datasetId } = await withTransaction(app, (client) =>
      db.insertDatasetVersion(client, {
        modelId,
        idempotencyKey: `${cycleId}:collected`,
        parentId: null,
        kind: 'collected',
        cycleId,
        windowStart: window.start,
        windowEnd: window.end,
        samplingPlan: {},
        contentHash: 'roles-test',
        rows: january.map((r) => ({ ...r, label: null, labelSource: null, split: 'train' as const })),
      }),
    );
    const campaignId = `${cycleId}-labeling`;
    const labeling = createLabelingActivities({ pool: app });
    const inActivity = <R>(fn: () => Promise<R>): Promise<R> => new MockActivityEnvironment().run(fn);
    const opened = await inActivity(() =>
      labeling.openLabelTasks({ campaignId, modelId, datasetId, championVersion: 1, budget: 3 }),
    );
    expect(opened.items).toHaveLength(3);
    const item = opened.items[0]!.recordKey;
    const first = { campaignId, recordKey: item, label: 'rain', reviewer: 'alice', via: 'cli' };
    expect(await inActivity(() => labeling.recordLabel(first))).toEqual({
      label: 'rain',
      reviewer: 'alice',
      duplicate: false,
    });
    expect(await inActivity(() => labeling.recordLabel({ ...first, label: 'sun', reviewer: 'bob' }))).toEqual(
      {
        label: 'rain',
        reviewer: 'alice',
        duplicate: true,
      },
    );
    await inActivity(() =>
      labeling.notify({
        eventKey: `${campaignId}:reminder`,
        campaignId,
        kind: 'reminder',
        recipients: ['alice'],
        message: 'labels due soon',
      }),
    );

    // The CLI's monitor commands, and the rollout's alias moves (including a DELETE).
    await db.upsertMonitor(app, { modelId, mode: 'cursor', windowMs: 86_400_000, start: window.start });
    await db.advanceMonitor(app, modelId, window.end);
    expect((await db.getMonitor(app, modelId))?.nextStart).toBe('2013-02-01T00:00:00.000Z');
    await db.deleteMonitor(app, modelId);
    expect(await db.getMonitor(app, modelId)).toBeNull();
    await db.setAlias(app, modelId, 'candidate', 1);
    await db.clearAlias(app, modelId, 'candidate');
    expect(await db.getAlias(app, modelId, 'candidate')).toBeNull();
    expect((await db.failurePatterns(app, modelId)).length).toBeGreaterThan(0);
  });

  it('given remedy_app, when it tries to change the schema, then Postgres refuses', async () => {
    await expectRefused(app, 'DROP TABLE records');
    await expectRefused(app, 'CREATE TABLE roles_probe (id int)');
    await expectRefused(app, 'CREATE TEMPORARY TABLE roles_probe (id int)');
    await expectRefused(app, 'TRUNCATE records');
    await expectRefused(app, 'ALTER TABLE records ADD COLUMN probe int');
    await expectRefused(app, "DELETE FROM schema_migrations WHERE name = '001_init.sql'");
  });

  it('given remedy_app, when it records audit events, then they chain, and it can neither rewrite them nor the chain heads', async () => {
    await db.audit(app, { key: 'roles:audit:1', modelId: 'roles-audit', actor: 'remedy', action: 'a.one' });
    await db.audit(app, { key: 'roles:audit:2', modelId: 'roles-audit', actor: 'alice', action: 'a.two' });
    expect(await verifyAuditChain(app, 'roles-audit')).toMatchObject({ ok: true, events: 2, recorded: 2 });
    await expectRefused(app, "UPDATE audit_events SET actor = 'mallory' WHERE model_id = 'roles-audit'");
    await expectRefused(app, "DELETE FROM audit_events WHERE model_id = 'roles-audit'");
    await expectRefused(app, 'TRUNCATE audit_events');
    await expectRefused(app, "UPDATE audit_heads SET events = 1 WHERE chain_key = 'roles-audit'");
    await expectRefused(app, "DELETE FROM audit_heads WHERE chain_key = 'roles-audit'");
    expect(await verifyAuditChain(app, 'roles-audit')).toMatchObject({ ok: true, events: 2 });
  });

  it("given a migrated database, when the worker's and the gateway's start-up migrate() runs as remedy_app and remedy_gateway, then it applies nothing and succeeds", async () => {
    expect(await migrate(app)).toEqual([]);
    expect(await migrate(gateway)).toEqual([]);
  });

  it('given a new database, when remedy_app runs migrate() before remedy_owner did, then it names every migration, says to run them as the owner, and creates nothing', () => {
    expect(appBeforeOwner.tables).toEqual([]);
    expectPendingError(appBeforeOwner.error, MIGRATIONS, fresh.role('app'));
  });

  it('given a migration remedy_owner has not applied, when remedy_app or remedy_gateway runs migrate(), then it names it, says to run it as the owner, and changes nothing', async () => {
    // The database as a new release finds it: everything but the newest migration recorded.
    const newest = MIGRATIONS.at(-1)!;
    const { rows: removed } = await owner.query<{ name: string; applied_at: Date }>(
      'DELETE FROM schema_migrations WHERE name = $1 RETURNING name, applied_at',
      [newest],
    );
    expect(removed).toHaveLength(1);
    try {
      const before = await schemaSnapshot(owner);
      for (const [pool, r] of [
        [app, 'app'],
        [gateway, 'gateway'],
      ] as const) {
        const error = await migrate(pool).then(
          () => null,
          (e: unknown) => e,
        );
        expectPendingError(error, [newest], fresh.role(r));
        expect(await schemaSnapshot(owner)).toEqual(before);
      }
    } finally {
      await owner.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [
        removed[0]!.name,
        removed[0]!.applied_at,
      ]);
    }
    expect(await migrate(app)).toEqual([]);
  });

  it('given remedy_gateway, when the gateway serves a prediction, feedback, a correction and /metrics, then each succeeds', async () => {
    let http: Gateway | undefined;
    // The worker's role adds the client (`remedy clients add`); the gateway's role only checks keys.
    const key = await addApiClient(app, 'roles-client');
    try {
      http = await startGateway(gateway, { auth: 'required' });
      const post = async (route: string, body: unknown) => {
        const res = await fetch(`${http!.url}/v1/models/${modelId}/${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify(body),
        });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      };
      const features = weather.find((r) => r.date === '2015-03-01')!.features;
      const first = await post('predict', { requestId: 'roles-r1', features });
      expect(first).toMatchObject({ status: 200, json: { requestId: 'roles-r1', version: 1 } });
      expect(await post('feedback', { requestId: 'roles-r1', label: 'rain' })).toMatchObject({
        status: 200,
        json: { duplicate: false },
      });
      const second = await post('predict', { requestId: 'roles-r2', features });
      const other = ['drizzle', 'fog', 'rain', 'snow', 'sun'].find((l) => l !== second.json.label)!;
      expect(await post('corrections', { requestId: 'roles-r2', label: other, by: 'carol' })).toEqual({
        status: 200,
        json: { requestId: 'roles-r2', label: other, flagged: true },
      });
      const metrics = await fetch(`${http.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain(`remedy_failure_cases{model="${modelId}"`);
    } finally {
      await http?.close();
    }
    const { rows } = await owner.query<{ record_key: string; feedback_client: string | null }>(
      "SELECT record_key, feedback_client FROM records WHERE record_key IN ('roles-r1', 'roles-r2') ORDER BY 1",
    );
    expect(rows).toEqual([
      { record_key: 'roles-r1', feedback_client: 'roles-client' },
      { record_key: 'roles-r2', feedback_client: 'roles-client' },
    ]);
  });

  it('given remedy_gateway, when it writes outside serving or changes the schema, then Postgres refuses', async () => {
    await expectRefused(gateway, `UPDATE traffic_weights SET candidate_weight = 100`);
    await expectRefused(gateway, `DELETE FROM records`);
    await expectRefused(gateway, `UPDATE records SET features = '{}'::jsonb`);
    await expectRefused(gateway, `INSERT INTO api_clients (client_id, key_hash) VALUES ('mallory', 'x')`);
    await expectRefused(gateway, `UPDATE api_clients SET revoked_at = NULL`);
    await expectRefused(
      gateway,
      `INSERT INTO labels (campaign_id, record_key, label, reviewer, source)
      VALUES ('c', 'k', 'rain', 'mallory', 'human')`,
    );
    await expectRefused(gateway, 'SELECT count(*) FROM labels');
    await expectRefused(gateway, 'DROP TABLE predictions');
    await expectRefused(gateway, 'TRUNCATE predictions');
    await expectRefused(gateway, 'CREATE TABLE roles_probe (id int)');
    await expectRefused(gateway, 'ALTER TABLE predictions ADD COLUMN probe int');
  });

  it('given remedy_reader, then it reads every table and writes none', async () => {
    const { rows } = await owner.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    for (const { tablename } of rows) await reader.query(`SELECT count(*) FROM ${tablename}`);
    await expectRefused(reader, `UPDATE models SET policy = '{}'::jsonb`);
    await expectRefused(reader, `DELETE FROM audit_events`);
    await expectRefused(reader, 'DROP TABLE audit_events');
  });

  it('given a database a superuser migrated, when steps 1, 2b, 3 and 5 run, then remedy_owner owns it and remedy_app works in it', async () => {
    const database = `roles_existing_${randomBytes(4).toString('hex')}`;
    const url = await createDatabase(server, database);
    const before = createPool(url, 1);
    try {
      expect((await migrate(before)).length).toBeGreaterThan(0);
    } finally {
      await before.end();
    }
    existing = new Names(database);
    await runStep(step('1'), existing, server);
    await runStep(step('2b'), existing, server);
    await runStep(step('3'), existing, server);
    const existingOwner = open('owner', existing);
    expect(await migrate(existingOwner)).toEqual([]);
    await runStep(step('5'), existing, server);

    const { rows } = await existingOwner.query<{ tableowner: string }>(
      "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
    );
    expect(rows.map((r) => r.tableowner)).toEqual([existing.role('owner')]);
    const functions = await existingOwner.query<{ owner: string }>(
      `SELECT DISTINCT pg_get_userbyid(p.proowner) AS owner FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`,
    );
    expect(functions.rows.map((r) => r.owner)).toEqual([existing.role('owner')]);
    const existingApp = open('app', existing);
    expect(await migrate(existingApp)).toEqual([]);
    expect(await migrate(open('gateway', existing))).toEqual([]);
    await db.upsertModel(existingApp, weatherModel('roles-existing'));
    expect(await db.insertRecords(existingApp, 'roles-existing', [weather[0]!])).toBe(1);
    expect(
      (await db.recordsInWindow(existingApp, 'roles-existing', '2012-01-01', '2013-01-01', 10)).length,
    ).toBe(1);
    await expectRefused(existingApp, 'DROP TABLE records');
    await expectRefused(existingApp, 'CREATE TABLE roles_probe (id int)');
  });
});
