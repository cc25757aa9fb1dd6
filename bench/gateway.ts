/**
 * `npm run bench:gateway [-- --quick]`: the serving gateway under load, as its own process
 * (gateway/main.ts, default settings: split cached, rows written in batches every 10 ms), with the
 * built-in forest of the weather model; `wrk` at 32 connections. In the same run, a bare Node HTTP
 * server answering the same JSON, so the ratio holds on a busy machine. Then:
 *
 * - every request logged: the gateway is stopped with SIGTERM (it drains) and the prediction rows are
 *   counted against the requests answered;
 * - rollback latency: 50 flips of the split with `db.setTraffic` (what the rollout activity calls), each
 *   timed from the commit to the first prediction served by the new version.
 *
 * Needs `wrk` (apt-get install wrk). Writes .remedy/bench/gateway.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { Command } from 'commander';
import { spawnGateway } from '../dev/gateway-process.js';
import { prepareWeatherModel } from '../dev/scenario.js';
import * as db from '../db/index.js';
import { createPool, migrate } from '../db/pool.js';
import { dataDir } from '../infra/paths.js';
import { ensurePythonEnv } from '../infra/python-env.js';
import { addOnnxVersion } from '../ops/adopt.js';
import { createDatabase, startPostgres } from '../infra/postgres.js';
import { machine, percentile, writeReport } from './report.js';

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const MODEL = 'weather-bench';
const CONNECTIONS = 32;
const FEATURES = {
  location: 'Seattle',
  precipitation: 5.1,
  temp_max: 11.1,
  temp_min: 5.6,
  wind: 3.2,
  season_sin: 0.5,
  season_cos: 0.86,
};

interface WrkResult {
  requests: number;
  non2xx: number;
  socketErrors: string | null;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const toMs = (v: string): number => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
};

async function wrk(url: string, seconds: number, script: string): Promise<WrkResult> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', script, url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`)),
    );
  });
  const num = (re: RegExp) => re.exec(out)?.[1];
  return {
    requests: Number(num(/(\d+) requests in/)),
    non2xx: Number(num(/Non-2xx or 3xx responses: (\d+)/) ?? 0),
    socketErrors: /Socket errors: (.*)/.exec(out)?.[1] ?? null,
    perSecond: Number(num(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: toMs(num(/^\s+50%\s+(\S+)/m) ?? ''),
    p99Ms: toMs(num(/^\s+99%\s+(\S+)/m) ?? ''),
  };
}

/** The bare server: reads the body and answers the JSON the gateway answers, nothing else. */
const BARE = `
const http = require('node:http');
const body = process.argv[1];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

async function bareServer(answer: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', BARE, answer], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) =>
    child.stdout.once('data', (c: Buffer) => resolve(c.toString().trim())),
  );
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

/** Posts predictions on one keep-alive connection; the versions they were served by. */
function predictor(url: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ routingKey: 'rollback-probe', features: FEATURES });
  let answered = 0;
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${url}/v1/models/${MODEL}/predict`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            if (res.statusCode !== 200)
              return reject(new Error(`predict answered ${res.statusCode}: ${text}`));
            answered++;
            resolve((JSON.parse(text) as { version: number }).version);
          });
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  return { once, answered: () => answered, close: () => agent.destroy() };
}

/**
 * The weather model served by ONNX files: a scikit-learn forest (the example's champion) and gradient
 * boosting (its candidate), added as versions and the forest made the champion.
 */
async function onnxVersions(pool: pg.Pool): Promise<{ champion: number; candidate: number }> {
  const { python } = await ensurePythonEnv({ log });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-gateway-onnx-'));
  const example = fileURLToPath(new URL('../workers/python/examples/weather_onnx.py', import.meta.url));
  const made = spawnSync(python, [example, dir], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`weather_onnx.py failed: ${made.stderr.trim()}`);
  const add = async (file: string) =>
    (
      await addOnnxVersion(pool, MODEL, await readFile(path.join(dir, file)), {
        fileName: file,
        author: 'bench',
      })
    ).version;
  const champion = await add('champion.onnx');
  const candidate = await add('candidate.onnx');
  await db.setAlias(pool, MODEL, 'champion', champion);
  await db.setTraffic(pool, MODEL, { championVersion: champion, candidateVersion: null, candidateWeight: 0 });
  log(
    `serving ONNX: champion v${champion} (scikit-learn forest), candidate v${candidate} (gradient boosting)`,
  );
  return { champion, candidate };
}

