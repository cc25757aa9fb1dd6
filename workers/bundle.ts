/**
 * Builds the workflow bundle ahead of time, so a worker starts without bundling (seconds of CPU and
 * ~100 MB of webpack at every start) and every replica runs byte-identical workflow code:
 *
 *   npx tsx workers/bundle.ts dist/workflow-bundle.js
 *   REMEDY_WORKFLOW_BUNDLE=dist/workflow-bundle.js npm run worker
 *
 * The Docker image runs this at build time. The bundle is the workflow code only; rebuild it with every
 * release (a worker whose bundle is older than its activities would run old orchestration).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createLogger } from '../infra/log.js';
import { PRELOAD_MODULES, WORKFLOW_INTERCEPTOR_MODULES, workflowsPath } from './workers.js';

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: npx tsx workers/bundle.ts <output file>, e.g. dist/workflow-bundle.js');
    process.exit(2);
  }
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    preloadModules: PRELOAD_MODULES,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  });
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeFile(out, code);
  createLogger('bundle').info({ path: out, bytes: code.length }, 'workflow bundle written');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
