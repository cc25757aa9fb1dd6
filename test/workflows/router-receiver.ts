/**
 * The team's side of the `http` router, as a test runs it: a real http.Server on 127.0.0.1 that checks
 * each POST's HMAC, applies a split once per Idempotency-Key (to Remedy's gateway table here, as a team's
 * adapter would to its serving system), and answers GET ?modelId= with the split in force.
 * Faults are injected per request: answer 500 after applying, hang, or read back another split.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import * as db from '../../db/index.js';

export interface RouterPost {
  key: string;
  body: { modelId: string; championVersion: number; candidateVersion: number; weight: number; step: number };
  signed: boolean;
}

export interface RouterReceiver {
  url: string;
  posts: RouterPost[];
  /** Splits applied per Idempotency-Key: 1 each when retries had one effect. */
  effects: Map<string, number>;
  close(): Promise<void>;
}

export interface Faults {
  /** Answers 500 to the first POST of each key, after applying it (the answer is lost, not the effect). */
  fail500First?: boolean;
  /** Never answers the first `n` POSTs (after applying them). */
  hangPosts?: number;
  /** Changes the split the GET reads back. */
  readBack?: (state: Record<string, unknown>) => Record<string, unknown>;
}

export async function startRouterReceiver(
  pool: pg.Pool,
  key: string,
  faults: Faults = {},
): Promise<RouterReceiver> {
  const posts: RouterPost[] = [];
  const effects = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: Error) => {
        res.writeHead(500).end(err.message);
      });
    });
  });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.method === 'GET') {
      const modelId = url.searchParams.get('modelId') ?? '';
      const t = await db.getTraffic(pool, modelId);
      const state = {
        modelId,
        championVersion: t?.championVersion ?? null,
        candidateVersion: t?.candidateVersion ?? null,
        weight: t?.candidateWeight ?? 0,
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(faults.readBack ? faults.readBack(state) : state));
      return;
    }
    const expected = `sha256=${createHmac('sha256', key).update(raw).digest('hex')}`;
    const given = String(req.headers['x-remedy-signature'] ?? '');
    const signed =
      given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    const idem = String(req.headers['idempotency-key'] ?? '');
    const body = JSON.parse(raw) as RouterPost['body'];
    posts.push({ key: idem, body, signed });
    if (!signed) {
      res.writeHead(401).end('bad signature');
      return;
    }
    const firstOfKey = !effects.has(idem);
    if (firstOfKey) {
      effects.set(idem, 1);
      await db.setTraffic(pool, body.modelId, {
        championVersion: body.championVersion,
        candidateVersion: body.weight === 0 ? null : body.candidateVersion,
        candidateWeight: body.weight,
      });
    }
    if (faults.hangPosts !== undefined && posts.length <= faults.hangPosts) return; // never answered
    if (faults.fail500First && firstOfKey) {
      res.writeHead(500).end('applied, but the answer failed');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/split`,
    posts,
    effects,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
