/**
 * `remedy`: the command line people use to start and steer remediation cycles.
 * Every command talks to Temporal through the same functions the demo and the tests use (ops/). Each
 * command group lives in its own file here and registers its commands on the program; a command line
 * loads only the group of the command it names (COMMAND_GROUPS), so a command starts with its own modules.
 */
import type { Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError, Option } from 'commander';
import { createPool } from '../db/pool.js';
import { ConfigError, connectionOptions, loadDatabaseConfig, loadTemporalConfig } from '../infra/config.js';
import { UserError } from '../ops/user-error.js';
import { cliContext, DriftFound, EXIT, PartialFailure, type CliContext, type CliIo } from './shared.js';

export { EXIT, type CliIo } from './shared.js';

type Register = (program: Command, ctx: CliContext) => void;

/**
 * The command groups, in the order `remedy --help` lists them: the commands each one registers, and how
 * to load its module. A command loads only its own group (`remedy ingest` no Temporal client, no
 * OpenTelemetry, no ONNX runtime); the help and an unknown command load them all.
 */
export const COMMAND_GROUPS: readonly { commands: readonly string[]; load: () => Promise<Register> }[] = [
  {
    commands: ['start', 'status', 'wait', 'list'],
    load: async () => (await import('./cycles.js')).registerCycleCommands,
  },
  {
    commands: ['pending', 'label', 'approve', 'reject'],
    load: async () => (await import('./labels.js')).registerAnswerCommands,
  },
  {
    commands: ['rollback', 'promote', 'approve-full', 'resolve', 'abort'],
    load: async () => (await import('./steer.js')).registerSteeringCommands,
  },
  { commands: ['revert'], load: async () => (await import('./revert.js')).registerRevertCommand },
  { commands: ['card'], load: async () => (await import('./reports.js')).registerCardCommand },
  { commands: ['drift'], load: async () => (await import('./drift.js')).registerDriftCommand },
  {
    commands: ['performance'],
    load: async () => (await import('./performance.js')).registerPerformanceCommand,
  },
  { commands: ['monitor'], load: async () => (await import('./monitors.js')).registerMonitorCommands },
  { commands: ['labels'], load: async () => (await import('./labels.js')).registerCampaignCommands },
  { commands: ['triggers'], load: async () => (await import('./triggers.js')).registerTriggerCommands },
  { commands: ['failures'], load: async () => (await import('./failures.js')).registerFailureCommands },
  { commands: ['watch', 'report'], load: async () => (await import('./reports.js')).registerReportCommands },
  { commands: ['models'], load: async () => (await import('./models.js')).registerModelCommands },
  { commands: ['ingest'], load: async () => (await import('./ingest.js')).registerIngestCommand },
  { commands: ['notify'], load: async () => (await import('./notify.js')).registerNotifyCommands },
  { commands: ['audit'], load: async () => (await import('./audit.js')).registerAuditCommands },
  { commands: ['clients'], load: async () => (await import('./clients.js')).registerClientCommands },
];

/** The program with the given command groups registered (all of them by default: what --help lists). */
export async function buildProgram(io: CliIo, groups = COMMAND_GROUPS): Promise<Command> {
  const program = new Command('remedy')
    .description('Remedy: durable remediation cycles for production ML models, on Temporal')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run "remedy --help" for usage)');

  const ctx = cliContext(io);
  const registers = await Promise.all(groups.map((g) => g.load()));
  for (const register of registers) register(program, ctx);

  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  return program;
}

/**
 * The command a command line names: its first word that is not an option (the only top-level option,
 * --no-color, takes no value), and whether the program's help was asked for before it.
 */
function commandOf(argv: readonly string[]): { name: string | undefined; helpFirst: boolean } {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  const before = at < 0 ? argv : argv.slice(0, at);
  return { name: at < 0 ? undefined : argv[at], helpFirst: before.some((a) => a === '-h' || a === '--help') };
}

/**
 * The groups a command line needs: the named command's own, or all of them for the program's help
 * (`remedy --help`, also with a command after it) and an unknown name (commander suggests a known one).
 */
