/**
 * A real gateway process (gateway/main.ts) stopped with SIGTERM in the middle of load: it drains, so
 * every request it answered has its row in the prediction log, though rows were queued (a 2 s flush
 * interval) when the signal came, and it exits 0.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGateway, type GatewayProcess } from '../../dev/gateway-process.js';
import { prepareWeatherModel } from '../../dev/scenario.js';
import { freshDatabase, until } from '../helpers.js';

let pool: pg.Pool;
let url: string;
let gateway: GatewayProcess | undefined;
const MODEL = 'weather-drain';
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
  ({ pool, url } = await freshDatabase('gateway_drain'));
  await prepareWeatherModel(pool, MODEL);
});
afterAll(async () => {
  await gateway?.stop('SIGKILL');
  await pool?.end();
});

describe('gateway drain', () => {
  it('given requests in flight and rows queued, when the process gets SIGTERM, then every answered request is logged and it exits 0', async () => {
    gateway = await spawnGateway({ DATABASE_URL: url, REMEDY_GATEWAY_FLUSH_MS: '2000' });
    const g = gateway;
    const answered: string[] = [];
    let stopped = false;
    void g.exited.then(() => (stopped = true));
    const client = async (c: number) => {
      for (let i = 0; !stopped; i++) {
        const requestId = `d-${c}-${i}`;
        try {
          const res = await fetch(`${g.url}/v1/models/${MODEL}/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ requestId, features }),
          });
          if (res.status === 200) answered.push(requestId);
          else await res.body?.cancel();
        } catch {
          // Refused or cut once the gateway stops accepting: not answered, so nothing to find.
          if (stopped) return;
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, c) => client(c));
    await until(
      () => Promise.resolve(answered.length),
      (n) => n >= 200,
      30_000,
    );
    g.child.kill('SIGTERM');
    expect(await g.exited).toBe(0);
    await Promise.all(clients);
    const draining = g.lines().find((l) => l.msg === 'gateway draining');
    expect(draining).toMatchObject({ signal: 'SIGTERM' });
    // Rows were still queued when the signal came: the drain wrote them.
    expect(Number(draining!.queued)).toBeGreaterThan(0);
    const { rows } = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM predictions WHERE model_id = $1 AND record_key = ANY($2::text[])',
      [MODEL, answered],
    );
    expect(Number(rows[0]!.n)).toBe(answered.length);
  });
});
