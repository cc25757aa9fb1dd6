/**
 * `remedy clients …`: the API clients allowed to write to the serving gateway (feedback, corrections,
 * and predict where REMEDY_GATEWAY_AUTH_PREDICT=1). A key is printed once, when the client is added;
 * only its SHA-256 is stored.
 */
import type { Command } from 'commander';
import * as db from '../db/index.js';
import { addApiClient, CLIENT_NAME } from '../gateway/auth.js';
import { UserError } from '../ops/user-error.js';
import type { CliContext } from './shared.js';

export function registerClientCommands(program: Command, { io, print }: CliContext): void {
  const clients = program
    .command('clients')
    .description("the serving gateway's API clients: who may post feedback and corrections");
  const withPool = async <T>(fn: (pool: Awaited<ReturnType<typeof io.database>>['pool']) => Promise<T>) => {
    const { pool, close } = await io.database();
    try {
      return await fn(pool);
    } finally {
      await close();
    }
  };
  clients
    .command('add')
    .description('add a client and print its API key (shown this once: store it now)')
    .argument('<name>', 'client name, e.g. the service that sends feedback')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) =>
      withPool(async (pool) => {
        const key = await addApiClient(pool, name).catch((err: unknown) => {
          throw new UserError((err as Error).message);
        });
        print(
          o.json,
          { clientId: name, apiKey: key },
          [
            `client "${name}" added. Its API key, shown this once (store it now; only its hash is kept):`,
            `  ${key}`,
            `Send it to the gateway as: Authorization: Bearer <key>`,
            '',
          ].join('\n'),
        );
      }),
    );
  clients
    .command('list')
    .description('the clients, when they were added and whether they are revoked')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) =>
      withPool(async (pool) => {
        const rows = await db.listApiClients(pool);
        const value = rows.map((r) => ({
          clientId: r.clientId,
          createdAt: r.createdAt.toISOString(),
          revokedAt: r.revokedAt?.toISOString() ?? null,
        }));
        const text =
          value.length === 0
            ? 'no API clients: add one with "remedy clients add <name>"\n'
            : value
                .map(
                  (c) =>
                    `${c.clientId}\tadded ${c.createdAt}\t${c.revokedAt ? `REVOKED ${c.revokedAt}` : 'active'}`,
                )
                .join('\n') + '\n';
        print(o.json, value, text);
      }),
    );
  clients
    .command('revoke')
    .description("revoke a client's key: its writes get 401 from the next request on")
    .argument('<name>', 'client name')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) =>
      withPool(async (pool) => {
        if (!CLIENT_NAME.test(name)) throw new UserError(`"${name}" is not a client name`);
        const at = await db.revokeApiClient(pool, name);
        if (!at) throw new UserError(`no API client "${name}": see "remedy clients list"`);
        print(
          o.json,
          { clientId: name, revokedAt: at.toISOString() },
          `client "${name}" revoked (${at.toISOString()})\n`,
        );
      }),
    );
}
