/**
 * The Python worker's own tests (workers/python/tests) on the project's pinned environment, against a
 * fresh migrated database: every test runs, none is skipped.
 */
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePythonEnv, pythonWorkerDir } from '../../infra/python-env.js';
import { freshDatabase } from '../helpers.js';

/** The tests in workers/python/tests, counted by hand: a new test means updating this number. */
const EXPECTED_PASSED = 49;

function pytest(python: string, databaseUrl: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(python, ['-m', 'pytest', '-q', '-rs'], {
      cwd: pythonWorkerDir,
      env: { ...process.env, DATABASE_URL: databaseUrl },
    });
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the Python training worker, its own tests', () => {
  let closePool: (() => Promise<void>) | undefined;
  afterAll(async () => closePool?.());

  it('given the pinned environment and a fresh database, then every pytest test passes and none is skipped', async () => {
    const { python } = await ensurePythonEnv();
    const { pool, url } = await freshDatabase('pytest');
    closePool = () => pool.end();
    const { code, output } = await pytest(python, url);
    const summary = output.trimEnd().split('\n').at(-1) ?? '';
    expect(code, output).toBe(0);
    expect(summary).toMatch(new RegExp(`^${EXPECTED_PASSED} passed in [\\d.]+s`));
    expect(summary).not.toMatch(/skipped|failed|error/);
  });
});
