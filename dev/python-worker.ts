/**
 * Runs the Python training worker (workers/python, `python -m remedy_worker.worker`) as a child process
 * with the venv infra/python-env.ts made: ready once it prints its ready line, i.e. once it is polling.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pythonEnvPaths, pythonWorkerDir } from '../infra/python-env.js';

export interface PythonWorkerOptions {
  /**
   * The Temporal frontend, set as TEMPORAL_ADDRESS with TEMPORAL_NAMESPACE. Without it the worker reads
   * Temporal's settings from the environment as every Remedy process does (TEMPORAL_PROFILE, TEMPORAL_*).
   */
  temporalAddress?: string;
  namespace?: string;
  taskQueue: string;
  databaseUrl: string;
  /** Extra environment (e.g. REMEDY_CODEC_KEYS); overrides everything else. */
  env?: Record<string, string>;
}

export interface PythonWorker {
  pid: number;
  /** Resolves once the worker polls its task queue; rejects with its last stderr lines if it exits first. */
  ready: Promise<void>;
  /** How the process ended: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (a graceful shutdown), then SIGKILL if it is still running after 30 s. */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

const READY_MSG = 'python worker ready';
const STOP_GRACE_MS = 30_000;
const KEPT_LINES = 20;

export function startPythonWorker(opts: PythonWorkerOptions): PythonWorker {
  const { python } = pythonEnvPaths();
  if (!existsSync(python))
    throw new Error(
      `the Python training worker's environment is missing (${python}): ` +
        'run `npx tsx infra/install-binaries.ts` (or call ensurePythonEnv()) first',
    );
  const child = spawn(python, ['-m', 'remedy_worker.worker'], {
    cwd: pythonWorkerDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      ...(opts.temporalAddress !== undefined && {
        TEMPORAL_ADDRESS: opts.temporalAddress,
        TEMPORAL_NAMESPACE: opts.namespace ?? 'default',
      }),
      REMEDY_PYTHON_TASK_QUEUE: opts.taskQueue,
      DATABASE_URL: opts.databaseUrl,
      ...opts.env,
    },
  });
  const stderrLines: string[] = [];
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    stderrLines.push(...lines.filter((l) => l.trim() !== ''));
    stderrLines.splice(0, Math.max(0, stderrLines.length - KEPT_LINES));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    let stdoutPending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (stdoutPending + chunk.toString()).split('\n');
      stdoutPending = lines.pop() ?? '';
      for (const line of lines) if (isReadyLine(line)) resolve();
    });
    child.on('error', (err) =>
      reject(new Error(`could not start the Python worker (${python}): ${err.message}`)),
    );
    void exited.then(({ code, signal }) => {
      const tail = [...stderrLines, pending].filter((l) => l.trim() !== '').join('\n');
      reject(
        new Error(
          `the Python worker exited (${signal ?? `code ${code}`}) before it was ready` +
            (tail ? `:\n${tail}` : ' and printed nothing on stderr'),
        ),
      );
    });
  });
  // A caller that only awaits stop() must not see an unhandled rejection of `ready`.
  ready.catch(() => undefined);
  return {
    pid: child.pid ?? -1,
    ready,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
    kill(signal) {
      child.kill(signal);
    },
  };
}

function isReadyLine(line: string): boolean {
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg === READY_MSG;
  } catch {
    return false;
  }
}
