/**
 * A local HTTP receiver for notification tests: a real http.Server on 127.0.0.1 that records every
 * request and answers with the statuses it is given, in order (the last one repeats).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  requests: Received[];
  /** Distinct Idempotency-Key values seen: what a deduplicating receiver would act on. */
  distinctKeys(): Set<string>;
  /** Resolves with the n-th request (1-based) once it has arrived. */
  nth(n: number): Promise<Received>;
  close(): Promise<void>;
}

export async function startReceiver(statuses: readonly number[] = [200]): Promise<Receiver> {
  const requests: Received[] = [];
  const waiting: { n: number; resolve: (r: Received) => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: Received = {
        path: req.url ?? '/',
        headers: req.headers,
        body,
        json: JSON.parse(body) as Record<string, unknown>,
      };
      requests.push(r);
      const status = statuses[Math.min(requests.length, statuses.length) - 1]!;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver trouble');
      for (const w of waiting.filter((x) => x.n === requests.length)) w.resolve(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    distinctKeys: () => new Set(requests.map((r) => String(r.headers['idempotency-key']))),
    nth: (n) =>
      requests.length >= n
        ? Promise.resolve(requests[n - 1]!)
        : new Promise((resolve) => waiting.push({ n, resolve })),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A URL where nothing listens: a port that was bound and released. */
export async function downUrl(): Promise<string> {
  const r = await startReceiver();
  await r.close();
  return r.url;
}
