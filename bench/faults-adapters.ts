/**
 * The team's side of Remedy's adapters in the fault run: an `http` traffic router and a webhook
 * notification channel, each a real HTTP server on loopback. Half of the run's models use them (the
 * others keep the built-in gateway router and no channel), so the same faults hit both paths.
 *
 * The router holds each model's split in memory (the team's serving system), applies a split once per
 * Idempotency-Key, answers GET ?modelId= with the split in force, and passes each split on to Remedy's
 * gateway table in order, retrying while Postgres is away, so the run's traffic is served by it. The
 * webhook records each signed delivery's Idempotency-Key. Both lose the answer to the first request of
 * each key (500 after the effect), so every split and every event is sent at least twice.
 *
 * Afterwards the counts show whether an effect happened twice: a split applied under a key the cycle's
 * moves do not account for, or two keys for one event at the webhook; and that every lost answer was
 * followed by a retry under the same key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import * as db from '../db/index.js';
import { LOCAL_HOST } from '../infra/ports.js';
import type { Tracked } from './faults-actors.js';
import type { CountRow } from './faults-effects.js';

export const ROUTER_KEY_ENV = 'REMEDY_FAULTS_ROUTER_KEY';
export const WEBHOOK_KEY_ENV = 'REMEDY_FAULTS_WEBHOOK_KEY';
const CHANNEL = 'team-hook';

interface Split {
  modelId: string;
  championVersion: number;
  candidateVersion: number | null;
  weight: number;
}

export interface TeamSide {
  /** The worker's environment: the two HMAC keys under the names the policies give. */
  env: Record<string, string>;
  /** The policy blocks of a model that uses the adapters. */
  policy: { router: Record<string, unknown>; notifications: Record<string, unknown> };
  router: {
    posts: number;
    unsigned: number;
    applied: Map<string, Split>;
    postsPerKey: Map<string, number>;
  };
  webhook: { deliveries: { key: string; kind: string; cycleId: string | null; signed: boolean }[] };
  close(): Promise<void>;
}

