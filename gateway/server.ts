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
import type http from 'node:http';
import type pg from 'pg';
import { z } from 'zod';
import { describeZodError, ModelId } from '../core/schemas.js';
import type { ModelDefinition } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { flagOutcome } from '../core/catalog.js';
import { HttpError, listen, readJsonBody, sendJson as send, type Listening } from '../infra/http.js';
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

export type Gateway = Listening;

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
    const flagged = await flagTruth(modelId, input.requestId, input.label, true, input.by, served);
    return { requestId: input.requestId, label: input.label, flagged };
  };

  /** Flags a wrong answer or a correction once the truth is known; `served` when the caller has read it. */
  const flagTruth = async (
    modelId: string,
    recordKey: string,
    truth: string,
    isCorrection: boolean,
    by?: string,
    known?: Awaited<ReturnType<typeof db.servedRequest>>,
  ) => {
    const served = known ?? (await db.servedRequest(pool, modelId, recordKey));
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
      const body = await readJsonBody(req, MAX_BODY_BYTES);
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
  const gateway = await listen(createGatewayHandler(pool), opts);
  gateway.server.keepAliveTimeout = 5000;
  return gateway;
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
