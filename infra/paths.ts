import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (the parent of `infra/`). */
export const projectRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Where the project keeps its local state (SQLite file of the dev server, Postgres cluster, downloaded
 * binaries, logs): `$REMEDY_DATA_DIR` if set, else `<projectRoot>/.remedy`. Created on demand.
 */
export function dataDir(): string {
  const fromEnv = process.env['REMEDY_DATA_DIR'];
  return ensureDir(
    fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv) : path.join(projectRoot, '.remedy'),
  );
}

/** Where binaries installed by the project itself live (`<dataDir>/bin`). Created on demand. */
export function binDir(): string {
  return ensureDir(path.join(dataDir(), 'bin'));
}
