import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export interface ConfigIssue {
  variable: string;
  message: string;
}

/** A bad environment variable. The message names the variable, what it held and what to set instead. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(`Invalid environment: ${issues.map((i) => i.message).join('\n  ')}`);
    this.issues = issues;
  }

  get variable(): string {
    return this.issues[0]?.variable ?? '';
  }
}

type Env = Record<string, string | undefined>;

// An empty variable (`FOO=` in a .env file) means "not set", so defaults still apply.
const unsetIfBlank = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const shown = (input: unknown): string => JSON.stringify(input);

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function isHostPort(value: string): boolean {
  const match = HOST_PORT.exec(value);
  const port = Number(match?.[1]);
  return match !== null && port >= 1 && port <= 65535;
}

const hostPort = (variable: string, example: string) =>
  z.string().refine(isHostPort, {
    error: (iss) =>
      `${variable} must be host:port (got ${shown(iss.input)}). Set it to the Temporal frontend address, e.g. ${example}.`,
  });

const nonEmptyName = (variable: string, what: string) =>
  z
    .string()
    .trim()
    .regex(/^\S+$/, {
      error: (iss) => `${variable} must be ${what} without spaces (got ${shown(iss.input)}).`,
    });

/** Strict boolean: z.coerce.boolean() would turn "false" into true. */
const booleanFlag = (variable: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(
      z.enum(['true', 'false', '1', '0', 'yes', 'no'], {
        error: (iss) => `${variable} must be true or false (got ${shown(iss.input)}).`,
      }),
    )
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const filePath = z.string();

const temporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.preprocess(
    unsetIfBlank,
    hostPort('TEMPORAL_ADDRESS', 'localhost:7233').default('localhost:7233'),
  ),
  TEMPORAL_NAMESPACE: z.preprocess(
    unsetIfBlank,
    nonEmptyName('TEMPORAL_NAMESPACE', 'a namespace name').default('default'),
  ),
  TEMPORAL_TLS: z.preprocess(unsetIfBlank, booleanFlag('TEMPORAL_TLS').optional()),
  TEMPORAL_TLS_CA_PATH: z.preprocess(unsetIfBlank, filePath.optional()),
  TEMPORAL_TLS_CERT_PATH: z.preprocess(unsetIfBlank, filePath.optional()),
  TEMPORAL_TLS_KEY_PATH: z.preprocess(unsetIfBlank, filePath.optional()),
  TEMPORAL_API_KEY: z.preprocess(unsetIfBlank, z.string().trim().optional()),
  REMEDY_TASK_QUEUE: z.preprocess(
    unsetIfBlank,
    nonEmptyName('REMEDY_TASK_QUEUE', 'a task queue name').default('remedy'),
  ),
  REMEDY_TRAINING_TASK_QUEUE: z.preprocess(
    unsetIfBlank,
    nonEmptyName('REMEDY_TRAINING_TASK_QUEUE', 'a task queue name').default('remedy-training'),
  ),
});

export interface TemporalTlsConfig {
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

export interface TemporalConfig {
  address: string;
  namespace: string;
  /** Absent means plaintext; an empty object means TLS with the system's CAs. */
  tls?: TemporalTlsConfig;
  apiKey?: string;
  taskQueue: string;
  trainingTaskQueue: string;
}

function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      // Our own messages start with the variable's name; zod's generic ones need it prepended.
      const message = issue.message.startsWith(variable) ? issue.message : `${variable}: ${issue.message}`;
      return { variable, message };
    }),
  );
}

function readPem(variable: string, file: string, what: string, issues: ConfigIssue[]): Buffer | undefined {
  try {
    return readFileSync(path.resolve(file));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    issues.push({
      variable,
      message: `${variable} points to ${shown(file)}, which cannot be read (${reason}). Set it to the PEM file of ${what}, or unset it.`,
    });
    return undefined;
  }
}

/** Reads the Temporal connection settings from the environment; throws ConfigError naming the bad variable. */
export function loadTemporalConfig(env: Env = process.env): TemporalConfig {
  const e = parseEnv(temporalEnvSchema, env);
  const issues: ConfigIssue[] = [];

  if ((e.TEMPORAL_TLS_CERT_PATH === undefined) !== (e.TEMPORAL_TLS_KEY_PATH === undefined)) {
    const [set, unset] =
      e.TEMPORAL_TLS_CERT_PATH !== undefined
        ? ['TEMPORAL_TLS_CERT_PATH', 'TEMPORAL_TLS_KEY_PATH']
        : ['TEMPORAL_TLS_KEY_PATH', 'TEMPORAL_TLS_CERT_PATH'];
    issues.push({
      variable: unset,
      message: `${set} is set but ${unset} is not. Set both (the client certificate and its private key) for mTLS, or neither.`,
    });
  }
  const ca =
    e.TEMPORAL_TLS_CA_PATH === undefined
      ? undefined
      : readPem('TEMPORAL_TLS_CA_PATH', e.TEMPORAL_TLS_CA_PATH, "the server's CA certificate", issues);
  const crt =
    e.TEMPORAL_TLS_CERT_PATH === undefined
      ? undefined
      : readPem('TEMPORAL_TLS_CERT_PATH', e.TEMPORAL_TLS_CERT_PATH, 'the client certificate', issues);
  const key =
    e.TEMPORAL_TLS_KEY_PATH === undefined
      ? undefined
      : readPem(
          'TEMPORAL_TLS_KEY_PATH',
          e.TEMPORAL_TLS_KEY_PATH,
          "the client certificate's private key",
          issues,
        );
  if (issues.length > 0) throw new ConfigError(issues);

  const hasTlsFiles = ca !== undefined || crt !== undefined;
  if (e.TEMPORAL_TLS === false && hasTlsFiles) {
    throw new ConfigError([
      {
        variable: 'TEMPORAL_TLS',
        message:
          'TEMPORAL_TLS is false but TLS certificate paths are set. Unset TEMPORAL_TLS, or unset the TEMPORAL_TLS_*_PATH variables.',
      },
    ]);
  }
  // An API key is only ever sent over TLS, unless TLS was switched off explicitly (e.g. a local proxy).
  const useTls = e.TEMPORAL_TLS ?? (hasTlsFiles || e.TEMPORAL_API_KEY !== undefined);

  const config: TemporalConfig = {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.REMEDY_TASK_QUEUE,
    trainingTaskQueue: e.REMEDY_TRAINING_TASK_QUEUE,
  };
  if (useTls) {
    config.tls = {
      ...(ca !== undefined && { serverRootCACertificate: ca }),
      ...(crt !== undefined && key !== undefined && { clientCertPair: { crt, key } }),
    };
  }
  if (e.TEMPORAL_API_KEY !== undefined) config.apiKey = e.TEMPORAL_API_KEY;
  return config;
}

