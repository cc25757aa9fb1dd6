/**
 * A traffic source for the serving gateway: replays labelled rows as prediction requests over HTTP and
 * posts each one's ground truth as feedback, as production clients and a delayed-label pipeline would.
 * Bounded in count and stoppable, so it never runs away.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Features } from '../core/schemas.js';

export interface TrafficRow {
  recordKey: string;
  features: Features;
  label: string;
}

export interface TrafficOptions {
  gatewayUrl: string;
  /** The API key sent to the gateway (`Authorization: Bearer`); feedback needs one unless auth is off. */
  apiKey?: string | null;
  modelId: string;
  rows: readonly TrafficRow[];
  /** Hard bound on requests sent. */
  maxRequests: number;
  /** Post the true label after each prediction (default true). */
  feedback?: boolean;
  signal?: AbortSignal;
  /** Pause between requests, to model a slower stream (default none). */
  intervalMs?: number;
}

export interface TrafficReport {
  sent: number;
  feedback: number;
  byVersion: Record<string, number>;
}

/** One POST to the gateway's model API (`predict`, `feedback`); a refusal is thrown with its error. */
export async function postToGateway(
  opts: { gatewayUrl: string; apiKey?: string | null; modelId: string },
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${opts.gatewayUrl}/v1/models/${encodeURIComponent(opts.modelId)}/${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
    },
    body: JSON.stringify(body),
    // The stop signal is checked between requests rather than handed to fetch: a long-lived signal
    // passed to every request accumulates listeners.
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`gateway ${path} answered ${res.status}: ${String(json.error)}`);
  return json;
}

export async function sendTraffic(opts: TrafficOptions): Promise<TrafficReport> {
  if (opts.rows.length === 0) throw new Error('no rows to send');
  const run = randomBytes(4).toString('hex');
  const report: TrafficReport = { sent: 0, feedback: 0, byVersion: {} };
  const post = (path: string, body: unknown) => postToGateway(opts, path, body);
  try {
    for (let i = 0; i < opts.maxRequests && !opts.signal?.aborted; i++) {
      const row = opts.rows[i % opts.rows.length]!;
      const requestId = `${run}:${i}:${row.recordKey}`;
      const served = await post('predict', { requestId, routingKey: row.recordKey, features: row.features });
      report.sent++;
      const version = `v${String(served.version)}`;
      report.byVersion[version] = (report.byVersion[version] ?? 0) + 1;
      if (opts.feedback !== false) {
        await post('feedback', { requestId, label: row.label });
        report.feedback++;
      }
      if (opts.intervalMs) await sleep(opts.intervalMs);
    }
  } catch (err) {
    if (!opts.signal?.aborted) throw err;
  }
  return report;
}

/** Runs `sendTraffic` in the background until `stop()` (or its bound); `stop()` returns the report. */
export function backgroundTraffic(opts: Omit<TrafficOptions, 'signal'>): { stop(): Promise<TrafficReport> } {
  const controller = new AbortController();
  const running = sendTraffic({ ...opts, signal: controller.signal });
  // A failure is reported by stop(); until then it must not count as an unhandled rejection.
  running.catch(() => undefined);
  return {
    async stop() {
      controller.abort();
      return running;
    },
  };
}
