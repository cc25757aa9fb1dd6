/**
 * The workflow worker preloads a few of the project's modules (workers/workers.ts PRELOAD_MODULES) into
 * its shared sandbox and then deep-freezes them. A zod schema frozen that way fails on its first use
 * inside a workflow ("Cannot define property safeParse, object is not extensible": zod binds its methods
 * on first read): with core/inputs.ts frozen, every cycle fails parsing its input. The preloaded modules,
 * and everything they import as values, must therefore not import the schemas the workflows parse with
 * (core/schemas.ts, core/inputs.ts): their types only.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PRELOAD_MODULES } from '../../workers/workers.js';

/** The project modules a file imports or re-exports as values (not `import type` / `export type`). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'(\.{1,2}\/[^']+)'/gms)) {
    found.push(path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return found;
}

describe('modules the workflow worker preloads', () => {
  it('given the preloaded project modules, then none of them, nor anything they import as a value, is a module of the workflows’ schemas', () => {
    const seen = new Map<string, string>();
    const queue = PRELOAD_MODULES.filter((m) => m.endsWith('.ts')).map((m) => ({ file: m, via: m }));
    while (queue.length > 0) {
      const { file, via } = queue.shift()!;
      if (seen.has(file)) continue;
      seen.set(file, via);
      for (const next of valueImports(file)) queue.push({ file: next, via: `${via} → ${next}` });
    }
    const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
    const schemas = new Set(['core/schemas.ts', 'core/inputs.ts'].map((f) => path.join(root, f)));
    const withSchemas = [...seen.entries()]
      .filter(([file]) => schemas.has(file))
      .map(([, via]) =>
        via
          .split(' → ')
          .map((f) => path.relative(root, f))
          .join(' → '),
      );
    expect(seen.size).toBeGreaterThan(4);
    expect(withSchemas).toEqual([]);
  });
});
