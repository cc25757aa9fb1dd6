/**
 * Who the `remedy` program acts for when it labels, approves or steers a cycle (`--reviewer`,
 * `--approver`, `--actor`), by REMEDY_AUTH (the same variable and
 * verifier as the review page, infra/identity.ts):
 *
 * - `jwt`: the person named by the token in REMEDY_TOKEN (or the file REMEDY_TOKEN_FILE), verified
 *   against REMEDY_OIDC_ISSUER's keys for REMEDY_OIDC_AUDIENCE. `--approver`/`--reviewer`/`--actor` may be
 *   left out; given and different from the token's name, the command is refused and nothing is sent. No
 *   token, or a token that does not verify (expired, forged, another issuer or audience): refused.
 * - `open` (the default): the name typed with the option, recorded as `unverified`.
 * - `proxy`: refused: the CLI does not pass through the authenticating proxy, so nothing vouches for
 *   the name. Use a token (REMEDY_AUTH=jwt), or set REMEDY_AUTH=open for the command to record the
 *   name as unverified.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { createTokenVerifier, IdentityError, loadIdentityConfig } from '../infra/identity.js';
import { UserError } from '../ops/user-error.js';

/** How `--actor`/`--approver` read in help. */
export const WHO_DECIDES =
  'who decides (with REMEDY_AUTH=jwt: taken from REMEDY_TOKEN; given, it must match)';

/** The person a command acts for and how that was established. */
export interface ActingPerson {
  name: string;
  verifiedBy: 'jwt' | 'unverified';
}

/**
 * The person to record for a command, from the verified token when REMEDY_AUTH=jwt and from `typed`
 * (the value of `option`) when REMEDY_AUTH=open. Throws a UserError that says what to do otherwise.
 */
export async function actingPerson(
  env: NodeJS.ProcessEnv,
  typed: string | undefined,
  option: '--approver' | '--reviewer' | '--actor',
): Promise<ActingPerson> {
  const cfg = loadIdentityConfig(env);
  if (cfg.mode === 'open') {
    if (typed === undefined || typed.trim() === '')
      throw new UserError(
        `say who you are with ${option} <name> (REMEDY_AUTH=open: the name is recorded as unverified), or set REMEDY_AUTH=jwt and REMEDY_TOKEN to act as a verified person`,
      );
    return { name: typed, verifiedBy: 'unverified' };
  }
  if (cfg.mode === 'proxy')
    throw new UserError(
      'REMEDY_AUTH=proxy identifies people on the review page only: the CLI does not pass through the proxy. ' +
        'Set REMEDY_AUTH=jwt with a token in REMEDY_TOKEN, or REMEDY_AUTH=open to record the name as unverified',
    );
  const token = await tokenFrom(env, cfg.issuer);
  let who;
  try {
    who = await createTokenVerifier(cfg)(token);
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    throw new UserError(
      `${err.message.replace(/^the bearer token/, 'REMEDY_TOKEN')}: get a fresh token from ${cfg.issuer} (audience ${cfg.audience}); nothing was sent`,
    );
  }
  if (typed !== undefined && typed !== who.name)
    throw new UserError(
      `${option} "${typed}" is not who REMEDY_TOKEN says you are ("${who.name}", verified by ${cfg.issuer}): ` +
        `leave ${option} out, or use a token of ${typed}'s own; nothing was sent`,
    );
  return { name: who.name, verifiedBy: 'jwt' };
}

async function tokenFrom(env: NodeJS.ProcessEnv, issuer: string): Promise<string> {
  let token = env.REMEDY_TOKEN?.trim();
  if (!token && env.REMEDY_TOKEN_FILE) {
    try {
      token = (await readFile(env.REMEDY_TOKEN_FILE, 'utf8')).trim();
    } catch (err) {
      throw new UserError(
        `cannot read REMEDY_TOKEN_FILE ${env.REMEDY_TOKEN_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  if (!token)
    throw new UserError(
      `REMEDY_AUTH=jwt: the CLI acts only for a verified person: set REMEDY_TOKEN (or REMEDY_TOKEN_FILE) to your token from ${issuer}`,
    );
  return token;
}

/** The person a command acts as when none is named: REMEDY_AUTHOR, else the operating-system user. */
export function defaultPerson(): string {
  const fromEnv = process.env['REMEDY_AUTHOR']?.trim();
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
