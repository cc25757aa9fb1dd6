/**
 * Starts the real infrastructure once per test run: a Temporal dev server (its own SQLite file and free
 * ports), Postgres (DATABASE_URL or embedded), and one bundle of the workflow code that every test
 * worker loads. Test files get their own database and task queue.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { dataDir } from '../infra/paths.js';
import { startPostgres } from '../infra/postgres.js';
import { freePort } from '../infra/ports.js';
import { startDevServer } from '../infra/temporal-dev-server.js';
import { PRELOAD_MODULES, WORKFLOW_INTERCEPTOR_MODULES, workflowsPath } from '../workers/workers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (m: string) => process.stderr.write(`[test-setup] ${m}\n`);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'remedy-test-'));
  const [temporal, pgServer, bundle] = await Promise.all([
    startDevServer({
      dbFile: path.join(tmp, 'temporal.sqlite'),
      port: await freePort(),
      headless: true,
      log,
    }),
    startPostgres({ log, dataDir: path.join(dataDir(), 'test-pg'), databaseName: 'remedy_test' }),
    bundleWorkflowCode({
      workflowsPath,
      logger: quietLogger,
      preloadModules: PRELOAD_MODULES,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    }),
  ]);
  const bundleDir = path.join(dataDir(), 'test');
  await mkdir(bundleDir, { recursive: true });
  const workflowBundlePath = path.join(bundleDir, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, bundle.code);
  project.provide('temporalAddress', temporal.address);
  project.provide('databaseUrl', pgServer.url);
  project.provide('workflowBundlePath', workflowBundlePath);
  return async () => {
    await temporal.stop();
    await pgServer.stop();
  };
}

const noop = () => undefined;
const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (m: string) => process.stderr.write(`${m}\n`),
  log: noop,
};