async function main(): Promise<void> {
  const opts = new Command('bench:gateway')
    .option('--quick', 'short runs (3 s each, 10 flips) for a smoke test')
    .option('--profile <dir>', "write the gateway process's CPU profile (.cpuprofile) into <dir>")
    .option(
      '--onnx',
      "serve a scikit-learn forest as ONNX (workers/python/examples/weather_onnx.py's champion) instead of the built-in one",
    )
    .parse()
    .opts<{ quick?: boolean; profile?: string; onnx?: boolean }>();
  if (spawnSync('wrk', ['--version']).error)
    throw new Error('wrk is not installed: apt-get install wrk (the load generator of this benchmark)');
  const seconds = opts.quick ? 3 : 10;
  const flips = opts.quick ? 10 : 50;

  const pgServer = await startPostgres({
    log,
    dataDir: path.join(dataDir(), 'bench', 'pg'),
    databaseName: 'bench',
  });
  const url = await createDatabase(pgServer.url, `gateway_${Date.now()}`);
  const pool = createPool(url, 4);
  const stops: (() => Promise<unknown> | void)[] = [() => pgServer.stop(), () => pool.end()];
  try {
    await migrate(pool);
    log('preparing the weather model (forest trained on 2012)');
    await prepareWeatherModel(pool, MODEL);
    const v1 = await db.getModelVersion(pool, MODEL, 1);
    let champion = 1;
    let candidate: number;
    if (opts.onnx) ({ champion, candidate } = await onnxVersions(pool));
    else
      candidate = await db.insertModelVersion(pool, {
        ...v1,
        idempotencyKey: 'bench-candidate',
        status: 'candidate',
        codeVersion: 'bench',
        artifact: JSON.stringify(v1.artifact),
      });
    const before = await db.countGatewayPredictions(pool, MODEL);

    const gateway = await spawnGateway(
      { DATABASE_URL: url },
      opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [],
    );
    stops.push(() => gateway.stop('SIGKILL'));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-gateway-'));
    const script = path.join(dir, 'post.lua');
    await writeFile(
      script,
      `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '${JSON.stringify({ features: FEATURES })}'\n`,
    );
    const target = `${gateway.url}/v1/models/${MODEL}/predict`;
    log(`warming up the gateway (${seconds} s)`);
    const warm = await wrk(target, Math.min(seconds, 3), script);
    log(`measuring the gateway: ${seconds} s at ${CONNECTIONS} connections`);
    const gw = await wrk(target, seconds, script);

    // The bare server answers what the gateway answered.
    const sample = predictor(gateway.url);
    const answerBody = JSON.stringify({
      requestId: '00000000-0000-0000-0000-000000000000',
      modelId: MODEL,
      version: await sample.once(),
      label: 'rain',
      confidence: 0.61,
      probabilities: { drizzle: 0.04, fog: 0.07, rain: 0.61, snow: 0.01, sun: 0.27 },
    });
    sample.close();
    const bare = await bareServer(answerBody);
    stops.push(() => bare.stop());
    await wrk(`${bare.url}/`, Math.min(seconds, 3), script);
    log(`measuring a bare Node server: ${seconds} s at ${CONNECTIONS} connections`);
    const base = await wrk(`${bare.url}/`, seconds, script);
    bare.stop();

    log(`rollback latency: ${flips} flips of the split with db.setTraffic`);
    const probe = predictor(gateway.url);
    const latencies: number[] = [];
    for (let i = 0; i < flips; i++) {
      const toCandidate = i % 2 === 0;
      await db.setTraffic(pool, MODEL, {
        championVersion: champion,
        candidateVersion: toCandidate ? candidate : null,
        candidateWeight: toCandidate ? 100 : 0,
      });
      const t0 = performance.now();
      const want = toCandidate ? candidate : champion;
      for (;;) {
        if ((await probe.once()) === want) break;
        if (performance.now() - t0 > 10_000)
          throw new Error(`flip ${i}: still not served by v${want} after 10 s`);
      }
      latencies.push(performance.now() - t0);
    }
    probe.close();

    log('stopping the gateway with SIGTERM (it drains) and counting the logged predictions');
    const code = await gateway.stop('SIGTERM');
    const logged = (await db.countGatewayPredictions(pool, MODEL)) - before;
    const answered = warm.requests - warm.non2xx + gw.requests - gw.non2xx + 1 + probe.answered();

    const report = {
      model: opts.onnx ? 'scikit-learn forest as ONNX (onnxruntime-node)' : 'built-in forest',
      machine: { ...machine(), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
      connections: CONNECTIONS,
      seconds,
      gateway: gw,
      bare: base,
      ratio: Math.round((gw.perSecond / base.perSecond) * 1000) / 1000,
      logging: { answered, logged, gatewayExit: code },
      rollback: {
        flips,
        p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
        p95Ms: Math.round(percentile(latencies, 95) * 100) / 100,
        maxMs: Math.round(Math.max(...latencies) * 100) / 100,
      },
      targets: {
        perSecond: { target: 8000, met: gw.perSecond >= 8000 },
        p99Ms: { target: 10, met: gw.p99Ms <= 10 },
        everyRequestLogged: { met: logged >= answered && gw.non2xx === 0 },
        rollbackP95Ms: { target: 50, met: percentile(latencies, 95) <= 50 },
      },
    };
    const file = await writeReport('gateway', report);
    const f = (n: number) => Math.round(n).toLocaleString('en-US');
    process.stdout.write(
      [
        `gateway: ${f(gw.perSecond)} predictions/s, p50 ${gw.p50Ms} ms, p99 ${gw.p99Ms} ms (${CONNECTIONS} connections, ${seconds} s${gw.non2xx ? `, ${gw.non2xx} non-2xx` : ''})`,
        `bare Node server, same JSON: ${f(base.perSecond)}/s, p99 ${base.p99Ms} ms; gateway/bare = ${report.ratio}`,
        `logged/answered: ${logged}/${answered} (rows counted after a SIGTERM drain; exit code ${code})`,
        `rollback effective for the next requests: p50 ${report.rollback.p50Ms} ms, p95 ${report.rollback.p95Ms} ms over ${flips} flips`,
        `machine: ${report.machine.cpus} CPUs, load average ${report.machine.loadavg.join(' ')}; targets ≥ 8,000/s ${report.targets.perSecond.met ? 'met' : 'MISSED'}, p99 ≤ 10 ms ${report.targets.p99Ms.met ? 'met' : 'MISSED'}, rollback p95 ≤ 50 ms ${report.targets.rollbackP95Ms.met ? 'met' : 'MISSED'}`,
        `report: ${file}`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
