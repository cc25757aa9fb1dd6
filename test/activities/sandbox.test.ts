/**
 * The training sandbox, with real programs: what a trainer can read of the worker's environment, and
 * what happens when it goes past its memory or CPU-time limit.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSandboxed, type SandboxOptions } from '../../activities/sandbox.js';
import { Policy } from '../../core/schemas.js';

const probe = path.resolve('test/fixtures/sandbox-probe.mjs');
let dir: string;
const options = (over: Partial<SandboxOptions> = {}): SandboxOptions => ({
  dir,
  envAllow: [],
  limits: { memoryMb: 4096, cpuSeconds: 60 },
  timeoutMs: 60_000,
  heartbeat: () => undefined,
  signal: new AbortController().signal,
  ...over,
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-sandbox-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the training sandbox', () => {
  it("given the worker's secrets in its environment, then a trainer sees none of them, only the allow-list, in its own folder", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      DATABASE_URL: 'postgres://remedy_app:s3cret@db:5432/remedy',
      REMEDY_CODEC_KEYS: 'k1:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNDU2Nzg=',
      PGPASSWORD: 's3cret',
      AWS_SECRET_ACCESS_KEY: 'aws-s3cret',
      OMP_NUM_THREADS: '2',
    });
    try {
      await runSandboxed('node', [probe, '--env'], options({ envAllow: ['OMP_NUM_THREADS'] }));
    } finally {
      process.env = saved;
    }
    const seen = JSON.parse(await readFile(path.join(dir, 'probe.json'), 'utf8')) as {
      env: Record<string, string>;
      cwd: string;
    };
    expect(Object.keys(seen.env).sort()).toEqual(
      expect.arrayContaining(['HOME', 'OMP_NUM_THREADS', 'PATH', 'TMPDIR']),
    );
    for (const secret of ['DATABASE_URL', 'REMEDY_CODEC_KEYS', 'PGPASSWORD', 'AWS_SECRET_ACCESS_KEY'])
      expect(seen.env).not.toHaveProperty(secret);
    expect(JSON.stringify(seen.env)).not.toContain('s3cret');
    expect(seen.env['OMP_NUM_THREADS']).toBe('2');
    expect(seen.env['HOME']).toBe(dir);
    expect(seen.cwd).toBe(dir);
  });

  it('given a trainer that allocates 1 GiB under a 256 MiB limit, then it is stopped and the failure names the limit', async () => {
    await expect(
      runSandboxed('node', [probe, '--memory'], options({ limits: { memoryMb: 256, cpuSeconds: 60 } })),
    ).rejects.toMatchObject({
      type: 'TrainerLimitExceeded',
      nonRetryable: true,
      message: expect.stringMatching(
        /memory limit of 256 MiB \(policy training\.limits\.memoryMb\)/,
      ) as string,
    });
  });

  it('given the same allocation under the default limit, then it runs to the end', async () => {
    const out = await runSandboxed('node', [probe, '--memory'], options());
    expect(out).toContain('allocated 1024 MiB');
  });

  it('given a trainer that spins past a 1 s CPU-time limit, then the kernel stops it and the failure says so', async () => {
    await expect(
      runSandboxed('node', [probe, '--cpu'], options({ limits: { memoryMb: 4096, cpuSeconds: 1 } })),
    ).rejects.toMatchObject({
      type: 'TrainerLimitExceeded',
      message: expect.stringMatching(
        /CPU-time limit of 1 s \(policy training\.limits\.cpuSeconds\)/,
      ) as string,
    });
  });

  it("given a policy that passes one of Remedy's secrets to the trainer, then the policy is refused and says why", () => {
    const parsed = Policy.safeParse({ training: { env: ['OMP_NUM_THREADS', 'DATABASE_URL'] } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({
      path: ['training', 'env', 1],
      message: expect.stringContaining('never passed to a trainer') as string,
    });
    expect(Policy.parse({}).training.limits).toEqual({ memoryMb: 4096, cpuSeconds: 14_400 });
  });
});
