/**
 * The `remedy` process. A command loads only its own command group: `remedy ingest` starts without the
 * Temporal client (its protobufs), OpenTelemetry or the ONNX runtime, while `remedy --help` still lists
 * every command; the groups' table in cli/main.ts names each group's commands, and these tests hold it to
 * what each group really registers. The installed command (bin/remedy.mjs) answers, Ctrl-C stops a
 * command that does not take it over, and the heap setting ingest uses is one this Node accepts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  buildProgram,
  COMMAND_GROUPS,
  groupsFor,
  INGEST_HEAP_GROWING_PERCENT,
  runCli,
  v8FlagFor,
  type CliIo,
} from '../../cli/main.js';
import { cliContext } from '../../cli/shared.js';
import { projectRoot } from '../../infra/paths.js';

const io: CliIo = {
  out: () => {},
  err: () => {},
  connect: () => Promise.reject(new Error('not used')),
  database: () => Promise.reject(new Error('not used')),
};

/** The packages (under node_modules) a real `remedy <argv>` process has loaded when it exits. */
function packagesLoadedBy(argv: string[]): { code: number; out: string; packages: string[] } {
  const script = `
    import { createRequire } from 'node:module';
    const { runCli } = await import('./cli/main.ts');
    let out = '';
    const fail = () => Promise.reject(new Error('not used'));
    const code = await runCli(${JSON.stringify(argv)}, { out: (t) => (out += t), err: (t) => (out += t), connect: fail, database: fail });
    const loaded = Object.keys(createRequire(process.cwd() + '/').cache);
    const packages = [...new Set(loaded.map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean))];
    process.stdout.write(JSON.stringify({ code, out, packages }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 50_000,
  });
  if (r.status !== 0) throw new Error(`the CLI process failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { code: number; out: string; packages: string[] };
}

