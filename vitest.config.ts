import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        // Pure core and static checks: no infrastructure.
        test: { name: 'unit', include: ['test/core/**/*.test.ts', 'test/infra/**/*.test.ts'] },
      },
      {
        // Activities, workflows, replay and end-to-end: share one Temporal dev server and one Postgres,
        // started by the global setup; each file uses its own database and task queues.
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/core/**', 'test/infra/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
