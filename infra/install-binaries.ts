/**
 * Installs (or finds) the Temporal CLI and the time-skipping test server, and the Python training
 * worker's environment, and says where they are. With `--label-studio`, Label Studio's venv too (the
 * Label Studio adapter's test starts it; infra/label-studio.ts).
 */
import { ensureLabelStudio } from './label-studio.js';
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
if (process.argv.includes('--label-studio')) {
  try {
    const started = Date.now();
    const { bin } = await ensureLabelStudio({ log });
    log(`Label Studio: ${bin} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } catch (err) {
    log(`could not install Label Studio: ${(err as Error).message}`);
    process.exit(1);
  }
}
