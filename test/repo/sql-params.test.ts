/**
 * Parameterised SQL only: every query the project sends is a constant text with $n placeholders. Every
 * SQL statement lives in db/ (a second test below fails when one appears elsewhere), so this reads db/
 * and finds each `.query(` call whose SQL is built from values (a template literal with `${…}`, or text
 * joined with `+`). The only interpolations allowed are an identifier escaped by the driver
 * (`escapeIdentifier`) and module constants written in capitals (fixed SQL fragments); a statement
 * composed with db/sql.ts is sent as `sqlText(…)`, whose `Sql` type admits nothing else. The migration
 * runner (the files in migrations/) is recognised as such. The injection sweep
 * (test/e2e/sql-injection.test.ts) then sends hostile strings through every way in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/paths.js';

/** Folders of the repository that are not source: dependencies, tests and generated or local data. */
const NOT_SOURCE = new Set(['node_modules', 'test', '.git', '.remedy']);

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (!NOT_SOURCE.has(entry.name) && !entry.name.startsWith('.')) walk(full);
      } else if (entry.name.endsWith('.ts')) out.push(full);
    }
  };
  walk(dir);
  return out;
}

/** The first argument of each `.query(` / `.query<…>(` call, as written in the source. */
export function queryTexts(source: string): { line: number; text: string }[] {
  const found: { line: number; text: string }[] = [];
  const re = /\.query(?:<[^>]*>)?\(/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(source))) {
    let i = m.index + m[0].length;
    while (/\s/.test(source[i]!)) i++;
    const start = i;
    // Scan the first argument: up to the first top-level comma or the closing parenthesis.
    let depth = 0;
    let quote: string | null = null;
    for (; i < source.length; i++) {
      const c = source[i]!;
      if (quote) {
        if (c === '\\') i++;
        else if (c === quote) quote = null;
        else if (quote === '`' && c === '$' && source[i + 1] === '{') {
          // keep scanning inside the template; braces are balanced by the template itself
        }
        continue;
      }
      if (c === '"' || c === "'" || c === '`') quote = c;
      else if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) break;
    }
    found.push({ line: source.slice(0, start).split('\n').length, text: source.slice(start, i).trim() });
  }
  return found;
}

/** Built from values: a template with an interpolation (other than an escaped identifier), or a `+` join. */
export function builtFromValues(text: string): boolean {
  if (text.startsWith('`')) {
    const interpolations = [...text.matchAll(/\$\{([^}]*)\}/g)].map((x) => x[1]!);
    return interpolations.some(
      (expr) => !/^\s*\w+\.escapeIdentifier\(/.test(expr) && !/^[A-Z][A-Z0-9_]*(\[\w+\])?$/.test(expr.trim()),
    );
  }
  if (/^['"]/.test(text)) return /['"]\s*\+/.test(text);
  // A Temporal query definition (handle.query(cycleStatusQuery)), or the migration runner reading its files.
  if (/^\w+Query$/.test(text) || /^await readFile\(path\.join\(migrationsDir, /.test(text)) return false;
  // A module constant written in capitals: fixed SQL.
  if (/^[A-Z][A-Z0-9_]*$/.test(text)) return false;
  // A statement composed as `Sql` (db/sql.ts): its type admits only constant text, quoted identifiers
  // and placeholders, so the compiler checks what this scanner cannot see.
  if (/^sqlText\(/.test(text)) return false;
  // Any other variable or call: the SQL text comes from elsewhere and cannot be checked here.
  return true;
}

describe('parameterised SQL only', () => {
  it('given the scanner, then it tells a parameterised query from one built from values', () => {
    expect(builtFromValues('`SELECT * FROM models WHERE model_id = $1`')).toBe(false);
    expect(builtFromValues("'SELECT 1'")).toBe(false);
    expect(builtFromValues('`SELECT * FROM models WHERE model_id = ${id}`')).toBe(true);
    expect(builtFromValues("'SELECT * FROM t WHERE a = ' + value")).toBe(true);
    expect(builtFromValues('`create database ${client.escapeIdentifier(name)}`')).toBe(false);
    expect(builtFromValues('sql')).toBe(true);
    expect(builtFromValues('`SELECT * FROM t WHERE ${FILTERS[filter]}`')).toBe(false);
    expect(builtFromValues('`SELECT * FROM t WHERE ${filter}`')).toBe(true);
    expect(builtFromValues('cycleStatusQuery')).toBe(false);
    expect(builtFromValues('sqlText(sql`SELECT ${ident(column)} FROM t`)')).toBe(false);
    expect(queryTexts('pool.query<{ n: string }>(`SELECT $1`, [x]); c.query("SELECT 2")')).toEqual([
      { line: 1, text: '`SELECT $1`' },
      { line: 1, text: '"SELECT 2"' },
    ]);
  });

  it('given every module that talks to Postgres, then no query text is built from values', () => {
    const offenders: string[] = [];
    let queries = 0;
    for (const file of tsFiles(path.join(projectRoot, 'db'))) {
      for (const q of queryTexts(readFileSync(file, 'utf8'))) {
        queries++;
        if (builtFromValues(q.text))
          offenders.push(`${path.relative(projectRoot, file)}:${q.line}: ${q.text.slice(0, 120)}`);
      }
    }
    expect(queries).toBeGreaterThan(100);
    expect(offenders).toEqual([]);
  });

  it('given every source file outside db/, then none sends SQL: its statements are db/ functions', () => {
    const db = path.join(projectRoot, 'db') + path.sep;
    const outside: string[] = [];
    for (const file of tsFiles(projectRoot)) {
      if (file.startsWith(db)) continue;
      for (const q of queryTexts(readFileSync(file, 'utf8'))) {
        // Temporal's handle.query(cycleStatusQuery) asks a workflow, not the database.
        if (!/^\w+Query$/.test(q.text))
          outside.push(`${path.relative(projectRoot, file)}:${q.line}: ${q.text.slice(0, 120)}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
