/**
 * The `http` traffic router: Remedy asks the team's endpoint to hold a split, then reads it back.
 *
 * Wire contract (README, "Plugging Remedy into your stack"):
 *   POST <url>            body {modelId, championVersion, candidateVersion, weight, cycleId, step}
 *                         headers Idempotency-Key: <cycleId>:<weight>,
 *                                 X-Remedy-Signature: sha256=<hex HMAC-SHA256(key, raw body)>
 *                         any 2xx: accepted
 *   GET  <url>?modelId=   200 {modelId, championVersion, candidateVersion, weight}: the split in force
 * A timeout, a network error, 408, 429 or 5xx is tried again (same body, same key) up to `attempts`
 * times with a growing pause; any other answer, or a state read back that differs, is final.
 */
import { routerIdempotencyKey, routerName, routerStateDifferences } from '../core/rollout-adapters.js';
import type { HttpRouter, RouterRequest } from '../core/rollout-adapters.js';
import { signature } from './notifications.js';

/** The router cannot be trusted with this split: it refused, never answered, or holds another one. */
export class RouterRefused extends Error {}

/** Moves the team's router to `req` and checks that it holds it. Returns the requests it took. */
export async function applySplit(
  router: HttpRouter,
  req: RouterRequest,
  env: NodeJS.ProcessEnv,
): Promise<{ requests: number }> {
  const name = routerName(router);
  const key = env[router.secretEnv];
  if (!key)
    throw new RouterRefused(
      `${name}: ${router.secretEnv} is not set in the worker's environment: set it to the router's HMAC key (the policy names the variable, never the key)`,
    );
  const body = JSON.stringify({
    modelId: req.modelId,
    championVersion: req.championVersion,
    candidateVersion: req.candidateVersion,
    weight: req.weight,
    cycleId: req.cycleId,
    step: req.step,
  });
  const posted = await withRetries(router, 'POST', () => ({
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'remedy-router',
      'idempotency-key': routerIdempotencyKey(req),
      'x-remedy-signature': signature(key, body),
    },
    body,
  }));
  const url = new URL(router.url);
  url.searchParams.set('modelId', req.modelId);
  const read = await withRetries(
    router,
    'GET',
    () => ({ method: 'GET', headers: { accept: 'application/json' } }),
    url,
  );
  let state: unknown;
  try {
    state = JSON.parse(read.text);
  } catch {
    state = read.text.slice(0, 200);
  }
  const differences = routerStateDifferences(req, state);
  if (differences.length > 0)
    throw new RouterRefused(
      `${name} read back a different split for ${req.modelId} after being asked for ${req.weight}% to v${req.candidateVersion}: ${differences.join(', ')}`,
    );
  return { requests: posted.requests + read.requests };
}

async function withRetries(
  router: HttpRouter,
  what: 'POST' | 'GET',
  init: () => RequestInit,
  url: URL | string = router.url,
): Promise<{ text: string; requests: number }> {
  const name = routerName(router);
  let last = '';
  for (let attempt = 1; attempt <= router.attempts; attempt++) {
    if (attempt > 1) await pause(Math.min(2000, 250 * 2 ** (attempt - 2)));
    let response: Response;
    try {
      response = await fetch(url, {
        ...init(),
        redirect: 'error',
        signal: AbortSignal.timeout(router.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      last =
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `no answer within ${router.timeoutMs} ms`
          : `unreachable: ${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`;
      continue;
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return { text, requests: attempt };
    last = `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    if (!retryable) throw new RouterRefused(`${name} refused the ${what}: ${last}`);
  }
  throw new RouterRefused(`${name} failed the ${what} ${router.attempts} times; last: ${last}`);
}

/** The pause between two tries of one request (a backoff, not a wait for a condition). */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
