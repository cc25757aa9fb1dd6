/**
 * `npm run dev`: brings up Temporal (with the Web UI), Postgres and a worker, registers the weather
 * model with its 2013–2015 production log, and stays up until Ctrl-C. Start cycles from another
 * terminal with the `remedy` CLI.
 */
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
  log(`  export TEMPORAL_ADDRESS=${stack.config.address} DATABASE_URL=${stack.databaseUrl}`);
  log('  npx remedy start weather --from 2013-04-01 --to 2015-01-01');
  log('press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
} finally {
  await stack.stop();
}
