/**
 * The Python worker's payload codec and Remedy's TypeScript one read each other's payloads: a payload
 * encrypted in Node decrypts in Python, and the reverse, with the same REMEDY_CODEC_KEYS.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AesGcmCodec, parseCodecKeys } from '../../codec/codec.js';
import { ensurePythonEnv, pythonWorkerDir } from '../../infra/python-env.js';

const { temporal } = proto;
const keysEnv = `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`;
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');
let python = '';

/** Runs `python -m remedy_worker.codec <op>` on the payloads (base64 of a Payloads message both ways). */
function pythonCodec(op: 'encode' | 'decode', payloads: Payload[], keys = keysEnv): Promise<Payload[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'remedy_worker.codec', op], {
      cwd: pythonWorkerDir,
      env: { ...process.env, REMEDY_CODEC_KEYS: keys },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`python codec exited ${code}: ${err.trim()}`));
      const message = temporal.api.common.v1.Payloads.decode(Buffer.from(out.trim(), 'base64'));
      resolve(message.payloads);
    });
    child.stdin.end(
      Buffer.from(temporal.api.common.v1.Payloads.encode({ payloads }).finish()).toString('base64'),
    );
  });
}

describe('payload codec, TypeScript and Python', () => {
  const codec = new AesGcmCodec(parseCodecKeys(keysEnv));
  const plain = defaultPayloadConverter.toPayload({
    features: { region: 'north', income: 41.5 },
    label: 'stay',
  });

  beforeAll(async () => {
    python = (await ensurePythonEnv()).python;
  });

  it('given a payload Node encrypted, then Python decrypts it to the same payload', async () => {
    const [sealed] = await codec.encode([plain]);
    const [opened] = await pythonCodec('decode', [sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({
      features: { region: 'north', income: 41.5 },
      label: 'stay',
    });
  });

  it('given a payload Python encrypted, then Node decrypts it, and it names the first key', async () => {
    const [sealed] = await pythonCodec('encode', [plain]);
    expect(text(sealed!.metadata!['encoding'])).toBe('binary/encrypted');
    expect(text(sealed!.metadata!['encryption-key-id'])).toBe('k2');
    expect(text(sealed!.metadata!['encryption-cipher'])).toBe('AES-256-GCM');
    expect(Buffer.from(sealed!.data!).includes('north')).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({
      features: { region: 'north', income: 41.5 },
      label: 'stay',
    });
  });

  it('given a payload under a key Python does not have, then Python refuses and names the key', async () => {
    const [sealed] = await codec.encode([plain]);
    const other = `k9:${randomBytes(32).toString('base64')}`;
    await expect(pythonCodec('decode', [sealed!], other)).rejects.toThrow(
      /encrypted with key "k2", which this process does not have: add it to REMEDY_CODEC_KEYS/,
    );
  });
});
