/**
 * A codec server: the Temporal Web UI (and `temporal` CLI users with --codec-endpoint) send it encrypted
 * payloads and get them back decrypted, so people who are allowed can read what the history holds.
 *
 *   POST /decode  {"payloads": [{"metadata": {k: base64}, "data": base64}]}  → the same shape, decoded
 *   POST /encode  the same, encoded
 *
 * Who is allowed: with REMEDY_CODEC_TOKEN set, only requests carrying `Authorization: Bearer <token>`
 * (the Web UI can forward one). CORS admits the Web UI's origin (REMEDY_CODEC_CORS_ORIGIN).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { IdentityError, type Identify } from '../infra/identity.js';
import { HttpError, listen, readJsonBody, sendJson, type Listening } from '../infra/http.js';

const MAX_BODY = 4 * 1024 * 1024;
const JsonPayloads = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(10_000),
});

export type CodecServer = Listening;

const fromJson = (p: z.infer<typeof JsonPayloads>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether an Authorization header is exactly `Bearer <token>`, compared in constant time: both sides are
 * hashed first (equal-length digests), so neither the bytes nor the length of the token show in the
 * response time.
 */
const bearerCheck = (token: string) => {
  const expected = sha256(`Bearer ${token}`);
  return (header: string | undefined): boolean => timingSafeEqual(sha256(header ?? ''), expected);
};

export function startCodecServer(
  codec: PayloadCodec,
  opts: {
    port?: number;
    host?: string;
    token?: string;
    corsOrigin?: string;
    /** With REMEDY_AUTH=jwt: the caller's OIDC token (the Web UI passes the user's access token). */
    identify?: Identify;
  } = {},
): Promise<CodecServer> {
  const cors = {
    'access-control-allow-origin': opts.corsOrigin ?? 'http://localhost:8233',
    'access-control-allow-headers': 'content-type, authorization, x-namespace',
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-credentials': 'true',
  };
  const authorized = opts.token ? bearerCheck(opts.token) : undefined;
  return listen(async (req, res) => {
    const send = (status: number, body: unknown) => sendJson(res, status, body, cors);
    try {
      if (req.method === 'OPTIONS') return send(204, {});
      const route = req.url?.split('?')[0];
      if (req.method !== 'POST' || (route !== '/decode' && route !== '/encode'))
        throw new HttpError(404, 'use POST /decode or POST /encode');
      if (authorized && !authorized(req.headers.authorization))
        throw new HttpError(401, 'not allowed: send Authorization: Bearer <token>');
      if (opts.identify) {
        try {
          await opts.identify(req);
        } catch (err) {
          if (err instanceof IdentityError) throw new HttpError(err.status, err.message);
          throw err;
        }
      }
      const parsed = JsonPayloads.safeParse(await readJsonBody(req, MAX_BODY));
      if (!parsed.success)
        throw new HttpError(400, 'send {"payloads": [{"metadata": {...}, "data": "<base64>"}]}');
      const payloads = parsed.data.payloads.map(fromJson);
      const out = route === '/decode' ? await codec.decode(payloads) : await codec.encode(payloads);
      send(200, { payloads: out.map(toJson) });
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, { error: err.message });
      send(422, { error: err instanceof Error ? err.message : String(err) });
    }
  }, opts);
}
