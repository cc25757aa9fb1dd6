/**
 * Sizes a reader can hold in their head: no source file over 600 lines, no function over 150 lines
 * outside tests and benchmarks. A file or function that grows past its limit is split along its seams
 * (see core/drift/ or bench/faults-*.ts) rather than added to this file.
 *
 * PENDING lists what was over its limit when the check arrived and is being split; each entry must still
 * be over, so an entry is removed as soon as its split lands and the list cannot hide a new offender.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/paths.js';

const MAX_FILE_LINES = 600;
const MAX_FUNCTION_LINES = 150;

/** Files still over MAX_FILE_LINES, relative to the project root. */
const PENDING_FILES: readonly string[] = [];
/** Functions still over MAX_FUNCTION_LINES, as `file:name`. */
const PENDING_FUNCTIONS: readonly string[] = [];

const SKIP = new Set(['node_modules', '.git', '.remedy', 'test']);

/** Every TypeScript source file outside test/, relative to the project root. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(projectRoot, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIP.has(entry.name)) walk(child);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

/** Functions with a body longer than `max` lines, as `file:name (n lines)`. */
function longFunctions(file: string, text: string, max: number): { key: string; lines: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { key: string; lines: number }[] = [];
  const nameOf = (n: ts.Node): string => {
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name) return n.name.getText(sf);
    const parent = n.parent;
    if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
    return '(anonymous)';
  };
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(n.end).line;
      if (last - first + 1 > max) found.push({ key: `${file}:${nameOf(n)}`, lines: last - first + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('source sizes', () => {
  const files = sources();

  it('given the source tree, then no file is over 600 lines', () => {
    const over = files
      .map((file) => ({ file, lines: lineCount(readFileSync(path.join(projectRoot, file), 'utf8')) }))
      .filter((f) => f.lines > MAX_FILE_LINES);
    const unexpected = over.filter((f) => !PENDING_FILES.includes(f.file));
    expect(
      unexpected.map((f) => `${f.file}: ${f.lines} lines; split it along its seams`),
      'files over 600 lines',
    ).toEqual([]);
    const done = PENDING_FILES.filter((f) => !over.some((o) => o.file === f));
    expect(done, 'split already: remove from PENDING_FILES').toEqual([]);
  });

  it('given the sources outside benchmarks, then no function is over 150 lines', () => {
    const long = files
      .filter((f) => !f.startsWith('bench/'))
      .flatMap((f) => longFunctions(f, readFileSync(path.join(projectRoot, f), 'utf8'), MAX_FUNCTION_LINES));
    const unexpected = long.filter((f) => !PENDING_FUNCTIONS.includes(f.key));
    expect(
      unexpected.map((f) => `${f.key}: ${f.lines} lines; move its parts into named functions`),
      'functions over 150 lines',
    ).toEqual([]);
    const done = PENDING_FUNCTIONS.filter((k) => !long.some((f) => f.key === k));
    expect(done, 'short enough already: remove from PENDING_FUNCTIONS').toEqual([]);
  }, 60_000); // parses every source file: seconds on a busy machine

  it('given a file of 601 lines and a function of 151, then the checks count them as over', () => {
    expect(lineCount('// line\n'.repeat(MAX_FILE_LINES + 1))).toBe(MAX_FILE_LINES + 1);
    expect(lineCount('a\nb')).toBe(2);
    const fn = (name: string, lines: number) =>
      `export function ${name}(): void {\n${'  void 0;\n'.repeat(lines - 2)}}\n`;
    const text = `${fn('fits', MAX_FUNCTION_LINES)}${fn('tooLong', MAX_FUNCTION_LINES + 1)}`;
    expect(longFunctions('x.ts', text, MAX_FUNCTION_LINES)).toEqual([
      { key: 'x.ts:tooLong', lines: MAX_FUNCTION_LINES + 1 },
    ]);
  });
});
