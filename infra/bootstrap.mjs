#!/usr/bin/env node
// Installs the npm dependencies when they are missing or older than package-lock.json, so that
// `npm run demo` and `npm test` work on a fresh clone. Plain JavaScript: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');

const stale =
  !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs);
if (stale) {
  process.stderr.write('[remedy] installing npm dependencies (npm install)...\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: ['ignore', 2, 2],
  });
  if (result.status !== 0) {
    process.stderr.write(
      '[remedy] npm install failed: see the output above; check your network access to the npm registry.\n',
    );
    process.exit(result.status ?? 1);
  }
}

// The browser test drives Debian's Chromium (playwright-core does not download browsers here). With
// `--browser` (npm test), install it when it is missing and this process may (root with apt-get).
if (process.argv.includes('--browser')) {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
    if (root && apt && !process.env.CHROMIUM_PATH) {
      process.stderr.write("[remedy] installing Debian's chromium for the browser test (apt-get)...\n");
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 2, 2], env });
      const install =
        update.status === 0
          ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
              stdio: ['ignore', 2, 2],
              env,
            })
          : update;
      if (install.status !== 0)
        process.stderr.write('[remedy] could not install chromium: the browser test will say so.\n');
    } else {
      process.stderr.write(
        `[remedy] no Chromium at ${chromium}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH; the browser test needs it.\n`,
      );
    }
  }
}
