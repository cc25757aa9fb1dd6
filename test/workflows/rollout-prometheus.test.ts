/**
 * Rollout steps judged on Prometheus: a real Prometheus (Debian's package) scraping a prom-client exporter
 * fed by real HTTP requests, the step analysed by the rollout's own activity, on real Temporal and Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolloutActivities } from '../../activities/rollout.js';
import { prepareWeatherModel } from '../../dev/scenario.js';
import { canonicalJson } from '../../core/model.js';
import { analyzeStep } from '../../core/policy.js';
import { Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { resolvePause, rolloutStatus } from '../../ops/cycles.js';
import type { RolloutResult } from '../../workflows/rollout.js';
import { insertTestCandidate, uniqueSuffix, until, useStack } from '../helpers.js';
import { startPrometheus, startServing, type Prometheus, type Serving } from './prometheus-harness.js';

const stack = useStack('prometheus');
const MODEL = 'prom-weather';
let serving: Serving;
let prom: Prometheus;
let candidate: number;

const sel = (metric: string) => `${metric}{model="{{model}}",version="{{version}}"}`;
/** The tested queries: counts and latency buckets since the step began (now minus `@ {{start}}`), p95 in ms. */
const QUERIES = {
  requests: `sum(${sel('served_requests_total')}) - sum(${sel('served_requests_total')} @ {{start}})`,
  errors: `sum(${sel('served_errors_total')}) - sum(${sel('served_errors_total')} @ {{start}})`,
  latencyP95Ms: `histogram_quantile(0.95, sum by (le) (${sel('served_latency_seconds_bucket')} - ${sel('served_latency_seconds_bucket')} @ {{start}})) * 1000`,
};

const rolloutPolicy = (queries: Partial<typeof QUERIES> = {}, url = prom.url, rollout: object = {}) =>
  Policy.parse({
    rollout: {
      minSamples: 30,
      ...rollout,
      metrics: { kind: 'prometheus', url, queries: { ...QUERIES, ...queries } },
    },
  }).rollout;

const stepInput = (policy: Policy['rollout'], since: string) => ({
  cycleId: `prom-${uniqueSuffix()}`,
  modelId: MODEL,
  stepIndex: 0,
  attempt: 0,
  weight: 50,
  stepSince: since,
  rolloutSince: since,
  candidateVersion: candidate,
  championVersion: 1,
  policy,
});

beforeAll(async () => {
  await prepareWeatherModel(stack.pool, MODEL);
  const json = canonicalJson((await db.getModelVersion(stack.pool, MODEL, 1)).artifact);
  candidate = await insertTestCandidate(stack.pool, MODEL, `${MODEL}:candidate`, json);
  serving = await startServing(MODEL, [1, candidate]);
  prom = await startPrometheus(new URL(serving.url).host);
}, 60_000);
afterAll(async () => {
  await prom?.stop();
  await serving?.close();
});

