/**
 * The gateway at production volume: the traffic split cached and dropped by a Postgres notification
 * (a rollback applies to the next requests though the periodic re-read is set to a minute), prediction
 * rows written in batches (by size before the timer, feedback for a row still queued, a full queue
 * answering 503 rather than dropping), and latency histograms per version on /metrics.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareWeatherModel } from '../../dev/scenario.js';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import type { Gateway } from '../../gateway/server.js';
import { freshDatabase, startGateway, until } from '../helpers.js';

let pool: pg.Pool;
const MODEL = 'weather-prod';
let candidate: number;
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
  ({ pool } = await freshDatabase('gateway_prod'));
  await prepareWeatherModel(pool, MODEL);
  const v1 = await db.getModelVersion(pool, MODEL, 1);
  candidate = await db.insertModelVersion(pool, {
    ...v1,
    idempotencyKey: 'prod-candidate',
    status: 'candidate',
    codeVersion: 'test',
    artifact: JSON.stringify(v1.artifact),
  });
});
afterAll(async () => {
  await pool?.end();
});

async function predict(g: Gateway, body: Record<string, unknown>) {
  const res = await fetch(`${g.url}/v1/models/${MODEL}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ features, ...body }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function logged(keys: readonly string[]): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM predictions WHERE model_id = $1 AND record_key = ANY($2::text[])',
    [MODEL, keys],
  );
  return Number(rows[0]!.n);
}

describe('gateway at production volume', () => {
  it('given a cached split, when a rollout step and then a rollback change it, then the next requests follow without waiting for the re-read', async () => {
    const g = await startGateway(pool, { cache: { refreshMs: 60_000 } });
    try {
      expect((await predict(g, { routingKey: 'u' })).json.version).toBe(1);
      await db.setTraffic(pool, MODEL, {
        championVersion: 1,
        candidateVersion: candidate,
        candidateWeight: 100,
      });
      await until(
        () => predict(g, { routingKey: 'u' }),
        (r) => r.json.version === candidate,
        2000,
      );
      const t0 = Date.now();
      await db.setTraffic(pool, MODEL, { championVersion: 1, candidateVersion: null, candidateWeight: 0 });
      await until(
        () => predict(g, { routingKey: 'u' }),
        (r) => r.json.version === 1,
        2000,
      );
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await g.close();
    }
  });

  it('given rows queued below the batch size, then they are written once the batch fills, not at the timer', async () => {
    const g = await startGateway(pool, { log: { flushMs: 60_000, flushRows: 5 } });
    try {
      const keys = ['b-1', 'b-2', 'b-3', 'b-4'];
      for (const requestId of keys) expect((await predict(g, { requestId })).status).toBe(200);
      expect(g.log.size).toBe(4);
      expect(await logged(keys)).toBe(0);
      expect((await predict(g, { requestId: 'b-5' })).status).toBe(200);
      await until(
        () => logged([...keys, 'b-5']),
        (n) => n === 5,
        2000,
      );
    } finally {
      await g.close();
    }
  });

  it('given a prediction still queued, when its feedback arrives, then the row is written first and the feedback joins it', async () => {
    const g = await startGateway(pool, { log: { flushMs: 60_000 } });
    try {
      expect((await predict(g, { requestId: 'f-1' })).status).toBe(200);
      expect(g.log.has(MODEL, 'f-1')).toBe(true);
      const res = await fetch(`${g.url}/v1/models/${MODEL}/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestId: 'f-1', label: 'rain' }),
      });
      expect(res.status).toBe(200);
      const { rows } = await pool.query<{ feedback: string }>(
        "SELECT feedback FROM records WHERE model_id = $1 AND record_key = 'f-1'",
        [MODEL],
      );
      expect(rows).toEqual([{ feedback: 'rain' }]);
    } finally {
      await g.close();
    }
  });

  it('given Postgres blocking the log, when the queue is full, then a request gets 503 and is not logged, and every answered one is written once it frees', async () => {
    const g = await startGateway(pool, { log: { flushMs: 1, flushRows: 1, maxRows: 3, maxWaitMs: 300 } });
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let isLocked = () => {};
    const locked = new Promise<void>((resolve) => (isLocked = resolve));
    const lock = withTransaction(pool, async (c) => {
      await c.query('LOCK TABLE predictions IN EXCLUSIVE MODE');
      isLocked();
      await released;
    });
    try {
      await locked;
      const keys = ['q-1', 'q-2', 'q-3', 'q-4'];
      const answered: string[] = [];
      for (const requestId of keys) {
        const r = await predict(g, { requestId });
        if (r.status === 200) answered.push(requestId);
        else {
          expect(r.status).toBe(503);
          expect(r.json.error).toMatch(/prediction log is \d+ rows behind/);
        }
      }
      const refused = await predict(g, { requestId: 'q-5' });
      expect(refused.status).toBe(503);
      expect(answered).toEqual(['q-1', 'q-2', 'q-3']);
      release();
      await lock;
      await g.log.flush();
      expect(await logged(answered)).toBe(answered.length);
      expect(await logged(['q-5'])).toBe(0);
    } finally {
      release();
      await lock.catch(() => undefined);
      await g.close();
    }
  });

  it('given predictions by two versions, then /metrics has a latency histogram for each', async () => {
    const g = await startGateway(pool);
    try {
      await db.setTraffic(pool, MODEL, {
        championVersion: 1,
        candidateVersion: candidate,
        candidateWeight: 50,
      });
      await until(
        async () => {
          for (let i = 0; i < 20; i++) await predict(g, { routingKey: `m-${i}` });
          return (await fetch(`${g.url}/metrics`)).text();
        },
        (text) =>
          text.includes(`remedy_gateway_predict_seconds_count{model="${MODEL}",version="1"}`) &&
          text.includes(`remedy_gateway_predict_seconds_count{model="${MODEL}",version="${candidate}"}`),
        5000,
      );
      const text = await (await fetch(`${g.url}/metrics`)).text();
      expect(text).toMatch(/# TYPE remedy_gateway_predict_seconds histogram/);
      expect(text).toMatch(
        new RegExp(`remedy_gateway_predict_seconds_bucket\\{le="0.001",model="${MODEL}",version="1"\\} \\d+`),
      );
    } finally {
      await db.setTraffic(pool, MODEL, { championVersion: 1, candidateVersion: null, candidateWeight: 0 });
      await g.close();
    }
  });
});
