/**
 * The worker process with REMEDY_METRICS_ADDRESS: the Temporal SDK's own metrics, served for Prometheus.
 */
import { describe, expect, inject, it } from 'vitest';
import { spawnWorker } from '../../dev/stack.js';
import { freePort } from '../../infra/ports.js';
import { freshDatabase, until, uniqueSuffix } from '../helpers.js';

describe('worker metrics', () => {
  it('given REMEDY_METRICS_ADDRESS, then the worker serves the SDK metrics at /metrics', async () => {
    const { pool, url } = await freshDatabase('metrics');
    await pool.end();
    const port = await freePort();
    const worker = await spawnWorker({
      DATABASE_URL: url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      REMEDY_TASK_QUEUE: `metrics-${uniqueSuffix()}`,
      REMEDY_TRAINING_TASK_QUEUE: `metrics-training-${uniqueSuffix()}`,
      REMEDY_METRICS_ADDRESS: `127.0.0.1:${port}`,
    });
    try {
      // The exporter reports once the worker has polled: read until the pollers show up.
      const text = await until(
        async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        (t) => t.includes('temporal_'),
        30_000,
      );
      expect(text).toMatch(/^temporal_[a-z_]+/m);
      expect(text).toContain('task_queue="metrics-');
    } finally {
      await worker.stop();
    }
  });

  it('given a REMEDY_METRICS_ADDRESS that is not host:port, then the worker refuses to start and says so', async () => {
    const { pool, url } = await freshDatabase('metrics');
    await pool.end();
    await expect(
      spawnWorker({
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        REMEDY_METRICS_ADDRESS: 'everywhere',
      }),
    ).rejects.toThrow(/the worker exited with code 1 before it was ready/);
  });
});
