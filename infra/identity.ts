/**
 * Who is calling: the identity the review page, the codec server and approvals record. Three modes,
 * chosen by REMEDY_AUTH:
 *
 * - `jwt`: an OIDC bearer token (`Authorization: Bearer …`) verified against the issuer's published keys
 *   (REMEDY_OIDC_ISSUER, its discovery document or REMEDY_OIDC_JWKS_URL), audience REMEDY_OIDC_AUDIENCE;
 *   the name is the REMEDY_OIDC_NAME_CLAIM claim (default `preferred_username`, then `email`, then `sub`).
 *   Identity headers are ignored.
 * - `proxy`: the REMEDY_IDENTITY_HEADER header (default `X-Remedy-Reviewer`) set by an authenticating
 *   proxy, accepted only from the addresses in REMEDY_TRUSTED_PROXIES (IPs or CIDR ranges).
 * - `open` (the default, for a laptop or a trusted network): the header or `?reviewer=` as given, recorded
 *   as unverified.
 */
import type http from 'node:http';
import net from 'node:net';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { ConfigError } from './config.js';

export interface Identity {
  /** The name recorded with labels, approvals and decisions. */
  name: string;
  /** How it was established. */
  verifiedBy: 'jwt' | 'trusted-proxy' | 'unverified';
  /** The token's issuer and subject, for `jwt`. */
  issuer?: string;
  subject?: string;
}

/** A request whose identity is missing (401) or not acceptable (403); the message says what to send. */
export class IdentityError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

export type IdentityConfig =
  | {
      mode: 'jwt';
      issuer: string;
      audience: string;
      jwksUrl: string | undefined;
      nameClaim: string;
    }
  | { mode: 'proxy'; header: string; trustedProxies: string[] }
  | { mode: 'open'; header: string };

const IdentityEnv = z
  .object({
    REMEDY_AUTH: z
      .enum(['jwt', 'proxy', 'open'], { error: 'REMEDY_AUTH is jwt, proxy or open' })
      .default('open'),
    REMEDY_OIDC_ISSUER: z
      .url({ error: 'REMEDY_OIDC_ISSUER is the issuer URL, e.g. https://id.example.com' })
      .optional(),
    REMEDY_OIDC_AUDIENCE: z.string().min(1).optional(),
    REMEDY_OIDC_JWKS_URL: z.url({ error: 'REMEDY_OIDC_JWKS_URL is a URL' }).optional(),
    REMEDY_OIDC_NAME_CLAIM: z.string().min(1).default('preferred_username'),
    REMEDY_IDENTITY_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'REMEDY_IDENTITY_HEADER is a header name, e.g. X-Remedy-Reviewer')
      .default('X-Remedy-Reviewer'),
    REMEDY_TRUSTED_PROXIES: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (e.REMEDY_AUTH === 'jwt') {
      if (!e.REMEDY_OIDC_ISSUER)
        ctx.addIssue({
          code: 'custom',
          path: ['REMEDY_OIDC_ISSUER'],
          message: 'REMEDY_AUTH=jwt needs REMEDY_OIDC_ISSUER',
        });
      if (!e.REMEDY_OIDC_AUDIENCE)
        ctx.addIssue({
          code: 'custom',
          path: ['REMEDY_OIDC_AUDIENCE'],
          message: 'REMEDY_AUTH=jwt needs REMEDY_OIDC_AUDIENCE (the client ID tokens are issued for)',
        });
    }
    if (e.REMEDY_AUTH === 'proxy' && !e.REMEDY_TRUSTED_PROXIES?.trim())
      ctx.addIssue({
        code: 'custom',
        path: ['REMEDY_TRUSTED_PROXIES'],
        message:
          "REMEDY_AUTH=proxy needs REMEDY_TRUSTED_PROXIES, the proxies' addresses (e.g. 10.0.0.0/8,192.168.1.5)",
      });
    for (const p of proxyList(e.REMEDY_TRUSTED_PROXIES))
      if (!parseProxy(p))
        ctx.addIssue({
          code: 'custom',
          path: ['REMEDY_TRUSTED_PROXIES'],
          message: `REMEDY_TRUSTED_PROXIES: "${p}" is not an IP address or CIDR range`,
        });
  });

const proxyList = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');

function parseProxy(p: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, bits] = p.split('/');
  const kind = net.isIP(address ?? '');
  if (kind === 0) return null;
  const family = kind === 4 ? 'ipv4' : 'ipv6';
  const max = kind === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address: address!, prefix, family };
}

