/**
 * The review page as its own process (docker-compose runs it so). Temporal from TEMPORAL_ADDRESS /
 * TEMPORAL_NAMESPACE / TLS as everywhere; REMEDY_REVIEW_PORT (default 8090) and REMEDY_REVIEW_HOST
 * (default 0.0.0.0) where it listens. Put an authenticating proxy in front that sets X-Remedy-Reviewer.
 */
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { ConfigError, connectionOptions, loadTemporalConfig } from '../infra/config.js';
import { dataConverterFromEnv } from '../codec/codec.js';
import { startReviewServer } from './server.js';

const ReviewEnv = z.object({
  REMEDY_REVIEW_PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'REMEDY_REVIEW_PORT must be a TCP port number')
    .default('8090')
    .transform(Number),
  REMEDY_REVIEW_HOST: z.string().min(1).default('0.0.0.0'),
});

const parsed = ReviewEnv.safeParse(process.env);
if (!parsed.success) {
  console.error(
    new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })))
      .message,
  );
  process.exit(1);
}
const env = parsed.data;
const temporal = loadTemporalConfig();
const connection = await Connection.connect(connectionOptions(temporal));
const dataConverter = dataConverterFromEnv();
const client = new Client({
  connection,
  namespace: temporal.namespace,
  ...(dataConverter ? { dataConverter } : {}),
});
const review = await startReviewServer(client, {
  port: env.REMEDY_REVIEW_PORT,
  host: env.REMEDY_REVIEW_HOST,
});
console.error(JSON.stringify({ msg: 'review page ready', url: `${review.url}/review` }));
const stop = () => {
  void review.close().then(() => connection.close());
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
