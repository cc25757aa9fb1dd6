/**
 * A regressor's rollout step judged on Prometheus: the real gateway serves a cars regressor (champion and
 * candidate split 50/50), takes each car's true miles per gallon as feedback and counts the errors on
 * /metrics; a real Prometheus scrapes it, and the rollout's own activity reads the sums back and judges
 * the step by Welch's test, as it would from Remedy's prediction log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolloutActivities } from '../../activities/rollout.js';
import { regressionLogAnalysis } from '../../activities/regression-rollout.js';
import { carRows, carsModel, CARS_SCENARIO } from '../../dev/cars-scenario.js';
import { canonicalJson } from '../../core/model.js';
import { trainRegressor } from '../../core/regression-forest.js';
import { describeZodError, ModelDefinition, Policy } from '../../core/schemas.js';
import * as db from '../../db/index.js';
import { registerRegressionModel, regressorConfig } from '../../ops/register-regression.js';
import { insertTestCandidate, uniqueSuffix, until, useStack } from '../helpers.js';
import { startPrometheus, type Prometheus } from './prometheus-harness.js';

const stack = useStack('promreg', { gateway: true });
const MODEL = 'prom-cars';
const KM_PER_LITRE_PER_MPG = 0.425144;
let prom: Prometheus;
let kmPerLitre: number;

const sel = (metric: string) => `${metric}{model="{{model}}",version="{{version}}"}`;
/** Since the step began: now minus the value at its start (0 where the version had no series yet). */
const since = (metric: string) => `sum(${sel(metric)}) - (sum(${sel(metric)} @ {{start}}) or vector(0))`;
/** The queries README "Rollout metrics" gives for Remedy's gateway. */
const QUERIES = {
  latencyP95Ms: `histogram_quantile(0.95, sum by (le) (increase(${sel('remedy_gateway_predict_seconds_bucket')}[{{range}}]))) * 1000`,
  errorCount: since('remedy_gateway_regression_errors_total'),
  absoluteErrorSum: since('remedy_gateway_regression_absolute_error_sum'),
  squaredErrorSum: since('remedy_gateway_regression_squared_error_sum'),
};
const rolloutPolicy = (queries: Partial<Record<keyof typeof QUERIES, string>> = QUERIES) =>
  Policy.parse({
    rollout: { minSamples: 30, metrics: { kind: 'prometheus', url: prom.url, queries } },
  }).rollout;

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Every car after the reference through the gateway, then its true value as feedback: served per version. */
async function serveWithFeedback(prefix: string): Promise<Map<number, number>> {
  const served = new Map<number, number>();
  for (const car of carRows().filter((r) => r.ts >= CARS_SCENARIO.referenceEnd)) {
    const requestId = `${prefix}-${car.recordKey}`;
    const answer = await post(`/v1/models/${MODEL}/predict`, { requestId, features: car.features });
    const version = answer.version as number;
    served.set(version, (served.get(version) ?? 0) + 1);
    await post(`/v1/models/${MODEL}/feedback`, { requestId, label: Number(car.label) });
  }
  return served;
}

beforeAll(async () => {
  const rows = carRows();
  await registerRegressionModel(
    stack.pool,
    carsModel(MODEL),
    rows.filter((r) => r.ts < CARS_SCENARIO.referenceEnd),
  );
  const def = (await db.getModel(stack.pool, MODEL))!;
  // A candidate trained on kilometres per litre by mistake: every answer is about 0.43 of the truth.
  const artifact = trainRegressor(
    def.features,
    rows
      .filter((r) => r.ts < CARS_SCENARIO.referenceEnd)
      .map((r) => ({ features: r.features, value: Number(r.label) * KM_PER_LITRE_PER_MPG })),
    regressorConfig(def),
  );
  kmPerLitre = await insertTestCandidate(stack.pool, MODEL, `${MODEL}:km-per-litre`, canonicalJson(artifact));
  prom = await startPrometheus(new URL(stack.gateway.url).host);
}, 60_000);
afterAll(async () => {
  await prom?.stop();
});

