/**
 * What every command group of the `remedy` program shares: the I/O it is given, exit codes, argument
 * parsers, and the context each group's commands run in.
 */
import type { Client } from '@temporalio/client';
import { InvalidArgumentError } from 'commander';
import type { Pool } from 'pg';
import type { Queues } from '../ops/cycles.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Opens the Temporal client lazily, so `--help` and usage errors need no server. */
  connect: () => Promise<{ client: Client; queues: Queues; close: () => Promise<void> }>;
  /** Opens Remedy's database lazily, for commands that read the registry. */
  database: () => Promise<{ pool: Pool; close: () => Promise<void> }>;
  /** Output is a terminal: `watch` redraws in place. */
  tty?: boolean;
  /** Ends `watch` early (Ctrl-C). */
  signal?: AbortSignal;
  /** The environment identity is read from (REMEDY_AUTH, REMEDY_TOKEN); default: the process's. */
  env?: NodeJS.ProcessEnv;
}

/** Exit codes scripts can rely on: 3 is "drift found" from `remedy drift --fail-on-drift`. */
export const EXIT = { ok: 0, failure: 1, usage: 2, drift: 3 } as const;

export class DriftFound extends Error {
  override name = 'DriftFound';
}

/** Some of a batch was refused (each refusal printed): exit 2, the accepted part stays. */
export class PartialFailure extends Error {
  override name = 'PartialFailure';
}

export function list(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new InvalidArgumentError(`"${value}" is not a comma-separated list of column names`);
  return items;
}

export function limit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000)
    throw new InvalidArgumentError(`"${value}" is not a number in 1..1000`);
  return Number(value);
}

export function share(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(n > 0 && n <= 1))
    throw new InvalidArgumentError(`"${value}" is not a share in (0, 1]`);
  return n;
}

export function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(n >= 0.2 && n <= 60))
    throw new InvalidArgumentError(`"${value}" is not a number of seconds in 0.2..60`);
  return n;
}

/** A version number: a whole number from 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError(`"${value}" is not a version number (1, 2, …)`);
  return Number(value);
}

export function isoDate(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(`"${value}" is not a date: use YYYY-MM-DD or an ISO timestamp`);
  }
  return value.length === 10 ? `${value}T00:00:00Z` : value;
}

/** What a command group's actions use: the CLI's I/O, a Temporal client for one call, and printing. */
export interface CliContext {
  io: CliIo;
  withClient: <T>(fn: (c: { client: Client; queues: Queues }) => Promise<T>) => Promise<T>;
  /** A Temporal client and Remedy's database for one call. */
  withBoth: <T>(fn: (c: { client: Client; queues: Queues; pool: Pool }) => Promise<T>) => Promise<T>;
  print: (json: boolean | undefined, value: unknown, text: string) => void;
}

export function cliContext(io: CliIo): CliContext {
  const withClient = async <T>(fn: (c: { client: Client; queues: Queues }) => Promise<T>): Promise<T> => {
    const c = await io.connect();
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  };
  const print = (json: boolean | undefined, value: unknown, text: string) =>
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  const withBoth = async <T>(
    fn: (c: { client: Client; queues: Queues; pool: Pool }) => Promise<T>,
  ): Promise<T> => {
    const { pool, close } = await io.database();
    try {
      return await withClient(({ client, queues }) => fn({ client, queues, pool }));
    } finally {
      await close();
    }
  };
  return { io, withClient, withBoth, print };
}
