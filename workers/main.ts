/**
 * The worker process: hosts Remedy's workflows and activities. Configuration comes from the environment
 * (validated once at start): DATABASE_URL, TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TLS, and
 * REMEDY_WORKER_QUEUES ("main,training" by default; "training" alone for a training machine) and
 * REMEDY_WORKFLOW_CACHE (workflows kept in memory; the SDK's default when unset) and
 * REMEDY_METRICS_ADDRESS (host:port where the SDK's Prometheus metrics are served; off when unset),
 * REMEDY_WORKFLOW_BUNDLE (a bundle prebuilt by workers/bundle.ts; the workflows are bundled at start when
 * unset) and REMEDY_PII_KEYS (keys for collection.pii.mask, activities/pseudonym.ts), and
 * REMEDY_DEPLOYMENT_NAME + REMEDY_BUILD_ID (both or neither: serve as that worker deployment version,
 * Worker Versioning, docs/operations.md section 5; unversioned when unset).
 * A process serving the main queue also delivers notifications (workers/deliveries.ts); REMEDY_REVIEW_URL
 * (the review server's root) gives them links to the cycle reports. The channels' secrets are read from
 * the variables each model's policy names.
 * With OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_SERVICE_NAME, remedy-worker by default) the workflows' and
 * activities' spans are exported over OTLP (infra/tracing.ts); no tracing when unset.
 * Logs are JSON lines on stderr (infra/log.ts, REMEDY_LOG_LEVEL), the SDK's own and the workflows' and
 * activities' `log` among them, each with its workflow and activity IDs; secrets are redacted.
 */
import { existsSync } from 'node:fs';
import { makeTelemetryFilterString, NativeConnection, Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { createPool, migrate } from '../db/pool.js';
import {
  ConfigError,
  connectionOptions,
  loadTemporalConfig,
  postgresUrl,
  redactUrl,
} from '../infra/config.js';
import { createLogger, sdkLogger, type Logger } from '../infra/log.js';
import { tracingFromEnv } from '../infra/tracing.js';
import { pseudonymiserFromEnv } from '../activities/pseudonym.js';
import { dataConverterFromEnv } from '../codec/codec.js';
import { startDeliveryLoop } from './deliveries.js';
import { createWorkers, type WorkerDeployment } from './workers.js';

const WorkerEnv = z.object({
  DATABASE_URL: z.preprocess(
    (v) => v ?? '',
    z
      .string()
      .min(1, 'DATABASE_URL is required: the postgres:// URL of the Remedy database')
      .pipe(postgresUrl('DATABASE_URL')),
  ),
  REMEDY_WORKER_QUEUES: z
    .string()
    .default('main,training')
    .transform((s) => s.split(',').map((q) => q.trim()))
    .pipe(
      z
        .array(
          z.enum(['main', 'training'], { error: 'REMEDY_WORKER_QUEUES lists "main", "training" or both' }),
        )
        .min(1),
    ),
  REMEDY_WORKFLOW_BUNDLE: z
    .string()
    .min(1)
    .refine((p) => existsSync(p), {
      message: 'REMEDY_WORKFLOW_BUNDLE names no file: build it with npx tsx workers/bundle.ts <file>',
    })
    .optional(),
  REMEDY_METRICS_ADDRESS: z
    .string()
    .regex(/^[\w.:[\]-]+:\d{1,5}$/, 'REMEDY_METRICS_ADDRESS is host:port, e.g. 0.0.0.0:9464')
    .optional(),
  REMEDY_WORKFLOW_CACHE: z.coerce
    .number({ error: 'REMEDY_WORKFLOW_CACHE is a number of workflows, e.g. 100' })
    .int('REMEDY_WORKFLOW_CACHE is a whole number of workflows')
    .min(0, 'REMEDY_WORKFLOW_CACHE cannot be negative')
    .optional(),
  REMEDY_REVIEW_URL: z
    .string()
    .regex(
      /^https?:\/\/\S+$/,
      "REMEDY_REVIEW_URL is the review server's root URL, e.g. https://remedy.example.com",
    )
    .optional(),
  // Temporal names a version "<deployment>.<build>": the deployment name cannot hold a ".".
  REMEDY_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[\w-]+$/, 'REMEDY_DEPLOYMENT_NAME is letters, digits, "-" and "_", e.g. remedy')
    .max(200, 'REMEDY_DEPLOYMENT_NAME is at most 200 characters')
    .optional(),
  REMEDY_BUILD_ID: z
    .string()
    .regex(
      /^[\w-][\w.-]*$/,
      'REMEDY_BUILD_ID is letters, digits, "-", "_" and "." (not first), e.g. the release tag 2026.12.1',
    )
    .max(200, 'REMEDY_BUILD_ID is at most 200 characters')
    .optional(),
});

