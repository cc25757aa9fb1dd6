/**
 * Credentials on the gateway's write endpoints: API keys made with `remedy clients add`, sent as
 * `Authorization: Bearer`, stored hashed; a missing, unknown or revoked key gets 401 and writes nothing,
 * and every feedback row names the client that sent it.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareWeatherModel } from '../../dev/scenario.js';
import { startGateway, type Gateway } from '../../gateway/server.js';
import { cliRunner, freshDatabase, until } from '../helpers.js';

let pool: pg.Pool;
let gateway: Gateway;
let strict: Gateway;
const MODEL = 'weather-auth';
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
  ({ pool } = await freshDatabase('gateway_auth'));
  await prepareWeatherModel(pool, MODEL);
  gateway = await startGateway(pool, { auth: 'required' });
  strict = await startGateway(pool, { auth: 'required', authPredict: true });
});
afterAll(async () => {
  await gateway?.close();
  await strict?.close();
  await pool?.end();
});

const remedy = cliRunner(() => ({
  client: undefined as never,
  queues: { taskQueue: 'unused', trainingTaskQueue: 'unused' },
  pool,
}));

async function post(
  g: Gateway,
  route: string,
  body: unknown,
  key?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${g.url}/v1/models/${MODEL}/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function feedbackOf(recordKey: string) {
  await gateway.log.flush();
  const { rows } = await pool.query<{ feedback: string | null; feedback_client: string | null }>(
    'SELECT feedback, feedback_client FROM records WHERE model_id = $1 AND record_key = $2',
    [MODEL, recordKey],
  );
  return rows[0];
}

async function addClient(name: string): Promise<string> {
  const r = await remedy('clients', 'add', name, '--json');
  expect(r).toMatchObject({ code: 0 });
  return (JSON.parse(r.out) as { apiKey: string }).apiKey;
}

describe('gateway credentials', () => {
  it('given no key or an unknown one, then feedback and corrections get 401 and nothing is written', async () => {
    expect((await post(gateway, 'predict', { requestId: 'a-1', features })).status).toBe(200);
    const missing = await post(gateway, 'feedback', { requestId: 'a-1', label: 'rain' });
    expect(missing.status).toBe(401);
    expect(missing.json.error).toMatch(/^missing credentials: send "Authorization: Bearer <api key>"/);
    const unknown = await post(gateway, 'feedback', { requestId: 'a-1', label: 'rain' }, 'rmd_guessed');
    expect(unknown.status).toBe(401);
    expect(unknown.json.error).toMatch(/^unknown API key/);
    const correction = await post(gateway, 'corrections', { requestId: 'a-1', label: 'fog' });
    expect(correction.status).toBe(401);
    expect(await feedbackOf('a-1')).toEqual({ feedback: null, feedback_client: null });
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM failure_cases WHERE model_id = $1 AND record_key = 'a-1' AND kind = 'correction'",
      [MODEL],
    );
    expect(rows[0]!.n).toBe('0');
  });

  it('given a key from "remedy clients add", then feedback is stored with the client that sent it, and only the hash is kept', async () => {
    const key = await addClient('labeler');
    expect(key).toMatch(/^rmd_[A-Za-z0-9_-]{43}$/);
    expect((await post(gateway, 'predict', { requestId: 'a-2', features })).status).toBe(200);
    expect(await post(gateway, 'feedback', { requestId: 'a-2', label: 'rain' }, key)).toMatchObject({
      status: 200,
      json: { requestId: 'a-2', label: 'rain', duplicate: false },
    });
    expect(await feedbackOf('a-2')).toEqual({ feedback: 'rain', feedback_client: 'labeler' });
    const stored = await pool.query<{ key_hash: string }>('SELECT key_hash FROM api_clients');
    expect(JSON.stringify(stored.rows)).not.toContain(key);
    const again = await remedy('clients', 'add', 'labeler');
    expect(again.code).not.toBe(0);
    expect(again.err).toMatch(/client "labeler" exists already/);
  });

  it('given a revoked key, then its next write gets 401 naming the client, and the list shows it revoked', async () => {
    const key = await addClient('old-pipeline');
    expect((await post(gateway, 'predict', { requestId: 'a-3', features })).status).toBe(200);
    expect((await post(gateway, 'feedback', { requestId: 'a-3', label: 'sun' }, key)).status).toBe(200);
    const revoked = await remedy('clients', 'revoke', 'old-pipeline');
    expect(revoked.code).toBe(0);
    expect(revoked.out).toMatch(/^client "old-pipeline" revoked/);
    // The gateway caches keys for 30 s; the revocation's notification drops the cache at once.
    const refused = await until(
      () => post(gateway, 'corrections', { requestId: 'a-3', label: 'fog' }, key),
      (r) => r.status === 401,
      2000,
    );
    expect(refused.json.error).toMatch(/API key of client "old-pipeline" is revoked/);
    const list = await remedy('clients', 'list');
    expect(list.out).toMatch(/old-pipeline\tadded \S+\tREVOKED \S+/);
    expect(list.out).toMatch(/labeler\tadded \S+\tactive/);
    expect((await remedy('clients', 'revoke', 'nobody')).err).toMatch(/no API client "nobody"/);
  });

  it('given REMEDY_GATEWAY_AUTH_PREDICT, then predict needs a key too and an unauthenticated one is not logged', async () => {
    const key = await addClient('frontend');
    expect(await post(strict, 'predict', { requestId: 'a-4', features })).toMatchObject({ status: 401 });
    expect(await feedbackOf('a-4')).toBeUndefined();
    expect(await post(strict, 'predict', { requestId: 'a-5', features }, key)).toMatchObject({
      status: 200,
      json: { requestId: 'a-5', version: 1 },
    });
  });
});
