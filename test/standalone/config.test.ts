import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  loadListenConfig,
  ConfigError,
  connectionOptions,
  loadDatabaseConfig,
  loadTemporalConfig,
  postgresUrl,
  redactUrl,
} from '../../infra/config.js';
import { createDatabase, startPostgres } from '../../infra/postgres.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const pemDir = mkdtempSync(path.join(os.tmpdir(), 'remedy-config-test-'));
const pem = (name: string, body: string): string => {
  const file = path.join(pemDir, name);
  writeFileSync(file, body);
  return file;
};

describe('loadTemporalConfig', () => {
  it('uses local defaults when nothing is set', () => {
    expect(loadTemporalConfig({})).toEqual({
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'remedy',
      trainingTaskQueue: 'remedy-training',
      addressFrom: 'default',
    });
  });

  it('treats empty variables as unset', () => {
    const cfg = loadTemporalConfig({ TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '  ', REMEDY_TASK_QUEUE: '' });
    expect(cfg.address).toBe('localhost:7233');
    expect(cfg.namespace).toBe('default');
    expect(cfg.taskQueue).toBe('remedy');
  });

  it('reads every variable', () => {
    const cfg = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'ml-prod',
      REMEDY_TASK_QUEUE: 'remedy-a',
      REMEDY_TRAINING_TASK_QUEUE: 'gpu-pool',
    });
    expect(cfg).toEqual({
      address: 'temporal.internal:7233',
      namespace: 'ml-prod',
      taskQueue: 'remedy-a',
      trainingTaskQueue: 'gpu-pool',
      addressFrom: 'environment',
    });
  });

  it('accepts bracketed IPv6 addresses', () => {
    expect(loadTemporalConfig({ TEMPORAL_ADDRESS: '[::1]:7233' }).address).toBe('[::1]:7233');
  });

  it.each(['x', 'localhost', 'localhost:', ':7233', 'localhost:99999', 'http://localhost:7233', 'a b:1'])(
    'rejects the address %j, naming TEMPORAL_ADDRESS and the value',
    (address) => {
      const err = configError(() => loadTemporalConfig({ TEMPORAL_ADDRESS: address }));
      expect(err.variable).toBe('TEMPORAL_ADDRESS');
      expect(err.message).toBe(
        `Invalid environment: TEMPORAL_ADDRESS must be host:port (got ${JSON.stringify(address)}). ` +
          'Set it to the Temporal frontend address, e.g. localhost:7233.',
      );
    },
  );

  it('reports every bad variable at once', () => {
    const err = configError(() =>
      loadTemporalConfig({ TEMPORAL_ADDRESS: 'x', REMEDY_TASK_QUEUE: 'two words' }),
    );
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['REMEDY_TASK_QUEUE', 'TEMPORAL_ADDRESS']);
  });

  it('rejects a client certificate without its key', () => {
    const err = configError(() =>
      loadTemporalConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem('client.crt', 'CERT') }),
    );
    expect(err.variable).toBe('TEMPORAL_TLS_CLIENT_KEY_PATH');
    expect(err.message).toMatch(
      /TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not/,
    );
  });

  it('rejects a key without its client certificate', () => {
    const err = configError(() =>
      loadTemporalConfig({ TEMPORAL_TLS_CLIENT_KEY_PATH: pem('client.key', 'KEY') }),
    );
    expect(err.variable).toBe('TEMPORAL_TLS_CLIENT_CERT_PATH');
  });

  it('names the variable whose file is missing', () => {
    const missing = path.join(pemDir, 'nope.pem');
    const err = configError(() => loadTemporalConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing }));
    expect(err.variable).toBe('TEMPORAL_TLS_SERVER_CA_CERT_PATH');
    expect(err.message).toContain(
      `TEMPORAL_TLS_SERVER_CA_CERT_PATH points to "${missing}", which cannot be read (ENOENT)`,
    );
  });

  it('loads the CA and the client certificate pair for mTLS', () => {
    const cfg = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pem('ca.pem', 'CA'),
      TEMPORAL_TLS_CLIENT_CERT_PATH: pem('c.crt', 'CRT'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: pem('c.key', 'KEY'),
    });
    expect(cfg.tls?.serverRootCACertificate?.toString()).toBe('CA');
    expect(cfg.tls?.clientCertPair?.crt.toString()).toBe('CRT');
    expect(cfg.tls?.clientCertPair?.key.toString()).toBe('KEY');
    expect(connectionOptions(cfg)).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: cfg.tls });
  });

  it('turns TLS on for an API key', () => {
    const cfg = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233',
      TEMPORAL_API_KEY: 'k',
    });
    expect(connectionOptions(cfg)).toEqual({
      address: 'us-east-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey: 'k',
    });
  });

  it('parses TEMPORAL_TLS strictly: "false" means false', () => {
    const cfg = loadTemporalConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' });
    expect(cfg.tls).toBeUndefined();
    // The SDK turns TLS on for an API key unless told otherwise.
    expect(connectionOptions(cfg)).toEqual({ address: 'localhost:7233', tls: false, apiKey: 'k' });
    expect(loadTemporalConfig({ TEMPORAL_TLS: 'TRUE' }).tls).toEqual({});
    const err = configError(() => loadTemporalConfig({ TEMPORAL_TLS: 'maybe' }));
    expect(err.message).toBe('Invalid environment: TEMPORAL_TLS must be true or false (got "maybe").');
  });

  it('plain connections carry neither tls nor apiKey', () => {
    expect(connectionOptions(loadTemporalConfig({}))).toEqual({ address: 'localhost:7233' });
  });

  it('produces options both connection classes accept', () => {
    const opts = connectionOptions(loadTemporalConfig({}));
    const forClient: ConnectionOptions = opts;
    const forWorker: NativeConnectionOptions = opts;
    expect(forClient).toBe(forWorker);
  });
});

