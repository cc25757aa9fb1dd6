/**
 * A local Label Studio for the adapter's test and for trying `labeling.tool: label-studio` by hand:
 * the pinned venv (infra/label-studio.ts), SQLite in a data directory of its own, an admin user with a
 * known legacy API token (`label-studio start --username --password --user-token
 * --enable-legacy-api-token`), on a free port; ready once /health answers. Webhooks may call
 * 127.0.0.1 (Label Studio blocks private addresses by default; here Remedy's review page is local).
 *
 *   npx tsx dev/label-studio.ts        starts one and prints its URL, admin and token; Ctrl-C stops it
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureLabelStudio, labelStudioPaths, labelStudioRequirements } from '../infra/label-studio.js';
import { freePort, LOCAL_HOST } from '../infra/ports.js';
import { requirementsHash } from '../infra/python-env.js';

export interface LabelStudioProcess {
  url: string;
  /** The admin's legacy API token (Authorization: Token …). */
  token: string;
  admin: { email: string; password: string };
  dataDir: string;
  pid: number;
  /** How long it took to answer /health, in ms. */
  startMs: number;
  stop(): Promise<void>;
}

export interface LabelStudioOptions {
  /** Where its SQLite database and files go (default: a new temporary directory, removed on stop). */
  dataDir?: string;
  port?: number;
  log?: (line: string) => void;
  /** How long to wait for /health (a first start migrates a new database: about 100 s on 2 cores). */
  timeoutMs?: number;
}

const KEPT_LINES = 30;
const ADMIN = { email: 'admin@remedy.local', password: 'remedy-admin-1' };
/** A migrated, empty database, copied into each new data directory: a start takes seconds, not minutes. */
const SEED = 'label-studio-seed';

export async function startLabelStudio(opts: LabelStudioOptions = {}): Promise<LabelStudioProcess> {
  const log = opts.log ?? (() => {});
  const { bin } = await ensureLabelStudio({ log });
  const own = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'remedy-label-studio-')));
  const seed = path.join(
    path.dirname(labelStudioPaths().dir),
    SEED,
    requirementsHash(labelStudioRequirements),
  );
  const seeded = own && existsSync(path.join(seed, 'token'));
  if (seeded) await cp(path.join(seed, 'label_studio.sqlite3'), path.join(dataDir, 'label_studio.sqlite3'));
  // The seed's admin keeps the token it was made with.
  const token = seeded
    ? (await readFile(path.join(seed, 'token'), 'utf8')).trim()
    : randomBytes(20).toString('hex');
  const port = opts.port ?? (await freePort());
  const url = `http://${LOCAL_HOST}:${port}`;
  const started = performance.now();
  const child = spawn(
    bin,
    [
      'start',
      '--no-browser',
      '--data-dir',
      dataDir,
      '--internal-host',
      LOCAL_HOST,
      '--port',
      String(port),
      '--username',
      ADMIN.email,
      '--password',
      ADMIN.password,
      '--user-token',
      token,
      '--enable-legacy-api-token',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PYTHONUNBUFFERED: '1',
        LABEL_STUDIO_BASE_DATA_DIR: dataDir,
        // Offline and quiet: no error reports, analytics or version checks leave this machine.
        LABEL_STUDIO_SENTRY_DSN: '',
        LABEL_STUDIO_FRONTEND_SENTRY_DSN: '',
        LABEL_STUDIO_COLLECT_ANALYTICS: 'false',
        LABEL_STUDIO_LATEST_VERSION_CHECK: 'false',
        // Remedy's review page (the webhook's target) runs on this machine.
        LABEL_STUDIO_USE_DEFAULT_BANNED_SUBNETS: 'false',
      },
    },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((l) => l.trim() !== ''),
    );
    lines.splice(0, Math.max(0, lines.length - KEPT_LINES));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  let ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void exited.then((e) => (ended = e));
  const stop = async () => {
    if (ended === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    if (own) await rm(dataDir, { recursive: true, force: true });
  };
  log(`Starting Label Studio on ${url} (data in ${dataDir}${seeded ? ', from the migrated seed' : ''})...`);
  const deadline = Date.now() + (opts.timeoutMs ?? 480_000);
  for (;;) {
    if (ended !== null) {
      await stop();
      const e = ended as { code: number | null; signal: NodeJS.Signals | null };
      throw new Error(
        `Label Studio exited (${e.signal ?? `code ${e.code}`}) before it answered /health:\n${lines.join('\n')}`,
      );
    }
    if (await healthy(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Label Studio did not answer ${url}/health in time:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const startMs = Math.round(performance.now() - started);
  log(`Label Studio ready in ${(startMs / 1000).toFixed(1)} s: ${url}`);
  if (own && !seeded) await saveSeed(dataDir, seed, token);
  return { url, token, admin: ADMIN, dataDir, pid: child.pid!, startMs, stop };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Keeps the just-migrated database (nothing in it yet but the admin) for the next start. */
async function saveSeed(dataDir: string, seed: string, token: string): Promise<void> {
  const tmp = `${seed}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await cp(path.join(dataDir, 'label_studio.sqlite3'), path.join(tmp, 'label_studio.sqlite3'));
  await writeFile(path.join(tmp, 'token'), `${token}\n`);
  await writeFile(
    path.join(tmp, 'README'),
    'A migrated, empty Label Studio database (dev/label-studio.ts).\n',
  );
  await rm(seed, { recursive: true, force: true });
  await mkdir(path.dirname(seed), { recursive: true });
  await cp(tmp, seed, { recursive: true });
  await rm(tmp, { recursive: true, force: true });
}

/**
 * Signs a person up through Label Studio's own sign-up form, as an annotator would, and returns their
 * legacy API token (read with their session): they then annotate through the API in their own name.
 */
export async function signUpAnnotator(
  url: string,
  email: string,
  password: string,
): Promise<{ id: number; token: string }> {
  const cookies = new Map<string, string>();
  const take = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      cookies.set(pair!.slice(0, i).trim(), pair!.slice(i + 1).trim());
    }
  };
  const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  take(await fetch(`${url}/user/signup/`));
  const csrf = cookies.get('csrftoken');
  if (!csrf) throw new Error(`Label Studio's sign-up page at ${url} set no csrftoken cookie`);
  const form = new URLSearchParams({ csrfmiddlewaretoken: csrf, email, password });
  const signed = await fetch(`${url}/user/signup/`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: cookie(),
      referer: `${url}/user/signup/`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form.toString(),
  });
  take(signed);
  if (signed.status !== 302)
    throw new Error(`Label Studio refused the sign-up of ${email} (${signed.status})`);
  const who = (await (
    await fetch(`${url}/api/current-user/whoami`, { headers: { cookie: cookie() } })
  ).json()) as {
    id: number;
  };
  const { token } = (await (
    await fetch(`${url}/api/current-user/token`, { headers: { cookie: cookie() } })
  ).json()) as {
    token: string;
  };
  return { id: who.id, token };
}

// Run directly: a Label Studio to try the adapter by hand.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const ls = await startLabelStudio({ log: (l) => process.stderr.write(`[remedy] ${l}\n`) });
  process.stdout.write(
    `Label Studio: ${ls.url}\nadmin: ${ls.admin.email} / ${ls.admin.password}\n` +
      `LABEL_STUDIO_URL=${ls.url} LABEL_STUDIO_API_KEY=${ls.token}\n`,
  );
  const stop = () => void ls.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
