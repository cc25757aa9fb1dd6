/**
 * Payload encryption: an AES-256-GCM payload codec with a key id in each payload's metadata, so keys can
 * rotate (encrypt with the first key, decrypt with any key still listed). Client and worker use it when
 * REMEDY_CODEC_KEYS is set; failure messages and stack traces are encoded too, so they are encrypted.
 *
 *   REMEDY_CODEC_KEYS="k2:<base64 32 bytes>,k1:<base64 32 bytes>"    # the first key encrypts
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
// @temporalio/proto is CommonJS: Node's ESM loader gives it as the default export.
import proto from '@temporalio/proto';

const { temporal } = proto;

export const ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const CIPHER = 'AES-256-GCM';

export interface CodecKey {
  id: string;
  key: Buffer;
}

export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : '');

export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  constructor(private readonly keys: readonly CodecKey[]) {
    if (keys.length === 0) throw new CodecKeyError('the payload codec needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32)
        throw new CodecKeyError(
          `key "${k.id}" is ${k.key.length} bytes; AES-256 needs 32 (base64 of 32 random bytes)`,
        );
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return Promise.resolve(
      payloads.map((payload) => {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        const plain = temporal.api.common.v1.Payload.encode(payload).finish();
        const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
        return {
          metadata: { encoding: utf8(ENCODING), [KEY_ID]: utf8(id), 'encryption-cipher': utf8(CIPHER) },
          data: Buffer.concat([iv, cipher.getAuthTag(), sealed]),
        };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    // A refusal is a rejected promise, never a synchronous throw.
    return new Promise((resolve) =>
      resolve(
        payloads.map((payload) => {
          if (text(payload.metadata?.encoding) !== ENCODING) return payload;
          const id = text(payload.metadata?.[KEY_ID]);
          const key = this.byId.get(id);
          if (!key)
            throw new CodecKeyError(
              `a payload is encrypted with key "${id}", which this process does not have: add it to REMEDY_CODEC_KEYS`,
            );
          const data = Buffer.from(payload.data ?? new Uint8Array());
          if (data.length < 28) throw new CodecKeyError('an encrypted payload is too short to be one');
          const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
          decipher.setAuthTag(data.subarray(12, 28));
          let plain: Buffer;
          try {
            plain = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
          } catch {
            throw new CodecKeyError(
              `a payload encrypted with key "${id}" does not authenticate: it was altered or the key is wrong`,
            );
          }
          return temporal.api.common.v1.Payload.decode(plain);
        }),
      ),
    );
  }
}

/** Parses "id:base64,id:base64" (the first encrypts). Errors name the entry and say what to write. */
export function parseCodecKeys(raw: string): CodecKey[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry, i) => {
      const m = /^([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9+/=]+)$/.exec(entry);
      if (!m) throw new CodecKeyError(`REMEDY_CODEC_KEYS entry ${i + 1} is not "<key id>:<base64 key>"`);
      const key = Buffer.from(m[2]!, 'base64');
      if (key.length !== 32)
        throw new CodecKeyError(
          `REMEDY_CODEC_KEYS key "${m[1]}" is ${key.length} bytes; it must be 32 (e.g. openssl rand -base64 32)`,
        );
      return { id: m[1]!, key };
    });
}

/** Where the workflow bundle finds the failure converter that encodes messages and stack traces. */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));

/** The data converter for client and worker: none without keys (plain payloads, as Temporal's default). */
export function dataConverterFor(keys: readonly CodecKey[]): DataConverter | undefined {
  if (keys.length === 0) return undefined;
  return { payloadCodecs: [new AesGcmCodec(keys)], failureConverterPath };
}

export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const raw = env.REMEDY_CODEC_KEYS;
  return raw ? dataConverterFor(parseCodecKeys(raw)) : undefined;
}
