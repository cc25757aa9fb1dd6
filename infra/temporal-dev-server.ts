/**
 * The Temporal dev server for local runs and tests: started from the CLI (or the SDK's download), on
 * free ports when the defaults are taken, with Remedy's namespace and search attributes, and stopped
 * with its process group. Finding or installing the CLI is infra/temporal-install.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import type * as Testing from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../core/search-attributes.js';
import { binDir, dataDir } from './paths.js';
import { canListen, freePort, LOCAL_HOST } from './ports.js';
import { findOnPath, lastLines, resolveTemporalCli, type Log } from './temporal-install.js';

export { SEARCH_ATTRIBUTES } from '../core/search-attributes.js';

export interface DevServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  uiUrl: string | null;
  namespace: string;
  stop(): Promise<void>;
  /** How the server was obtained: the CLI's source ('env', 'path', ...), 'existing' or 'sdk-download'. */
  source: string;
}

export interface DevServerOptions {
  /** SQLite file holding the server's state; default `<dataDir>/temporal.sqlite`. */
  dbFile?: string;
  /** Frontend gRPC port; default 7233, or a free port if that one is taken. */
  port?: number;
  /** Web UI port; default 8233, or a free port if that one is taken. */
  uiPort?: number;
  namespace?: string;
  log?: Log;
  /** Run without the Web UI. */
  headless?: boolean;
  /** Passed to resolveTemporalCli. */
  install?: boolean;
  /** How long to wait for the server to answer; default 30 s. */
  readyTimeoutMs?: number;
}

async function pickPort(wanted: number, what: string, log: Log, avoid: number[] = []): Promise<number> {
  if (!avoid.includes(wanted) && (await canListen(wanted))) return wanted;
  let port = await freePort();
  while (avoid.includes(port)) port = await freePort();
  log(`Port ${wanted} (${what}) is in use on ${LOCAL_HOST}; using ${port} instead.`);
  return port;
}

/** True when a Temporal frontend answers at `address` within `timeoutMs`. */
export async function probeTemporal(address: string, timeoutMs = 2000): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.withDeadline(Date.now() + timeoutMs, () =>
      connection!.workflowService.getSystemInfo({}),
    );
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

// IndexedValueType from temporal/api/enums/v1/common.proto; only Keyword is used today.
const INDEXED_VALUE_TYPE = { Keyword: 2 } as const;

/**
 * `start-dev --search-attribute` only registers attributes for namespaces it creates during that launch,
 * so a namespace persisted by an older run never learns attributes added since. Register what is missing.
 */
/**
 * Registers every Remedy search attribute without listing first: the time-skipping test server
 * implements AddSearchAttributes but not ListSearchAttributes.
 */
export async function addSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((a) => [a.name, INDEXED_VALUE_TYPE[a.type]])),
  });
}

export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  log: Log,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((a) => !(customAttributes && a.name in customAttributes));
  if (missing.length === 0) return;
  log(`Registering search attributes in namespace ${namespace}: ${missing.map((a) => a.name).join(', ')}`);
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((a) => [a.name, INDEXED_VALUE_TYPE[a.type]])),
  });
}

async function ensureNamespace(connection: Connection, namespace: string, log: Log): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch {
    log(`Registering namespace ${namespace}.`);
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
  }
}

/** The last lines the server wrote to `file` since byte `from` (where this run's output starts). */
function logTail(file: string, from: number, lines = 30): string {
  try {
    const text = readFileSync(file).subarray(from).toString('utf8');
    return text.trim() === '' ? '(the server wrote nothing)' : lastLines(text, lines);
  } catch {
    return '(no log written)';
  }
}