describe("a regressor's rollout step judged on Prometheus", () => {
  it("given the gateway's error counters in Prometheus, then the step fails the km/l candidate with the same MAE and Welch test the prediction log gives", async () => {
    await db.setTraffic(stack.pool, MODEL, {
      championVersion: 1,
      candidateVersion: kmPerLitre,
      candidateWeight: 50,
    });
    const stepSince = new Date(Date.now() - 1000).toISOString();
    const served = await serveWithFeedback(`step-${uniqueSuffix()}`);
    expect([...served.keys()].sort()).toEqual([1, kmPerLitre]);
    for (const [v, n] of served) {
      expect(n).toBeGreaterThanOrEqual(30);
      await until(
        () => prom.value(`sum(remedy_gateway_regression_errors_total{model="${MODEL}",version="${v}"})`),
        (count) => count === n,
        20_000,
      );
    }
    const input = {
      cycleId: `prom-cars-${uniqueSuffix()}`,
      modelId: MODEL,
      stepIndex: 0,
      attempt: 0,
      weight: 50,
      stepSince,
      rolloutSince: stepSince,
      candidateVersion: kmPerLitre,
      championVersion: 1,
      policy: rolloutPolicy(),
    };
    const { decidedAt, ...fromPrometheus } = await createRolloutActivities({
      pool: stack.pool,
    }).analyzeRolloutStep(input);
    expect(decidedAt).toBeTruthy();
    const fromLog = await regressionLogAnalysis(stack.pool, input);

    expect(fromPrometheus).toMatchObject({
      decision: 'fail',
      checks: { accuracy: 'fail', latency: 'pass', calibration: 'skipped' },
      test: 'welch-t on absolute errors',
      candidate: { n: served.get(kmPerLitre), meanError: null },
      champion: { n: served.get(1), meanError: null },
    });
    expect(fromPrometheus.reason).toMatch(
      /^candidate MAE \d+\.\d \(n=\d+\) vs champion MAE \d\.\d\d \(n=\d+\), Welch p=.*: significantly worse$/,
    );
    const { candidate, champion } = fromPrometheus as typeof fromLog;
    expect(candidate.mae).toBeCloseTo(fromLog.candidate.mae!, 6);
    expect(champion.mae).toBeCloseTo(fromLog.champion.mae!, 6);
    expect(fromPrometheus.pValue! / fromLog.pValue!).toBeCloseTo(1, 4);
    const [row] = await db.rolloutSteps(stack.pool, input.cycleId);
    expect(row!.decision).toBe('fail');
  });

  it('given an error query with no data, then the step is inconclusive naming it', async () => {
    const misspelt = {
      ...QUERIES,
      errorCount: QUERIES.errorCount.replaceAll('regression_errors_total', 'regression_misses_total'),
    };
    const step = await createRolloutActivities({ pool: stack.pool }).analyzeRolloutStep({
      cycleId: `prom-cars-${uniqueSuffix()}`,
      modelId: MODEL,
      stepIndex: 0,
      attempt: 0,
      weight: 50,
      stepSince: new Date(Date.now() - 60_000).toISOString(),
      rolloutSince: new Date(Date.now() - 60_000).toISOString(),
      candidateVersion: kmPerLitre,
      championVersion: 1,
      policy: rolloutPolicy(misspelt),
    });
    expect(step).toMatchObject({ decision: 'inconclusive', pValue: null });
    expect(step.reason).toBe(
      `no data from prometheus at ${prom.url} for the candidate's errorCount, the champion's errorCount: the step waits for data as for too few samples`,
    );
  });

  it('given a definition whose Prometheus queries do not fit its task, then it is refused with the queries named', () => {
    const metrics = (queries: object) => ({
      rollout: { metrics: { kind: 'prometheus', url: 'http://prometheus:9090', queries } },
    });
    const { errorCount, latencyP95Ms } = QUERIES;
    const counts = { requests: errorCount, errors: errorCount };
    const parse = (task: object, queries: object) =>
      ModelDefinition.safeParse({
        modelId: 'm',
        ...task,
        features: { numeric: ['x'], categorical: [] },
        policy: metrics(queries),
      });
    const regressor = parse({ task: 'regression' }, { latencyP95Ms, errorCount, ...counts });
    expect(regressor.success).toBe(false);
    expect(describeZodError(regressor.error!)).toContain(
      "a regression model's rollout on Prometheus is judged on its errors: add absoluteErrorSum, squaredErrorSum",
    );
    expect(describeZodError(regressor.error!)).toContain('requests, errors judge a classifier');
    const classifier = parse({ labelSet: ['no', 'yes'] }, QUERIES);
    expect(classifier.success).toBe(false);
    expect(describeZodError(classifier.error!)).toContain(
      "a classifier's rollout on Prometheus is judged on its requests and errors: add requests, errors",
    );
    expect(describeZodError(classifier.error!)).toContain(
      "errorCount, absoluteErrorSum, squaredErrorSum measure a regression model's errors",
    );
    expect(parse({ task: 'regression' }, QUERIES).success).toBe(true);
  });
});