export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  const parsed = IdentityEnv.safeParse(env);
  if (!parsed.success)
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })),
    );
  const e = parsed.data;
  if (e.REMEDY_AUTH === 'jwt')
    return {
      mode: 'jwt',
      issuer: e.REMEDY_OIDC_ISSUER!,
      audience: e.REMEDY_OIDC_AUDIENCE!,
      jwksUrl: e.REMEDY_OIDC_JWKS_URL,
      nameClaim: e.REMEDY_OIDC_NAME_CLAIM,
    };
  if (e.REMEDY_AUTH === 'proxy')
    return {
      mode: 'proxy',
      header: e.REMEDY_IDENTITY_HEADER,
      trustedProxies: proxyList(e.REMEDY_TRUSTED_PROXIES),
    };
  return { mode: 'open', header: e.REMEDY_IDENTITY_HEADER };
}

/** Resolves a request's identity; null when none was given (open mode only); IdentityError otherwise. */
export type Identify = (req: http.IncomingMessage, fallbackName?: string | null) => Promise<Identity | null>;

export function createIdentify(cfg: IdentityConfig): Identify {
  if (cfg.mode === 'jwt') return jwtIdentify(cfg);
  const header = cfg.header.toLowerCase();
  const named = (req: http.IncomingMessage): string | undefined => {
    const v = req.headers[header];
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  if (cfg.mode === 'open')
    return (req, fallbackName) => {
      const name = named(req) ?? fallbackName ?? null;
      return Promise.resolve(name === null ? null : { name, verifiedBy: 'unverified' });
    };
  const trusted = new net.BlockList();
  for (const p of cfg.trustedProxies) {
    const { address, prefix, family } = parseProxy(p)!;
    trusted.addSubnet(address, prefix, family);
  }
  return (req) => {
    const from = peerAddress(req);
    if (!from || !trusted.check(from.address, from.family))
      return Promise.reject(
        new IdentityError(
          403,
          `requests must come through the authenticating proxy (REMEDY_TRUSTED_PROXIES); ${from?.address ?? 'this address'} is not one`,
        ),
      );
    const name = named(req);
    if (!name)
      return Promise.reject(new IdentityError(401, `the proxy sent no ${cfg.header} header: who is this?`));
    return Promise.resolve({ name, verifiedBy: 'trusted-proxy' });
  };
}

function peerAddress(req: http.IncomingMessage): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const raw = req.socket.remoteAddress;
  if (!raw) return null;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(raw)?.[1];
  if (v4) return { address: v4, family: 'ipv4' };
  return { address: raw, family: net.isIPv4(raw) ? 'ipv4' : 'ipv6' };
}

/** Verifies a bearer token; resolves to its holder's identity, or rejects with an IdentityError. */
export type VerifyToken = (token: string) => Promise<Identity>;

/**
 * Verifies tokens against the issuer's keys (fetched once, on first use) and names their holder: the
 * configured claim, then `email`, then `sub`. The review page, the codec server and the CLI use it.
 */
export function createTokenVerifier(cfg: Extract<IdentityConfig, { mode: 'jwt' }>): VerifyToken {
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  const keySet = async () => {
    if (keys) return keys;
    const url = cfg.jwksUrl ?? (await discoverJwksUrl(cfg.issuer));
    keys = createRemoteJWKSet(new URL(url));
    return keys;
  };
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keySet(), {
        issuer: cfg.issuer,
        audience: cfg.audience,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
      }));
    } catch (err) {
      throw new IdentityError(401, `the bearer token was refused: ${tokenProblem(err)}`);
    }
    const name = [payload[cfg.nameClaim], payload['email'], payload.sub].find(
      (v): v is string => typeof v === 'string' && v !== '',
    );
    if (!name)
      throw new IdentityError(401, `the token names nobody: no ${cfg.nameClaim}, email or sub claim`);
    return { name, verifiedBy: 'jwt', issuer: cfg.issuer, ...(payload.sub ? { subject: payload.sub } : {}) };
  };
}

function jwtIdentify(cfg: Extract<IdentityConfig, { mode: 'jwt' }>): Identify {
  const verify = createTokenVerifier(cfg);
  return async (req) => {
    const auth = req.headers.authorization;
    const token = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
    if (!token)
      throw new IdentityError(401, `send "Authorization: Bearer <token>" with a token from ${cfg.issuer}`);
    return verify(token);
  };
}

function tokenProblem(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'it has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `its "${err.claim}" claim is wrong (${err.reason})`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'the issuer has no key with its key ID';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'its algorithm is not allowed';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid)
    return 'it is not a valid JWT';
  return err instanceof Error ? err.message : String(err);
}

async function discoverJwksUrl(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url);
  if (!res.ok) throw new IdentityError(401, `the issuer's discovery document ${url} answered ${res.status}`);
  const doc = z.object({ jwks_uri: z.url() }).safeParse(await res.json());
  if (!doc.success) throw new IdentityError(401, `the issuer's discovery document ${url} has no jwks_uri`);
  return doc.data.jwks_uri;
}
