/**
 * Identity against a local OIDC issuer (a loopback HTTP server publishing its discovery document and
 * keys, signing tokens with them): verified names from good tokens, clear refusals of bad ones, and the
 * identity header believed only from configured proxies.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../infra/config.js';
import { createIdentify, IdentityError, loadIdentityConfig, type Identify } from '../../infra/identity.js';

let issuerServer: http.Server;
let issuer: string;
let signingKey: CryptoKey;
let otherKey: CryptoKey;
let probe: http.Server;
let probeUrl: string;
let identify: Identify;
let jwksRequests = 0;

beforeAll(async () => {
  ({ privateKey: signingKey } = await generateKeyPair('RS256', { extractable: true }).then(async (k) => {
    const jwk = { ...(await exportJWK(k.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    issuerServer = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      if (req.url === '/keys') {
        jwksRequests++;
        return res.end(JSON.stringify({ keys: [jwk] }));
      }
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
    return k;
  }));
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  // A server that answers with the identity its caller proved, or the refusal.
  probe = http.createServer((req, res) => {
    identify(req, new URL(req.url!, 'http://x').searchParams.get('reviewer')).then(
      (who) => res.end(JSON.stringify({ status: 200, who })),
      (err: unknown) =>
        res.end(
          JSON.stringify(
            err instanceof IdentityError
              ? { status: err.status, error: err.message }
              : { status: 500, error: String(err) },
          ),
        ),
    );
  });
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  probeUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => probe?.close(r));
  await new Promise((r) => issuerServer?.close(r));
});

const token = (
  claims: Record<string, unknown>,
  opts: { key?: CryptoKey; exp?: string; iss?: string; aud?: string } = {},
) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(opts.iss ?? issuer)
    .setAudience(opts.aud ?? 'remedy-review')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .sign(opts.key ?? signingKey);

async function call(
  headers: Record<string, string> = {},
  query = '',
): Promise<{ status: number; who?: unknown; error?: string }> {
  const res = await fetch(`${probeUrl}/${query}`, { headers });
  return (await res.json()) as { status: number; who?: unknown; error?: string };
}

describe('REMEDY_AUTH=jwt', () => {
  beforeAll(() => {
    identify = createIdentify(
      loadIdentityConfig({
        REMEDY_AUTH: 'jwt',
        REMEDY_OIDC_ISSUER: issuer,
        REMEDY_OIDC_AUDIENCE: 'remedy-review',
      }),
    );
  });

  it('given a token from the issuer, then the name is its preferred_username, verified', async () => {
    const r = await call({
      authorization: `Bearer ${await token({ sub: 'u-1', preferred_username: 'alice' })}`,
    });
    expect(r).toEqual({
      status: 200,
      who: { name: 'alice', verifiedBy: 'jwt', issuer, subject: 'u-1' },
    });
    expect(jwksRequests).toBeGreaterThan(0);
  });

  it.each([
    [
      'no token, only the header a proxy would set',
      () => Promise.resolve({ 'x-remedy-reviewer': 'alice' }),
      401,
      /send "Authorization: Bearer <token>"/,
    ],
    [
      'an expired token',
      async () => ({ authorization: `Bearer ${await token({ sub: 'u' }, { exp: '-1m' })}` }),
      401,
      /has expired/,
    ],
    [
      'a token for another audience',
      async () => ({ authorization: `Bearer ${await token({ sub: 'u' }, { aud: 'other' })}` }),
      401,
      /"aud" claim is wrong/,
    ],
    [
      'a token from another issuer',
      async () => ({ authorization: `Bearer ${await token({ sub: 'u' }, { iss: 'https://evil.example' })}` }),
      401,
      /"iss" claim is wrong/,
    ],
    [
      'a token signed with another key',
      async () => ({ authorization: `Bearer ${await token({ sub: 'u' }, { key: otherKey })}` }),
      401,
      /signature does not verify/,
    ],
    [
      'a token with alg none',
      () =>
        Promise.resolve({
          authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', iss: issuer, aud: 'remedy-review' })).toString('base64url')}.`,
        }),
      401,
      /refused/,
    ],
    ['garbage', () => Promise.resolve({ authorization: 'Bearer not-a-jwt' }), 401, /not a valid JWT/],
  ])('given %s, then it is refused and says why', async (_what, headers, status, message) => {
    const r = await call(await headers());
    expect(r.status).toBe(status);
    expect(r.error).toMatch(message);
  });
});

describe('REMEDY_AUTH=proxy', () => {
  it('given the header from a trusted proxy address, then the name is taken', async () => {
    identify = createIdentify(
      loadIdentityConfig({ REMEDY_AUTH: 'proxy', REMEDY_TRUSTED_PROXIES: '127.0.0.0/8' }),
    );
    expect(await call({ 'x-remedy-reviewer': 'bob' })).toEqual({
      status: 200,
      who: { name: 'bob', verifiedBy: 'trusted-proxy' },
    });
    expect(await call({}, '?reviewer=bob')).toMatchObject({
      status: 401,
      error: expect.stringMatching(/no X-Remedy-Reviewer header/) as string,
    });
  });

  it('given the header from an address that is not a configured proxy, then it is refused', async () => {
    identify = createIdentify(
      loadIdentityConfig({ REMEDY_AUTH: 'proxy', REMEDY_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.5' }),
    );
    const r = await call({ 'x-remedy-reviewer': 'mallory' });
    expect(r.status).toBe(403);
    expect(r.error).toMatch(/127\.0\.0\.1 is not one/);
  });
});

describe('REMEDY_AUTH=open (the default)', () => {
  it('given the header or ?reviewer=, then the name is taken and recorded as unverified', async () => {
    identify = createIdentify(loadIdentityConfig({}));
    expect(await call({ 'x-remedy-reviewer': 'carol' })).toEqual({
      status: 200,
      who: { name: 'carol', verifiedBy: 'unverified' },
    });
    expect(await call({}, '?reviewer=dave')).toEqual({
      status: 200,
      who: { name: 'dave', verifiedBy: 'unverified' },
    });
    expect(await call()).toEqual({ status: 200, who: null });
  });
});

describe('configuration', () => {
  it.each([
    [{ REMEDY_AUTH: 'jwt', REMEDY_OIDC_AUDIENCE: 'a' }, /REMEDY_AUTH=jwt needs REMEDY_OIDC_ISSUER/],
    [{ REMEDY_AUTH: 'jwt', REMEDY_OIDC_ISSUER: 'https://id.example.com' }, /REMEDY_OIDC_AUDIENCE/],
    [{ REMEDY_AUTH: 'proxy' }, /REMEDY_AUTH=proxy needs REMEDY_TRUSTED_PROXIES/],
    [
      { REMEDY_AUTH: 'proxy', REMEDY_TRUSTED_PROXIES: '10.0.0.0/33' },
      /"10\.0\.0\.0\/33" is not an IP address or CIDR range/,
    ],
    [{ REMEDY_AUTH: 'oauth' }, /REMEDY_AUTH is jwt, proxy or open/],
  ])('given %j, then the process refuses to start and says what to set', (env, message) => {
    expect(() => loadIdentityConfig(env)).toThrow(ConfigError);
    expect(() => loadIdentityConfig(env)).toThrow(message);
  });
});
