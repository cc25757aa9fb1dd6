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
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

const MAX_BODY = 4 * 1024 * 1024;
const JsonPayloads = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(10_000),
});

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

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

export async function startCodecServer(
  codec: PayloadCodec,
  opts: { port?: number; host?: string; token?: string; corsOrigin?: string } = {},
): Promise<CodecServer> {
  const origin = opts.corsOrigin ?? 'http://localhost:8233';
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const textBody = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'access-control-allow-origin': origin,
        'access-control-allow-headers': 'content-type, authorization, x-namespace',
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-credentials': 'true',
      });
      res.end(textBody);
    };
    if (req.method === 'OPTIONS') return send(204, {});
    const route = req.url?.split('?')[0];
    if (req.method !== 'POST' || (route !== '/decode' && route !== '/encode'))
      return send(404, { error: 'use POST /decode or POST /encode' });
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`)
      return send(401, { error: 'not allowed: send Authorization: Bearer <token>' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        if (size > MAX_BODY) return send(413, { error: `body over ${MAX_BODY} bytes` });
        let parsed;
        try {
          parsed = JsonPayloads.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          return send(400, { error: 'the body is not JSON: send {"payloads": [...]}' });
        }
        if (!parsed.success)
          return send(400, { error: 'send {"payloads": [{"metadata": {...}, "data": "<base64>"}]}' });
        try {
          const payloads = parsed.data.payloads.map(fromJson);
          const out = route === '/decode' ? await codec.decode(payloads) : await codec.encode(payloads);
          send(200, { payloads: out.map(toJson) });
        } catch (err) {
          send(422, { error: err instanceof Error ? err.message : String(err) });
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
