/**
 * The tracing configuration (infra/tracing.ts) read from the standard OTEL_* variables: off unless an
 * endpoint is set, and a clear error naming the variable for a value Remedy cannot use.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../infra/config.js';
import { tracesUrl, tracingFromEnv } from '../../infra/tracing.js';

const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

describe('tracing configuration', () => {
  it.each([
    ['nothing set', {}],
    ['only a service name', { OTEL_SERVICE_NAME: 'remedy' }],
    ['OTEL_SDK_DISABLED=true', { ...endpoint, OTEL_SDK_DISABLED: 'true' }],
    ['OTEL_TRACES_EXPORTER=none', { ...endpoint, OTEL_TRACES_EXPORTER: 'none' }],
  ])('given %s, then tracing is off', (_, env) => {
    expect(tracingFromEnv('remedy-worker', env)).toBeNull();
  });

  it('given an endpoint, then spans go to its /v1/traces, and a traces endpoint is used as it is', () => {
    expect(tracesUrl(endpoint)).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com/base/' })).toBe(
      'https://otel.example.com/base/v1/traces',
    );
    expect(tracesUrl({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom' })).toBe(
      'http://traces:4318/custom',
    );
  });

  it('given an endpoint, then the service name comes from OTEL_SERVICE_NAME, else the resource attributes, else the process', async () => {
    const name = async (env: Record<string, string>) => {
      const tracing = tracingFromEnv('remedy-worker', { ...endpoint, ...env })!;
      await tracing.shutdown();
      return tracing.resource.attributes;
    };
    expect(await name({})).toMatchObject({ 'service.name': 'remedy-worker' });
    expect(await name({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=ml,team=fraud%20models' })).toMatchObject({
      'service.name': 'ml',
      team: 'fraud models',
    });
    expect(
      await name({ OTEL_SERVICE_NAME: 'remedy-eu', OTEL_RESOURCE_ATTRIBUTES: 'service.name=ml' }),
    ).toMatchObject({ 'service.name': 'remedy-eu' });
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'not an http(s) URL'],
    [
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      { ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      'OTLP HTTP/protobuf only; set it to http/protobuf',
    ],
    ['OTEL_TRACES_EXPORTER', { ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' }, 'set it to otlp or none'],
    ['OTEL_RESOURCE_ATTRIBUTES', { ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'team' }, 'key=value was expected'],
  ])('given a bad %s, then the error names it and says what to set', (variable, env, message) => {
    let error: unknown;
    try {
      tracingFromEnv('remedy-worker', env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toContain(message);
  });
});
