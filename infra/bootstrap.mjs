#!/usr/bin/env node
// Installs the npm dependencies when they are missing or older than package-lock.json, so that
// `npm run demo` and `npm test` work on a fresh clone. Plain JavaScript: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
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

/**
 * Installs one of Debian's packages a test drives when its binary is missing and this process may (root
 * with apt-get); otherwise says what to do. The test itself reports a binary still missing.
 */
function aptInstall(pkg, binary, pathVariable, what) {
  if (existsSync(binary)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (root && apt && !process.env[pathVariable]) {
    process.stderr.write(`[remedy] installing Debian's ${pkg} for ${what} (apt-get)...\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 2, 2], env });
    const install =
      update.status === 0
        ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
            stdio: ['ignore', 2, 2],
            env,
          })
        : update;
    if (install.status !== 0)
      process.stderr.write(`[remedy] could not install ${pkg}: ${what} will say so.\n`);
  } else {
    process.stderr.write(
      `[remedy] no ${pkg} at ${binary}: install Debian's ${pkg} (apt-get install ${pkg}) or set ${pathVariable}; ${what} needs it.\n`,
    );
  }
}

// The browser test drives Debian's Chromium (playwright-core does not download browsers here). With
// `--browser` (npm test), install it when it is missing.
if (process.argv.includes('--browser'))
  aptInstall(
    'chromium',
    process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    'CHROMIUM_PATH',
    'the browser test',
  );

// The rollout metrics test starts Debian's Prometheus. With `--prometheus` (npm test), install it when missing.
if (process.argv.includes('--prometheus'))
  aptInstall(
    'prometheus',
    process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus',
    'PROMETHEUS_PATH',
    'the rollout metrics test',
  );

// The Label Studio adapter's test starts a real Label Studio from its own venv. With `--label-studio`
// (npm test), install it up front when its pinned requirements are not installed yet (PyPI, a minute or
// two), so the test's own time is not spent on pip.
if (process.argv.includes('--label-studio')) {
  const dataDir = process.env.REMEDY_DATA_DIR?.trim()
    ? path.resolve(process.env.REMEDY_DATA_DIR)
    : path.join(root, '.remedy');
  const requirements = readFileSync(path.join(root, 'infra', 'label-studio-requirements.txt'));
  const want = createHash('sha256').update(requirements).digest('hex');
  const stamp = path.join(dataDir, 'label-studio', 'remedy-requirements.sha256');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : null;
  if (have !== want) {
    process.stderr.write(
      '[remedy] installing Label Studio for its adapter test (infra/label-studio.ts)...\n',
    );
    const tsx = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsx.cmd' : 'tsx');
    const result = spawnSync(tsx, ['infra/install-binaries.ts', '--label-studio'], {
      cwd: root,
      stdio: ['ignore', 2, 2],
    });
    if (result.status !== 0)
      process.stderr.write('[remedy] could not install Label Studio: the Label Studio test will say why.\n');
  }
}
