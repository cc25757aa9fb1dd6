/**
 * `remedy notify …`: trying a model's notification channels, and seeing what was delivered where.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { UserError } from '../ops/user-error.js';
import * as db from '../db/index.js';
import type { NotificationEvent } from '../core/notifications.js';
import { sendToChannel } from '../activities/notifications.js';
import type { CliContext } from './shared.js';

export function registerNotifyCommands(program: Command, ctx: CliContext): void {
  const notify = program
    .command('notify')
    .description(
      "a model's notification channels (policy notifications.channels): test them, see deliveries",
    );
  notifyTest(notify, ctx);
  notifyDeliveries(notify, ctx);
}

function notifyTest(notify: Command, { io, print }: CliContext): void {
  notify
    .command('test')
    .description("send a test event to each of the model's channels now and print each channel's result")
    .argument('<model>', 'model ID')
    .option('--timeout <seconds>', 'how long each channel may take to answer', '10')
    .option('--json', 'print JSON')
    .action(async (modelId: string, o: { timeout: string; json?: boolean }) => {
      const timeoutMs = Number(o.timeout) * 1000;
      if (!(timeoutMs > 0 && timeoutMs <= 120_000))
        throw new UserError(`--timeout ${o.timeout} is not a number of seconds in (0, 120]`);
      const { pool, close } = await io.database();
      let model;
      try {
        model = await db.getModel(pool, modelId);
      } finally {
        await close();
      }
      if (!model) throw new UserError(`model "${modelId}" is not registered (remedy models list shows them)`);
      const channels = model.policy.notifications.channels;
      if (channels.length === 0)
        throw new UserError(
          `model "${modelId}" has no notification channels: add policy.notifications.channels (see the README's "Notifications") and register it again`,
        );
      const run = randomBytes(4).toString('hex');
      const results = await Promise.all(
        channels.map(async (c) => {
          const event: NotificationEvent = {
            idempotencyKey: `test-${run}:${c.name}`,
            kind: 'test',
            modelId,
            cycleId: null,
            campaignId: null,
            recipients: [],
            message: `test notification from remedy notify test ${modelId}: the "${c.name}" channel works`,
            details: { test: true },
            createdAt: new Date().toISOString(),
          };
          const r = await sendToChannel(c, event, { env: process.env, timeoutMs });
          return { channel: c.name, type: c.type, ...r };
        }),
      );
      const lines = results.map((r) =>
        r.ok
          ? `${r.channel} (${r.type}): delivered, HTTP ${r.status}`
          : `${r.channel} (${r.type}): FAILED: ${r.error}`,
      );
      print(o.json, results, `${lines.join('\n')}\n`);
      const failed = results.filter((r) => !r.ok).length;
      if (failed > 0) throw new Error(`${failed} of ${results.length} channels failed the test`);
    });
}

function notifyDeliveries(notify: Command, { io, print }: CliContext): void {
  notify
    .command('deliveries')
    .description("a model's notifications and where each was delivered (pending, delivered, failed)")
    .argument('<model>', 'model ID')
    .option('--json', 'print JSON')
    .action(async (modelId: string, o: { json?: boolean }) => {
      const { pool, close } = await io.database();
      try {
        const rows = await db.modelDeliveries(pool, modelId);
        const text =
          rows.length === 0
            ? `no deliveries for ${modelId}\n`
            : `${rows
                .map(
                  (r) =>
                    `${r.eventKey}  ${r.kind}  → ${r.channel}: ${r.status} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'})${r.lastError ? `: ${r.lastError}` : ''}`,
                )
                .join('\n')}\n`;
        print(o.json, rows, text);
      } finally {
        await close();
      }
    });
}
