/**
 * The Python environment: made once, then found instantly; a missing or broken interpreter is refused
 * with what to do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePythonEnv, pythonEnvPaths } from '../../infra/python-env.js';

describe('the Python environment', () => {
  const saved = { data: process.env['REMEDY_DATA_DIR'], python: process.env['REMEDY_PYTHON'] };
  afterEach(() => {
    for (const [key, value] of [
      ['REMEDY_DATA_DIR', saved.data],
      ['REMEDY_PYTHON', saved.python],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('given an installed environment, then a second call returns its interpreter without installing', async () => {
    const first = await ensurePythonEnv();
    const lines: string[] = [];
    const started = performance.now();
    const second = await ensurePythonEnv({ log: (m) => lines.push(m) });
    expect(second.python).toBe(first.python);
    expect(second.python).toBe(pythonEnvPaths().python);
    expect(lines).toEqual([]);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('given REMEDY_PYTHON that is not a Python, then it refuses and says what to set', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-pyenv-'));
    try {
      process.env['REMEDY_DATA_DIR'] = dir;
      process.env['REMEDY_PYTHON'] = path.join(dir, 'no-such-python');
      await expect(ensurePythonEnv()).rejects.toThrow(
        /REMEDY_PYTHON \(.*no-such-python\) does not run: .*Set REMEDY_PYTHON to a Python 3\.10\+ interpreter/s,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
