/**
 * `npm run dev`: brings up Temporal (with the Web UI), Postgres and a worker, registers the weather
 * model with its 2013–2015 production log, and stays up until Ctrl-C. Start cycles from another
 * terminal with the `remedy` CLI.
 */
import { loadDatabaseConfig, redactUrl } from '../infra/config.js';
import { prepareWeatherModel } from './scenario.js';
import { startStack } from './stack.js';

const log = (msg: string) => process.stderr.write(`[remedy] ${msg}\n`);
const stack = await startStack(log);
try {
  const prepared = await prepareWeatherModel(stack.pool, 'weather');
  log(`model "weather": champion v${prepared.champion.version}, production log ready`);
  log(`Temporal ${stack.config.address}, Web UI ${stack.uiUrl ?? '(external)'}, gateway ${stack.gatewayUrl}`);
  log(
    `review page ${stack.reviewUrl}?reviewer=<you> (reviewers: the policy's labeling.reviewers, any when empty)`,
  );
  log('in another terminal:');
  // The stack uses DATABASE_URL when it is set (startPostgres), else the embedded Postgres it started, whose
  // URL (a local password on 127.0.0.1) can be printed in full. Yours is shown with the password masked.
  const yours = loadDatabaseConfig().databaseUrl !== undefined;
  const databaseUrl = yours ? redactUrl(stack.databaseUrl) : stack.databaseUrl;
  log(`  export TEMPORAL_ADDRESS=${stack.config.address} DATABASE_URL=${databaseUrl}`);
  if (yours) log('  (DATABASE_URL is the one you set, its password shown as ****: put yours in)');
  log('  npx remedy start weather --from 2013-04-01 --to 2015-01-01');
  log('press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
} finally {
  await stack.stop();
}
