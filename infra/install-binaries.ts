/**
 * Installs (or finds) the Temporal CLI and the time-skipping test server, and the Python training
 * worker's environment, and says where they are.
 */
import { ensurePythonEnv } from './python-env.js';
import { resolveTemporalCli, resolveTestServer } from './temporal-install.js';

const log = (m: string) => process.stderr.write(`[remedy] ${m}\n`);
const cli = await resolveTemporalCli({ log });
const testServer = await resolveTestServer({ log });
if (!cli || !testServer) {
  log('could not install the Temporal binaries: see the messages above');
  process.exit(1);
}
log(`temporal CLI: ${cli.path} (${cli.source}); test server: ${testServer.path} (${testServer.source})`);
try {
  const { python } = await ensurePythonEnv({ log });
  log(`Python training worker environment: ${python}`);
} catch (err) {
  log(`could not set up the Python training worker's environment: ${(err as Error).message}`);
  process.exit(1);
}