/** Both deployment variables or neither: a half-configured version would silently run unversioned. */
function deploymentOf(env: z.infer<typeof WorkerEnv>): WorkerDeployment | undefined {
  const { REMEDY_DEPLOYMENT_NAME: deploymentName, REMEDY_BUILD_ID: buildId } = env;
  if (deploymentName && buildId) return { deploymentName, buildId };
  if (!deploymentName && !buildId) return undefined;
  const missing = deploymentName ? 'REMEDY_BUILD_ID' : 'REMEDY_DEPLOYMENT_NAME';
  throw new ConfigError([
    {
      variable: missing,
      message: `${missing} is required with ${deploymentName ? 'REMEDY_DEPLOYMENT_NAME' : 'REMEDY_BUILD_ID'}: set both for a versioned worker, or neither`,
    },
  ]);
}

async function main(log: Logger): Promise<void> {
  const parsed = WorkerEnv.safeParse(process.env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })),
    );
  }
  const env = parsed.data;
  const deployment = deploymentOf(env);
  // Must come before any connection. The SDK logs (its own, the native core's and the workflows' and
  // activities' `log`) go through Remedy's logger; with REMEDY_METRICS_ADDRESS the SDK's metrics
  // (workflow and activity task latencies, slots, cache, polls, failures) are served for Prometheus at
  // http://<address>/metrics.
  Runtime.install({
    logger: sdkLogger(log),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      ...(env.REMEDY_METRICS_ADDRESS && {
        metrics: { prometheus: { bindAddress: env.REMEDY_METRICS_ADDRESS } },
      }),
    },
  });
  let dataConverter;
  try {
    dataConverter = dataConverterFromEnv();
  } catch (err) {
    throw new ConfigError([{ variable: 'REMEDY_CODEC_KEYS', message: (err as Error).message }]);
  }
  let pseudonymise;
  try {
    pseudonymise = pseudonymiserFromEnv();
  } catch (err) {
    throw new ConfigError([{ variable: 'REMEDY_PII_KEYS', message: (err as Error).message }]);
  }
  const temporal = loadTemporalConfig(process.env, { warn: (message) => log.warn(message) });
  const tracing = tracingFromEnv('remedy-worker');
  const pool = createPool(env.DATABASE_URL);
  await migrate(pool);
  const connection = await NativeConnection.connect(connectionOptions(temporal));
  const workers = await createWorkers({
    connection,
    namespace: temporal.namespace,
    pool,
    taskQueue: temporal.taskQueue,
    trainingTaskQueue: temporal.trainingTaskQueue,
    queues: env.REMEDY_WORKER_QUEUES,
    ...(env.REMEDY_WORKFLOW_CACHE !== undefined ? { workflowCache: env.REMEDY_WORKFLOW_CACHE } : {}),
    ...(dataConverter ? { dataConverter } : {}),
    ...(pseudonymise ? { pseudonymise } : {}),
    ...(env.REMEDY_WORKFLOW_BUNDLE ? { workflowBundle: { codePath: env.REMEDY_WORKFLOW_BUNDLE } } : {}),
    ...(deployment ? { deployment } : {}),
    tracing,
  });
  log.info(
    {
      queues: env.REMEDY_WORKER_QUEUES,
      bundle: env.REMEDY_WORKFLOW_BUNDLE ?? 'built at start',
      version: deployment ? `${deployment.deploymentName}.${deployment.buildId}` : 'unversioned',
      address: temporal.address,
      namespace: temporal.namespace,
      ...(temporal.profile && { profile: temporal.profile.name }),
      database: redactUrl(env.DATABASE_URL),
      tracing: tracing ? 'OTLP' : 'off',
    },
    'worker ready',
  );
  // Notifications leave from the outbox here, beside the activities that write it, never inside a cycle.
  const deliveries = env.REMEDY_WORKER_QUEUES.includes('main')
    ? startDeliveryLoop(pool, {
        ...(env.REMEDY_REVIEW_URL ? { reviewUrl: env.REMEDY_REVIEW_URL } : {}),
        log: ({ msg, ...fields }) => log.info(fields, String(msg)),
      })
    : null;
  try {
    // Worker.run() handles SIGINT/SIGTERM itself: it stops polling and drains before resolving.
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await deliveries?.stop();
    await connection.close();
    await pool.end();
    // The last spans (the activities that finished while draining) leave before the process does.
    await tracing?.shutdown();
  }
}

let log: Logger;
try {
  log = createLogger('worker');
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
main(log).catch((err: unknown) => {
  if (err instanceof ConfigError) log.fatal({ variables: err.issues.map((i) => i.variable) }, err.message);
  else log.fatal({ err }, 'the worker stopped');
  process.exit(1);
});