export function groupsFor(argv: readonly string[]): typeof COMMAND_GROUPS {
  const { name, helpFirst } = commandOf(argv);
  const own = COMMAND_GROUPS.filter((g) => name !== undefined && g.commands.includes(name));
  return own.length > 0 && !helpFirst ? own : COMMAND_GROUPS;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await (await buildProgram(io, groupsFor(argv))).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof DriftFound) return EXIT.drift;
    if (err instanceof PartialFailure) return EXIT.usage;
    if (err instanceof UserError || err instanceof ConfigError) {
      io.err(`remedy: ${err.message}\n`);
      return EXIT.usage;
    }
    io.err(`remedy: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}

export function defaultDatabase(): CliIo['database'] {
  return () => {
    const { databaseUrl } = loadDatabaseConfig();
    if (!databaseUrl) {
      return Promise.reject(
        new UserError('this command reads the registry: set DATABASE_URL (npm run dev prints it)'),
      );
    }
    const pool = createPool(databaseUrl, 1);
    return Promise.resolve({ pool, close: () => pool.end() });
  };
}

/** Payload encryption when REMEDY_CODEC_KEYS is set (the worker must have the same keys). */
async function codecOption(): Promise<{ dataConverter?: DataConverter }> {
  const { dataConverterFromEnv } = await import('../codec/codec.js');
  try {
    const dataConverter = dataConverterFromEnv();
    return dataConverter ? { dataConverter } : {};
  } catch (err) {
    throw new ConfigError([{ variable: 'REMEDY_CODEC_KEYS', message: (err as Error).message }]);
  }
}

export function defaultConnect(): CliIo['connect'] {
  return async () => {
    const config = loadTemporalConfig();
    // Loaded here, not at the top: commands that never talk to Temporal start without these packages.
    const [{ Client, Connection }, { tracingClientOptions, tracingFromEnv }] = await Promise.all([
      import('@temporalio/client'),
      import('../infra/tracing.js'),
    ]);
    let connection: Connection;
    try {
      connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '5s' });
    } catch (err) {
      throw new UserError(
        `cannot reach Temporal at ${config.address}${config.profile ? ` (profile "${config.profile.name}" of ${config.profile.file})` : ''} (${err instanceof Error ? err.message : String(err)}): start it with "npm run dev", or set TEMPORAL_ADDRESS or TEMPORAL_PROFILE`,
      );
    }
    // With OTEL_EXPORTER_OTLP_ENDPOINT, the command's calls (a cycle's start among them) open its trace.
    const tracing = tracingFromEnv('remedy-cli');
    return {
      client: new Client({
        connection,
        namespace: config.namespace,
        ...(await codecOption()),
        ...tracingClientOptions(tracing),
      }),
      queues: config,
      close: async () => {
        await connection.close();
        await tracing?.shutdown();
      },
    };
  };
}

/**
 * V8's heap growth for `remedy ingest`, in percent over what the last full collection kept. Ingest streams
 * far more data than it keeps (about 45 MiB live for a million-row Parquet file), and by default V8 lets
 * the heap grow to several times that before collecting it, so the process's memory follows its garbage,
 * not its data. bench:ingest, a million rows, runs alternating with and without it: CSV 174–182 against
 * 243–254 MiB, Parquet 220–233 against 368–386 MiB, in the same time within noise. Commands that keep
 * what they read (drift and performance reports over files) keep V8's default.
 */
export const INGEST_HEAP_GROWING_PERCENT = 20;

/**
 * The V8 flag a `remedy` process sets for its command line, if any: ingest's heap growth, unless node's own
 * command line gives one (`node --heap-growing-percent=N bin/remedy.mjs …`; node refuses it in NODE_OPTIONS).
 */
export function v8FlagFor(argv: readonly string[], execArgv: readonly string[]): string | undefined {
  if (commandOf(argv).name !== 'ingest') return undefined;
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return undefined;
  return `--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`;
}

/**
 * The `remedy` process: both entry points (bin/remedy.mjs, and this file run directly) start here, so
 * each gets the terminal's progress bar, Ctrl-C handling and ingest's heap growth above.
 */
export async function runProcess(argv: readonly string[]): Promise<number> {
  const flag = v8FlagFor(argv, process.execArgv);
  if (flag) setFlagsFromString(flag);
  let interrupted: AbortController | undefined;
  return runCli(argv, {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    connect: defaultConnect(),
    database: defaultDatabase(),
    tty: process.stdout.isTTY,
    // A command that reads the signal (watch, labels sync --watch) takes Ctrl-C over and stops cleanly on
    // it; for every other command Ctrl-C ends the process at once, as Node does by default.
    get signal() {
      if (!interrupted) {
        const controller = (interrupted = new AbortController());
        process.once('SIGINT', () => controller.abort());
      }
      return interrupted.signal;
    },
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exit(await runProcess(process.argv.slice(2)));
}
