import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { AesGcmCodec, ENCODING, parseCodecKeys } from '../../codec/codec.js';
import { startCodecServer } from '../../codec/server.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const plain = defaultPayloadConverter.toPayload({ features: { location: 'Seattle' }, label: 'rain' });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('AES-256-GCM payload codec', () => {
  it('given a payload, then the stored form holds no plaintext and names its key; decoding gives it back', async () => {
    const codec = new AesGcmCodec([k1]);
    const [sealed] = await codec.encode([plain]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCODING);
    expect(text(sealed!.metadata!['encryption-key-id'])).toBe('k1');
    expect(Buffer.from(sealed!.data!).includes('Seattle')).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({
      features: { location: 'Seattle' },
      label: 'rain',
    });
  });

  it('given rotated keys, then new payloads use the first key and old ones still decode', async () => {
    const [old] = await new AesGcmCodec([k1]).encode([plain]);
    const rotated = new AesGcmCodec([k2, k1]);
    const [fresh] = await rotated.encode([plain]);
    expect(text(fresh!.metadata!['encryption-key-id'])).toBe('k2');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toMatchObject({
      label: 'rain',
    });
  });

  it('given a key that is gone or a payload that was altered, then decoding refuses and says why', async () => {
    const [sealed] = await new AesGcmCodec([k1]).encode([plain]);
    await expect(new AesGcmCodec([k2]).decode([sealed!])).rejects.toThrow(
      /encrypted with key "k1", which this process does not have: add it to REMEDY_CODEC_KEYS/,
    );
    const tampered = { ...sealed!, data: Buffer.from(sealed!.data!).map((b, i) => (i === 40 ? b ^ 1 : b)) };
    await expect(new AesGcmCodec([k1]).decode([tampered])).rejects.toThrow(/does not authenticate/);
  });

  it('given plain payloads (written before encryption was on), then they pass through', async () => {
    expect(await new AesGcmCodec([k1]).decode([plain])).toEqual([plain]);
  });

  it('given REMEDY_CODEC_KEYS, then keys parse in order and bad entries are named', () => {
    const keys = parseCodecKeys(`k2:${k2.key.toString('base64')}, k1:${k1.key.toString('base64')}`);
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(() => parseCodecKeys('just-a-key')).toThrow(/entry 1 is not "<key id>:<base64 key>"/);
    expect(() => parseCodecKeys(`k:${randomBytes(16).toString('base64')}`)).toThrow(
      /is 16 bytes; it must be 32/,
    );
  });
});

describe('codec server', () => {
  it('given a token, then /decode answers only with it, and decodes what the codec encoded', async () => {
    const codec = new AesGcmCodec([k1]);
    const server = await startCodecServer(codec, { token: 'secret' });
    try {
      const [sealed] = await codec.encode([plain]);
      const body = JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(sealed!.data!).toString('base64'),
          },
        ],
      });
      const post = (headers: Record<string, string>) =>
        fetch(`${server.url}/decode`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
      expect((await post({})).status).toBe(401);
      // Only the exact header: not another token of the same length, a prefix, a longer one, or another scheme.
      for (const authorization of [
        'Bearer secreT',
        'Bearer secre',
        'Bearer secret2',
        'Bearer  secret',
        'bearer secret',
        'secret',
        '',
      ])
        expect((await post({ authorization })).status, authorization).toBe(401);
      const ok = await post({ authorization: 'Bearer secret' });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
      const decoded = (await ok.json()) as { payloads: { data: string }[] };
      expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString('utf8')).toContain('Seattle');
      const bad = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers: { authorization: 'Bearer secret' },
        body: '{"nope":1}',
      });
      expect(bad.status).toBe(400);
    } finally {
      await server.close();
    }
  });
});