export interface TemporalConnectionOptions {
  address: string;
  tls?: TemporalTlsConfig;
  apiKey?: string;
}

/** Options for `Connection.connect` and `NativeConnection.connect`. */
export function connectionOptions(cfg: TemporalConfig): TemporalConnectionOptions {
  return {
    address: cfg.address,
    ...(cfg.tls !== undefined && { tls: cfg.tls }),
    ...(cfg.apiKey !== undefined && { apiKey: cfg.apiKey }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------------------------------------

export const DEFAULT_EMBEDDED_PG_PORT = 54329;

/**
 * Masks the passwords in a connection string, valid or not, so it can appear in a message: the
 * `user:password@` of a URL with or without a scheme (`postgres://u:pw@host/db`, `u:pw@host/db`), and
 * libpq's `password=…` (and `sslpassword=…`) in a `host=… password=…` string or a URL's query. Anything
 * after a password up to the last `@` (or the next space, for `password=`) is masked too, so a password
 * holding `@`, `/` or `&` is never partly shown.
 */
export function redactUrl(value: string): string {
  return value
    .replace(/(^|\s)((?:[a-z][a-z0-9+.-]*:\/\/)?[^\s:/@]*:)(?!\/\/).*@/gi, '$1$2****@')
    .replace(/(\b(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S*)/gi, '$1****');
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** A `postgres://` or `postgresql://` URL; the error names `variable`. */
export const postgresUrl = (variable: string) =>
  z
    .string()
    .trim()
    .refine(isPostgresUrl, {
      error: (iss) =>
        `${variable} must be a postgres:// or postgresql:// URL such as postgres://user:password@host:5432/remedy ` +
        `(got ${shown(typeof iss.input === 'string' ? redactUrl(iss.input) : iss.input)}). ` +
        `Fix it, or unset ${variable} to use the embedded Postgres.`,
    });

const databaseEnvSchema = z.object({
  DATABASE_URL: z.preprocess(unsetIfBlank, postgresUrl('DATABASE_URL').optional()),
  REMEDY_PG_PORT: z.preprocess(
    unsetIfBlank,
    z
      .string()
      .trim()
      .refine((v) => /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535, {
        error: (iss) =>
          `REMEDY_PG_PORT must be a TCP port number between 1 and 65535 (got ${shown(iss.input)}).`,
      })
      .transform(Number)
      .default(DEFAULT_EMBEDDED_PG_PORT),
  ),
});

export interface DatabaseConfig {
  /** Set when the user brings their own Postgres; otherwise the embedded cluster is used. */
  databaseUrl?: string;
  /** Preferred port of the embedded cluster. */
  embeddedPort: number;
}

export function loadDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const e = parseEnv(databaseEnvSchema, env);
  return {
    embeddedPort: e.REMEDY_PG_PORT,
    ...(e.DATABASE_URL !== undefined && { databaseUrl: e.DATABASE_URL }),
  };
}

/**
 * Where one of Remedy's HTTP services listens: REMEDY_<NAME>_PORT and REMEDY_<NAME>_HOST, with the
 * caller's defaults (a service process: a fixed port on all interfaces; the dev stack: any free port on
 * loopback).
 */
export function loadListenConfig(
  name: 'GATEWAY' | 'REVIEW',
  defaults: { port: number; host: string },
  env: Env = process.env,
): { port: number; host: string } {
  const portVar = `REMEDY_${name}_PORT`;
  const hostVar = `REMEDY_${name}_HOST`;
  const e = parseEnv(
    z.object({
      [portVar]: z
        .string()
        .regex(/^\d{1,5}$/, `${portVar} must be a TCP port number`)
        .refine((v) => Number(v) <= 65535, `${portVar} must be a TCP port number`)
        .optional(),
      [hostVar]: z.string().min(1).optional(),
    }),
    env,
  ) as Record<string, string | undefined>;
  const port = e[portVar];
  return {
    port: port === undefined || port === '' ? defaults.port : Number(port),
    host: e[hostVar] ?? defaults.host,
  };
}
