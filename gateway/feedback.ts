/**
 * The gateway's write endpoints for the truth: feedback (delayed ground truth, the first answer kept)
 * and corrections (a user says the answer was wrong), each recorded with the API client that sent it and
 * flagged into the failure catalog when the model was wrong. A request whose prediction row still waits
 * in the batched log is written first, so its feedback finds it.
 */
import type pg from 'pg';
import { z } from 'zod';
import { flagOutcome } from '../core/catalog.js';
import { flagLargeError } from '../core/regression-catalog.js';
import { canonicalNumericLabel, numericLabelProblem, numericLabelRange } from '../core/regression-labels.js';
import { describeZodError, isRegression, type ModelDefinition } from '../core/schemas.js';
import * as db from '../db/index.js';
import { HttpError } from '../infra/http.js';
import type { PredictionLog } from './prediction-log.js';
import type { ModelCache } from './routing.js';

const FeedbackBody = z.object({
  requestId: z.string().min(1).max(200),
  label: z.string().min(1).max(100),
});
/** A regression model's feedback: the true value, a JSON number or decimal text. */
const NumericFeedbackBody = z.object({
  requestId: z.string().min(1).max(200),
  label: z.union([z.number(), z.string().min(1).max(100)]),
});
const CorrectionBody = FeedbackBody.extend({ by: z.string().min(1).max(100).optional() });

export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError(422, describeZodError(r.error));
  return r.data;
}

export function truthHandlers({
  pool,
  cache,
  log,
  model,
  onError,
}: {
  pool: pg.Pool;
  cache: ModelCache;
  log: PredictionLog;
  model: (modelId: string) => Promise<ModelDefinition>;
  /** A regression answer's true value arrived (the gateway counts its error for /metrics). */
  onError?: (modelId: string, version: number, predicted: number, actual: number) => void;
}) {
  /** Feedback or a correction may arrive while its prediction still waits in the log: write it first. */
  const logged = async (modelId: string, requestId: string) => {
    if (log.has(modelId, requestId)) await log.flush();
  };

  const feedback = async (modelId: string, body: unknown, client: string | null) => {
    const def = await model(modelId);
    const input = isRegression(def) ? numericFeedback(def, body) : parse(FeedbackBody, body);
    if (!isRegression(def) && !def.labelSet.includes(input.label)) {
      throw new HttpError(422, `label "${input.label}" is not one of ${def.labelSet.join(', ')}`);
    }
    await logged(modelId, input.requestId);
    const stored = await db.recordFeedback(pool, modelId, input.requestId, input.label, client);
    if (!stored)
      throw new HttpError(
        404,
        `no request "${input.requestId}" for model "${modelId}": send feedback for a served request ID`,
      );
    if (stored.duplicate)
      return { requestId: input.requestId, label: stored.label, duplicate: true, flagged: false };
    // A regression answer's error is counted, and its answer is a case when the error is large
    // (core/regression-catalog.ts).
    const served = isRegression(def) ? await db.servedRequest(pool, modelId, input.requestId) : undefined;
    if (served) onError?.(modelId, served.version, Number(served.predicted), Number(stored.label));
    const flagged = await flagTruth(modelId, input.requestId, stored.label, false, undefined, served);
    return { requestId: input.requestId, label: stored.label, duplicate: false, flagged };
  };

  /** A user says the answer was wrong and what it should have been: a failure case, and the truth if none yet. */
  const correction = async (modelId: string, body: unknown, client: string | null) => {
    const def = await model(modelId);
    if (isRegression(def))
      throw new HttpError(
        422,
        `${modelId} is a regression model: send the true value as feedback (POST /v1/models/${modelId}/feedback with { "requestId", "label": <number> }); corrections are for classifiers`,
      );
    const input = parse(CorrectionBody, body);
    if (!def.labelSet.includes(input.label)) {
      throw new HttpError(422, `label "${input.label}" is not one of ${def.labelSet.join(', ')}`);
    }
    await logged(modelId, input.requestId);
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
    await db.recordFeedback(pool, modelId, input.requestId, input.label, client);
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
    const served = known !== undefined ? known : await db.servedRequest(pool, modelId, recordKey);
    if (!served) return false;
    const ctx = await cache.flagContext(modelId, served.version);
    const flagged = ctx.regression
      ? flagLargeError(ctx, { ...served, truth })
      : flagOutcome(ctx.sliceBy, { ...served, truth, correction: isCorrection });
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

  return { feedback, correction };
}

/** A regression model's feedback checked: a finite number within the model's target, kept in one form. */
function numericFeedback(def: ModelDefinition, body: unknown): { requestId: string; label: string } {
  const input = parse(NumericFeedbackBody, body);
  const problem = numericLabelProblem(input.label, numericLabelRange(def.target, null, 0));
  if (problem !== null) throw new HttpError(422, problem);
  return { requestId: input.requestId, label: canonicalNumericLabel(input.label) };
}
