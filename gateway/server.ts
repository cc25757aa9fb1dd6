/**
 * The embedded serving gateway: an HTTP service in front of a model's champion and candidate.
 *
 *   POST /v1/models/:modelId/predict   { features, requestId?, routingKey? } → { requestId, version, label, confidence, probabilities }
 *                                      (a regressor: { requestId, version, prediction, interval? { low, high, level } })
 *   POST /v1/models/:modelId/feedback  { requestId, label }                  → { requestId, label, duplicate, flagged }
 *   POST /v1/models/:modelId/corrections { requestId, label, by? }            → { requestId, label, flagged }
 *   GET  /metrics                                                           Remedy's metrics (Prometheus)
 *   GET  /healthz
 *
 * Each prediction is logged with its version, latency and features; feedback (delayed ground truth)
 * joins it later by request ID. Unsure, out-of-distribution and slow predictions, wrong ones (once the
 * truth arrives) and users' corrections are flagged into the failure catalog.
 *
 * At production volume a prediction sends no query: the split is cached and dropped by a Postgres
 * notification when it changes (serving-state.ts), so a rollback applies to the next requests within
 * milliseconds; the prediction rows are written in batches off the request path (prediction-log.ts).
 * Feedback and corrections (and predict, with `authPredict`) need an API key (auth.ts). `close()` drains:
 * it stops accepting, lets in-flight requests finish, and writes every queued row.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Logger } from '../infra/log.js';
import { z } from 'zod';
import { intervalAround } from '../core/regression-interval.js';
import { ModelId } from '../core/schemas.js';
import type { ModelDefinition } from '../core/schemas.js';
import * as db from '../db/index.js';
import { HttpError, listen, readJsonBody, sendJson as send, type Listening } from '../infra/http.js';
import { ApiKeyAuth, type GatewayAuth } from './auth.js';
import { parse, truthHandlers } from './feedback.js';
import { remedyMetrics } from './metrics.js';
import { PredictionLog, type LogOptions } from './prediction-log.js';
import { chooseVersion, ModelCache, predictionRow, scoreOne } from './routing.js';
import { ChangeFeed, trafficCache, type CacheTimes } from './serving-state.js';
import { servingMetrics } from './serving-metrics.js';

const MAX_BODY_BYTES = 64 * 1024;
export const GATEWAY_BATCH = 'gateway';

const PredictBody = z.object({
  requestId: z.string().min(1).max(200).optional(),
  routingKey: z.string().min(1).max(200).optional(),
  features: z.record(z.string(), z.union([z.number(), z.string()])),
});
export interface GatewayOptions {
  port?: number;
  host?: string;
  /** `required` (the default): feedback and corrections need an API key; `off`: anyone may write. */
  auth?: GatewayAuth;
  /** Predict needs an API key too (REMEDY_GATEWAY_AUTH_PREDICT=1). */
  authPredict?: boolean;
  /** The prediction log's batching (flush interval, batch size, bound). */
  log?: Omit<LogOptions, 'batchKey'>;
  /** How long cached splits live without a notification. */
  cache?: CacheTimes;
  onError?: (msg: string) => void;
  /**
   * Where each request's access log line goes (method, path, status, milliseconds, the model; never a
   * body, a query string or a header); none when unset.
   */
  accessLog?: Pick<Logger, 'info'>;
}

export interface Gateway extends Listening {
  /** The prediction log: `flush()` writes what is queued (tests, benchmarks). */
  log: PredictionLog;
  /** Requests being answered now. */
  inFlight(): number;
}

interface GatewayParts {
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  log: PredictionLog;
  feed: ChangeFeed;
}