describe('the remedy process', () => {
  it('given each group alone, then it registers exactly the commands its entry names', async () => {
    for (const group of COMMAND_GROUPS) {
      const program = new Command('remedy');
      (await group.load())(program, cliContext(io));
      expect(program.commands.map((c) => c.name())).toEqual(group.commands);
    }
  }, 60_000);

  it("given the whole program, then it lists every group's commands once, in the table's order", async () => {
    const program = await buildProgram(io);
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(COMMAND_GROUPS.flatMap((g) => g.commands));
    expect(new Set(names).size).toBe(names.length);
  }, 60_000);

  it("given a command line, then the named command's group is chosen, or every group for help and unknown names", () => {
    expect(groupsFor(['ingest', 'acs', 'log.csv']).map((g) => g.commands)).toEqual([['ingest']]);
    expect(groupsFor(['--no-color', 'status', 'c-1']).map((g) => g.commands)).toEqual([
      ['start', 'status', 'wait', 'list'],
    ]);
    expect(groupsFor(['--help'])).toBe(COMMAND_GROUPS);
    expect(groupsFor([])).toBe(COMMAND_GROUPS);
    expect(groupsFor(['statsu'])).toBe(COMMAND_GROUPS);
    // The program's help asked for before a command still lists every command.
    expect(groupsFor(['--help', 'ingest'])).toBe(COMMAND_GROUPS);
    expect(groupsFor(['--no-color', '-h', 'ingest'])).toBe(COMMAND_GROUPS);
    expect(groupsFor(['ingest', '--help']).map((g) => g.commands)).toEqual([['ingest']]);
  });

  it('given `remedy --help ingest`, then the help lists every command', async () => {
    let out = '';
    const code = await runCli(['--help', 'ingest'], { ...io, out: (t) => (out += t) });
    expect(code).toBe(0);
    for (const name of COMMAND_GROUPS.flatMap((g) => g.commands))
      expect(out).toMatch(new RegExp(`\\n  ${name} `));
  }, 60_000);

  it('given `remedy ingest --help` in a real process, then neither the Temporal client (nor its protobufs), OpenTelemetry nor ONNX is loaded', () => {
    const ingest = packagesLoadedBy(['ingest', '--help']);
    expect(ingest.code).toBe(0);
    expect(ingest.out).toMatch(/^Usage: remedy ingest/);
    expect(ingest.packages).toContain('pg');
    expect(
      ingest.packages.filter((p) =>
        /^@temporalio\/(client|proto|workflow|worker)$|^protobufjs$|^@opentelemetry\/|^onnxruntime/.test(p),
      ),
    ).toEqual([]);
    // The same check sees the Temporal client when a command needs it.
    const status = packagesLoadedBy(['status', '--help']);
    expect(status.code).toBe(0);
    expect(status.packages).toContain('@temporalio/client');
  }, 60_000);

  it('given an unknown command in a real process, then every group is loaded and commander suggests the name', () => {
    const r = packagesLoadedBy(['statsu']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('(Did you mean status?)');
    expect(r.packages).toEqual(expect.arrayContaining(['@temporalio/client', 'onnxruntime-node']));
  }, 60_000);

  it("given the installed command (bin/remedy.mjs), then a command's help prints and it exits 0, and a misuse exits 2", () => {
    const bin = (...argv: string[]) =>
      spawnSync(process.execPath, ['bin/remedy.mjs', ...argv], {
        cwd: projectRoot,
        encoding: 'utf8',
        timeout: 50_000,
      });
    const help = bin('ingest', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: remedy ingest/);
    const misuse = bin('ingest');
    expect(misuse.status).toBe(2);
    expect(misuse.stderr).toContain("missing required argument 'model'");
  }, 60_000);

  it('given Ctrl-C while `remedy ingest` waits on its database, then the process ends at once', async () => {
    // A database that accepts the connection and never answers: the command is under way and waiting.
    let reached = () => {};
    const connected = new Promise<'connected'>((resolve) => (reached = () => resolve('connected')));
    const server = createServer(() => reached());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-cli-'));
    const file = path.join(dir, 'log.csv');
    await writeFile(file, 'record_key,ts,x\nk1,2024-01-01T00:00:00Z,1\n');
    const child = spawn(process.execPath, ['bin/remedy.mjs', 'ingest', 'm', file], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: `postgres://u:p@127.0.0.1:${port}/db` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let timer: NodeJS.Timeout | undefined;
    const after = (seconds: number) =>
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`still running ${seconds} s on`), seconds * 1000);
      });
    try {
      // The command reaches the database, or ends first and says why.
      const first = await Promise.race([connected, exited, after(40)]);
      clearTimeout(timer);
      expect(first, `the command never reached its database: ${stderr}`).toBe('connected');
      child.kill('SIGINT');
      const ended = await Promise.race([exited, after(10)]);
      clearTimeout(timer);
      expect(ended, 'after Ctrl-C').toEqual([null, 'SIGINT']);
    } finally {
      child.kill('SIGKILL');
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("given a command line, then the process sets the heap growth only for ingest, and never over node's own", () => {
    const flag = `--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`;
    expect(v8FlagFor(['ingest', 'acs', 'log.csv'], [])).toBe(flag);
    expect(v8FlagFor(['--no-color', 'ingest', 'acs', 'log.csv'], ['--import', 'tsx'])).toBe(flag);
    expect(v8FlagFor(['drift', 'ref.csv', 'cur.csv'], [])).toBeUndefined();
    expect(v8FlagFor(['--help'], [])).toBeUndefined();
    expect(v8FlagFor(['ingest', 'acs', 'log.csv'], ['--heap-growing-percent=0'])).toBeUndefined();
    expect(v8FlagFor(['ingest', 'acs', 'log.csv'], ['--heap_growing_percent=50'])).toBeUndefined();
  });

  it('given the heap setting ingest starts with, then this Node accepts it', () => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `require('node:v8').setFlagsFromString('--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}')`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 50_000 },
    );
    expect(r.status).toBe(0);
    // V8 reports a flag it does not know on stderr ("unrecognized flag") and goes on without it.
    expect(r.stderr).toBe('');
  });
});
