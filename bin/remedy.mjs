#!/usr/bin/env node
// The `remedy` command: loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
const { runProcess } = await import('../cli/main.ts');
process.exit(await runProcess(process.argv.slice(2)));
