/**
 * `remedy labels sync-label-studio`: the polling fallback for campaigns labeled in Label Studio. Reads
 * the annotations of the cycle's project made since a cursor and answers them as their annotators
 * (ops/label-studio.ts); with --watch it keeps polling until Ctrl-C. Label Studio from LABEL_STUDIO_URL
 * and the token in LABEL_STUDIO_API_KEY (or --url, --token-env).
 */
import type { Command } from 'commander';
import { UserError } from '../ops/user-error.js';
import {
  labelStudioFromEnv,
  pollLabelStudio,
  projectOfCycle,
  syncLabelStudio,
  type AnnotationOutcome,
} from '../ops/label-studio.js';
import { type CliContext, PartialFailure } from './shared.js';

interface SyncOptions {
  project?: string;
  url?: string;
  tokenEnv?: string;
  since?: string;
  watch?: string;
  json?: boolean;
}

function line(o: AnnotationOutcome): string {
  const who = o.reviewer ?? '?';
  const what = `annotation ${o.annotationId} (${o.recordKey}, ${o.label ?? 'no label'}, ${who})`;
  return o.message ? `${what}: ${o.result}: ${o.message}\n` : `${what}: ${o.result}\n`;
}

function whole(raw: string | undefined, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new UserError(`${name} must be a whole number ≥ ${min}, not "${raw}"`);
  return n;
}

export function registerLabelStudioSync(labels: Command, { io, withClient, print }: CliContext): void {
  labels
    .command('sync-label-studio')
    .description(
      "answer a campaign's items from the annotations made in Label Studio since a cursor (the fallback when its webhook cannot reach Remedy)",
    )
    .argument('<cycle>', 'cycle ID')
    .option('--project <id>', 'the Label Studio project (default: the one titled "Remedy <cycle>-labeling")')
    .option('--url <url>', "Label Studio's base URL (default: LABEL_STUDIO_URL)")
    .option(
      '--token-env <name>',
      'the environment variable holding the API token (default: LABEL_STUDIO_API_KEY)',
    )
    .option(
      '--since <annotationId>',
      'only annotations after this one (the cursor the last sync printed)',
      '0',
    )
    .option('--watch <seconds>', 'keep polling every so many seconds until Ctrl-C')
    .option('--json', 'print JSON')
    .action(async (cycle: string, o: SyncOptions) => {
      const api = labelStudioFromEnv(io.env ?? process.env, {
        ...(o.url ? { url: o.url } : {}),
        ...(o.tokenEnv ? { tokenEnv: o.tokenEnv } : {}),
      });
      if (!api)
        throw new UserError(
          'where is Label Studio? Set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (or --url, --token-env)',
        );
      const since = whole(o.since, '--since', 0) ?? 0;
      const every = whole(o.watch, '--watch', 1);
      await withClient(async ({ client }) => {
        const projectId = await projectOfCycle(api, cycle, whole(o.project, '--project', 1));
        if (every !== undefined) {
          const signal = io.signal ?? new AbortController().signal;
          const cursor = await pollLabelStudio(client, api, {
            projectId,
            since,
            cycleId: cycle,
            intervalMs: every * 1000,
            signal,
            onOutcome: (x) => io.out(o.json ? `${JSON.stringify(x)}\n` : line(x)),
            onError: (err) => io.err(`${err.message}; trying again in ${every} s\n`),
          });
          io.out(o.json ? `${JSON.stringify({ cursor })}\n` : `cursor: ${cursor}\n`);
          return;
        }
        const r = await syncLabelStudio(client, api, { projectId, since, cycleId: cycle });
        print(
          o.json,
          r,
          `${r.outcomes.map(line).join('')}cursor: ${r.cursor} (next time: --since ${r.cursor})\n`,
        );
        if (r.outcomes.some((x) => x.result === 'refused')) throw new PartialFailure();
      });
    });
}