describe("Temporal's config file, profiles and deprecated names", () => {
  const toml = (name: string, body: string): string => pem(name, body);
  const profiles = toml(
    'temporal.toml',
    [
      '[profile.default]',
      'address = "localhost:7233"',
      '',
      '[profile.prod]',
      'address = "prod.acct.tmprl.cloud:7233"',
      'namespace = "ml-prod.acct"',
      'api_key = "prod-key"',
      '[profile.prod.grpc_meta]',
      'x-team = "ml"',
    ].join('\n'),
  );
  const warnings: string[] = [];
  const load = (env: Record<string, string>) => loadTemporalConfig(env, { warn: (m) => warnings.push(m) });
  afterEach(() => {
    warnings.length = 0;
  });

  it('given TEMPORAL_PROFILE, then the profile of the file selects address, namespace, API key and headers', () => {
    const cfg = load({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'prod' });
    expect(cfg).toMatchObject({
      address: 'prod.acct.tmprl.cloud:7233',
      namespace: 'ml-prod.acct',
      apiKey: 'prod-key',
      addressFrom: 'profile',
      profile: { name: 'prod', file: profiles },
    });
    expect(connectionOptions(cfg)).toEqual({
      address: 'prod.acct.tmprl.cloud:7233',
      tls: {},
      apiKey: 'prod-key',
      metadata: { 'x-team': 'ml' },
    });
    expect(warnings).toEqual([]);
  });

  it('given no TEMPORAL_PROFILE, then the "default" profile applies, and variables override it', () => {
    expect(load({ TEMPORAL_CONFIG_FILE: profiles })).toMatchObject({
      address: 'localhost:7233',
      namespace: 'default',
      profile: { name: 'default' },
    });
    const cfg = load({
      TEMPORAL_CONFIG_FILE: profiles,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'other',
    });
    expect(cfg.namespace).toBe('other');
    expect(cfg.address).toBe('prod.acct.tmprl.cloud:7233');
  });

  it("finds the file where Temporal's CLI keeps it (the user's config directory)", () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'remedy-home-'));
    mkdirSync(path.join(home, '.config', 'temporalio'), { recursive: true });
    writeFileSync(
      path.join(home, '.config', 'temporalio', 'temporal.toml'),
      '[profile.staging]\naddress = "staging.internal:7233"\n',
    );
    expect(load({ HOME: home, TEMPORAL_PROFILE: 'staging' }).address).toBe('staging.internal:7233');
    // No profile asked for and no "default" profile: the local defaults.
    expect(load({ HOME: home })).toMatchObject({ address: 'localhost:7233', addressFrom: 'default' });
  });

  it('given a profile the file does not have, then it says which it has and what to do', () => {
    const err = configError(() => load({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'staging' }));
    expect(err.variable).toBe('TEMPORAL_PROFILE');
    expect(err.message).toContain(
      `TEMPORAL_PROFILE is "staging" but ${profiles} has no profile "staging" (it has "default", "prod")`,
    );
    expect(err.message).toContain('Add [profile.staging] to the file');
  });

  it('given a profile with a misspelt key, then it names the key and the profile', () => {
    const file = toml('typo.toml', '[profile.prod]\nadress = "prod:7233"\n');
    const err = configError(() => load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }));
    expect(err.variable).toBe('TEMPORAL_CONFIG_FILE');
    expect(err.message).toContain(`The Temporal config file ${file} is not usable`);
    expect(err.message).toContain('profile.prod: adress');
  });

  it("given a profile whose address is not host:port, then it names the profile's key", () => {
    const file = toml('bad-address.toml', '[profile.prod]\naddress = "https://prod.example.com"\n');
    const err = configError(() => load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }));
    expect(err.variable).toBe(`address in profile "prod" of ${file}`);
    expect(err.message).toContain('must be host:port (got "https://prod.example.com")');
  });

  it('given a file that is not TOML, or a TEMPORAL_CONFIG_FILE that is missing, then it says so', () => {
    const broken = toml('broken.toml', '[profile.prod\naddress = 1\n');
    expect(configError(() => load({ TEMPORAL_CONFIG_FILE: broken })).message).toContain(
      `The Temporal config file ${broken} is not usable`,
    );
    const missing = path.join(pemDir, 'absent.toml');
    const err = configError(() => load({ TEMPORAL_CONFIG_FILE: missing }));
    expect(err.variable).toBe('TEMPORAL_CONFIG_FILE');
    expect(err.message).toContain(`points to "${missing}", which cannot be read (ENOENT)`);
  });

  it("given today's TLS names, then they still work, with one warning each naming the standard name", () => {
    const cfg = load({
      TEMPORAL_TLS_CA_PATH: pem('old-ca.pem', 'CA'),
      TEMPORAL_TLS_CERT_PATH: pem('old.crt', 'CRT'),
      TEMPORAL_TLS_KEY_PATH: pem('old.key', 'KEY'),
    });
    expect(cfg.tls?.serverRootCACertificate?.toString()).toBe('CA');
    expect(cfg.tls?.clientCertPair?.crt.toString()).toBe('CRT');
    expect(warnings).toEqual([
      "TEMPORAL_TLS_CA_PATH is deprecated: rename it to TEMPORAL_TLS_SERVER_CA_CERT_PATH (same meaning; Temporal's CLI and SDKs read that name).",
      "TEMPORAL_TLS_CERT_PATH is deprecated: rename it to TEMPORAL_TLS_CLIENT_CERT_PATH (same meaning; Temporal's CLI and SDKs read that name).",
      "TEMPORAL_TLS_KEY_PATH is deprecated: rename it to TEMPORAL_TLS_CLIENT_KEY_PATH (same meaning; Temporal's CLI and SDKs read that name).",
    ]);
  });

  it('given an old name that is wrong, then the error names the variable the user set', () => {
    const err = configError(() => load({ TEMPORAL_TLS_CERT_PATH: pem('only.crt', 'CRT') }));
    expect(err.message).toContain('TEMPORAL_TLS_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not');
  });

  it('given both an old and a standard name, then the standard one wins and the old one is called out', () => {
    const cfg = load({
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pem('new-ca.pem', 'NEW'),
      TEMPORAL_TLS_CA_PATH: pem('stale-ca.pem', 'OLD'),
    });
    expect(cfg.tls?.serverRootCACertificate?.toString()).toBe('NEW');
    expect(warnings).toEqual([
      'TEMPORAL_TLS_CA_PATH is deprecated and ignored because TEMPORAL_TLS_SERVER_CA_CERT_PATH is set: unset TEMPORAL_TLS_CA_PATH.',
    ]);
  });
});

