/**
 * The review page as its own process (docker-compose runs it so). Temporal from TEMPORAL_ADDRESS /
 * TEMPORAL_NAMESPACE / TLS as everywhere; REMEDY_REVIEW_PORT (default 8090) and REMEDY_REVIEW_HOST
 * (default 0.0.0.0) where it listens. Who reviews: REMEDY_AUTH=jwt (OIDC tokens) or proxy (X-Remedy-Reviewer
 * from REMEDY_TRUSTED_PROXIES) in production; see infra/identity.ts.
 * With DATABASE_URL it also serves the cycle reports (/reports/<cycle>); REMEDY_WEB_UI_URL (the Temporal
 * Web UI's address as readers reach it, e.g. http://localhost:8233) adds a link to each run.
 * With REMEDY_LABEL_STUDIO_SECRET (and LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY) it takes Label Studio's
 * webhook at /label-studio/webhook (review/label-studio-webhook.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { createPool } from '../db/pool.js';
import {
  connectionOptions,
  loadDatabaseConfig,
  loadListenConfig,
  loadTemporalConfig,
} from '../infra/config.js';
import { dataConverterFromEnv } from '../codec/codec.js';
import { createIdentify, loadIdentityConfig, type IdentityConfig } from '../infra/identity.js';
import { createLogger, type Logger } from '../infra/log.js';
import { tracingClientOptions, tracingFromEnv, type Tracing } from '../infra/tracing.js';
import { labelStudioFromEnv } from '../ops/label-studio.js';
import type { LabelStudioWebhookConfig } from './label-studio-webhook.js';
import { startReviewServer } from './server.js';

let where: { port: number; host: string };
let databaseUrl: string | undefined;
let identity: IdentityConfig;
let tracing: Tracing | null;
let log: Logger;
let labelStudio: LabelStudioWebhookConfig | undefined;
try {
  log = createLogger('review');
  where = loadListenConfig('REVIEW', { port: 8090, host: '0.0.0.0' });
  databaseUrl = loadDatabaseConfig().databaseUrl;
  identity = loadIdentityConfig();
  // With OTEL_EXPORTER_OTLP_ENDPOINT, reviewers' answers (Updates) and approvals are traced.
  tracing = tracingFromEnv('remedy-review');
  // With REMEDY_LABEL_STUDIO_SECRET: Label Studio's webhook, reading annotators from LABEL_STUDIO_URL.
  const secret = process.env['REMEDY_LABEL_STUDIO_SECRET']?.trim();
  const api = labelStudioFromEnv();
  if (secret && !api)
    throw new Error(
      'REMEDY_LABEL_STUDIO_SECRET is set but LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY are not: the webhook reads annotators from Label Studio',
    );
  if (secret && api) labelStudio = { api, secret };
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const temporal = loadTemporalConfig(process.env, { warn: (message) => log.warn(message) });
const connection = await Connection.connect(connectionOptions(temporal));
const dataConverter = dataConverterFromEnv();
const client = new Client({
  connection,
  namespace: temporal.namespace,
  ...(dataConverter ? { dataConverter } : {}),
  ...tracingClientOptions(tracing),
});
const pool = databaseUrl ? createPool(databaseUrl, 4) : undefined;
const webUiBase = process.env['REMEDY_WEB_UI_URL']?.trim();
const review = await startReviewServer(client, {
  ...where,
  ...(pool ? { pool } : {}),
  ...(webUiBase ? { webUiBase } : {}),
  namespace: temporal.namespace,
  identify: createIdentify(identity),
  ...(labelStudio ? { labelStudio } : {}),
});
log.info(
  {
    url: `${review.url}/review`,
    reports: pool ? `${review.url}/reports/<cycle>` : 'off (set DATABASE_URL)',
    identity: identity.mode,
    labelStudioWebhook: labelStudio ? `${review.url}/label-studio/webhook` : 'off',
    temporal: temporal.address,
    namespace: temporal.namespace,
  },
  'review page ready',
);
const stop = () => {
  void review
    .close()
    .then(() => pool?.end())
    .then(() => connection.close())
    .then(() => tracing?.shutdown());
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
