#!/usr/bin/env node
// The `remedy` command: loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
const { runCli, defaultConnect, defaultDatabase } = await import('../cli/main.ts');
const code = await runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  connect: defaultConnect(),
  database: defaultDatabase(),
});
process.exit(code);
