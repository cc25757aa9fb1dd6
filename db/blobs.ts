/**
 * Content-addressed blobs (ONNX files, training sets for the Python worker, its checkpoints): the key is
 * the sha256 of the bytes, so a write is idempotent and a read can be verified.
 */
import { createHash } from 'node:crypto';
import { type Queryable } from './pool.js';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores the bytes under their sha256 (a no-op when they are already there) and returns it. */
export async function putBlob(q: Queryable, bytes: Uint8Array, mediaType: string): Promise<string> {
  const sha256 = sha256Hex(bytes);
  await q.query(
    `INSERT INTO model_blobs (sha256, media_type, size_bytes, bytes) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sha256) DO NOTHING`,
    [sha256, mediaType, bytes.byteLength, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
  );
  return sha256;
}

/** The bytes stored under `sha256`, checked against it; null when there are none. */
export async function getBlob(q: Queryable, sha256: string): Promise<Buffer | null> {
  const { rows } = await q.query<{ bytes: Buffer }>('SELECT bytes FROM model_blobs WHERE sha256 = $1', [
    sha256,
  ]);
  const bytes = rows[0]?.bytes;
  if (bytes === undefined) return null;
  if (sha256Hex(bytes) !== sha256)
    throw new Error(`blob ${sha256} is corrupt: its bytes hash to ${sha256Hex(bytes)}`);
  return bytes;
}
