/**
 * A command loads only its own command group: `remedy ingest` starts without the Temporal client (its
 * protobufs), OpenTelemetry or the ONNX runtime, while `remedy --help` still lists every command. The groups' table in
 * cli/main.ts names each group's commands; these tests hold it to what each group really registers.
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_GROUPS, groupsFor, type CliIo } from '../../cli/main.js';
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
  });
  if (r.status !== 0) throw new Error(`the CLI process failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { code: number; out: string; packages: string[] };
}

describe('the CLI loads a command group on demand', () => {
  it('given each group alone, then it registers exactly the commands its entry names', async () => {
    for (const group of COMMAND_GROUPS) {
      const program = new Command('remedy');
      (await group.load())(program, cliContext(io));
      expect(program.commands.map((c) => c.name())).toEqual(group.commands);
    }
  });

  it("given the whole program, then it lists every group's commands once, in the table's order", async () => {
    const program = await buildProgram(io);
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(COMMAND_GROUPS.flatMap((g) => g.commands));
    expect(new Set(names).size).toBe(names.length);
  });

  it("given a command line, then the named command's group is chosen, or every group for help and unknown names", () => {
    expect(groupsFor(['ingest', 'acs', 'log.csv']).map((g) => g.commands)).toEqual([['ingest']]);
    expect(groupsFor(['--no-color', 'status', 'c-1']).map((g) => g.commands)).toEqual([
      ['start', 'status', 'wait', 'list'],
    ]);
    expect(groupsFor(['--help'])).toBe(COMMAND_GROUPS);
    expect(groupsFor([])).toBe(COMMAND_GROUPS);
    expect(groupsFor(['statsu'])).toBe(COMMAND_GROUPS);
  });

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
  }, 60_000);

  it("given the installed command (bin/remedy.mjs), then a command's help prints and it exits 0, and a misuse exits 2", () => {
    const bin = (...argv: string[]) =>
      spawnSync(process.execPath, ['bin/remedy.mjs', ...argv], { cwd: projectRoot, encoding: 'utf8' });
    const help = bin('ingest', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: remedy ingest/);
    const misuse = bin('ingest');
    expect(misuse.status).toBe(2);
    expect(misuse.stderr).toContain("missing required argument 'model'");
  }, 60_000);
});
