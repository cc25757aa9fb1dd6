/**
 * Where a model's production log is read from for its windows (the monitor's drift checks, a cycle's
 * confirm stage and collection): Remedy's own `records` table (the default), a table or view in the
 * team's Postgres, or a directory of Parquet or CSV files partitioned by date. The policy names the
 * environment variable holding a connection string, never the string itself.
 */
import { z } from 'zod';

/** An environment variable's name, as a shell spells it. */
const EnvName = z
  .string()
  .refine((v) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !v.includes('@'), {
    message:
      'this looks like a connection string: put it in an environment variable on the workers and name the variable here (e.g. "TEAM_LOG_URL")',
  })
  .refine((v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), {
    message: 'must be the name of an environment variable (letters, digits and _), e.g. "TEAM_LOG_URL"',
  });

/** A table's or column's name as the source spells it (quoted when used, so any case and spelling). */
const Name = z
  .string()
  .min(1)
  .max(63)
  .refine((v) => !v.includes('\u0000'), 'must not contain a NUL character');

/** Which of the source's columns hold each part of a logged prediction. */
export const LogColumns = z
  .object({
    /** The record's unique key (text or any type that casts to text). */
    key: Name,
    /** When the prediction was made: the window filters on it. */
    time: Name,
    /**
     * The model's inputs: one column holding a JSON object of them (jsonb, json, or JSON text in a file),
     * a list of columns named after the model's features, or each feature's column by feature name.
     */
    features: z.union([Name, z.array(Name).min(1), z.record(z.string().min(1), Name)]),
    /** What the serving model predicted and its probabilities (optional; the checks score the champion themselves). */
    prediction: Name.optional(),
    probabilities: Name.optional(),
    /** The ground truth once known (null or empty while unknown): the performance signal's labels. */
    label: Name.optional(),
  })
  .strict();
export type LogColumns = z.infer<typeof LogColumns>;

export const LogSourcePolicy = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('records') }).strict(),
  z
    .object({
      kind: z.literal('postgres'),
      /** The worker's environment variable holding the team database's connection string. */
      connectionEnv: EnvName,
      schema: Name.optional(),
      /** A table or a view. */
      table: Name,
      columns: LogColumns,
    })
    .strict(),
  z
    .object({
      kind: z.literal('files'),
      /**
       * A directory of date partitions: subdirectories `dt=2024-05-01/` (any `name=YYYY-MM-DD`) holding
       * .parquet or .csv files, or files named `2024-05-01.parquet` / `2024-05-01.csv`. A partition's day
       * is a UTC day.
       */
      directory: z.string().min(1),
      columns: LogColumns,
    })
    .strict(),
]);
export type LogSourcePolicy = z.infer<typeof LogSourcePolicy>;

/** Each feature's column, when the features are columns of their own; null for one JSON column. */
export function featureColumns(columns: LogColumns): Map<string, string> | null {
  const f = columns.features;
  if (typeof f === 'string') return null;
  return new Map(Array.isArray(f) ? f.map((c) => [c, c]) : Object.entries(f));
}

/** The model's features a source's mapping leaves without a column (none for one JSON column). */
export function unmappedFeatures(source: LogSourcePolicy, features: readonly string[]): string[] {
  if (source.kind === 'records') return [];
  const mapped = featureColumns(source.columns);
  return mapped === null ? [] : features.filter((f) => !mapped.has(f));
}

/** The source a policy without a `logSource` reads: Remedy's own `records` table. */
export const RECORDS_SOURCE: LogSourcePolicy = { kind: 'records' };

/** A source's name for messages: the adapter and what it reads. */
export function describeLogSource(s: LogSourcePolicy): string {
  if (s.kind === 'records') return "Remedy's records table";
  if (s.kind === 'postgres')
    return `postgres log source ${s.schema ? `${s.schema}.` : ''}${s.table} (via $${s.connectionEnv})`;
  return `files log source ${s.directory}`;
}

/**
 * A log source that cannot be read as the policy describes it (a missing environment variable or
 * column, an unreadable directory, a value of the wrong type): the message names the source and the fix.
 */
export class LogSourceError extends Error {
  override name = 'LogSourceError';
}
