/**
 * The main job: a full remediation cycle on real data and real infrastructure, on one machine.
 *
 *   npm run demo [-- --json] [-- --keep] [-- --trainer python] [-- --task regression]
 *
 * Brings up Temporal + Postgres + a worker, trains a champion on 2012 Seattle/New York weather, logs
 * 2013–2015 traffic, runs one cycle with a scripted reviewer and approver, and prints every stage.
 * With --task regression the model predicts miles per gallon instead (vega-datasets cars, champion on
 * 1970–74, a cycle over 1975–80, the rollout judged on 1981–82): the same stages for a regressor.
 * With --json the summary is the one JSON document on stdout (logs go to stderr). With --keep the
 * stack stays up for the Web UI until Ctrl-C.
 */
import { Command, Option } from 'commander';
import type { Pool } from 'pg';
import * as db from '../db/index.js';
import { reportLink } from '../ops/cycles.js';
import { renderSummary } from '../ops/render.js';
import { writeReport } from '../ops/report.js';
import { CARS_DEMO_POLICY, prepareCarsModel } from './cars-scenario.js';
import { DEMO_POLICY, prepareWeatherModel, runScriptedCycle, type ScriptedModel } from './scenario.js';
import { startStack, workflowUrl } from './stack.js';

const program = new Command('demo')
  .description(
    'Run a full remediation cycle on real data (weather, or cars with --task regression) with embedded Temporal and Postgres',
  )
  .option('--json', 'print the cycle summary as one JSON document on stdout')
  .option('--keep', 'leave Temporal, Postgres and the worker running (Ctrl-C to stop)')
  .option('--model <id>', 'model ID to use (default: the next free weather-<n>, or cars-<n> for regression)')
  .addOption(
    new Option(
      '--task <task>',
      'what the model predicts: a class (weather) or a number (cars: miles per gallon)',
    )
      .choices(['classification', 'regression'])
      .default('classification'),
  )
  .addOption(
    new Option(
      '--trainer <kind>',
      'who trains the candidate: the built-in forest, or the Python worker (scikit-learn → ONNX)',
    )
      .choices(['forest', 'python'])
      .default('forest'),
  )
  .parse();
const opts = program.opts<{
  json?: boolean;
  keep?: boolean;
  model?: string;
  trainer: 'forest' | 'python';
  task: 'classification' | 'regression';
}>();
const log = (msg: string) => process.stderr.write(`[remedy] ${msg}\n`);
if (opts.task === 'regression' && opts.trainer === 'python') {
  process.stderr.write(
    'demo: --trainer python trains classifiers only; run the regression demo with the built-in forest (drop --trainer)\n',
  );
  process.exit(1);
}

const stack = await startStack(log);
let exitCode = 0;
try {
  if (opts.trainer === 'python') await stack.startPythonWorker();
  const prepared = await prepare(stack.pool);
  const { cycleId, summary, labelsAnswered, traffic } = await runScriptedCycle(
    stack.client,
    stack.config,
    prepared,
    {
      gatewayUrl: stack.gatewayUrl,
      gatewayKey: stack.gatewayKey,
      onEvent: log,
      reviewBase: stack.reviewBase,
    },
  );
  const url = workflowUrl(stack.uiUrl, stack.config.namespace, cycleId);
  // The report outlives the demo's servers as a file; with --keep it is also served.
  const report = await writeReport(stack.pool, cycleId, {
    client: stack.client,
    namespace: stack.config.namespace,
    ...(stack.uiUrl ? { webUiBase: stack.uiUrl } : {}),
  });
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ...summary, labelsAnswered, traffic, gateway: stack.gatewayUrl, webUi: url, report: report.html }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(renderSummary(summary));
    process.stdout.write(`\nWeb UI: ${url ?? `(external Temporal at ${stack.config.address})`}\n`);
    process.stdout.write(`Report: ${report.html} (Markdown: ${report.markdown})\n`);
    if (opts.keep) process.stdout.write(`Report, served: ${reportLink(stack.reviewBase, cycleId)}\n`);
  }
  log(`outcome: ${summary.outcome} — ${summary.reason}`);
  if (url) log(`Web UI: ${url}`);
  if (summary.outcome !== 'promoted' && summary.outcome !== 'rolled-back') exitCode = 2;
  if (opts.keep) {
    log('stack left running (--keep): press Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
} catch (err) {
  log(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  await stack.stop();
}
process.exit(exitCode);

async function nextModelId(pool: Pool, prefix: string): Promise<string> {
  return `${prefix}-${(await db.countModelsWithPrefix(pool, `${prefix}-`)) + 1}`;
}

/** Registers the demo's model with its champion and logs its production traffic. */
async function prepare(pool: Pool): Promise<ScriptedModel> {
  const logged = (p: { log: { added: number; served: number } }) =>
    `${p.log.added} requests logged, ${p.log.served} served by the champion`;
  if (opts.task === 'regression') {
    const modelId = opts.model ?? (await nextModelId(pool, 'cars'));
    log(
      `registering ${modelId} (regression: miles per gallon) and logging production traffic (vega-datasets cars.json)`,
    );
    const prepared = await prepareCarsModel(pool, modelId, CARS_DEMO_POLICY);
    const mae = prepared.champion.holdoutMae;
    log(
      `champion v${prepared.champion.version} trained on 1970–74: holdout MAE ${mae === null ? 'n/a' : `${mae.toFixed(2)} mpg`} on ${prepared.champion.holdoutRows} rows; ${logged(prepared)}`,
    );
    return prepared;
  }
  const modelId = opts.model ?? (await nextModelId(pool, 'weather'));
  log(`registering ${modelId} and logging production traffic (vega-datasets weather.csv)`);
  const policy = { ...DEMO_POLICY, training: { trainer: opts.trainer } };
  const prepared = await prepareWeatherModel(pool, modelId, policy);
  log(
    `champion v${prepared.champion.version} trained on 2012: holdout accuracy ${(prepared.champion.baselineAccuracy * 100).toFixed(1)}%; ${logged(prepared)}`,
  );
  return prepared;
}
