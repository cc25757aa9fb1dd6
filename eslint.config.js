// Lint rules. The workflows folder gets the determinism rules Temporal's samples use:
// no Node built-ins, no pg, no value imports from activities, no Math.random or bare Date.
// Every source folder gets its place in the layout (docs/architecture.md): which folders it may import.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

/**
 * The layout (docs/architecture.md): which top-level folders each folder may import. A restriction is a
 * regex on the import's text; `(\.\./){depth}` climbs from a file at that depth to the project root, so
 * the rules hold for files in subfolders (core/drift/) too.
 */
const up = (depth) => `^(\\.\\./){${depth}}`;
/** Imports that climb out of the folder into any top-level folder but `allowed`. */
const onlyFrom = (depth, allowed, message) => ({
  regex: `${up(depth)}(?!(${allowed.join('|')})/)`,
  message,
});
/** Imports of the `denied` top-level folders. */
const notFrom = (depth, denied, message, allowTypeImports = false) => ({
  regex: `${up(depth)}(${denied.join('|')})/`,
  message,
  ...(allowTypeImports ? { allowTypeImports } : {}),
});

/** core/ is pure: no other folder, no package but zod (@temporalio/common for the search-attribute keys). */
const corePatterns = (depth, packages) => [
  onlyFrom(
    depth,
    ['core'],
    'core/ is pure and imports nothing outside core/: move the effect to activities/ or db/.',
  ),
  {
    regex: `^(?!(${packages.join('|')})$|\\.{1,2}/)`,
    message: `core/ is pure: no packages but ${packages.join(' and ')} (no Node built-ins, no pg, no Temporal SDK).`,
  },
];

const workflowPaths = [
  ...nodeBuiltins.flatMap((name) => [
    { name, message: 'Workflow code is deterministic: no Node built-ins.' },
    { name: `node:${name}`, message: 'Workflow code is deterministic: no Node built-ins.' },
  ]),
  { name: 'pg', message: 'Workflows never touch Postgres; use an activity.' },
];
const workflowPatterns = [
  onlyFrom(
    1,
    ['core', 'activities'],
    'workflows/ imports only core/, its own folder and activity types: anything else runs in an activity.',
  ),
  notFrom(1, ['activities'], 'Workflows see activities only as types (proxyActivities).', true),
];

/** Folders with a list of what they must not import (everything else is theirs to use). */
const denied = {
  db: {
    folders: [
      'activities',
      'bench',
      'cli',
      'dev',
      'drift',
      'gateway',
      'ops',
      'review',
      'scoring',
      'workers',
      'workflows',
    ],
    message: 'db/ is the SQL layer under everything but core/: callers pass it a client, it calls nobody up.',
  },
  activities: {
    folders: ['bench', 'cli', 'dev', 'gateway', 'ops', 'review', 'workers'],
    message:
      'activities/ use core/ and db/ (and scoring/ to score models) only (plus infra/ and codec/ plumbing): move the helper down into core/ or db/.',
  },
  scoring: {
    folders: ['activities', 'bench', 'cli', 'dev', 'gateway', 'ops', 'review', 'workers', 'workflows'],
    message: 'scoring/ turns artifacts into predictions for everything above it: it uses core/ and db/ only.',
  },
  ops: {
    folders: ['bench', 'cli', 'dev', 'workers'],
    message:
      'ops/ is what the CLI, review page and tests call: it must not depend on them; move the helper into ops/.',
  },
  review: {
    folders: ['bench', 'cli', 'dev', 'workers'],
    message:
      'The review page uses ops/ like the CLI does, never the CLI or the dev stack: move the helper into ops/.',
  },
};

const restrict = (files, options, ignores) => ({
  files,
  ...(ignores ? { ignores } : {}),
  rules: { 'no-restricted-imports': ['error', options] },
});

const layout = [
  restrict(['core/*.ts'], { patterns: corePatterns(1, ['zod']) }, ['core/search-attributes.ts']),
  restrict(['core/search-attributes.ts'], { patterns: corePatterns(1, ['zod', '@temporalio/common']) }),
  restrict(['core/*/*.ts'], { patterns: corePatterns(2, ['zod']) }),
  ...Object.entries(denied).flatMap(([folder, { folders, message }]) => [
    restrict([`${folder}/*.ts`], { patterns: [notFrom(1, folders, message)] }),
    restrict([`${folder}/*/*.ts`], { patterns: [notFrom(2, folders, message)] }),
  ]),
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.remedy/**', 'dist/**', 'test/histories/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ['eslint.config.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: workflowPaths, patterns: workflowPatterns }],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Workflows take no random draws: derive values from inputs, or use uuid4().',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.name='setTimeout']",
          message: 'Use sleep() or condition() from @temporalio/workflow.',
        },
      ],
    },
  },
  ...layout,
);
