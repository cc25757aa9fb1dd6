/**
 * The serving gateway as its own process (docker-compose runs it so). DATABASE_URL is Remedy's
 * database; REMEDY_GATEWAY_PORT (default 8080) and REMEDY_GATEWAY_HOST (default 0.0.0.0) where it listens.
 */
import { z } from 'zod';
import { createPool, migrate } from '../db/pool.js';
import { ConfigError, postgresUrl } from '../infra/config.js';
import { startGateway } from './server.js';

const GatewayEnv = z.object({
  DATABASE_URL: z.preprocess(
    (v) => v ?? '',
    z
      .string()
      .min(1, 'DATABASE_URL is required: the postgres:// URL of the Remedy database')
      .pipe(postgresUrl('DATABASE_URL')),
  ),
  REMEDY_GATEWAY_PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'REMEDY_GATEWAY_PORT must be a TCP port number')
    .default('8080')
    .transform(Number),
  REMEDY_GATEWAY_HOST: z.string().min(1).default('0.0.0.0'),
});

const parsed = GatewayEnv.safeParse(process.env);
if (!parsed.success) {
  console.error(
    new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })))
      .message,
  );
  process.exit(1);
}
const env = parsed.data;
const pool = createPool(env.DATABASE_URL, 10);
await migrate(pool);
const gateway = await startGateway(pool, { port: env.REMEDY_GATEWAY_PORT, host: env.REMEDY_GATEWAY_HOST });
console.error(JSON.stringify({ msg: 'gateway ready', url: gateway.url }));
const stop = () => {
  void gateway.close().then(() => pool.end());
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
