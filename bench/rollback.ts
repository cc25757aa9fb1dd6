/**
 * Rollback latency: a candidate that is worse on real feedback rolls out through the gateway under
 * steady HTTP traffic; we measure, over repeated runs, the time from the analysis that breaches to
 * traffic back at 100% champion (both on the database clock). Target: p95 ≤ 2 s beyond the analysis
 * interval (the dwell). Also reports what a client sees: the first champion-only answer after the breach.
 *
 *   npm run bench:rollback [-- --runs 20]
 */
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import { futureTraffic, prepareWeatherModel } from '../dev/scenario.js';
import { backgroundTraffic } from '../dev/traffic.js';
import { canonicalJson, train } from '../core/model.js';
import { Policy } from '../core/schemas.js';
import * as db from '../db/index.js';
import type { RolloutResult } from '../workflows/rollout.js';
import { log, machine, percentile, startBenchEnv, writeReport } from './harness.js';

const opts = new Command('bench:rollback')
  .option('--runs <n>', 'rollouts to measure', '20')
  .parse()
  .opts<{ runs: string }>();
const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 500)
  throw new Error('--runs must be a whole number from 1 to 500');

const TARGET_MS = 2000;
const DWELL = '2s';
const env = await startBenchEnv('rollback');
try {
  const prepared = await prepareWeatherModel(env.pool, 'bench-rollback');
  const bad = canonicalJson(
    train(
      { numeric: ['temp_max'], categorical: [] },
      prepared.rows.slice(0, 50).map((r) => ({ features: r.features, label: 'snow' })),
      { epochs: 5, learningRate: 0.1, l2: 0 },
    ),
  );
  const policy = Policy.parse({ rollout: { dwell: DWELL, minSamples: 20 } }).rollout;
  const load = backgroundTraffic({
    gatewayUrl: env.gateway.url,
    modelId: 'bench-rollback',
    rows: futureTraffic(prepared),
    maxRequests: 1_000_000,
  });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const candidate = await db.insertModelVersion(env.pool, {
        modelId: 'bench-rollback',
        idempotencyKey: `bench-candidate-${i}`,
        status: 'candidate',
        datasetId: null,
        cycleId: null,
        configHash: 'bench',
        codeVersion: 'bench',
        artifact: bad,
        artifactSha256: createHash('sha256').update(bad).digest('hex'),
        metrics: {},
      });
      const cycleId = `bench-rollback-${Date.now()}-${i}`;
      const result = (await env.client.workflow.execute('stagedRollout', {
        workflowId: `${cycleId}-rollout`,
        taskQueue: env.taskQueue,
        args: [
          { cycleId, modelId: 'bench-rollback', championVersion: 1, candidateVersion: candidate, policy },
        ],
      })) as RolloutResult;
      if (result.outcome !== 'rolled-back' || !result.breach)
        throw new Error(`run ${i}: expected an automatic rollback, got ${result.outcome}`);
      const ms = Date.parse(result.breach.restoredAt) - Date.parse(result.breach.decidedAt);
      latencies.push(ms);
      log(`run ${i + 1}/${runs}: breach → champion-only traffic in ${ms} ms`);
    }
  } finally {
    const sent = await load.stop();
    log(`traffic sent: ${sent.sent} requests with feedback`);
  }
  const p50 = percentile(latencies, 50);
  const p95 = percentile(latencies, 95);
  const report = {
    benchmark: 'rollback-latency',
    machine: machine(),
    runs,
    analysisInterval: DWELL,
    breachToRestoredMs: { p50, p95, max: Math.max(...latencies), samples: latencies },
    target: { p95BeyondIntervalMs: TARGET_MS, met: p95 <= TARGET_MS, ratio: p95 / TARGET_MS },
  };
  const file = await writeReport('rollback', report);
  process.stdout.write(
    [
      'Rollback latency (analysis breach → traffic at 100% champion)',
      `  runs            ${runs}`,
      `  analysis every  ${DWELL}`,
      `  p50             ${p50.toFixed(1)} ms`,
      `  p95             ${p95.toFixed(1)} ms   (target ≤ ${TARGET_MS} ms: ${report.target.met ? 'met' : 'MISSED'}, ratio ${report.target.ratio.toFixed(3)})`,
      `  max             ${report.breachToRestoredMs.max.toFixed(1)} ms`,
      `  report          ${file}`,
      '',
    ].join('\n'),
  );
} finally {
  await env.close();
}
