/**
 * A local OIDC issuer for identity tests: a loopback server publishing one RS256 key (discovery document
 * and JWKS), and tokens signed by it, or by a key it does not publish (a forgery).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

export const AUDIENCE = 'remedy';

export interface LocalIssuer {
  url: string;
  /** A token naming `name`; `forged` signs it with an unpublished key, `exp` sets its expiry. */
  token(name: string, opts?: { forged?: boolean; exp?: number | string }): Promise<string>;
  /** The environment of a CLI or review page that verifies against this issuer. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function startLocalIssuer(): Promise<LocalIssuer> {
  const pair = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let url = '';
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      return res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }));
    if (req.url === '/keys') return res.end(JSON.stringify({ keys: [jwk] }));
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (key: CryptoKey, name: string, exp: number | string) =>
    new SignJWT({ preferred_username: name })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject(`id-${name}`)
      .setIssuer(url)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key);
  return {
    url,
    token: (name, opts = {}) =>
      sign(opts.forged ? other.privateKey : pair.privateKey, name, opts.exp ?? '5m'),
    env: (extra = {}) => ({
      REMEDY_AUTH: 'jwt',
      REMEDY_OIDC_ISSUER: url,
      REMEDY_OIDC_AUDIENCE: AUDIENCE,
      ...extra,
    }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
