/**
 * The rollout's two seams to the team's stack, chosen in the policy's `rollout` section:
 * - `router`: who moves the traffic. `gateway` (Remedy's own serving gateway, the default) or `http`
 *   (the team's endpoint: an HMAC-signed POST of the split, then a GET that must read the same split back).
 * - `metrics`: what a step is judged on. `prediction-log` (Remedy's log and feedback, the default) or
 *   `prometheus` (per-version PromQL for requests, errors and p95 latency).
 * Pure: the schemas, the wire body, the comparison of a read-back state, and the templating of queries.
 * The HTTP calls live in activities/traffic-router.ts and activities/rollout-metrics.ts.
 */
import { z } from 'zod';
import { EnvName, HttpUrl } from './notifications.js';
import { analyzeStep, type ArmMetrics, type StepAnalysis } from './policy.js';

export const GatewayRouter = z.object({ kind: z.literal('gateway') });
export const HttpRouter = z
  .object({
    kind: z.literal('http'),
    /** The team's endpoint: POST sets a split, GET `?modelId=` reads it back. */
    url: HttpUrl,
    /** The NAME of the worker's environment variable holding the HMAC key (never the key itself). */
    secretEnv: EnvName,
    /** One request's limit; a request past it is retried like a 5xx. */
    timeoutMs: z.number().int().min(100).max(10_000).default(3000),
    /** Requests tried before the router is given up on (each with the same Idempotency-Key). */
    attempts: z.number().int().min(1).max(5).default(3),
  })
  .refine((r) => r.timeoutMs * r.attempts <= 20_000, {
    message:
      'timeoutMs × attempts must be at most 20000 ms, so that setting and reading back a split fit in the activity’s minute: lower one of them',
  });
export const TrafficRouter = z.discriminatedUnion('kind', [GatewayRouter, HttpRouter]);
export type TrafficRouter = z.infer<typeof TrafficRouter>;
export type HttpRouter = z.infer<typeof HttpRouter>;

/** The placeholders a PromQL template may use. */
export const QUERY_PLACEHOLDERS = ['model', 'version', 'start', 'end', 'range'] as const;
type Placeholder = (typeof QUERY_PLACEHOLDERS)[number];

const PromQl = z
  .string()
  .min(1)
  .superRefine((q, ctx) => {
    for (const m of q.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      if (!(QUERY_PLACEHOLDERS as readonly string[]).includes(m[1]!))
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder {{${m[1]}}}: use ${QUERY_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
        });
    }
    if (!/\{\{\s*version\s*\}\}/.test(q))
      ctx.addIssue({
        code: 'custom',
        message:
          'the query must select by {{version}}, or the candidate and the champion would be measured as one',
      });
  });

export const PredictionLogMetrics = z.object({ kind: z.literal('prediction-log') });
export const PrometheusMetrics = z.object({
  kind: z.literal('prometheus'),
  /** Prometheus's base URL, e.g. http://prometheus:9090 (its HTTP API, /api/v1/query). */
  url: HttpUrl,
  timeoutMs: z.number().int().min(100).max(20_000).default(5000),
  /** One instant query each, evaluated at the step's end, per version; each must return one number. */
  queries: z.object({
    /** Requests the version served in the window: a classifier's samples (a regressor's are its errors). */
    requests: PromQl.optional(),
    /** Of those, the ones that went wrong (errors take the place of wrong answers in a classifier's analysis). */
    errors: PromQl.optional(),
    /** The version's p95 latency in milliseconds. */
    latencyP95Ms: PromQl,
    /**
     * A regression model's errors, needed for one and refused for a classifier: how many of the version's
     * answers had their true value arrive in the window, the sum of their absolute errors, and the sum of
     * their squared errors (Remedy's gateway counts all three, see README "Rollout metrics").
     */
    errorCount: PromQl.optional(),
    absoluteErrorSum: PromQl.optional(),
    squaredErrorSum: PromQl.optional(),
  }),
});
/** The queries a classifier's rollout on Prometheus needs besides latencyP95Ms, which every model needs. */
export const CLASSIFICATION_QUERIES = ['requests', 'errors'] as const;
/** The queries a regressor's rollout on Prometheus needs besides latencyP95Ms. */
export const REGRESSION_QUERIES = ['errorCount', 'absoluteErrorSum', 'squaredErrorSum'] as const;
export const RolloutMetrics = z.discriminatedUnion('kind', [PredictionLogMetrics, PrometheusMetrics]);
export type RolloutMetrics = z.infer<typeof RolloutMetrics>;
export type PrometheusMetrics = z.infer<typeof PrometheusMetrics>;