function createGatewayHandler(pool: pg.Pool, opts: GatewayOptions): GatewayParts {
  const onError = opts.onError ?? ((msg: string) => console.error(msg));
  const cache = new ModelCache(pool);
  const metrics = remedyMetrics(pool);
  const feed = new ChangeFeed(pool, onError);
  const splits = trafficCache(pool, feed, opts.cache);
  const auth = opts.auth === 'off' ? null : new ApiKeyAuth(pool, feed);
  const log = new PredictionLog(pool, {
    ...opts.log,
    batchKey: GATEWAY_BATCH,
    onError: (err) =>
      onError(`gateway: writing the prediction log failed, retrying: ${(err as Error).message}`),
  });
  const serving = servingMetrics(metrics, log);
  const models = new Map<string, Promise<ModelDefinition | null>>();
  const model = async (modelId: string): Promise<ModelDefinition> => {
    if (!ModelId.safeParse(modelId).success) throw new HttpError(404, `no model "${modelId}"`);
    let def = models.get(modelId);
    if (!def) {
      def = db.getModel(pool, modelId);
      models.set(modelId, def);
      // Unknown models are not cached: registering one must not need a restart.
      void def.then(
        (d) => d ?? models.delete(modelId),
        () => models.delete(modelId),
      );
    }
    const found = await def;
    if (!found) throw new HttpError(404, `no model "${modelId}": register it first`);
    return found;
  };

  const predict = async (modelId: string, body: unknown) => {
    const t0 = performance.now();
    const def = await model(modelId);
    const input = parse(PredictBody, body);
    const features = checkFeatures(def, input.features);
    const requestId = input.requestId ?? randomUUID();
    const traffic = await splits.get(modelId);
    if (!traffic)
      throw new HttpError(409, `model "${modelId}" has no traffic split: register it and its champion first`);
    const version = chooseVersion(traffic, input.routingKey ?? requestId);
    const ts = new Date();
    const { served, cases } = await scoreOne(cache, modelId, version, { recordKey: requestId, ts, features });
    await log.add({ modelId, recordKey: requestId, ts, features, prediction: predictionRow(served), cases });
    serving.observe(modelId, version, (performance.now() - t0) / 1000);
    // A regression model answers with the number it predicts, and the version's prediction interval
    // around it when one is stored; a classifier with its class and probabilities.
    if (served.value !== undefined) {
      const interval = await cache.interval(modelId, version);
      return {
        requestId,
        modelId,
        version,
        prediction: served.value,
        ...(interval ? { interval: intervalAround(served.value, interval, def.target) } : {}),
      };
    }
    return {
      requestId,
      modelId,
      version,
      label: served.label,
      confidence: served.confidence,
      probabilities: served.probabilities,
    };
  };

  const { feedback, correction } = truthHandlers({
    pool,
    cache,
    log,
    model,
    onError: (m, version, predicted, actual) => serving.observeError(m, version, predicted, actual),
  });

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://gateway');
      if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const text = await metrics.metrics();
        res.writeHead(200, { 'content-type': metrics.contentType });
        return void res.end(text);
      }
      const m = /^\/v1\/models\/([^/]+)\/(predict|feedback|corrections)$/.exec(url.pathname);
      if (!m) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
      if (req.method !== 'POST') throw new HttpError(405, `use POST for ${url.pathname}`);
      const route = m[2] as 'predict' | 'feedback' | 'corrections';
      // Credentials first: a refused write reads no body and writes nothing.
      const client = auth && (route !== 'predict' || opts.authPredict) ? await auth.client(req) : null;
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      const modelId = decodeURIComponent(m[1]!);
      if (route === 'predict') send(res, 200, await predict(modelId, body));
      else send(res, 200, await { feedback, corrections: correction }[route](modelId, body, client));
    } catch (err) {
      if (err instanceof HttpError)
        send(
          res,
          err.status,
          { error: err.message },
          err.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
        );
      else {
        onError(`gateway: ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
        send(res, 500, { error: 'internal error' });
      }
    }
  };
  return { handler, log, feed };
}

/**
 * Starts the gateway. `close()` drains: stops accepting connections, lets the requests in flight finish
 * (up to `drainMs`), writes every queued prediction row, and stops listening for changes. The pool stays
 * open (the caller's).
 */
export async function startGateway(pool: pg.Pool, opts: GatewayOptions = {}): Promise<Gateway> {
  const { handler, log, feed } = createGatewayHandler(pool, opts);
  await feed.start();
  let inFlight = 0;
  let draining = false;
  const idle: (() => void)[] = [];
  const access = opts.accessLog;
  const listening = await listen(async (req, res) => {
    inFlight++;
    if (access) logAccess(access, req, res);
    // While draining, every answer closes its connection, so keep-alive clients reconnect elsewhere.
    if (draining) res.setHeader('connection', 'close');
    try {
      await handler(req, res);
    } finally {
      inFlight--;
      if (inFlight === 0) for (const f of idle.splice(0)) f();
    }
  }, opts);
  listening.server.keepAliveTimeout = 5000;
  const close = async (drainMs = 10_000): Promise<void> => {
    if (draining) return;
    draining = true;
    const closed = new Promise<void>((resolve) => listening.server.close(() => resolve()));
    listening.server.closeIdleConnections();
    if (inFlight > 0)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, drainMs);
        idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    listening.server.closeAllConnections();
    await closed;
    try {
      await log.close();
    } finally {
      feed.stop();
    }
  };
  return { ...listening, close: () => close(), log, inFlight: () => inFlight };
}

/** One line per request once its answer is sent (or its connection drops). */
function logAccess(log: Pick<Logger, 'info'>, req: http.IncomingMessage, res: http.ServerResponse): void {
  const t0 = performance.now();
  const path = (req.url ?? '/').split('?')[0]!;
  const model = /^\/v1\/models\/([^/]+)\//.exec(path)?.[1];
  const done = (aborted: boolean) => () =>
    log.info(
      {
        method: req.method,
        path,
        status: res.statusCode,
        ms: Math.round((performance.now() - t0) * 100) / 100,
        ...(model !== undefined && { model }),
        ...(aborted && { aborted: true }),
      },
      'request',
    );
  res.once('finish', done(false));
  res.once('close', () => {
    if (!res.writableFinished) done(true)();
  });
}

/** Every feature of the model's spec, of the right kind; extra fields are refused too. */
function checkFeatures(
  def: ModelDefinition,
  features: Record<string, number | string>,
): Record<string, number | string> {
  const problems: string[] = [];
  for (const name of def.features.numeric) {
    const v = features[name];
    if (typeof v !== 'number' || !Number.isFinite(v))
      problems.push(`features.${name}: expected a finite number`);
  }
  for (const name of def.features.categorical) {
    if (typeof features[name] !== 'string') problems.push(`features.${name}: expected a string`);
  }
  const known = new Set([...def.features.numeric, ...def.features.categorical]);
  for (const name of Object.keys(features))
    if (!known.has(name)) problems.push(`features.${name}: not a feature of this model`);
  if (problems.length > 0) throw new HttpError(422, problems.join('; '));
  return features;
}
