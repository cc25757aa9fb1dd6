/**
 * The embedded serving gateway: an HTTP service in front of a model's champion and candidate.
 *
 *   POST /v1/models/:modelId/predict   { features, requestId?, routingKey? } → { requestId, version, label, confidence, probabilities }
 *   POST /v1/models/:modelId/feedback  { requestId, label }                  → { requestId, label, duplicate, flagged }
 *   POST /v1/models/:modelId/corrections { requestId, label, by? }            → { requestId, label, flagged }
 *   GET  /metrics                                                           Remedy's metrics (Prometheus)
 *   GET  /healthz
 *
 * Each prediction is logged with its version, latency and features; feedback (delayed ground truth)
 * joins it later by request ID. Unsure, out-of-distribution and slow predictions, wrong ones (once the
 * truth arrives) and users' corrections are flagged into the failure catalog. The split comes from Postgres on every request, so a rollback takes
 * effect on the very next request.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { z } from 'zod';
import { describeZodError, ModelId } from '../core/schemas.js';
import type { ModelDefinition } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/queries.js';
import { flagOutcome } from '../core/catalog.js';
import { remedyMetrics } from './metrics.js';
import { ModelCache, NoTrafficSplitError, serve } from './routing.js';

const MAX_BODY_BYTES = 64 * 1024;
export const GATEWAY_BATCH = 'gateway';

const PredictBody = z.object({
  requestId: z.string().min(1).max(200).optional(),
  routingKey: z.string().min(1).max(200).optional(),
  features: z.record(z.string(), z.union([z.number(), z.string()])),
});
const FeedbackBody = z.object({
  requestId: z.string().min(1).max(200),
  label: z.string().min(1).max(100),
});
const CorrectionBody = FeedbackBody.extend({ by: z.string().min(1).max(100).optional() });

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Gateway {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

export function createGatewayHandler(pool: pg.Pool) {
  const cache = new ModelCache(pool);
  const metrics = remedyMetrics(pool);
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
    const def = await model(modelId);
    const input = parse(PredictBody, body);
    const features = checkFeatures(def, input.features);
    const requestId = input.requestId ?? randomUUID();
    return withTransaction(pool, async (client) => {
      await db.insertRecords(client, modelId, [
        { recordKey: requestId, ts: new Date(), features, feedback: null },
      ]);
      const [served] = await serve(client, cache, modelId, GATEWAY_BATCH, [
        { recordKey: requestId, routingKey: input.routingKey ?? requestId, features },
      ]).catch((err: unknown) => {
        throw err instanceof NoTrafficSplitError ? new HttpError(409, err.message) : err;
      });
      return {
        requestId,
        modelId,
        version: served!.version,
        label: served!.label,
        confidence: served!.confidence,
        probabilities: served!.probabilities,
      };
    });
  };

  const feedback = async (modelId: string, body: unknown) => {
    const def = await model(modelId);
    const input = parse(FeedbackBody, body);
    if (!def.labelSet.includes(input.label)) {
      throw new HttpError(422, `label "${input.label}" is not one of ${def.labelSet.join(', ')}`);
    }
    const stored = await db.recordFeedback(pool, modelId, input.requestId, input.label);
    if (!stored)
      throw new HttpError(
        404,
        `no request "${input.requestId}" for model "${modelId}": send feedback for a served request ID`,
      );
    const flagged = stored.duplicate ? false : await flagTruth(modelId, input.requestId, stored.label, false);
    return { requestId: input.requestId, label: stored.label, duplicate: stored.duplicate, flagged };
  };

  /** A user says the answer was wrong and what it should have been: a failure case, and the truth if none yet. */
  const correction = async (modelId: string, body: unknown) => {
    const def = await model(modelId);
    const input = parse(CorrectionBody, body);
    if (!def.labelSet.includes(input.label)) {
      throw new HttpError(422, `label "${input.label}" is not one of ${def.labelSet.join(', ')}`);
    }
    const served = await db.servedRequest(pool, modelId, input.requestId);
    if (!served)
      throw new HttpError(
        404,
        `no served request "${input.requestId}" for model "${modelId}": correct a served request ID`,
      );
    if (served.predicted === input.label)
      throw new HttpError(
        422,
        `the model answered "${input.label}" already: a correction needs another label`,
      );
    await db.recordFeedback(pool, modelId, input.requestId, input.label);
    const flagged = await flagTruth(modelId, input.requestId, input.label, true, input.by);
    return { requestId: input.requestId, label: input.label, flagged };
  };

  const flagTruth = async (
    modelId: string,
    recordKey: string,
    truth: string,
    isCorrection: boolean,
    by?: string,
  ) => {
    const served = await db.servedRequest(pool, modelId, recordKey);
    if (!served) return false;
    const ctx = await cache.flagContext(modelId, served.version);
    const flagged = flagOutcome(ctx.sliceBy, { ...served, truth, correction: isCorrection });
    if (!flagged) return false;
    if (by) flagged.detail.by = by;
    const added = await db.insertFailureCases(pool, modelId, [
      {
        recordKey,
        version: served.version,
        features: served.features,
        predicted: served.predicted,
        confidence: served.confidence,
        occurredAt: served.ts,
        flagged,
      },
    ]);
    return added > 0;
  };

  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
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
      const body = await readJson(req);
      const modelId = decodeURIComponent(m[1]!);
      const handler = { predict, feedback, corrections: correction }[
        m[2] as 'predict' | 'feedback' | 'corrections'
      ];
      send(res, 200, await handler(modelId, body));
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, { error: err.message });
      else send(res, 500, { error: 'internal error' });
    }
  };
}

export async function startGateway(
  pool: pg.Pool,
  opts: { port?: number; host?: string } = {},
): Promise<Gateway> {
  const handler = createGatewayHandler(pool);
  const server = http.createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError(422, describeZodError(r.error));
  return r.data;
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

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