/** Waits until the frontend answers and the namespace exists; returns the open connection. */
async function waitForTemporal(
  address: string,
  namespace: string,
  timeoutMs: number,
  exited: () => string | null,
): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const exit = exited();
    if (exit) throw new Error(exit);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1000 });
      const conn = connection;
      await conn.withDeadline(Date.now() + 2000, async () => {
        await conn.workflowService.getSystemInfo({});
        await conn.workflowService.describeNamespace({ namespace });
      });
      return connection;
    } catch (err) {
      lastError = err;
      await connection?.close().catch(() => {});
      await sleep(200);
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`no answer within ${timeoutMs / 1000} s (last error: ${reason})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** On Linux, process.kill(pid, 0) also succeeds for a zombie; those are dead for our purposes. */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

interface DevServerRecord {
  pid: number;
  address: string;
  uiUrl: string | null;
  dbFile: string;
}

/** Another live dev server recorded for the same SQLite file, if any. */
async function runningServerFor(dbFile: string): Promise<DevServerRecord | null> {
  let record: DevServerRecord;
  try {
    record = JSON.parse(await readFile(`${dbFile}.pid`, 'utf8')) as DevServerRecord;
  } catch {
    return null;
  }
  if (record.pid === process.pid || !isRunning(record.pid)) return null;
  const cmd = commandLine(record.pid);
  if (cmd !== null && !cmd.includes(dbFile)) return null;
  return record;
}

/**
 * Prefixes the command so that the server receives SIGTERM when this process dies, even by SIGKILL
 * (Linux only; elsewhere the 'exit' hook and terminal process-group signals have to do).
 */
function withParentDeathSignal(cmd: string, args: string[]): [string, string[]] {
  if (process.platform !== 'linux') return [cmd, args];
  const setpriv = findOnPath('setpriv');
  return setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', cmd, ...args]] : [cmd, args];
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts a Temporal dev server (SQLite-backed, persistent) with Remedy's search attributes, and waits
 * until it answers. If a dev server started by another process is already serving the same SQLite file,
 * that one is reused (and `stop()` leaves it running). Callers that want to use a server that already
 * listens on 7233 should check with probeTemporal() first.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(opts);
    } catch (err) {
      // Ports are chosen free and then bound by the server; another process can take one in between.
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
      (opts.log ?? (() => {}))(
        'A port was taken while the Temporal dev server started; retrying on other ports.',
      );
      opts = { ...opts, port: await freePort(), ...(opts.headless ? {} : { uiPort: await freePort() }) };
    }
  }
}

async function startDevServerOnce(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? (() => {});
  const namespace = opts.namespace ?? 'default';
  const dbFile = path.resolve(opts.dbFile ?? path.join(dataDir(), 'temporal.sqlite'));
  const headless = opts.headless ?? false;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;

  const existing = await runningServerFor(dbFile);
  if (existing) {
    log(
      `Reusing the Temporal dev server (pid ${existing.pid}) already serving ${dbFile} at ${existing.address}.`,
    );
    let connection: Connection;
    try {
      connection = await waitForTemporal(existing.address, 'default', readyTimeoutMs, () => null);
    } catch (err) {
      throw new Error(
        `A Temporal dev server (pid ${existing.pid}) is using ${dbFile} but does not answer at ${existing.address} ` +
          `(${(err as Error).message}). Stop it (kill ${existing.pid}) or pass a different dbFile.`,
      );
    }
    try {
      await ensureNamespace(connection, namespace, log);
      await ensureSearchAttributes(connection, namespace, log);
    } finally {
      await connection.close();
    }
    return {
      address: existing.address,
      uiUrl: headless ? null : existing.uiUrl,
      namespace,
      source: 'existing',
      stop: async () => {},
    };
  }

  const cli = await resolveTemporalCli({ log, ...(opts.install !== undefined && { install: opts.install }) });
  const port = await pickPort(opts.port ?? 7233, 'Temporal gRPC', log);
  const uiPort = headless ? null : await pickPort(opts.uiPort ?? 8233, 'Temporal UI', log, [port]);
  const uiUrl = uiPort === null ? null : `http://${LOCAL_HOST}:${uiPort}`;
  const address = `${LOCAL_HOST}:${port}`;

  if (!cli) return startWithSdkDownload({ dbFile, port, uiPort, uiUrl, namespace, log });

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--ip',
    LOCAL_HOST,
    '--port',
    String(port),
    '--log-level',
    'warn',
    ...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]),
    // "default" always exists; naming it again is harmless but pointless.
    ...(namespace === 'default' ? [] : ['--namespace', namespace]),
    ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
  ];
  mkdirSync(path.dirname(dbFile), { recursive: true });
  const logFile = path.join(dataDir(), 'temporal.log');
  const fd = openSync(logFile, 'a');
  const logStart = fstatSync(fd).size;
  writeSync(fd, `\n--- ${new Date().toISOString()} pid ${process.pid}: ${cli.path} ${args.join(' ')}\n`);
  const [cmd, cmdArgs] = withParentDeathSignal(cli.path, args);
  const started = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(cmd, cmdArgs, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.on('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    await rm(`${dbFile}.pid`, { force: true }).catch(() => {});
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await waitForExit(child, 5000))) {
      log(`Temporal dev server (pid ${child.pid}) ignored SIGTERM for 5 s; killing it.`);
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
  };

  log(
    `Starting Temporal dev server (${cli.source}: ${cli.path}) at ${address}, db ${dbFile}; log: ${logFile}`,
  );
  let connection: Connection;
  try {
    connection = await waitForTemporal(address, namespace, readyTimeoutMs, () => {
      if (spawnError) return `could not start ${cli.path}: ${spawnError.message}`;
      if (child.exitCode !== null || child.signalCode !== null) {
        return `the server exited early (${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode})`;
      }
      return null;
    });
  } catch (err) {
    await stop();
    throw new Error(
      `Temporal dev server (${cli.path}) did not come up at ${address}: ${(err as Error).message}.\n` +
        `Its output (${logFile}):\n${logTail(logFile, logStart)}`,
    );
  }
  try {
    await ensureSearchAttributes(connection, namespace, log);
  } catch (err) {
    await stop();
    throw new Error(`Could not register search attributes on ${address}: ${(err as Error).message}`);
  } finally {
    await connection.close();
  }
  log(
    `Temporal dev server ready at ${address} after ${Date.now() - started} ms${uiUrl ? `; UI ${uiUrl}` : ''}.`,
  );
  const record: DevServerRecord = { pid: child.pid!, address, uiUrl, dbFile };
  const recordTmp = `${dbFile}.pid.${process.pid}`;
  await writeFile(recordTmp, JSON.stringify(record));
  await rename(recordTmp, `${dbFile}.pid`);
  return { address, uiUrl, namespace, stop, source: cli.source };
}