describe('rollout steps judged on Prometheus', () => {
  it('given per-version counters and latencies in Prometheus, then the step gets the decision analyzeStep gives the same numbers', async () => {
    const since = new Date().toISOString();
    await serving.send(MODEL, candidate, 200, 30);
    await serving.send(MODEL, 1, 200, 4);
    for (const v of [candidate, 1])
      await until(
        () => prom.value(`sum(served_requests_total{model="${MODEL}",version="${v}"})`),
        (n) => n === 200,
        20_000,
      );
    const policy = rolloutPolicy();
    const input = stepInput(policy, since);
    const { decidedAt, ...analysis } = await createRolloutActivities({ pool: stack.pool }).analyzeRolloutStep(
      input,
    );

    expect([
      analysis.candidate.n,
      analysis.candidate.correct,
      analysis.champion.n,
      analysis.champion.correct,
    ]).toEqual([200, 170, 200, 196]);
    const p95 = [analysis.candidate.p95LatencyMs!, analysis.champion.p95LatencyMs!];
    for (const ms of p95) expect(ms).toBeGreaterThan(0);
    for (const ms of p95) expect(ms).toBeLessThanOrEqual(100); // the histogram's top bucket
    const sameNumbers = analyzeStep(
      { n: 200, correct: 170, meanConfidence: null, p95LatencyMs: p95[0] },
      { n: 200, correct: 196, meanConfidence: null, p95LatencyMs: p95[1] },
      policy,
    );
    expect(analysis).toEqual(sameNumbers);
    expect(analysis).toMatchObject({ decision: 'fail', checks: { accuracy: 'fail', latency: 'pass' } });
    const [row] = await db.rolloutSteps(stack.pool, input.cycleId);
    expect([row!.decision, row!.decided_at.toISOString()]).toEqual(['fail', decidedAt]);
  });

  it('given a query with no data, then the step is inconclusive naming the query, and the rollout pauses for a person', async () => {
    const misspelt = { errors: QUERIES.errors.replaceAll('served_errors_total', 'served_failures_total') };
    const since = new Date().toISOString();
    await serving.send(MODEL, candidate, 40, 0);
    await serving.send(MODEL, 1, 40, 0);
    await until(
      () => prom.value(`sum(served_requests_total{model="${MODEL}",version="1"})`),
      (n) => n === 240,
      20_000,
    );
    const act = createRolloutActivities({ pool: stack.pool });
    const step = await act.analyzeRolloutStep(stepInput(rolloutPolicy(misspelt), since));
    expect(step).toMatchObject({
      decision: 'inconclusive',
      pValue: null,
      checks: { accuracy: 'skipped', latency: 'skipped', calibration: 'skipped' },
      reason: `no data from prometheus at ${prom.url} for the candidate's errors, the champion's errors: the step waits for data as for too few samples`,
    });

    const cycleId = `prom-pause-${uniqueSuffix()}`;
    const handle = await stack.h.client.workflow.start('stagedRollout', {
      workflowId: `${cycleId}-rollout`,
      taskQueue: stack.h.taskQueue,
      args: [
        {
          cycleId,
          modelId: MODEL,
          championVersion: 1,
          candidateVersion: candidate,
          policy: rolloutPolicy(misspelt, prom.url, { dwell: '1s', sampleWait: '2s' }),
        },
      ],
    });
    const status = await until(
      () => rolloutStatus(stack.h.client, cycleId),
      (s) => s.state === 'paused',
      30_000,
    );
    expect(status.reason).toContain(`no data from prometheus at ${prom.url} for the candidate's errors`);
    await resolvePause(stack.h.client, cycleId, {
      actor: 'ops',
      decision: 'rollback',
      reason: 'metrics missing',
    });
    expect(((await handle.result()) as RolloutResult).outcome).toBe('rolled-back');
  });

  it('given a Prometheus that does not answer, then the step is inconclusive and says so', async () => {
    const down = 'http://127.0.0.1:1';
    const step = await createRolloutActivities({ pool: stack.pool }).analyzeRolloutStep(
      stepInput(rolloutPolicy({}, down), new Date().toISOString()),
    );
    expect(step.decision).toBe('inconclusive');
    expect(step.reason).toMatch(
      /^prometheus at http:\/\/127\.0\.0\.1:1 did not answer the \w+ query for v\d+ \(.*\): .*: the step waits as for too few samples$/,
    );
  });

  it('given a query Prometheus refuses, then the rollout fails naming the adapter and the query, with the champion restored', async () => {
    await db.setTraffic(stack.pool, MODEL, {
      championVersion: 1,
      candidateVersion: candidate,
      candidateWeight: 50,
    });
    const broken = { requests: `sum(${sel('served_requests_total')}` };
    const input = stepInput(rolloutPolicy(broken), new Date(Date.now() - 5000).toISOString());
    const failure = await createRolloutActivities({ pool: stack.pool })
      .analyzeRolloutStep(input)
      .then(
        () => null,
        (e: unknown) => e as { type: string; nonRetryable: boolean; message: string },
      );
    expect(failure).toMatchObject({ type: 'RolloutMetricsFailed', nonRetryable: true });
    expect(failure!.message).toMatch(
      new RegExp(
        `^prometheus at ${prom.url.replaceAll('.', '\\.')} refused the requests query for v${candidate} \\(sum\\(served_requests_total\\{model="${MODEL}",version="${candidate}"\\}\\): .*parse error`,
      ),
    );
    expect(await db.getTraffic(stack.pool, MODEL)).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect((await db.getModelVersion(stack.pool, MODEL, candidate)).status).toBe('rolled_back');
  });
});
