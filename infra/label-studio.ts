/**
 * Label Studio's own venv at `<data dir>/label-studio`, with the pinned packages of
 * infra/label-studio-requirements.txt (PyPI only; about 90 s the first time, instant after). Used by
 * the Label Studio adapter's test and the dev helper (dev/label-studio.ts) that starts it.
 */
import path from 'node:path';
import { dataDir, projectRoot } from './paths.js';
import { ensureVenv } from './python-env.js';
import type { Log } from './temporal-install.js';

export const labelStudioRequirements = path.join(projectRoot, 'infra', 'label-studio-requirements.txt');

export function labelStudioPaths(): { dir: string; python: string; bin: string } {
  const dir = path.join(dataDir(), 'label-studio');
  const bin = process.platform === 'win32' ? path.join(dir, 'Scripts') : path.join(dir, 'bin');
  return {
    dir,
    python: path.join(bin, process.platform === 'win32' ? 'python.exe' : 'python'),
    bin: path.join(bin, 'label-studio'),
  };
}

/** Installs Label Studio when it is missing or its requirements changed; returns its `label-studio` program. */
export async function ensureLabelStudio(opts: { log?: Log } = {}): Promise<{ bin: string; python: string }> {
  const { dir, python, bin } = labelStudioPaths();
  await ensureVenv({ dir, python, requirements: labelStudioRequirements, what: 'Label Studio' }, opts);
  return { bin, python };
}