function signedBy(key: string, raw: string, given: string | string[] | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', key).update(raw).digest('hex')}`);
  const got = Buffer.from(String(given ?? ''));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

function listen(handler: (req: http.IncomingMessage, raw: string, res: http.ServerResponse) => void) {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  return new Promise<{ server: http.Server; url: string }>((resolve) =>
    server.listen(0, LOCAL_HOST, () =>
      resolve({ server, url: `http://${LOCAL_HOST}:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

/** Starts the router and the webhook; `pool` is Remedy's database, which the router's splits reach. */
export async function startTeamSide(pool: pg.Pool, signal: AbortSignal): Promise<TeamSide> {
  const routerKey = `router-${Math.random().toString(36).slice(2)}`;
  const webhookKey = `webhook-${Math.random().toString(36).slice(2)}`;
  const splits = new Map<string, Split>();
  const router: TeamSide['router'] = { posts: 0, unsigned: 0, applied: new Map(), postsPerKey: new Map() };
  const webhook: TeamSide['webhook'] = { deliveries: [] };
  // Each model's splits reach the gateway table in the order they were applied, whatever Postgres does.
  const toGateway = new Map<string, Promise<void>>();
  const passOn = (s: Split) => {
    const write = async () => {
      while (!signal.aborted) {
        try {
          await db.setTraffic(pool, s.modelId, {
            championVersion: s.championVersion,
            candidateVersion: s.candidateVersion,
            candidateWeight: s.weight,
          });
          return;
        } catch {
          await delay(500);
        }
      }
    };
    toGateway.set(s.modelId, (toGateway.get(s.modelId) ?? Promise.resolve()).then(write));
  };

  const r = await listen((req, raw, res) => {
    if (req.method === 'GET') {
      const modelId = new URL(req.url ?? '/', 'http://router').searchParams.get('modelId') ?? '';
      const s = splits.get(modelId);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(s ?? { modelId, championVersion: null, candidateVersion: null, weight: 0 }));
      return;
    }
    router.posts++;
    if (!signedBy(routerKey, raw, req.headers['x-remedy-signature'])) {
      router.unsigned++;
      res.writeHead(401).end('bad signature');
      return;
    }
    const key = String(req.headers['idempotency-key'] ?? '');
    const body = JSON.parse(raw) as Split;
    router.postsPerKey.set(key, (router.postsPerKey.get(key) ?? 0) + 1);
    const first = !router.applied.has(key);
    if (first) {
      const split = {
        modelId: body.modelId,
        championVersion: body.championVersion,
        candidateVersion: body.weight === 0 ? null : body.candidateVersion,
        weight: body.weight,
      };
      router.applied.set(key, split);
      splits.set(body.modelId, split);
      passOn(split);
    }
    if (first) res.writeHead(500).end('applied, but the answer was lost');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });

  const w = await listen((req, raw, res) => {
    const body = JSON.parse(raw) as { kind: string; cycleId: string | null };
    const key = String(req.headers['idempotency-key'] ?? '');
    const first = !webhook.deliveries.some((d) => d.key === key);
    webhook.deliveries.push({
      key,
      kind: body.kind,
      cycleId: body.cycleId,
      signed: signedBy(webhookKey, raw, req.headers['x-remedy-signature']),
    });
    if (first) res.writeHead(500).end('received, but the answer was lost');
    else res.writeHead(200).end('ok');
  });

  return {
    env: { [ROUTER_KEY_ENV]: routerKey, [WEBHOOK_KEY_ENV]: webhookKey },
    policy: {
      router: { kind: 'http', url: `${r.url}/split`, secretEnv: ROUTER_KEY_ENV },
      notifications: {
        channels: [{ type: 'webhook', name: CHANNEL, url: `${w.url}/hook`, secretEnv: WEBHOOK_KEY_ENV }],
      },
    },
    router,
    webhook,
    async close() {
      await Promise.all([...toGateway.values()]);
      for (const s of [r.server, w.server]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  };
}

/** Waits (up to `timeoutMs`) until no delivery of these models is pending: the outbox is drained. */
export async function deliveriesDrained(
  pool: pg.Pool,
  modelIds: readonly string[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const rows = (await Promise.all(modelIds.map((m) => db.modelDeliveries(pool, m)))).flat();
      if (rows.every((d) => d.status !== 'pending')) return true;
    } catch {
      // Postgres may still be on its way back.
    }
    if (Date.now() > deadline) return false;
    await delay(500);
  }
}

/** The counts of the adapters' side: nothing applied or announced twice, nothing stored and not sent. */
export async function countTeamSide(
  pool: pg.Pool,
  team: TeamSide,
  tracked: readonly Tracked[],
): Promise<CountRow[]> {
  const rows: CountRow[] = [];
  const expect = (check: string, found: number, expected: number) =>
    rows.push({ check, found, expected, ok: found === expected });
  const ids = tracked.map((c) => c.cycleId);

  // The router: the keys it applied are exactly the cycles' moves (every traffic.set, and a rollback's 0).
  const moves = new Set((await db.trafficMovesOfCycles(pool, ids)).map((m) => `${m.cycle_id}:${m.weight}`));
  for (const c of await db.cycleClosures(pool, ids))
    if (c.outcome === 'rolled-back') moves.add(`${c.cycle_id}:0`);
  const applied = [...team.router.applied.keys()];
  expect('http router: POSTs with a bad signature', team.router.unsigned, 0);
  expect('http router: splits applied (one per Idempotency-Key)', applied.length, moves.size);
  expect(
    '  splits applied that no move of a cycle accounts for',
    applied.filter((k) => !moves.has(k)).length,
    0,
  );
  expect(
    '  lost answers not retried under the same key',
    applied.filter((k) => (team.router.postsPerKey.get(k) ?? 0) < 2).length,
    0,
  );

  // The webhook: one key per stored event and channel, each received at least once, none made up.
  const stored = (await Promise.all(tracked.map((c) => db.modelDeliveries(pool, c.prepared.modelId))))
    .flat()
    .filter((d) => d.channel === CHANNEL);
  const storedKeys = new Set(stored.map((d) => `${d.notificationId}:${d.channel}`));
  const received = new Set(team.webhook.deliveries.map((d) => d.key));
  expect(
    'webhook: deliveries with a bad signature',
    team.webhook.deliveries.filter((d) => !d.signed).length,
    0,
  );
  expect('webhook: events delivered (distinct Idempotency-Keys)', received.size, storedKeys.size);
  expect(
    '  keys received that no stored event accounts for',
    [...received].filter((k) => !storedKeys.has(k)).length,
    0,
  );
  const timesSent = (k: string) => team.webhook.deliveries.filter((d) => d.key === k).length;
  expect(
    '  lost answers not retried under the same key',
    [...received].filter((k) => timesSent(k) < 2).length,
    0,
  );
  for (const kind of ['cycle-started', 'cycle-closed'] as const) {
    const perCycle = new Map<string, Set<string>>();
    for (const d of team.webhook.deliveries.filter((x) => x.kind === kind && x.cycleId !== null))
      perCycle.set(d.cycleId!, (perCycle.get(d.cycleId!) ?? new Set()).add(d.key));
    expect(
      `  cycles announced '${kind}' under two keys`,
      [...perCycle.values()].filter((k) => k.size > 1).length,
      0,
    );
    expect(`  cycles with a '${kind}' delivery`, perCycle.size, tracked.length);
  }
  return rows;
}