/**
 * Last resort when no CLI could be found or installed: let the SDK download the CLI itself. That download
 * comes from temporal.download (not a package registry), so this path is untested on machines without
 * general internet access.
 */
async function startWithSdkDownload(o: {
  dbFile: string;
  port: number;
  uiPort: number | null;
  uiUrl: string | null;
  namespace: string;
  log: Log;
}): Promise<DevServer> {
  o.log('No Temporal CLI available; asking the Temporal SDK to download one (needs internet access).');
  let testing: typeof Testing;
  try {
    testing = await import('@temporalio/testing');
  } catch {
    throw new Error(
      'No Temporal CLI was found or installed, and @temporalio/testing (which can download one) is not installed. ' +
        'Install the `temporal` CLI and put it on PATH, or set TEMPORAL_CLI_PATH to its location.',
    );
  }
  const { defineSearchAttributeKey, SearchAttributeType } = await import('@temporalio/common');
  const env = await testing.TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', downloadDir: binDir() },
      dbFilename: o.dbFile,
      namespace: o.namespace,
      ip: LOCAL_HOST,
      port: o.port,
      ui: o.uiPort !== null,
      ...(o.uiPort !== null && { uiPort: o.uiPort }),
      searchAttributes: SEARCH_ATTRIBUTES.map((a) =>
        defineSearchAttributeKey(a.name, SearchAttributeType.KEYWORD),
      ),
    },
  });
  try {
    await ensureSearchAttributes(env.connection, o.namespace, o.log);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return {
    address: env.address,
    uiUrl: o.uiUrl,
    namespace: o.namespace,
    source: 'sdk-download',
    stop: () => env.teardown(),
  };
}
