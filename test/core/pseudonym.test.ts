/**
 * Keyed pseudonymisation: the dictionary attack that recovered values masked with an unkeyed 32-bit
 * hash (salted with the public model ID) recovers nothing from keyed tokens; tokens are stable within a
 * key, change with the key, and carry 128 bits, where the old digest had 32 (collisions from ~77,000 values).
 */
import { describe, expect, it } from 'vitest';
import { createPseudonymiser, parsePiiKeys, PiiKeyError } from '../../activities/pseudonym.js';

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const emails = Array.from({ length: 2000 }, (_, i) => `user${i}@example.org`);

/** The unkeyed digest Remedy used before: FNV-1a over "<model id>:<value>". */
function unkeyed(value: string, modelId: string): string {
  let h = 0x811c9dc5;
  const s = `${modelId}:${value}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return `masked:${h.toString(16).padStart(8, '0')}`;
}

/** An attacker with the dataset, the model ID and a dictionary of likely values: hash each guess, match. */
function dictionaryAttack(
  tokens: readonly string[],
  dictionary: readonly string[],
  guess: (v: string) => string,
) {
  const table = new Map(dictionary.map((d) => [guess(d), d]));
  return tokens.map((t) => table.get(t)).filter((v) => v !== undefined);
}

describe('keyed pseudonymisation', () => {
  it('given the old unkeyed digests, then a dictionary recovers every value; given keyed tokens, then it recovers none', () => {
    const oldTokens = emails.map((e) => unkeyed(e, 'weather'));
    expect(dictionaryAttack(oldTokens, emails, (v) => unkeyed(v, 'weather'))).toHaveLength(emails.length);

    const pseudonymise = createPseudonymiser(parsePiiKeys(`p1:${key(1)}`));
    const tokens = emails.map(pseudonymise);
    // The attacker tries the old scheme, and the new one under keys it can guess (empty, the model ID).
    const guesses = [
      (v: string) => unkeyed(v, 'weather'),
      createPseudonymiser([{ id: 'p1', key: Buffer.alloc(0) }]),
      createPseudonymiser([{ id: 'p1', key: Buffer.from('weather') }]),
    ];
    for (const guess of guesses) expect(dictionaryAttack(tokens, emails, guess)).toEqual([]);
  });

  it('given one key, then the same value maps to the same token; given a rotated key, then to another, named by its key ID', () => {
    const p1 = createPseudonymiser(parsePiiKeys(`p1:${key(1)}`));
    const rotated = createPseudonymiser(parsePiiKeys(`p2:${key(2)},p1:${key(1)}`));
    expect(p1('alice@example.org')).toBe(p1('alice@example.org'));
    expect(p1('alice@example.org')).not.toBe(p1('bob@example.org'));
    expect(p1(42)).toBe(p1('42'));
    expect(rotated('alice@example.org')).toMatch(/^pii:p2:/);
    expect(rotated('alice@example.org')).not.toBe(p1('alice@example.org').replace('p1', 'p2'));
  });

  it('given 100,000 distinct values, more than a 32-bit digest holds without collisions, then no two keyed tokens collide', () => {
    const values = Array.from({ length: 100_000 }, (_, i) => `customer-${i}@example.org`);
    const pseudonymise = createPseudonymiser(parsePiiKeys(`p1:${key(3)}`));
    expect(new Set(values.map(pseudonymise)).size).toBe(values.length);
  });

  it.each([
    ['', /is empty/],
    ['p1', /entry 1 is not "<key id>:<base64 key>"/],
    [`p1:${Buffer.alloc(16).toString('base64')}`, /key "p1" is 16 bytes; it must be at least 32/],
    [`p1:${key(1)},p1:${key(2)}`, /names a key ID twice/],
  ])('given REMEDY_PII_KEYS=%j, then it is refused and says what is wrong', (raw, message) => {
    expect(() => parsePiiKeys(raw)).toThrow(PiiKeyError);
    expect(() => parsePiiKeys(raw)).toThrow(message);
  });
});
