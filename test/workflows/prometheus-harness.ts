/**
 * A real Prometheus for the rollout metrics tests: Debian's `prometheus` binary started with a temporary
 * config that scrapes, every second, a prom-client exporter in the test process. The exporter belongs to
 * a small serving endpoint: each real HTTP request it answers is counted per model and version (requests,
 * errors) and its latency observed in a histogram, as a team's serving stack would expose them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { until } from '../helpers.js';

export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';

export interface Serving {
  url: string;
  /** Sends `n` real requests for `version`, the first `errors` of them failing (HTTP 500). */
  send(model: string, version: number, n: number, errors: number): Promise<void>;
  close(): Promise<void>;
}

/** The serving endpoint and its /metrics; `versions` start at zero so that "no errors" is a 0, not no data. */
export async function startServing(model: string, versions: number[]): Promise<Serving> {
  const registry = new Registry();
  const labelNames = ['model', 'version'] as const;
  const requests = new Counter({
    name: 'served_requests_total',
    help: 'requests',
    labelNames,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'served_errors_total',
    help: 'failed requests',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'served_latency_seconds',
    help: 'time to answer',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  for (const v of versions) {
    requests.inc({ model, version: String(v) }, 0);
    errors.inc({ model, version: String(v) }, 0);
    latency.zero({ model, version: String(v) });
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://serving');
    if (url.pathname === '/metrics') {
      void registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
      return;
    }
    const t0 = performance.now();
    const labels = {
      model: url.searchParams.get('model') ?? '',
      version: url.searchParams.get('version') ?? '',
    };
    const fail = url.searchParams.get('fail') === '1';
    requests.inc(labels);
    if (fail) errors.inc(labels);
    res.writeHead(fail ? 500 : 200).end(fail ? 'error' : 'ok');
    latency.observe(labels, (performance.now() - t0) / 1000);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    async send(m, version, n, failing) {
      for (let i = 0; i < n; i++) {
        const r = await fetch(`${base}/predict?model=${m}&version=${version}&fail=${i < failing ? 1 : 0}`);
        await r.text();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Prometheus {
  url: string;
  /** One instant query's first value (null: no data). */
  value(query: string): Promise<number | null>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Starts Prometheus scraping `target` (host:port) every second; resolves once it has scraped it. */
export async function startPrometheus(target: string): Promise<Prometheus> {
  if (!existsSync(PROMETHEUS))
    throw new Error(
      `no Prometheus at ${PROMETHEUS}: install Debian's prometheus (apt-get install prometheus; npm test does it as root) or set PROMETHEUS_PATH`,
    );
  const dir = await mkdtemp(path.join(tmpdir(), 'remedy-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  await writeFile(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: serving\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  const value = async (query: string) => {
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
    const first = body.data.result[0];
    return first ? Number(first.value[1]) : null;
  };
  try {
    await until(
      () => value('up{job="serving"}'),
      (up) => up === 1,
      30_000,
    );
  } catch (err) {
    child.kill();
    throw new Error(`Prometheus did not scrape the exporter: ${(err as Error).message}; its log: ${stderr}`);
  }
  return {
    url,
    value,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
