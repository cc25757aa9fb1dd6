/**
 * OpenTelemetry traces for Remedy's processes, through Temporal's own interceptors
 * (`@temporalio/interceptors-opentelemetry`): the client that starts a cycle opens the trace, the workflow
 * and each activity it schedules continue it (the context travels in Temporal headers), so one trace
 * follows a cycle from the CLI through the worker.
 *
 * Off unless configured, with the standard variables:
 *  - OTEL_EXPORTER_OTLP_ENDPOINT (spans go to <endpoint>/v1/traces) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 *    (the full URL) turns tracing on; spans are exported over OTLP HTTP/protobuf, in batches;
 *  - OTEL_SERVICE_NAME names the process (remedy-worker, remedy-cli, remedy-review by default), and
 *    OTEL_RESOURCE_ATTRIBUTES adds attributes (key=value,key=value);
 *  - OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns it off again;
 *  - the exporter's own variables (OTEL_EXPORTER_OTLP_HEADERS, …_TIMEOUT, …_COMPRESSION) and the sampler's
 *    (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) apply as the OpenTelemetry SDK defines them.
 * Unconfigured, a process builds no provider and no exporter and its client carries no interceptor.
 */
import { context, propagation, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ClientInterceptors } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import { ConfigError } from './config.js';

type Env = Record<string, string | undefined>;

export interface Tracing {
  /** Remedy's tracer, handed to Temporal's interceptors. */
  readonly tracer: Tracer;
  /** service.name and the other attributes every span of this process carries. */
  readonly resource: Resource;
  /** Where finished spans go: the worker hands it the workflow spans too (they are made in the sandbox). */
  readonly spanProcessor: SpanProcessor;
  /** Exports what is still buffered and stops: call before the process exits. */
  shutdown(): Promise<void>;
}

let globalsInstalled = false;

/**
 * The process-wide pieces the interceptors rely on: a context manager (so the span a client call opens
 * is the active one while it injects headers) and the W3C trace-context propagator (the header format).
 * Installed once, and only when tracing is on.
 */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** Tracing into the given span processor (the OTLP exporter's, or a test's in-memory one). */
export function createTracing(
  serviceName: string,
  spanProcessor: SpanProcessor,
  attributes: Record<string, string> = {},
): Tracing {
  installGlobals();
  const resource = Resource.default().merge(new Resource({ ...attributes, 'service.name': serviceName }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  return {
    tracer: provider.getTracer('remedy'),
    resource,
    spanProcessor,
    shutdown: () => provider.shutdown(),
  };
}

const fail = (variable: string, message: string) => new ConfigError([{ variable, message }]);

/** OTEL_RESOURCE_ATTRIBUTES: key=value pairs separated by commas, values percent-encoded. */
function resourceAttributes(raw: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) {
      throw fail(
        'OTEL_RESOURCE_ATTRIBUTES',
        `OTEL_RESOURCE_ATTRIBUTES has "${pair.trim()}" where key=value was expected, e.g. deployment.environment=prod,team=ml`,
      );
    }
    const value = pair.slice(at + 1).trim();
    try {
      attributes[pair.slice(0, at).trim()] = decodeURIComponent(value);
    } catch {
      throw fail('OTEL_RESOURCE_ATTRIBUTES', `OTEL_RESOURCE_ATTRIBUTES has a badly encoded value "${value}"`);
    }
  }
  return attributes;
}

/** The traces URL from the standard variables, or null when none is set. */
export function tracesUrl(env: Env): string | null {
  const specific = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  const general = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  const variable = specific ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const value = specific || general;
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail(
      variable,
      `${variable} is "${value}", not an http(s) URL: set the collector's OTLP HTTP address, e.g. http://localhost:4318`,
    );
  }
  // The general endpoint is a base: the signal's path is appended (OpenTelemetry's exporter convention).
  return specific ? value : `${value.replace(/\/+$/, '')}/v1/traces`;
}

function checkExporterChoice(env: Env): void {
  for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = env[variable]?.trim();
    if (protocol && protocol !== 'http/protobuf') {
      throw fail(
        variable,
        `${variable} is "${protocol}": Remedy exports traces over OTLP HTTP/protobuf only; set it to http/protobuf (port 4318 on most collectors) or unset it`,
      );
    }
  }
}

/**
 * Tracing as the standard variables configure it, or null when they do not ask for it (nothing is
 * created then). `defaultService` names the process when OTEL_SERVICE_NAME is unset.
 */
export function tracingFromEnv(defaultService: string, env: Env = process.env): Tracing | null {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return null;
  const exporterChoice = env['OTEL_TRACES_EXPORTER']?.trim();
  if (exporterChoice === 'none') return null;
  if (exporterChoice && exporterChoice !== 'otlp') {
    throw fail(
      'OTEL_TRACES_EXPORTER',
      `OTEL_TRACES_EXPORTER is "${exporterChoice}": Remedy exports traces over OTLP only; set it to otlp or none, or unset it`,
    );
  }
  const url = tracesUrl(env);
  if (!url) return null;
  checkExporterChoice(env);
  const attributes = resourceAttributes(env['OTEL_RESOURCE_ATTRIBUTES']);
  const serviceName = env['OTEL_SERVICE_NAME']?.trim() || attributes['service.name'] || defaultService;
  const exporter = new OTLPTraceExporter({ url });
  return createTracing(serviceName, new BatchSpanProcessor(exporter), attributes);
}

/** A Temporal client's interceptors: the workflow calls (start, signal, update, query) open spans. */
export function tracingClientOptions(tracing: Tracing | null): { interceptors?: ClientInterceptors } {
  if (!tracing) return {};
  return {
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] },
  };
}