/** How a router is named in reasons, audit events and errors. */
export function routerName(router: TrafficRouter): string {
  return router.kind === 'http' ? `http router ${router.url}` : 'gateway router';
}

/** The split a router is asked to hold; `step` is the rollout step's number (0: back to the champion). */
export interface RouterState {
  modelId: string;
  championVersion: number;
  candidateVersion: number;
  weight: number;
}

export interface RouterRequest extends RouterState {
  cycleId: string;
  step: number;
}

/** Each POST carries this key: a router that remembers it applies one split once, however often it is sent. */
export const routerIdempotencyKey = (r: { cycleId: string; weight: number }) => `${r.cycleId}:${r.weight}`;

/**
 * What differs between the split asked for and the one the router read back, in words; empty when they
 * match. At weight 0 (back to the champion) the candidate it names does not matter.
 */
export function routerStateDifferences(expected: RouterState, got: unknown): string[] {
  if (typeof got !== 'object' || got === null) return [`it answered ${JSON.stringify(got)}, not a state`];
  const state = got as Record<string, unknown>;
  const fields: (keyof RouterState)[] =
    expected.weight === 0
      ? ['modelId', 'championVersion', 'weight']
      : ['modelId', 'championVersion', 'candidateVersion', 'weight'];
  return fields
    .filter((f) => state[f] !== expected[f])
    .map((f) => `${f} ${JSON.stringify(state[f] ?? null)} (expected ${JSON.stringify(expected[f])})`);
}

/** A template with its placeholders filled: `start`/`end` in Unix seconds, `range` in whole seconds ("42s"). */
export function renderQuery(
  template: string,
  v: { model: string; version: number; startMs: number; endMs: number },
): string {
  const values: Record<Placeholder, string> = {
    model: v.model,
    version: String(v.version),
    start: (v.startMs / 1000).toFixed(3),
    end: (v.endMs / 1000).toFixed(3),
    range: `${Math.max(1, Math.ceil((v.endMs - v.startMs) / 1000))}s`,
  };
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_, name: string) => values[name as Placeholder]);
}

/** One version's three numbers from Prometheus; null where a query returned no data. */
export interface MeasuredArm {
  requests: number | null;
  errors: number | null;
  latencyP95Ms: number | null;
}

/** The analysis's arm from measured numbers: requests are the samples, the ones without an error are right. */
export function armFromMeasured(m: MeasuredArm): ArmMetrics {
  const n = Math.max(0, Math.round(m.requests ?? 0));
  const errors = Math.min(n, Math.max(0, Math.round(m.errors ?? 0)));
  return { n, correct: n - errors, meanConfidence: null, p95LatencyMs: m.latencyP95Ms };
}

/**
 * The step analysis on measured numbers: `analyzeStep` itself, with its minimum samples, except that
 * any query without data makes the step inconclusive (never a pass on a missing number), saying which.
 */
export function analyzeMeasured(
  candidate: MeasuredArm,
  champion: MeasuredArm,
  policy: Parameters<typeof analyzeStep>[2],
  source: string,
): StepAnalysis {
  const analysis = analyzeStep(armFromMeasured(candidate), armFromMeasured(champion), policy);
  const missing = [...missingOf('candidate', candidate), ...missingOf('champion', champion)];
  if (missing.length === 0) return analysis;
  return {
    ...analysis,
    decision: 'inconclusive',
    pValue: null,
    checks: { accuracy: 'skipped', latency: 'skipped', calibration: 'skipped' },
    reason: `no data from ${source} for ${missing.join(', ')}: the step waits for data as for too few samples`,
  };
}

function missingOf(arm: string, m: MeasuredArm): string[] {
  return (['requests', 'errors', 'latencyP95Ms'] as const)
    .filter((k) => m[k] === null)
    .map((k) => `the ${arm}'s ${k}`);
}