describe('database configuration', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('defaults to the embedded cluster on port 54329', () => {
    expect(loadDatabaseConfig({})).toEqual({ embeddedPort: 54329 });
    expect(loadDatabaseConfig({ REMEDY_PG_PORT: '6000' })).toEqual({ embeddedPort: 6000 });
  });

  it.each(['postgres://u:p@db:5432/remedy', 'postgresql://db/remedy?sslmode=require'])(
    'accepts %s',
    (url) => {
      expect(loadDatabaseConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    },
  );

  it.each([
    'mysql://u:secret@db/remedy',
    'localhost:5432',
    'postgres://',
    'postgres:///remedy',
    'host=db.example.com user=remedy password=secret dbname=remedy',
    "host=db.example.com password='my secret' dbname=remedy",
    'remedy:secret@db.example.com:5432/remedy',
    'postgres://remedy:se/cret@db.example.com/remedy',
  ])('rejects DATABASE_URL=%j, naming the variable and hiding the password', (url) => {
    const err = configError(() => loadDatabaseConfig({ DATABASE_URL: url }));
    expect(err.variable).toBe('DATABASE_URL');
    expect(err.message).toMatch(
      /^Invalid environment: DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    expect(err.message).toContain('unset DATABASE_URL to use the embedded Postgres');
    expect(err.message).not.toMatch(/secret|cret/);
  });

  it.each(['host=db.example.com password=secret', 'remedy:secret@db.example.com/remedy'])(
    'shows a rejected DATABASE_URL=%j with the password masked, wherever it is read',
    (url) => {
      const shown = `(got ${JSON.stringify(redactUrl(url))})`;
      expect(shown).toContain('****');
      // The review page, the CLI and startPostgres read it with loadDatabaseConfig ...
      expect(configError(() => loadDatabaseConfig({ DATABASE_URL: url })).message).toContain(shown);
      // ... the worker and the gateway with postgresUrl in their own schemas.
      const parsed = postgresUrl('DATABASE_URL').safeParse(url);
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues[0]!.message).toContain(shown);
      expect(parsed.error!.issues[0]!.message).not.toContain('secret');
    },
  );

  it.each([
    // URLs with a scheme, valid or not: the user and host stay, the password goes.
    [
      'postgres://remedy:secret@db.example.com:5432/remedy',
      'postgres://remedy:****@db.example.com:5432/remedy',
    ],
    ['mysql://u:secret@db/remedy', 'mysql://u:****@db/remedy'],
    ['postgres://:secret@db/remedy', 'postgres://:****@db/remedy'],
    // A password holding "@", "/" or a space is masked whole, up to the last "@".
    ['postgres://u:p@ss/w@rd@db/remedy', 'postgres://u:****@db/remedy'],
    ['postgres://u:my secret@db/remedy', 'postgres://u:****@db/remedy'],
    // user:password@host without a scheme.
    ['remedy:secret@db.example.com:5432/remedy', 'remedy:****@db.example.com:5432/remedy'],
    // libpq key=value strings, quoted or not, and password= in a URL's query.
    [
      'host=db.example.com user=remedy password=secret dbname=remedy',
      'host=db.example.com user=remedy password=**** dbname=remedy',
    ],
    ["host=db password='my \\'secret' dbname=remedy", 'host=db password=**** dbname=remedy'],
    ['host=db PASSWORD = secret', 'host=db PASSWORD = ****'],
    ['host=db sslpassword=secret', 'host=db sslpassword=****'],
    ['host=db password=a:b@c port=5432', 'host=db password=**** port=5432'],
    ['postgres://db/remedy?user=u&password=secret', 'postgres://db/remedy?user=u&password=****'],
    // Nothing secret: unchanged.
    ['postgres://remedy@db.example.com:5432/remedy', 'postgres://remedy@db.example.com:5432/remedy'],
    ['localhost:5432', 'localhost:5432'],
    ['host=db user=remedy dbname=remedy', 'host=db user=remedy dbname=remedy'],
  ])('redactUrl(%j) is %j', (value, masked) => {
    expect(redactUrl(value)).toBe(masked);
  });

  it('rejects a bad REMEDY_PG_PORT', () => {
    const err = configError(() => loadDatabaseConfig({ REMEDY_PG_PORT: '70000' }));
    expect(err.variable).toBe('REMEDY_PG_PORT');
  });

  it('startPostgres refuses a bad DATABASE_URL before starting anything', async () => {
    vi.stubEnv('DATABASE_URL', 'http://db.example/remedy');
    await expect(startPostgres({ dataDir: path.join(pemDir, 'never-created') })).rejects.toThrow(
      /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
  });

  it('startPostgres hands back DATABASE_URL as is, and does not own it', async () => {
    vi.stubEnv('DATABASE_URL', 'postgres://u:p@db.example:5432/remedy');
    const server = await startPostgres();
    expect(server).toMatchObject({ url: 'postgres://u:p@db.example:5432/remedy', embedded: false });
    await server.stop();
  });

  it.each(['Remedy', '1abc', 'a-b', 'x'.repeat(64), ''])(
    'createDatabase rejects the name %j',
    async (name) => {
      await expect(createDatabase('postgres://u:p@127.0.0.1:1/postgres', name)).rejects.toThrow(
        /Invalid database name/,
      );
    },
  );
});

describe('loadListenConfig', () => {
  it('given nothing set, then the caller’s defaults; given a port and host, then those', () => {
    expect(loadListenConfig('GATEWAY', { port: 8080, host: '0.0.0.0' }, {})).toEqual({
      port: 8080,
      host: '0.0.0.0',
    });
    expect(
      loadListenConfig(
        'REVIEW',
        { port: 0, host: '127.0.0.1' },
        { REMEDY_REVIEW_PORT: '9000', REMEDY_REVIEW_HOST: '::' },
      ),
    ).toEqual({ port: 9000, host: '::' });
  });
  it('given a port that is not one, then the error names the variable', () => {
    expect(() =>
      loadListenConfig('GATEWAY', { port: 0, host: 'h' }, { REMEDY_GATEWAY_PORT: '99999' }),
    ).toThrow(/REMEDY_GATEWAY_PORT must be a TCP port number/);
  });
});
