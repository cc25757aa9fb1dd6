/**
 * infra/log.ts: what a line looks like, and what never gets into one.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  createAccessLogger,
  createLogger,
  logLevelFromEnv,
  sdkLogger,
  secretValues,
} from '../../infra/log.js';

function capture(env: Record<string, string>, make = createLogger) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return { log: make('test', { env, destination }), lines };
}

const env = {
  DATABASE_URL: 'postgres://remedy:pa%40ss-w0rd-long@db.internal:5432/remedy',
  REMEDY_CODEC_KEYS:
    'k2:c2VjcmV0LWNvZGVjLWtleS1tYXRlcmlhbC0xMjM0NTY=,k1:b2xkLWtleS1tYXRlcmlhbC0xMjM0NTY3ODkw',
  TEMPORAL_API_KEY: 'tak-0123456789abcdef',
  REMEDY_GATEWAY_AUTH: 'required',
  TEMPORAL_TLS_CLIENT_KEY_PATH: '/etc/remedy/client.key',
};

describe('structured logs', () => {
  it('writes one JSON object per line with time, level as a word, name and msg', () => {
    const { log, lines } = capture({});
    log.info({ modelId: 'weather' }, 'drift check');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      name: 'test',
      modelId: 'weather',
      msg: 'drift check',
    });
    expect((JSON.parse(lines[0]!) as { time: string }).time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('finds the secrets of the environment, not the paths or settings beside them', () => {
    const found = secretValues(env);
    expect(found).toContain('pa@ss-w0rd-long');
    expect(found).toContain('c2VjcmV0LWNvZGVjLWtleS1tYXRlcmlhbC0xMjM0NTY=');
    expect(found).toContain('tak-0123456789abcdef');
    expect(found).not.toContain('required');
    expect(found).not.toContain('/etc/remedy/client.key');
  });

  it('never writes a secret: not in a field, a message, an error, a header or a URL', () => {
    const { log, lines } = capture(env);
    log.info({ headers: { authorization: 'Bearer abc.def.ghi', 'content-type': 'json' } }, 'request');
    log.error({ err: new Error(`connect failed: ${env.DATABASE_URL}`) }, 'database down');
    log.warn(`codec key k1 is ${env.REMEDY_CODEC_KEYS.split(',')[1]!.slice(3)}`);
    log.info({ apiKey: 'anything', nested: { password: 'hunter2' } }, 'settings');
    log.info('elsewhere: postgres://u:short@h/db, password=letmein and Bearer zzz9');
    log.info({ url: 'postgres://remedy:pa@ss-w0rd-long@db.internal/remedy' }, 'decoded');
    const text = lines.join('\n');
    for (const secret of [
      'abc.def.ghi',
      'pa%40ss-w0rd-long',
      'pa@ss-w0rd-long',
      'b2xkLWtleS1tYXRlcmlhbC0xMjM0NTY3ODkw',
      'anything',
      'hunter2',
      ':short@',
      'letmein',
      'zzz9',
    ])
      expect(text).not.toContain(secret);
    expect((JSON.parse(lines[0]!) as { headers: unknown }).headers).toEqual({
      authorization: '[redacted]',
      'content-type': 'json',
    });
    expect(text).toContain('db.internal:5432/remedy'); // where, without who
  });

  it('given an access line holding a secret (a key pasted into a path), then the access log scrubs it too', () => {
    const { log, lines } = capture(env, createAccessLogger);
    log.info(
      { method: 'GET', path: `/v1/models/${env.TEMPORAL_API_KEY}/predict`, status: 404, ms: 0.4 },
      'request',
    );
    log.info({ method: 'GET', path: '/x', status: 200, ms: 1, note: 'Bearer abc.def.ghi' }, 'request');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', name: 'test', status: 404, msg: 'request' });
    expect(lines.join('\n')).not.toContain(env.TEMPORAL_API_KEY);
    expect(lines.join('\n')).not.toContain('abc.def.ghi');
  });

  it("gives the SDK's metadata to each line, bigints as text", () => {
    const { log, lines } = capture({});
    const sdk = sdkLogger(log);
    sdk.warn('Activity failed', { workflowId: 'w-1', activityId: '2', attempt: 3, seq: 7n });
    sdk.log('DEBUG', 'ignored below info', {});
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'warn',
      msg: 'Activity failed',
      workflowId: 'w-1',
      activityId: '2',
      seq: '7',
    });
  });

  it('refuses an unknown REMEDY_LOG_LEVEL and says which are known', () => {
    expect(logLevelFromEnv({ REMEDY_LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(() => logLevelFromEnv({ REMEDY_LOG_LEVEL: 'loud' })).toThrow(
      'REMEDY_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
    );
  });
});
