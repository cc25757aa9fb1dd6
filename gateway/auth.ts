/**
 * Credentials for the gateway's write endpoints: per-client API keys, stored as their SHA-256 in
 * `api_clients` (created with `remedy clients add <name>`, which prints the key once). A request sends
 * `Authorization: Bearer <key>`; a missing, unknown or revoked key gets 401 and nothing is written.
 * Lookups are cached and dropped on the `remedy_clients` notification, so a revocation applies at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import type pg from 'pg';
import * as db from '../db/index.js';
import { HttpError } from '../infra/http.js';
import { CLIENTS_CHANNEL, NotifiedCache, type ChangeFeed } from './serving-state.js';

export const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A new key: 32 random bytes, with a prefix that makes a leaked key easy to recognise. */
export function newApiKey(): string {
  return `rmd_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Creates a client and returns its key (the only time it is seen); an existing name is refused. */
export async function addApiClient(pool: pg.Pool, name: string): Promise<string> {
  if (!CLIENT_NAME.test(name))
    throw new Error(
      `"${name}" is not a client name: use letters, digits, ".", "_" or "-" (at most 63), starting with a letter or digit`,
    );
  const key = newApiKey();
  if (!(await db.insertApiClient(pool, name, hashApiKey(key))))
    throw new Error(
      `client "${name}" exists already: pick another name, or revoke it ("remedy clients revoke ${name}") and add a new one`,
    );
  return key;
}

/** Gives `name` a fresh key (creating the client if needed): what the dev stack does at each start. */
export async function rekeyApiClient(pool: pg.Pool, name: string): Promise<string> {
  const key = newApiKey();
  await db.rekeyApiClient(pool, name, hashApiKey(key));
  return key;
}

export type GatewayAuth = 'required' | 'off';

/** Reads REMEDY_GATEWAY_AUTH (`off` to serve without credentials) and REMEDY_GATEWAY_AUTH_PREDICT (`1`). */
export function gatewayAuthFromEnv(env: NodeJS.ProcessEnv = process.env): {
  auth: GatewayAuth;
  authPredict: boolean;
} {
  const mode = env.REMEDY_GATEWAY_AUTH ?? 'required';
  if (mode !== 'required' && mode !== 'off')
    throw new Error(`REMEDY_GATEWAY_AUTH="${mode}": use "required" (the default) or "off"`);
  const predict = env.REMEDY_GATEWAY_AUTH_PREDICT ?? '0';
  if (predict !== '0' && predict !== '1')
    throw new Error(`REMEDY_GATEWAY_AUTH_PREDICT="${predict}": use 1 (predict needs a key too) or 0`);
  return { auth: mode, authPredict: predict === '1' };
}

export class ApiKeyAuth {
  private readonly cache: NotifiedCache<string, { clientId: string; revoked: boolean } | null>;

  constructor(pool: pg.Pool, feed: ChangeFeed) {
    this.cache = new NotifiedCache(feed, (hash: string) => db.apiClientByKeyHash(pool, hash), {
      refreshMs: 30_000,
    });
    feed.onChange((channel) => {
      if (channel === CLIENTS_CHANNEL) this.cache.clear();
    });
    feed.onReset(() => this.cache.clear());
  }

  /** The client a request's bearer key belongs to; 401 otherwise. */
  async client(req: http.IncomingMessage): Promise<string> {
    const header = req.headers.authorization;
    if (!header)
      throw new HttpError(
        401,
        'missing credentials: send "Authorization: Bearer <api key>" (an operator creates a key with "remedy clients add <name>")',
      );
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m)
      throw new HttpError(401, 'malformed Authorization header: send "Authorization: Bearer <api key>"');
    const found = await this.cache.get(hashApiKey(m[1]!));
    if (!found)
      throw new HttpError(
        401,
        'unknown API key: check the key, or ask an operator for one ("remedy clients add <name>")',
      );
    if (found.revoked)
      throw new HttpError(
        401,
        `the API key of client "${found.clientId}" is revoked: ask an operator for a new one`,
      );
    return found.clientId;
  }
}
