/**
 * The `prometheus` rollout metrics provider: each version's requests, errors and p95 latency in a step's
 * window, from Prometheus's HTTP API (`GET /api/v1/query`, one instant query at the window's end).
 * A query that returns nothing is "no data" (null); a Prometheus that does not answer is unavailable
 * (the step waits); a query Prometheus refuses is final (the rollout stops, naming the query).
 */
import { renderQuery, type MeasuredArm, type PrometheusMetrics } from '../core/rollout-adapters.js';

/** Prometheus did not answer (down, slow, 5xx): the step is inconclusive and waits. */
export class MetricsUnavailable extends Error {}
/** Prometheus refused a query (bad PromQL, more than one series): no wait will fix it. */
export class MetricsRefused extends Error {}

export const prometheusName = (m: PrometheusMetrics) => `prometheus at ${m.url}`;

type Window = { model: string; version: number; startMs: number; endMs: number };

/** One query of the policy's, rendered for a version's window; a query the policy does not give is an error. */
function measure(m: PrometheusMetrics, name: keyof PrometheusMetrics['queries'], w: Window) {
  const template = m.queries[name];
  if (template === undefined)
    throw new MetricsRefused(`the policy gives no ${name} query for ${prometheusName(m)}`);
  return instantQuery(m, name, renderQuery(template, w), w.endMs, w.version);
}

/** One version's three numbers over [startMs, endMs]. */
export async function measureArm(m: PrometheusMetrics, w: Window): Promise<MeasuredArm> {
  const one = (name: keyof PrometheusMetrics['queries']) => measure(m, name, w);
  const [requests, errors, latencyP95Ms] = await Promise.all([
    one('requests'),
    one('errors'),
    one('latencyP95Ms'),
  ]);
  return { requests, errors, latencyP95Ms };
}

/**
 * A regressor's version over [startMs, endMs]: its p95 latency and the running sums of the errors of its
 * answers whose true value arrived (count, absolute, squared). No data for a sum is null.
 */
export async function measureRegressionArm(
  m: PrometheusMetrics,
  w: Window,
): Promise<{
  latencyP95Ms: number | null;
  errorCount: number | null;
  absoluteErrorSum: number | null;
  squaredErrorSum: number | null;
}> {
  const [latencyP95Ms, errorCount, absoluteErrorSum, squaredErrorSum] = await Promise.all([
    measure(m, 'latencyP95Ms', w),
    measure(m, 'errorCount', w),
    measure(m, 'absoluteErrorSum', w),
    measure(m, 'squaredErrorSum', w),
  ]);
  return { latencyP95Ms, errorCount, absoluteErrorSum, squaredErrorSum };
}

interface QueryAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

async function instantQuery(
  m: PrometheusMetrics,
  name: string,
  query: string,
  atMs: number,
  version: number,
): Promise<number | null> {
  const url = new URL('/api/v1/query', m.url.endsWith('/') ? m.url : `${m.url}/`);
  url.searchParams.set('query', query);
  url.searchParams.set('time', (atMs / 1000).toFixed(3));
  const what = `the ${name} query for v${version} (${query})`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(m.timeoutMs), redirect: 'error' });
  } catch (err) {
    const e = err as Error;
    throw new MetricsUnavailable(
      `${prometheusName(m)} did not answer ${what}: ${e.name === 'TimeoutError' ? `no answer within ${m.timeoutMs} ms` : e.message}`,
    );
  }
  const text = await response.text().catch(() => '');
  let answer: QueryAnswer = {};
  try {
    answer = JSON.parse(text) as QueryAnswer;
  } catch {
    /* not JSON: judged by its status below */
  }
  if (response.status >= 500 || response.status === 429)
    throw new MetricsUnavailable(`${prometheusName(m)} answered HTTP ${response.status} to ${what}`);
  if (!response.ok || answer.status !== 'success')
    throw new MetricsRefused(
      `${prometheusName(m)} refused ${what}: ${answer.error ?? `HTTP ${response.status} ${text.slice(0, 200)}`}`,
    );
  return numberOf(answer.data, `${prometheusName(m)}: ${what}`);
}

/** The one number of a vector or scalar answer; null for no data (no series, NaN). */
function numberOf(data: QueryAnswer['data'], what: string): number | null {
  const value = (v: unknown): number | null => {
    const x = Array.isArray(v) ? Number(v[1]) : NaN;
    return Number.isFinite(x) ? x : null;
  };
  if (data?.resultType === 'scalar') return value(data.result);
  if (data?.resultType !== 'vector' || !Array.isArray(data.result))
    throw new MetricsRefused(
      `${what} returned a ${data?.resultType ?? 'missing'} result: it must return one number`,
    );
  const series = data.result as { value?: unknown }[];
  if (series.length === 0) return null;
  if (series.length > 1)
    throw new MetricsRefused(`${what} returned ${series.length} series: aggregate it to one (e.g. sum(...))`);
  return value(series[0]!.value);
}
