/**
 * Two processes on one embedded Postgres cluster (two benchmarks started side by side): the one that
 * started it finishes first and must not stop it under the other; the last one to finish stops it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dataDir } from '../../infra/paths.js';
import { freePort } from '../../infra/ports.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/** Whether a query on `url` gets an answer (the cluster is up). */
async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A process of test/fixtures/postgres-user.ts: what it says, line by line, and how to stop it. */
function user(dir: string, databaseName: string, port: number) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(projectRoot, 'test/fixtures/postgres-user.ts'),
      dir,
      databaseName,
      String(port),
    ],
    { cwd: projectRoot, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, DATABASE_URL: '' } },
  );
  // One iterator over the child's lines: leaving a for-await loop would close the interface.
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const said = async (pattern: RegExp): Promise<string> => {
    for (let next = await lines.next(); !next.done; next = await lines.next())
      if (pattern.test(next.value)) return next.value;
    throw new Error(`${databaseName}: the process ended without saying ${String(pattern)}`);
  };
  const stop = async (): Promise<void> => {
    child.stdin.write('stop\n');
    await said(/^stopped$/);
    if (child.exitCode === null) await once(child, 'exit');
  };
  return { child, said, stop };
}

describe('an embedded Postgres shared by two processes', () => {
  it('given the starter finishes first, then the cluster keeps running for the other, which stops it last', async () => {
    const dir = path.join(dataDir(), `test-pg-shared-${process.pid}`);
    await rm(dir, { recursive: true, force: true });
    const port = await freePort();
    const first = user(dir, 'first', port);
    const url = (await first.said(/^url /)).slice(4);
    await first.said(/^ready$/);
    const second = user(dir, 'second', port);
    await second.said(/^ready$/);
    try {
      // The process that started the cluster finishes while the second still has its connection open.
      await first.stop();
      expect(await answers(url)).toBe(true);
      // The last one stops it.
      await second.stop();
      expect(await answers(url)).toBe(false);
    } finally {
      first.child.kill();
      second.child.kill();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
