/**
 * The worker process with REMEDY_DEPLOYMENT_NAME + REMEDY_BUILD_ID: both of its queues served as that
 * worker deployment version (docs/operations.md section 5), and a half-given version refused.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { describe, expect, inject, it } from 'vitest';
import { spawnWorker } from '../../dev/stack.js';
import { freshDatabase, until, uniqueSuffix } from '../helpers.js';

describe('worker deployment version', () => {
  it('given REMEDY_DEPLOYMENT_NAME and REMEDY_BUILD_ID, then the server lists both queues under that version', async () => {
    const { pool, url } = await freshDatabase('wversion');
    await pool.end();
    const suffix = uniqueSuffix();
    const deploymentName = `remedy-${suffix}`;
    const worker = await spawnWorker({
      DATABASE_URL: url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      REMEDY_TASK_QUEUE: `wversion-${suffix}`,
      REMEDY_TRAINING_TASK_QUEUE: `wversion-training-${suffix}`,
      REMEDY_DEPLOYMENT_NAME: deploymentName,
      REMEDY_BUILD_ID: '2026.12.1',
    });
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      // The version appears once the worker's pollers have reached the server.
      const described = await until(
        () =>
          connection.workflowService.describeWorkerDeploymentVersion({
            namespace: 'default',
            deploymentVersion: { deploymentName, buildId: '2026.12.1' },
          }),
        (d) => new Set(d.versionTaskQueues.map((q) => q.name)).size === 2,
        30_000,
      );
      expect(new Set(described.versionTaskQueues.map((q) => q.name))).toEqual(
        new Set([`wversion-${suffix}`, `wversion-training-${suffix}`]),
      );
    } finally {
      await connection.close();
      await worker.stop();
    }
  });

  it('given REMEDY_BUILD_ID without REMEDY_DEPLOYMENT_NAME, then the worker refuses to start and names the missing one', async () => {
    const { pool, url } = await freshDatabase('wversion');
    await pool.end();
    const log = path.join(await mkdtemp(path.join(os.tmpdir(), 'remedy-wversion-')), 'worker.log');
    await expect(
      spawnWorker(
        { DATABASE_URL: url, TEMPORAL_ADDRESS: inject('temporalAddress'), REMEDY_BUILD_ID: '2026.12.1' },
        log,
      ),
    ).rejects.toThrow(/the worker exited with code 1 before it was ready/);
    expect(await readFile(log, 'utf8')).toContain(
      'REMEDY_DEPLOYMENT_NAME is required with REMEDY_BUILD_ID: set both for a versioned worker, or neither',
    );
  });
});
