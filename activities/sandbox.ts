/**
 * The sandbox a training program runs in: a private working directory, an explicit environment
 * allow-list (the worker's secrets — DATABASE_URL, REMEDY_CODEC_KEYS, cloud credentials — are not
 * inherited), and kernel resource limits set with `prlimit` (util-linux) on the program's own process:
 * RLIMIT_DATA for memory, RLIMIT_CPU for CPU time. A program past a limit is stopped by the kernel and
 * the training fails with a message that names the limit and the policy field that sets it.
 */
import { spawn } from 'node:child_process';
import { isWorkerSecret } from '../core/schemas.js';
import { businessFailure } from './failures.js';

export interface SandboxLimits {
  /** Data segment + private writable mappings (RLIMIT_DATA), in MiB. */
  memoryMb: number;
  /** CPU time (RLIMIT_CPU), in seconds: the kernel sends SIGXCPU, then SIGKILL. */
  cpuSeconds: number;
}

export interface SandboxOptions {
  /** The program's private working directory; it is also its HOME and TMPDIR. */
  dir: string;
  /** Names of worker environment variables passed through besides the base set (policy `training.env`). */
  envAllow: readonly string[];
  limits: SandboxLimits;
  /** Wall-clock limit: the program is killed after this long. */
  timeoutMs: number;
  heartbeat: () => void;
  signal: AbortSignal;
}

/** Passed through to every training program: what a program needs to find its interpreter and speak UTF-8. */
export const BASE_ENV = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'] as const;

/** The environment a training program sees: the allow-list, with HOME and TMPDIR pointing at its folder. */
export function sandboxEnv(
  dir: string,
  envAllow: readonly string[],
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BASE_ENV, ...envAllow]) {
    if (isWorkerSecret(name)) continue; // a policy cannot name one, and the base set holds none
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  env['HOME'] = dir;
  env['TMPDIR'] = dir;
  return env;
}

const MEMORY_SIGNS = /MemoryError|Cannot allocate memory|out of memory|bad_alloc|ENOMEM/i;

/**
 * Runs `cmd args` in the sandbox, heartbeating while it works; resolves with the last output lines on exit
 * 0. A limit breach is a non-retryable `TrainerLimitExceeded` (a retry would hit the same limit); any
 * other failure is a plain error carrying the program's last output, so the activity's retry policy applies.
 */
export function runSandboxed(cmd: string, args: readonly string[], opts: SandboxOptions): Promise<string> {
  const limits = [
    `--data=${Math.round(opts.limits.memoryMb * 1024 * 1024)}`,
    `--cpu=${Math.max(1, Math.round(opts.limits.cpuSeconds))}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('prlimit', [...limits, '--', cmd, ...args], {
      cwd: opts.dir,
      env: sandboxEnv(opts.dir, opts.envAllow),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const beat = setInterval(opts.heartbeat, 1000);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const onAbort = () => child.kill('SIGTERM');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearInterval(beat);
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      done();
      reject(new Error(`could not start the training command "${cmd}" under prlimit: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      done();
      if (opts.signal.aborted) return reject(opts.signal.reason as Error);
      if (code === 0) return resolve(output);
      const breach = limitBreach(code, signal, output, timedOut, opts);
      if (breach) return reject(businessFailure('TrainerLimitExceeded', breach));
      if (code === 127 && /prlimit: failed to execute/.test(output))
        return reject(new Error(`could not run the training command "${cmd}": ${output.trim()}`));
      reject(
        new Error(
          `the training command "${cmd}" failed (${code !== null ? `exit ${code}` : signal}); last output:\n${output}`,
        ),
      );
    });
  });
}

function limitBreach(
  code: number | null,
  signal: NodeJS.Signals | null,
  output: string,
  timedOut: boolean,
  opts: SandboxOptions,
): string | null {
  const tail = output.trim().split('\n').slice(-5).join('\n');
  if (timedOut)
    return `the training command ran past its time limit of ${Math.round(opts.timeoutMs / 1000)} s (policy training.commandTimeout) and was killed`;
  if (signal === 'SIGXCPU')
    return `the training command used its CPU-time limit of ${opts.limits.cpuSeconds} s (policy training.limits.cpuSeconds) and was stopped by the kernel`;
  if (signal === 'SIGKILL')
    return `the training command was killed by the kernel (SIGKILL): past its CPU-time limit of ${opts.limits.cpuSeconds} s (policy training.limits.cpuSeconds) or out of memory`;
  if (MEMORY_SIGNS.test(output) || signal === 'SIGABRT' || signal === 'SIGSEGV')
    return `the training command ran out of its memory limit of ${opts.limits.memoryMb} MiB (policy training.limits.memoryMb); last output:\n${tail}`;
  return null;
}
