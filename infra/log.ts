/**
 * Structured logs for Remedy's processes (worker, gateway, review page, codec server, dev stack): one JSON
 * object per line on stderr, with `time` (ISO), `level` (a word), `name` (the process) and `msg`.
 * REMEDY_LOG_LEVEL sets the threshold (trace, debug, info, the default, warn, error, fatal).
 *
 * Secrets never reach a line. Two layers:
 *  - fields that carry credentials by their name (authorization headers, API keys, passwords, tokens,
 *    connection strings) are replaced by "[redacted]";
 *  - each finished line is scrubbed of the secret values this process was given (the values of variables
 *    named like …_KEY, …_KEYS, …_TOKEN, …_SECRET, …_PASSWORD, …_WEBHOOK…, and the password of any URL
 *    in the environment, DATABASE_URL's among them), of `user:password@` in any URL, of `password=…`,
 *    and of `Bearer …` credentials, wherever they appear (an error message, a stack, a nested field).
 *
 * `sdkLogger` makes such a logger the Temporal SDK runtime's logger: the lines written through the
 * workflow and activity `log` carry the SDK's metadata (workflowId, runId, activityId, activityType …).
 * Text meant for people (the CLI's output) is not logging and does not go through here.
 */
import { pino, type DestinationStream, type Logger as Pino, type LevelWithSilent } from 'pino';
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';

export type Logger = Pino;
type Env = Record<string, string | undefined>;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Variable names whose values are secrets. Paths to secret files are not secrets themselves. */
const SECRET_NAME =
  /(?:^|_)(?:KEYS?|TOKEN|SECRET|SECRETS|PASSWORD|PASSWD|CREDENTIALS?|WEBHOOK|WEBHOOK_URL|CODEC_AUTH)(?:_|$)/i;
const NOT_SECRET_NAME = /_(?:PATH|FILE|DIR)$/i;
/** Shorter values would scrub ordinary words out of every line; they are still masked inside URLs. */
const MIN_SECRET_LENGTH = 8;

/** Fields removed by name wherever they appear (one level of nesting, or under headers). */
const REDACTED_FIELDS = [
  'authorization',
  'apiKey',
  'api_key',
  'password',
  'token',
  'secret',
  'databaseUrl',
  'DATABASE_URL',
  'REMEDY_CODEC_KEYS',
  'REMEDY_PII_KEYS',
  'TEMPORAL_API_KEY',
  // An activity's task token completes it from anywhere.
  'taskToken',
];
const REDACT_PATHS = [
  ...REDACTED_FIELDS,
  ...REDACTED_FIELDS.map((f) => `*.${f}`),
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'headers["x-api-key"]',
];

function urlPassword(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    const url = new URL(value);
    return url.password === '' ? undefined : url.password;
  } catch {
    return undefined;
  }
}

/**
 * The secret values held by the environment: whole values of secret-named variables, each part of a
 * comma-separated key list (`id:material,…`), and every URL's password. Longest first, so a secret that
 * contains another is masked whole.
 */
