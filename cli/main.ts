/**
 * `remedy`: the command line people use to start and steer remediation cycles.
 * Every command talks to Temporal through the same functions the demo and the tests use (ops/). Each
 * command group lives in its own file here and registers its commands on the program.
 */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../codec/codec.js';
import { Command, CommanderError, Option } from 'commander';
import { createPool } from '../db/pool.js';
import { ConfigError, connectionOptions, loadDatabaseConfig, loadTemporalConfig } from '../infra/config.js';
import { tracingClientOptions, tracingFromEnv } from '../infra/tracing.js';
import { UserError } from '../ops/cycles.js';
import { cliContext, DriftFound, EXIT, PartialFailure, type CliIo } from './shared.js';
import { registerCycleCommands } from './cycles.js';
import { registerAnswerCommands, registerCampaignCommands } from './labels.js';
import { registerSteeringCommands } from './steer.js';
import { registerRevertCommand } from './revert.js';
import { registerCardCommand, registerReportCommands } from './reports.js';
import { registerDriftCommand } from './drift.js';
import { registerPerformanceCommand } from './performance.js';
import { registerMonitorCommands } from './monitors.js';
import { registerTriggerCommands } from './triggers.js';
import { registerFailureCommands } from './failures.js';
import { registerModelCommands } from './models.js';
import { registerIngestCommand } from './ingest.js';
import { registerNotifyCommands } from './notify.js';
import { registerAuditCommands } from './audit.js';
import { registerClientCommands } from './clients.js';

export { EXIT, type CliIo } from './shared.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('remedy')
    .description('Remedy: durable remediation cycles for production ML models, on Temporal')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run "remedy --help" for usage)');

  const ctx = cliContext(io);
  // In the order `remedy --help` lists them.
  registerCycleCommands(program, ctx);
  registerAnswerCommands(program, ctx);
  registerSteeringCommands(program, ctx);
  registerRevertCommand(program, ctx);
  registerCardCommand(program, ctx);
  registerDriftCommand(program, ctx);
  registerPerformanceCommand(program, ctx);
  registerMonitorCommands(program, ctx);
  registerCampaignCommands(program, ctx);
  registerTriggerCommands(program, ctx);
  registerFailureCommands(program, ctx);
  registerReportCommands(program, ctx);
  registerModelCommands(program, ctx);
  registerIngestCommand(program, ctx);
  registerNotifyCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerClientCommands(program, ctx);

  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
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
function codecOption(): { dataConverter?: DataConverter } {
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
        ...codecOption(),
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

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const interrupted = new AbortController();
  process.once('SIGINT', () => interrupted.abort());
  const code = await runCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    connect: defaultConnect(),
    database: defaultDatabase(),
    tty: process.stdout.isTTY,
    signal: interrupted.signal,
  });
  process.exit(code);
}
