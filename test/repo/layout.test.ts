/**
 * The layout is enforced by lint (eslint.config.js, docs/architecture.md): an import across a forbidden
 * arrow fails `npx eslint .` with a message that says where the code belongs. Each case lints one line
 * as if it were a file in the named folder, with only the import rule on (no type information needed).
 */
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/paths.js';

const eslint = new ESLint({
  cwd: projectRoot,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});

/** The import-rule messages for `code` placed at `file`. */
async function importErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: `${projectRoot}/${file}` });
  return (result?.messages ?? []).map((m) => m.message);
}

describe('the layout lint', () => {
  // Loading the config and its plugins takes seconds on a busy machine; each case after that is quick.
  beforeAll(() => importErrors('core/probe.ts', ''), 60_000);

  it.each([
    ['core/probe.ts', "import '../db/index.js';", 'core/ is pure and imports nothing outside core/'],
    [
      'core/drift/probe.ts',
      "import '../../activities/index.js';",
      'core/ is pure and imports nothing outside core/',
    ],
    ['core/probe.ts', "import pg from 'pg';", 'core/ is pure: no packages but zod'],
    ['core/probe.ts', "import { createHash } from 'node:crypto';", 'core/ is pure: no packages but zod'],
    ['workflows/probe.ts', "import { Client } from '../ops/cycles.js';", 'workflows/ imports only core/'],
    ['workflows/probe.ts', "import { createActivities } from '../activities/index.js';", 'only as types'],
    ['db/probe.ts', "import { createActivities } from '../activities/index.js';", 'db/ is the SQL layer'],
    ['db/probe.ts', "import { startCycle } from '../ops/cycles.js';", 'db/ is the SQL layer'],
    [
      'activities/probe.ts',
      "import { startCycle } from '../ops/cycles.js';",
      'activities/ use core/ and db/',
    ],
    [
      'activities/probe.ts',
      "import { route } from '../gateway/routing.js';",
      'activities/ use core/ and db/',
    ],
    ['ops/probe.ts', "import { runCli } from '../cli/main.js';", 'ops/ is what the CLI'],
    ['ops/probe.ts', "import { runDemo } from '../dev/demo.js';", 'ops/ is what the CLI'],
    ['review/probe.ts', "import { runCli } from '../cli/main.js';", 'The review page uses ops/'],
  ])('given %s with %s, then lint refuses it', async (file, code, message) => {
    const errors = await importErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  it.each([
    ['core/probe.ts', "import { z } from 'zod';\nimport { mean } from './stats.js';"],
    ['core/drift/probe.ts', "import type { Policy } from '../schemas.js';"],
    ['core/search-attributes.ts', "import { defineSearchAttributeKey } from '@temporalio/common';"],
    ['workflows/probe.ts', "import type { Activities } from '../activities/index.js';"],
    ['workflows/probe.ts', "import { LabelingSettings } from '../core/labeling-settings.js';"],
    ['db/probe.ts', "import type { Policy } from '../core/schemas.js';\nimport pg from 'pg';"],
    ['activities/probe.ts', "import * as db from '../db/index.js';"],
    [
      'ops/probe.ts',
      "import * as db from '../db/index.js';\nimport { stagedRollout } from '../workflows/rollout.js';",
    ],
    ['review/probe.ts', "import { startCycle } from '../ops/cycles.js';"],
  ])('given %s with an allowed import, then lint accepts it', async (file, code) => {
    expect(await importErrors(file, code)).toEqual([]);
  });
});