export function secretValues(env: Env): string[] {
  const found = new Set<string>();
  const add = (s: string | undefined) => {
    if (s === undefined) return;
    for (const form of [s, safeDecode(s)]) if (form.length >= MIN_SECRET_LENGTH) found.add(form);
  };
  for (const [name, raw] of Object.entries(env)) {
    const value = raw?.trim();
    if (!value) continue;
    add(urlPassword(value));
    if (!SECRET_NAME.test(name) || NOT_SECRET_NAME.test(name)) continue;
    add(value);
    for (const part of value.split(',')) {
      const item = part.trim();
      add(item);
      add(item.slice(item.indexOf(':') + 1)); // the material of "keyId:material"
      add(urlPassword(item));
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const CREDENTIAL_PATTERNS: [RegExp, string][] = [
  // user:password@ in a URL (JSON escapes a "/" as "/", so the scheme is matched loosely).
  [/([a-z][a-z0-9+.-]*:(?:\\?\/){2}[^\s:/@"\\]*:)[^\s@"\\]+@/gi, '$1****@'],
  // libpq's key=value form.
  [/(\b(?:ssl)?password\s*=\s*)(?:'[^']*'?|[^\s"&\\]+)/gi, '$1****'],
  [/(\bBearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1****'],
  [/(\bBasic\s+)[A-Za-z0-9+/=]{8,}/g, '$1****'],
];

/**
 * Each secret and, where it differs, the same value as it appears inside a JSON string (quotes and
 * backslashes escaped): the forms `scrub` looks for, worked out once per logger.
 */
export function secretForms(secrets: readonly string[]): string[] {
  const forms: string[] = [];
  for (const s of secrets) {
    forms.push(s);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) forms.push(escaped);
  }
  return forms;
}

/** A finished line without the given secret values and without anything shaped like a credential. */
export function scrub(line: string, secrets: readonly string[]): string {
  return scrubForms(line, secretForms(secrets));
}

function scrubForms(line: string, forms: readonly string[]): string {
  let out = line;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join('****');
  for (const [re, to] of CREDENTIAL_PATTERNS) out = out.replace(re, to);
  return out;
}

export function logLevelFromEnv(env: Env = process.env): LevelWithSilent {
  const raw = env.REMEDY_LOG_LEVEL?.trim().toLowerCase();
  if (!raw) return 'info';
  if ((LEVELS as readonly string[]).includes(raw)) return raw as LevelWithSilent;
  throw new Error(
    `REMEDY_LOG_LEVEL must be one of ${LEVELS.join(', ')} (got ${JSON.stringify(env.REMEDY_LOG_LEVEL)}). Fix it, or unset it for info.`,
  );
}

export interface LoggerOptions {
  /** Where secrets are read from and REMEDY_LOG_LEVEL; the process's environment by default. */
  env?: Env;
  /** Where lines go; stderr by default. */
  destination?: DestinationStream;
  level?: LevelWithSilent;
}

/** What every logger of a process shares: its name, threshold, line shape and the scrubbing of secrets. */
function baseOptions(name: string, opts: LoggerOptions): pino.LoggerOptions {
  const env = opts.env ?? process.env;
  const forms = secretForms(secretValues(env));
  return {
    name,
    level: opts.level ?? logLevelFromEnv(env),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: (line) => scrubForms(line, forms) },
  };
}

/** The logger of one process, `name` being what it is ("worker", "gateway" …). */
export function createLogger(name: string, opts: LoggerOptions = {}): Logger {
  return pino(
    { ...baseOptions(name, opts), redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    // Synchronous: a process that exits right after a line (a bad setting, a crash) still writes it.
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** Access lines wait in memory until this many bytes are queued, then go out in one write. */
export const ACCESS_LOG_BUFFER_BYTES = 4096;

/**
 * The gateway's access log: one line per request at every request rate, so it is built for volume. Lines
 * carry only the fields the server names (method, path, status, ms, model: no bodies, no headers), so no
 * field is removed by name; each line is still scrubbed of this process's secret values and of anything
 * shaped like a credential. Lines are written a few kilobytes at a time (`ACCESS_LOG_BUFFER_BYTES`) rather
 * than one write each, and flushed when the process exits or `flush()` is called (the gateway's drain):
 * only a process killed outright (SIGKILL) loses the lines still queued, at most that many bytes.
 */
export function createAccessLogger(name: string, opts: LoggerOptions = {}): Logger {
  return pino(
    baseOptions(name, opts),
    opts.destination ?? pino.destination({ fd: 2, sync: false, minLength: ACCESS_LOG_BUFFER_BYTES }),
  );
}

const SDK_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Meta as a plain object: the SDK's symbol-keyed timestamp dropped, bigints as strings, errors as text. */
function fieldsOf(meta: LogMetadata | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!meta) return out;
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v === 'bigint') out[k] = v.toString();
    else if (v instanceof Error) out[k] = { type: v.name, message: v.message, stack: v.stack };
    else out[k] = v;
  }
  return out;
}

/** A Temporal SDK `Logger` writing through `log`: for `Runtime.install({ logger })`. */
export function sdkLogger(log: Logger): SdkLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const method = SDK_LEVEL[level] ?? 'info';
    log[method](fieldsOf(meta), message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
