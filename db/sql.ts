/**
 * SQL text composed from parts: constant text written in the source, identifiers quoted by `quoteIdent`,
 * and `$n` placeholders. A value of type `Sql` can only be made here (its text sits behind a module-private
 * symbol), so a statement typed `Sql` cannot contain a value from outside: values travel as bound
 * parameters. test/repo/sql-params.test.ts accepts `.query(sqlText(…))` for this reason.
 */
const TEXT = Symbol('sql text');

export interface Sql {
  readonly [TEXT]: string;
}

const make = (text: string): Sql => ({ [TEXT]: text });

/** Constant SQL with other `Sql` parts in it: sql`SELECT ${ident(column)} FROM ${ident(table)}`. */
export function sql(strings: TemplateStringsArray, ...parts: readonly Sql[]): Sql {
  let text = strings[0]!;
  parts.forEach((p, i) => (text += p[TEXT] + strings[i + 1]!));
  return make(text);
}

/** Postgres keeps the first 63 bytes of a name; a longer one would silently name another column. */
const MAX_IDENT_BYTES = 63;

/** Thrown for a name that cannot be an identifier; the caller says whose name it was. */
export class IdentifierError extends Error {
  override name = 'IdentifierError';
}

/**
 * An identifier as SQL text: `"name"`, with any `"` in it doubled, so any spelling (capitals, spaces,
 * quotes, semicolons) names exactly that column or table and nothing else.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new IdentifierError('an empty name cannot name a table or column');
  if (name.includes('\u0000'))
    throw new IdentifierError(`the name ${JSON.stringify(name)} contains a NUL character`);
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES)
    throw new IdentifierError(
      `the name "${name}" is longer than Postgres's ${MAX_IDENT_BYTES} bytes: it would name another column`,
    );
  return `"${name.replace(/"/g, '""')}"`;
}

/** A quoted identifier as a part of a statement. */
export function ident(name: string): Sql {
  return make(quoteIdent(name));
}

/** The placeholder of the n-th bound value: `$n`. */
export function param(n: number): Sql {
  if (!Number.isInteger(n) || n < 1) throw new Error(`a placeholder number must be 1 or more, got ${n}`);
  return make(`$${n}`);
}

/** Parts joined by a separator. */
export function joinSql(parts: readonly Sql[], separator: Sql): Sql {
  return make(parts.map((p) => p[TEXT]).join(separator[TEXT]));
}

/** The text to send. */
export function sqlText(s: Sql): string {
  return s[TEXT];
}
