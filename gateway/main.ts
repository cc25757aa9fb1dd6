/**
 * The serving gateway as its own process (docker-compose runs it so). DATABASE_URL is Remedy's
 * database; REMEDY_GATEWAY_PORT (default 8080) and REMEDY_GATEWAY_HOST (default 0.0.0.0) where it listens.
 */
import { z } from 'zod';
import { createPool, migrate } from '../db/pool.js';
import { ConfigError, loadListenConfig, postgresUrl } from '../infra/config.js';
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
try {
  if (!parsed.success)
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })),
    );
  where = loadListenConfig('GATEWAY', { port: 8080, host: '0.0.0.0' });
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const pool = createPool(parsed.data.DATABASE_URL, 10);
await migrate(pool);
const gateway = await startGateway(pool, where);
console.error(JSON.stringify({ msg: 'gateway ready', url: gateway.url }));
const stop = () => {
  void gateway.close().then(() => pool.end());
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
