/**
 * The error a person can act on: what was wrong and what to do. Kept in a module of its own, with no
 * imports, so a command that only reads files and Postgres (`remedy ingest`) loads no Temporal code.
 */
export class UserError extends Error {
  override name = 'UserError';
}
