import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        // No infrastructure: the pure core (test/core), static checks of the repository and its config files
        // (test/repo), and modules that run on their own, without Temporal or the shared Postgres (test/standalone).
        test: {
          name: 'unit',
          include: ['test/core/**/*.test.ts', 'test/repo/**/*.test.ts', 'test/standalone/**/*.test.ts'],
        },
      },
      {
        // Activities, workflows, replay and end-to-end: share one Temporal dev server and one Postgres,
        // started by the global setup; each file uses its own database and task queues.
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/core/**', 'test/repo/**', 'test/standalone/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
          // expect.poll waits for a condition (a review page showing an Update's answer); vitest's default of
          // 1 s is shorter than a round trip through Temporal on a loaded machine (an operator test once
          // failed so in CI). A wrong value still fails, after this long.
          expect: { poll: { timeout: 30_000 } },
        },
      },
    ],
  },
});
