import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadClientConfigFromToml, loadClientConfigProfile } from '@temporalio/envconfig';
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

/**
 * Temporal's own names, the ones the `temporal` CLI and every SDK read (`@temporalio/envconfig`): a TOML
 * file of profiles (TEMPORAL_CONFIG_FILE, or temporal.toml in the user's config directory, e.g.
 * ~/.config/temporalio/temporal.toml), the profile TEMPORAL_PROFILE names ("default" otherwise), and the
 * TEMPORAL_* variables, which override the profile's values.
 */
const DEPRECATED_NAMES: readonly (readonly [old: string, current: string])[] = [
  ['TEMPORAL_TLS_CA_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
  ['TEMPORAL_TLS_CERT_PATH', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
  ['TEMPORAL_TLS_KEY_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
];

const temporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.preprocess(unsetIfBlank, hostPort('TEMPORAL_ADDRESS', 'localhost:7233').optional()),
  TEMPORAL_NAMESPACE: z.preprocess(
    unsetIfBlank,
    nonEmptyName('TEMPORAL_NAMESPACE', 'a namespace name').optional(),
  ),
  TEMPORAL_TLS: z.preprocess(unsetIfBlank, booleanFlag('TEMPORAL_TLS').optional()),
  TEMPORAL_PROFILE: z.preprocess(
    unsetIfBlank,
    nonEmptyName('TEMPORAL_PROFILE', 'the name of a profile in the Temporal config file').optional(),
  ),
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
  serverNameOverride?: string;
}

export interface TemporalConfig {
  address: string;
  namespace: string;
  /** Absent means plaintext; an empty object means TLS with the system's CAs. */
  tls?: TemporalTlsConfig;
  apiKey?: string;
  /** gRPC headers sent with every call (a profile's grpc_meta, TEMPORAL_GRPC_META_*). */
  metadata?: Record<string, string>;
  taskQueue: string;
  trainingTaskQueue: string;
  /** Where the address came from: a variable, a profile of the config file, or the local default. */
  addressFrom: 'environment' | 'profile' | 'default';
  /** The profile read, when the config file had one to apply. */
  profile?: { name: string; file: string };
}

export interface TemporalConfigOptions {
  /** Where deprecation warnings go (one per old name); stderr by default. */
  warn?: (message: string) => void;
}

/** The config file Temporal's tools read, as envconfig finds it (Linux and macOS layouts). */
export function temporalConfigFile(env: Env): string | undefined {
  const explicit = env.TEMPORAL_CONFIG_FILE?.trim();
  if (explicit) return path.resolve(explicit);
  const home = env.HOME?.trim();
  if (process.platform === 'darwin')
    return home
      ? path.join(home, 'Library', 'Application Support', 'temporalio', 'temporal.toml')
      : undefined;
  const xdg = env.XDG_CONFIG_HOME?.trim();
  if (xdg) return path.isAbsolute(xdg) ? path.join(xdg, 'temporalio', 'temporal.toml') : undefined;
  return home ? path.join(home, '.config', 'temporalio', 'temporal.toml') : undefined;
}

/** Blank values dropped, and today's deprecated names moved to the standard ones (one warning each). */
function standardEnv(
  env: Env,
  warn: (message: string) => void,
): { env: Record<string, string>; setAs: Map<string, string> } {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v;
  // The name the user actually set, for messages about a standard variable.
  const setAs = new Map<string, string>();
  for (const [old, current] of DEPRECATED_NAMES) {
    const value = out[old];
    if (value === undefined) continue;
    delete out[old];
    if (out[current] !== undefined) {
      warn(`${old} is deprecated and ignored because ${current} is set: unset ${old}.`);
    } else {
      warn(
        `${old} is deprecated: rename it to ${current} (same meaning; Temporal's CLI and SDKs read that name).`,
      );
      out[current] = value;
      setAs.set(current, old);
    }
  }
  return { env: out, setAs };
}

interface ProfileFile {
  file: string;
  data: string;
  config: ReturnType<typeof loadClientConfigFromToml>;
}

/** The config file's profiles, if there is a file; a bad file or a missing TEMPORAL_CONFIG_FILE is an error. */
function readProfileFile(env: Record<string, string>): ProfileFile | undefined {
  const file = temporalConfigFile(env);
  if (file === undefined) return undefined;
  let data: string;
  try {
    data = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && env.TEMPORAL_CONFIG_FILE === undefined) return undefined;
    throw new ConfigError([
      {
        variable: 'TEMPORAL_CONFIG_FILE',
        message: `TEMPORAL_CONFIG_FILE points to ${shown(file)}, which cannot be read (${code ?? (err as Error).message}). Set it to a Temporal config file (TOML with [profile.<name>] tables), or unset it.`,
      },
    ]);
  }
  try {
    return { file, data, config: loadClientConfigFromToml(Buffer.from(data), { strict: true }) };
  } catch (err) {
    const why = (err as Error).message.replace(/^Validation error: /, '').split('\n')[0];
    throw new ConfigError([
      {
        variable: env.TEMPORAL_CONFIG_FILE !== undefined ? 'TEMPORAL_CONFIG_FILE' : 'TEMPORAL_PROFILE',
        message: `The Temporal config file ${file} is not usable: ${why}. A profile holds address, namespace, api_key, tls, codec and grpc_meta (see docs/operations.md); fix the file, or point TEMPORAL_CONFIG_FILE elsewhere.`,
      },
    ]);
  }
}

/** The profile's name, checked against the file; an explicit TEMPORAL_PROFILE must exist. */
function chooseProfile(env: Record<string, string>, file: ProfileFile | undefined): string | undefined {
  const wanted = env.TEMPORAL_PROFILE;
  const names = Object.keys(file?.config.profiles ?? {});
  if (wanted === undefined) return names.includes('default') ? 'default' : undefined;
  if (names.includes(wanted)) return wanted;
  const where = file
    ? `${file.file} has no profile ${shown(wanted)} (${names.length > 0 ? `it has ${names.map((n) => shown(n)).join(', ')}` : 'it has none'})`
    : `there is no Temporal config file (looked for ${temporalConfigFile(env) ?? 'TEMPORAL_CONFIG_FILE'})`;
  throw new ConfigError([
    {
      variable: 'TEMPORAL_PROFILE',
      message: `TEMPORAL_PROFILE is ${shown(wanted)} but ${where}. Add [profile.${wanted}] to the file, set TEMPORAL_PROFILE to an existing profile, or unset it.`,
    },
  ]);
}

type DataSource = { path: string } | { data: string | Uint8Array } | undefined;

/** PEM material from a path or inline data; the error names the variable or profile key it came from. */
function readSource(
  source: DataSource,
  from: string,
  what: string,
  issues: ConfigIssue[],
): Buffer | undefined {
  if (source === undefined) return undefined;
  if ('data' in source) return Buffer.from(source.data);
  try {
    return readFileSync(path.resolve(source.path));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    issues.push({
      variable: from,
      message: `${from} points to ${shown(source.path)}, which cannot be read (${reason}). Set it to the PEM file of ${what}, or unset it.`,
    });
    return undefined;
  }
}

/**
 * Reads the Temporal connection settings: the standard TEMPORAL_* variables over the selected profile of
 * Temporal's config file, then local defaults (localhost:7233, namespace "default"). Remedy's own
 * REMEDY_TASK_QUEUE and REMEDY_TRAINING_TASK_QUEUE name its queues. Throws ConfigError naming the bad
 * variable, file or profile key.
 */
export function loadTemporalConfig(env: Env = process.env, opts: TemporalConfigOptions = {}): TemporalConfig {
  const warn = opts.warn ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  const { env: std, setAs } = standardEnv(env, warn);
  const e = parseEnv(temporalEnvSchema, std);
  // envconfig reads "true" and "1" only; Remedy has always taken yes/no too.
  if (e.TEMPORAL_TLS !== undefined) std.TEMPORAL_TLS = String(e.TEMPORAL_TLS);
  const file = readProfileFile(std);
  const profileName = chooseProfile(std, file);
  const profile = loadClientConfigProfile({
    ...(profileName !== undefined ? { profile: profileName, configSource: { data: file!.data } } : {}),
    disableFile: profileName === undefined,
    overrideEnvVars: std,
  });
  const inProfile = (key: string) => `${key} in profile ${shown(profileName)} of ${file?.file}`;
  const source = (variable: string, key: string) =>
    std[variable] !== undefined
      ? (setAs.get(variable) ?? variable)
      : profileName !== undefined
        ? inProfile(key)
        : variable;

  const issues: ConfigIssue[] = [];
  const address = profile.address?.trim();
  if (address !== undefined && !isHostPort(address))
    issues.push({
      variable: source('TEMPORAL_ADDRESS', 'address'),
      message: `${source('TEMPORAL_ADDRESS', 'address')} must be host:port (got ${shown(address)}). Set it to the Temporal frontend address, e.g. localhost:7233.`,
    });
  const namespace = profile.namespace?.trim();
  if (namespace !== undefined && !/^\S+$/.test(namespace))
    issues.push({
      variable: source('TEMPORAL_NAMESPACE', 'namespace'),
      message: `${source('TEMPORAL_NAMESPACE', 'namespace')} must be a namespace name without spaces (got ${shown(namespace)}).`,
    });
  const tls = temporalTls(profile.tls, source, issues);
  if (issues.length > 0) throw new ConfigError(issues);

  const apiKey = profile.apiKey?.trim() || undefined;
  // An API key is only ever sent over TLS, unless TLS was switched off explicitly (e.g. a local proxy).
  const useTls = tls.disabled !== undefined ? !tls.disabled : tls.configured || apiKey !== undefined;
  const config: TemporalConfig = {
    address: address ?? 'localhost:7233',
    namespace: namespace ?? 'default',
    taskQueue: e.REMEDY_TASK_QUEUE,
    trainingTaskQueue: e.REMEDY_TRAINING_TASK_QUEUE,
    addressFrom:
      std.TEMPORAL_ADDRESS !== undefined ? 'environment' : address !== undefined ? 'profile' : 'default',
  };
  if (profileName !== undefined && file) config.profile = { name: profileName, file: file.file };
  if (useTls) config.tls = tls.options;
  if (apiKey !== undefined) config.apiKey = apiKey;
  if (profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0) config.metadata = { ...profile.grpcMeta };
  return config;
}

type ProfileTls = NonNullable<ReturnType<typeof loadClientConfigProfile>['tls']>;

/** The TLS options of a profile (after the variables' overrides), every file read and checked. */
function temporalTls(
  tls: ProfileTls | undefined,
  source: (variable: string, key: string) => string,
  issues: ConfigIssue[],
): { disabled?: boolean; configured: boolean; options: TemporalTlsConfig } {
  const certFrom = source('TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path');
  const keyFrom = source('TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path');
  if ((tls?.clientCert === undefined) !== (tls?.clientKey === undefined)) {
    const [set, unset] = tls?.clientCert !== undefined ? [certFrom, keyFrom] : [keyFrom, certFrom];
    issues.push({
      variable: unset,
      message: `${set} is set but ${unset} is not. Set both (the client certificate and its private key) for mTLS, or neither.`,
    });
  }
  const ca = readSource(
    tls?.serverCACert,
    source('TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'tls.server_ca_cert_path'),
    "the server's CA certificate",
    issues,
  );
  const crt = readSource(tls?.clientCert, certFrom, 'the client certificate', issues);
  const key = readSource(tls?.clientKey, keyFrom, "the client certificate's private key", issues);
  const hasFiles = ca !== undefined || crt !== undefined;
  if (tls?.disabled === true && hasFiles)
    issues.push({
      variable: 'TEMPORAL_TLS',
      message:
        'TEMPORAL_TLS is false (or the profile disables TLS) but TLS certificates are set. Unset TEMPORAL_TLS, or unset the TEMPORAL_TLS_* certificate variables.',
    });
  const options: TemporalTlsConfig = {
    ...(ca !== undefined && { serverRootCACertificate: ca }),
    ...(crt !== undefined && key !== undefined && { clientCertPair: { crt, key } }),
    ...(tls?.serverName !== undefined && { serverNameOverride: tls.serverName }),
  };
  const configured = tls !== undefined && (hasFiles || tls.serverName !== undefined);
  return { ...(tls?.disabled !== undefined && { disabled: tls.disabled }), configured, options };
}

export interface TemporalConnectionOptions {
  address: string;
  /** `false` only beside an API key with TLS switched off: the SDK would otherwise turn TLS on for it. */
  tls?: TemporalTlsConfig | false;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** Options for `Connection.connect` and `NativeConnection.connect`. */
export function connectionOptions(cfg: TemporalConfig): TemporalConnectionOptions {
  return {
    address: cfg.address,
    ...(cfg.tls !== undefined && { tls: cfg.tls }),
    ...(cfg.tls === undefined && cfg.apiKey !== undefined && { tls: false as const }),
    ...(cfg.apiKey !== undefined && { apiKey: cfg.apiKey }),
    ...(cfg.metadata !== undefined && { metadata: cfg.metadata }),
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
