/**
 * The serving gateway as its own process (docker-compose runs it so). DATABASE_URL is Remedy's
 * database; REMEDY_GATEWAY_PORT (default 8080) and REMEDY_GATEWAY_HOST (default 0.0.0.0) where it listens.
 * REMEDY_GATEWAY_AUTH (`required`, the default, or `off`) and REMEDY_GATEWAY_AUTH_PREDICT (`1`: predict
 * needs a key too) set the credentials; REMEDY_GATEWAY_FLUSH_MS (default 10) how long a prediction row
 * may wait before it is written.
 *
 * SIGTERM or SIGINT drains: no new connections, the requests in flight finish, every queued prediction
 * row is written, the pool is closed, and the process exits 0 (1 if rows could not be written).
 *
 * Logs are JSON lines on stderr (infra/log.ts, REMEDY_LOG_LEVEL): one access line per request (method,
 * path, status, ms; no bodies, no headers), secrets redacted; access lines are written a few kilobytes at
 * a time and flushed at the drain and at exit.
 */
import { z } from 'zod';
import { createPool, migrate } from '../db/pool.js';
import { ConfigError, loadListenConfig, postgresUrl, redactUrl } from '../infra/config.js';
import { createAccessLogger, createLogger, type Logger } from '../infra/log.js';
import { gatewayAuthFromEnv } from './auth.js';
import { startGateway } from './server.js';

const GatewayEnv = z.object({
  DATABASE_URL: z.preprocess(
    (v) => v ?? '',
    z
      .string()
      .min(1, 'DATABASE_URL is required: the postgres:// URL of the Remedy database')
      .pipe(postgresUrl('DATABASE_URL')),
  ),
});

const parsed = GatewayEnv.safeParse(process.env);
let where: { port: number; host: string };
let auth: ReturnType<typeof gatewayAuthFromEnv>;
let flushMs: number;
let log: Logger;
let access: Logger;
try {
  log = createLogger('gateway');
  access = createAccessLogger('gateway');
  if (!parsed.success)
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })),
    );
  where = loadListenConfig('GATEWAY', { port: 8080, host: '0.0.0.0' });
  auth = gatewayAuthFromEnv();
  flushMs = Number(process.env.REMEDY_GATEWAY_FLUSH_MS ?? 10);
  if (!Number.isInteger(flushMs) || flushMs < 1 || flushMs > 60_000)
    throw new Error(
      `REMEDY_GATEWAY_FLUSH_MS="${process.env.REMEDY_GATEWAY_FLUSH_MS}": use whole milliseconds from 1 to 60000`,
    );
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const pool = createPool(parsed.data.DATABASE_URL, 10);
await migrate(pool);
const gateway = await startGateway(pool, {
  ...where,
  ...auth,
  log: { flushMs },
  accessLog: access,
  onError: (msg) => log.error(msg),
});
if (auth.auth === 'off')
  log.warn('REMEDY_GATEWAY_AUTH=off: anyone who reaches this port may post feedback and corrections');
log.info(
  { url: gateway.url, auth: auth.auth, database: redactUrl(parsed.data.DATABASE_URL) },
  'gateway ready',
);
const stop = (signal: string) => {
  log.info({ signal, inFlight: gateway.inFlight(), queued: gateway.log.size }, 'gateway draining');
  gateway
    .close()
    .then(
      () => {
        log.info({ written: gateway.log.stats.written }, 'gateway stopped');
        process.exitCode = 0;
      },
      (err: unknown) => {
        log.error({ error: (err as Error).message }, 'gateway stopped with rows unwritten');
        process.exitCode = 1;
      },
    )
    .finally(() => {
      // The access lines still queued (a few kilobytes at most) go out before the process ends.
      access.flush();
      void pool.end();
    });
};
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));
