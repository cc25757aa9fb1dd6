/**
 * Keyed pseudonymisation of personal data in collected datasets (`collection.pii.mask`): HMAC-SHA-256
 * under a secret key from the worker's environment, so a token cannot be reversed by hashing a
 * dictionary of likely values without the key. Keys carry an ID so they can rotate:
 *
 *   REMEDY_PII_KEYS="p2:<base64, 32+ bytes>,p1:<base64>"     # the first key pseudonymises
 *
 * A token is `pii:<key id>:<22 base64url chars>` (128 bits of the MAC): the same value gives the same
 * token under one key, across models and cycles, so masked columns still join; collisions are
 * negligible (about 2^64 distinct values before the first expected one).
 */
import { createHmac } from 'node:crypto';

export interface PiiKey {
  id: string;
  key: Buffer;
}

export type Pseudonymiser = (value: string | number) => string;

export class PiiKeyError extends Error {}

/** Parses REMEDY_PII_KEYS; errors name the entry's position and key ID, never the key. */
export function parsePiiKeys(raw: string): PiiKey[] {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0)
    throw new PiiKeyError(
      'REMEDY_PII_KEYS is empty: give "<key id>:<base64 key>", e.g. p1:$(openssl rand -base64 32)',
    );
  const keys = entries.map((entry, i) => {
    const m = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=]+)$/.exec(entry);
    if (!m) throw new PiiKeyError(`REMEDY_PII_KEYS entry ${i + 1} is not "<key id>:<base64 key>"`);
    const key = Buffer.from(m[2]!, 'base64');
    if (key.length < 32)
      throw new PiiKeyError(
        `REMEDY_PII_KEYS key "${m[1]}" is ${key.length} bytes; it must be at least 32 (e.g. openssl rand -base64 32)`,
      );
    return { id: m[1]!, key };
  });
  const ids = new Set(keys.map((k) => k.id));
  if (ids.size !== keys.length) throw new PiiKeyError('REMEDY_PII_KEYS names a key ID twice');
  return keys;
}

/** The pseudonymiser of the first (current) key. */
export function createPseudonymiser(keys: readonly PiiKey[]): Pseudonymiser {
  const current = keys[0];
  if (!current) throw new PiiKeyError('no pseudonymisation key');
  return (value) => {
    const mac = createHmac('sha256', current.key).update(String(value), 'utf8').digest();
    return `pii:${current.id}:${mac.subarray(0, 16).toString('base64url')}`;
  };
}

/** The pseudonymiser configured by REMEDY_PII_KEYS, or undefined when it is unset. */
export function pseudonymiserFromEnv(env: NodeJS.ProcessEnv = process.env): Pseudonymiser | undefined {
  const raw = env['REMEDY_PII_KEYS'];
  return raw === undefined || raw.trim() === '' ? undefined : createPseudonymiser(parsePiiKeys(raw));
}
