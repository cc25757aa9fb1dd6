/**
 * Does the loop pay? Replays real, time-ordered production streams through the real system (its own
 * Temporal dev server, Postgres, worker and gateway) under four retraining policies, each on its own
 * model over the same stream, and compares what each costs and buys: prequential accuracy, cycles,
 * false alarms, human labels, training time, rollbacks and the delay from a shift to a new champion.
 *
 *   npm run bench:efficacy [-- --quick] [--dataset weather|employment|cars|flights] [--out dir]
 *                          [--label-delay-ms 0] [--label-error-rate 0] [--seed 7]
 *                          [--custom-policy '{"drift":{"persistence":2}}'] [--label-free]
 *
 * Prints the table and how each efficacy target fares; writes efficacy.md, efficacy.json and one
 * SVG chart per dataset into the out dir (default <data dir>/bench/efficacy).
 */
import path from 'node:path';
import { Command } from 'commander';
import { describeZodError, Policy } from '../core/schemas.js';
import { dataDir } from '../infra/paths.js';
import { mergePolicy, sharedPolicy, unitOf } from './efficacy-data.js';
import { log, machine, startBenchEnv } from './harness.js';
import { parseDatasets, runEfficacy, targetLines } from './efficacy-run.js';
import { sklearnLines } from './efficacy-sklearn.js';
import { labelFreeRefusal } from './efficacy-label-free.js';

const opts = new Command('bench:efficacy')
  .option('--quick', 'a year of the stream (12 windows): minutes, for CI')
  .option('--dataset <names>', 'comma-separated datasets: weather, employment, cars, flights', 'weather')
  .option('--out <dir>', 'where the report goes', path.join(dataDir(), 'bench', 'efficacy'))
  .option('--label-delay-ms <ms>', "the scripted reviewer's wait before each answer", '0')
  .option('--label-error-rate <share>', 'share of wrong answers from the reviewer (0..1)', '0')
  .option('--seed <n>', "seed of the reviewer's mistakes", '7')
  .option(
    '--custom-policy <json>',
    'a fifth policy, "custom": policy sections on top of the shared ones, e.g. \'{"drift":{"persistence":2}}\'',
  )
  .option(
    '--label-free',
    'adds the label-free policy: the default with no feedback at all (classifiers only)',
  )
  .parse()
  .opts<{
    labelFree?: boolean;
    quick?: boolean;
    dataset: string;
    out: string;
    labelDelayMs: string;
    labelErrorRate: string;
    seed: string;
    customPolicy?: string;
  }>();

function number(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max)
    throw new Error(`${name} must be a number from ${min} to ${max} (got "${raw}")`);
  return v;
}

function customPolicy(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(
      `--custom-policy is not JSON (${(err as Error).message}): e.g. '{"drift":{"persistence":2}}'`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(
      '--custom-policy must be a JSON object of policy sections, e.g. \'{"drift":{"persistence":2}}\'',
    );
  const policy = parsed as Record<string, unknown>;
  // Refused before anything starts, with the field that is wrong.
  const checked = Policy.safeParse(mergePolicy(sharedPolicy(opts.quick === true), policy));
  if (!checked.success)
    throw new Error(`--custom-policy is not a valid policy: ${describeZodError(checked.error)}`);
  return policy;
}

const datasets = parseDatasets(opts.dataset);
const refused = opts.labelFree ? labelFreeRefusal(datasets) : null;
if (refused) throw new Error(refused);
const custom = customPolicy(opts.customPolicy);
const reviewer = {
  delayMs: number('--label-delay-ms', opts.labelDelayMs, 0, 60_000),
  errorRate: number('--label-error-rate', opts.labelErrorRate, 0, 1),
  seed: number('--seed', opts.seed, 0, 2 ** 31),
};
const t0 = Date.now();
const env = await startBenchEnv('efficacy');
try {
  const runs = await runEfficacy(
    { client: env.client, pool: env.pool, queues: env, gatewayUrl: env.gateway.url },
    {
      datasets,
      quick: opts.quick === true,
      reviewer,
      prefix: `eff${Date.now().toString(36)}`,
      outDir: path.resolve(opts.out),
      machine: machine(),
      log,
      ...(custom ? { custom } : {}),
      ...(opts.labelFree ? { labelFree: true } : {}),
    },
  );
  env.checkWorkers();
  for (const r of runs) {
    process.stdout.write(
      [
        `Efficacy on ${r.dataset.name} (${opts.quick ? 'quick' : 'full'} run)`,
        r.table,
        '',
        'Targets:',
        ...targetLines(r.targets),
        ...(r.sklearn ? ['', ...sklearnLines(r.sklearn, unitOf(r.dataset).short)] : []),
        '',
      ].join('\n'),
    );
  }
  process.stdout.write(
    `report: ${path.resolve(opts.out)}/efficacy.md (${((Date.now() - t0) / 1000).toFixed(0)} s in all)\n`,
  );
} finally {
  await env.close();
}
