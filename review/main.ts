/**
 * The review page as its own process (docker-compose runs it so). Temporal from TEMPORAL_ADDRESS /
 * TEMPORAL_NAMESPACE / TLS as everywhere; REMEDY_REVIEW_PORT (default 8090) and REMEDY_REVIEW_HOST
 * (default 0.0.0.0) where it listens. Put an authenticating proxy in front that sets X-Remedy-Reviewer.
 */
import { Client, Connection } from '@temporalio/client';
import { connectionOptions, loadListenConfig, loadTemporalConfig } from '../infra/config.js';
import { dataConverterFromEnv } from '../codec/codec.js';
import { startReviewServer } from './server.js';

let where: { port: number; host: string };
try {
  where = loadListenConfig('REVIEW', { port: 8090, host: '0.0.0.0' });
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const temporal = loadTemporalConfig();
const connection = await Connection.connect(connectionOptions(temporal));
const dataConverter = dataConverterFromEnv();
const client = new Client({
  connection,
  namespace: temporal.namespace,
  ...(dataConverter ? { dataConverter } : {}),
});
const review = await startReviewServer(client, where);
console.error(JSON.stringify({ msg: 'review page ready', url: `${review.url}/review` }));
const stop = () => {
  void review.close().then(() => connection.close());
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
