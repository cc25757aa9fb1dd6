/**
 * The codec server as its own process: REMEDY_CODEC_KEYS (required), REMEDY_CODEC_PORT (default 8888),
 * REMEDY_CODEC_HOST (default 127.0.0.1), REMEDY_CODEC_TOKEN (optional bearer token),
 * REMEDY_CODEC_CORS_ORIGIN (default http://localhost:8233, the Web UI); with REMEDY_AUTH=jwt every call
 * must carry an OIDC token from REMEDY_OIDC_ISSUER (turn on the Web UI's "pass access token" for the codec
 * endpoint), see infra/identity.ts. Point the Web UI's codec endpoint
 * at it (Settings → Codec Server) or run `temporal workflow show --codec-endpoint http://127.0.0.1:8888`.
 */
import { AesGcmCodec, parseCodecKeys } from './codec.js';
import { createLogger } from '../infra/log.js';
import { createIdentify, loadIdentityConfig } from '../infra/identity.js';
import { startCodecServer } from './server.js';

const raw = process.env.REMEDY_CODEC_KEYS;
if (!raw) {
  console.error('REMEDY_CODEC_KEYS is required: "keyId:<base64 of 32 bytes>", the first encrypts');
  process.exit(1);
}
const codec = new AesGcmCodec(parseCodecKeys(raw));
let identity;
try {
  identity = loadIdentityConfig();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const port = Number(process.env.REMEDY_CODEC_PORT ?? 8888);
const server = await startCodecServer(codec, {
  port,
  host: process.env.REMEDY_CODEC_HOST ?? '127.0.0.1',
  ...(process.env.REMEDY_CODEC_TOKEN ? { token: process.env.REMEDY_CODEC_TOKEN } : {}),
  ...(process.env.REMEDY_CODEC_CORS_ORIGIN ? { corsOrigin: process.env.REMEDY_CODEC_CORS_ORIGIN } : {}),
  ...(identity.mode === 'jwt' ? { identify: createIdentify(identity) } : {}),
});
// Logs are JSON lines on stderr (infra/log.ts); the keys and the token are redacted from every line.
createLogger('codec').info({ url: server.url, auth: identity.mode }, 'codec server ready');
const stop = () => void server.close();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
