/**
 * The serving gateway over real HTTP against a real Postgres: what a client sends, what it gets back,
 * and what lands in the prediction log.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareWeatherModel, type PreparedModel } from '../../dev/scenario.js';
import { routesToCandidate } from '../../core/policy.js';
import * as db from '../../db/index.js';
import type { Gateway } from '../../gateway/server.js';
import { freshDatabase, startGateway, until } from '../helpers.js';

let pool: pg.Pool;
let gateway: Gateway;
let prepared: PreparedModel;
const features = {
  location: 'Seattle',
  precipitation: 5.1,
  temp_max: 11.1,
  temp_min: 5.6,
  wind: 3.2,
  season_sin: 0.5,
  season_cos: 0.86,
};

beforeAll(async () => {
  ({ pool } = await freshDatabase('gateway'));
  prepared = await prepareWeatherModel(pool, 'weather-gw');
  gateway = await startGateway(pool);
});
afterAll(async () => {
  await gateway?.close();
  await pool?.end();
});

async function call(
  path: string,
  body: unknown,
  raw = false,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('serving gateway', () => {
  it('given a valid request, then the champion answers and the prediction is logged with its features', async () => {
    const r = await call('/v1/models/weather-gw/predict', { requestId: 'req-1', features });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ requestId: 'req-1', modelId: 'weather-gw', version: 1 });
    expect(['drizzle', 'fog', 'rain', 'snow', 'sun']).toContain(r.json.label);
    // Rows are written in batches off the request path (a few milliseconds later).
    await gateway.log.flush();
    const { rows } = await pool.query<{ version: number; predicted: string; features: unknown }>(
      `SELECT p.version, p.predicted, r.features FROM predictions p JOIN records r USING (model_id, record_key)
       WHERE p.model_id = 'weather-gw' AND p.record_key = 'req-1'`,
    );
    expect(rows).toEqual([{ version: 1, predicted: r.json.label, features }]);
  });

  it('given feedback for a served request, then it is stored once and a repeat is reported as a duplicate', async () => {
    const first = await call('/v1/models/weather-gw/feedback', { requestId: 'req-1', label: 'rain' });
    const again = await call('/v1/models/weather-gw/feedback', { requestId: 'req-1', label: 'sun' });
    // Feedback that differs from the model's answer is flagged as a wrong prediction, once.
    const { rows } = await pool.query<{ predicted: string }>(
      `SELECT predicted FROM predictions WHERE model_id = 'weather-gw' AND record_key = 'req-1'`,
    );
    expect(first).toEqual({
      status: 200,
      json: { requestId: 'req-1', label: 'rain', duplicate: false, flagged: rows[0]!.predicted !== 'rain' },
    });
    expect(again).toEqual({
      status: 200,
      json: { requestId: 'req-1', label: 'rain', duplicate: true, flagged: false },
    });
  });

  it('given a split, then each routing key sticks to one version and the shares follow the weight', async () => {
    const candidate = await db.insertModelVersion(pool, {
      ...(await db.getModelVersion(pool, 'weather-gw', 1)),
      idempotencyKey: 'gw-candidate',
      status: 'candidate',
      codeVersion: 'test',
      artifact: JSON.stringify((await db.getModelVersion(pool, 'weather-gw', 1)).artifact),
    });
    await db.setTraffic(pool, 'weather-gw', {
      championVersion: 1,
      candidateVersion: candidate,
      candidateWeight: 30,
    });
    // The gateway learns of the new split by a Postgres notification, milliseconds after the commit
    // (test/gateway/production.test.ts measures that): wait until a key the split sends to the
    // candidate is served by it, then check stickiness.
    const served = (routingKey: string) =>
      call('/v1/models/weather-gw/predict', { routingKey, features }).then((r) => r.json.version as number);
    const probe = Array.from({ length: 100 }, (_, i) => `user-${i}`).find((k) => routesToCandidate(k, 30))!;
    await until(
      () => served(probe),
      (v) => v === candidate,
      5000,
    );
    const versions = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const key = `user-${i % 100}`;
      const r = await call('/v1/models/weather-gw/predict', { routingKey: key, features });
      const v = r.json.version as number;
      if (versions.has(key)) expect(v).toBe(versions.get(key));
      versions.set(key, v);
    }
    const share = [...versions.values()].filter((v) => v === candidate).length / versions.size;
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.45);
    await db.setTraffic(pool, 'weather-gw', {
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    // Rolled back: the candidate's keys are served by the champion again, within the notification's delay.
    expect(
      await until(
        () => served(probe),
        (v) => v === 1,
        5000,
      ),
    ).toBe(1);
    expect(await served('user-1')).toBe(1);
  });

  it.each([
    [
      'a missing feature',
      { features: { ...features, wind: undefined } },
      422,
      /features\.wind: expected a finite number/,
    ],
    [
      'a string where a number belongs',
      { features: { ...features, temp_max: 'hot' } },
      422,
      /features\.temp_max: expected a finite number/,
    ],
    [
      'an unknown feature',
      { features: { ...features, humidity: 3 } },
      422,
      /features\.humidity: not a feature of this model/,
    ],
    ['no features at all', {}, 422, /features: /],
  ])('given %s, then 422 naming the field and nothing is logged', async (_name, body, status, message) => {
    await gateway.log.flush();
    const before = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM records WHERE model_id = 'weather-gw'",
    );
    const r = await call('/v1/models/weather-gw/predict', body);
    expect(r.status).toBe(status);
    expect(String(r.json.error)).toMatch(message);
    await gateway.log.flush();
    const after = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM records WHERE model_id = 'weather-gw'",
    );
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('given bad requests, then clear errors with the right status', async () => {
    expect(await call('/v1/models/nope/predict', { features })).toEqual({
      status: 404,
      json: { error: 'no model "nope": register it first' },
    });
    expect((await call('/v1/models/weather-gw/predict', '{not json', true)).status).toBe(400);
    expect((await call('/v1/models/weather-gw/predict', 'x'.repeat(70_000), true)).status).toBe(413);
    expect(
      await call('/v1/models/weather-gw/feedback', { requestId: 'never-served', label: 'rain' }),
    ).toEqual({
      status: 404,
      json: {
        error: 'no request "never-served" for model "weather-gw": send feedback for a served request ID',
      },
    });
    expect(
      (await call('/v1/models/weather-gw/feedback', { requestId: 'req-1', label: 'hail' })).json.error,
    ).toBe('label "hail" is not one of drizzle, fog, rain, snow, sun');
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(prepared.champion.version).toBe(1);
  });

  it('given served traffic, then /metrics reports Remedy metrics from the database in Prometheus text', async () => {
    const res = await fetch(`${gateway.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      'remedy_cycles_closed',
      'remedy_cycles_open',
      'remedy_drift_checks',
      'remedy_label_sla_events',
      'remedy_rollbacks',
      'remedy_failure_cases',
    ])
      expect(text).toContain(`# TYPE ${name} gauge`);
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM failure_cases WHERE model_id = 'weather-gw' AND taxonomy = 'model-error' AND kind = 'wrong-prediction'",
    );
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    expect(text).toContain(
      `remedy_failure_cases{model="weather-gw",taxonomy="model-error",kind="wrong-prediction"} ${rows[0]!.n}`,
    );
  });
});
