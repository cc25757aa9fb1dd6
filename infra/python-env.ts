/**
 * The Python training worker's environment: a venv at `<dataDir>/python` with the pinned packages of
 * workers/python/requirements.txt. Created on first use with `$REMEDY_PYTHON` or `python3` (3.10 or
 * newer); a stamp holding the requirements' sha256 makes a second call instant and a change reinstall.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dataDir, projectRoot } from './paths.js';
import { findOnPath, lastLines, type Log } from './temporal-install.js';

export const pythonWorkerDir = path.join(projectRoot, 'workers', 'python');
export const requirementsPath = path.join(pythonWorkerDir, 'requirements.txt');
const MIN_VERSION: readonly [number, number] = [3, 10];
const STAMP = 'remedy-requirements.sha256';
/** A lock older than this is taken to be left by a killed install. */
const STALE_LOCK_MS = 15 * 60_000;

export class PythonEnvError extends Error {
  override name = 'PythonEnvError';
}

/** Where the venv is and its interpreter (which exists once ensurePythonEnv has run). */
export function pythonEnvPaths(): { dir: string; python: string } {
  const dir = path.join(dataDir(), 'python');
  const python =
    process.platform === 'win32' ? path.join(dir, 'Scripts', 'python.exe') : path.join(dir, 'bin', 'python');
  return { dir, python };
}

interface RunResult {
  code: number | null;
  output: string;
  missing: boolean;
}

function run(cmd: string, args: string[], log?: Log): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (log)
        for (const line of chunk.toString().split('\n')) if (/^(Successfully|ERROR)/.test(line)) log(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: null, output: output + String(err), missing: err.code === 'ENOENT' }),
    );
    child.on('close', (code) => resolve({ code, output, missing: false }));
  });
}

/** The interpreter to build the venv with: $REMEDY_PYTHON, else python3 on PATH; 3.10 or newer. */
export async function basePython(): Promise<{ path: string; version: string }> {
  const fromEnv = process.env['REMEDY_PYTHON']?.trim();
  const candidate = fromEnv || findOnPath('python3');
  if (!candidate)
    throw new PythonEnvError(
      'no python3 on PATH: install Python 3.10 or newer, or set REMEDY_PYTHON to its interpreter',
    );
  const probe = await run(candidate, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']);
  const where = fromEnv ? `REMEDY_PYTHON (${candidate})` : candidate;
  if (probe.code !== 0)
    throw new PythonEnvError(
      `${where} does not run: ${lastLines(probe.output, 3)}. Set REMEDY_PYTHON to a Python 3.10+ interpreter`,
    );
  const version = probe.output.trim();
  const [major, minor] = version.split('.').map(Number) as [number, number];
  if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1]))
    throw new PythonEnvError(
      `${where} is Python ${version}; the training worker needs ${MIN_VERSION.join('.')} or newer: ` +
        'install one and set REMEDY_PYTHON to it',
    );
  return { path: candidate, version };
}

export function requirementsHash(file = requirementsPath): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** One venv: where it is, the pinned requirements it holds, and what it is for (in messages). */
export interface VenvSpec {
  dir: string;
  python: string;
  requirements: string;
  what: string;
}

function stampMatches(dir: string, python: string, hash: string): boolean {
  const stamp = path.join(dir, STAMP);
  return existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash;
}

/** One install at a time across processes (test files may start together): an exclusive lock file. */
async function withLock<T>(file: string, log: Log, body: () => Promise<T>): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(file).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > STALE_LOCK_MS) {
        await rm(file, { force: true });
        continue;
      }
      if (!announced) log(`Another process is installing ${file.replace(/\.lock$/, '')}; waiting for it.`);
      announced = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await body();
  } finally {
    await rm(file, { force: true });
  }
}

async function install(spec: VenvSpec, hash: string, log: Log): Promise<void> {
  const { dir, python, requirements } = spec;
  const base = await basePython();
  log(`Creating the Python environment in ${dir} with Python ${base.version} (${base.path})...`);
  await rm(dir, { recursive: true, force: true });
  const venv = await run(base.path, ['-m', 'venv', dir]);
  if (venv.code !== 0)
    throw new PythonEnvError(
      `\`${base.path} -m venv\` failed: ${lastLines(venv.output, 5)}\n` +
        'Install the venv module (Debian: apt-get install python3-venv) or set REMEDY_PYTHON',
    );
  log(`Installing ${path.relative(projectRoot, requirements)} (a minute or two the first time)...`);
  const started = Date.now();
  const pip = await run(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirements],
    log,
  );
  if (pip.code !== 0)
    throw new PythonEnvError(
      `pip could not install ${spec.what}'s requirements (exit ${pip.code}):\n${lastLines(pip.output)}`,
    );
  await writeFile(path.join(dir, STAMP), `${hash}\n`);
  log(`Python environment ready in ${((Date.now() - started) / 1000).toFixed(0)} s: ${python}`);
}

/**
 * Creates or updates the venv when workers/python/requirements.txt changed since the last install;
 * returns its interpreter. Fast (no process started) when it is up to date.
 */
export async function ensurePythonEnv(opts: { log?: Log } = {}): Promise<{ python: string }> {
  const { dir, python } = pythonEnvPaths();
  return ensureVenv({ dir, python, requirements: requirementsPath, what: 'the training worker' }, opts);
}

/**
 * Creates or updates a venv when its requirements file changed since the last install; returns its
 * interpreter. Fast (no process started) when it is up to date; one install at a time across processes.
 */
export async function ensureVenv(spec: VenvSpec, opts: { log?: Log } = {}): Promise<{ python: string }> {
  const log = opts.log ?? (() => {});
  const { dir, python, requirements } = spec;
  const hash = requirementsHash(requirements);
  if (stampMatches(dir, python, hash)) return { python };
  await mkdir(path.dirname(dir), { recursive: true });
  return withLock(`${dir}.lock`, log, async () => {
    // Another process may have installed it while this one waited for the lock.
    if (!stampMatches(dir, python, hash)) {
      if (existsSync(path.join(dir, STAMP)))
        log(
          `${path.relative(projectRoot, requirements)} changed (${(await readFile(path.join(dir, STAMP), 'utf8')).trim().slice(0, 12)} -> ${hash.slice(0, 12)}): reinstalling.`,
        );
      await install(spec, hash, log);
    }
    return { python };
  });
}
