/**
 * `remedy revert`: a model goes back to a former champion. Traffic through the model's router (Remedy's
 * gateway or the team's `http` router, as the rollout moves it), aliases, statuses, the audit trail and
 * the channels. The active drift reference is the champion's own stored profile (activities/drift.ts reads
 * the profile of the version the champion alias names), so moving the alias restores it.
 */
import type pg from 'pg';
import { upgradeProfile } from '../core/drift.js';
import { routerName } from '../core/rollout-adapters.js';
import { decideRevert, type RevertDecision, type RevertFacts } from '../core/revert.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import * as db from '../db/index.js';
import { businessFailure } from './failures.js';
import { recordEvent } from './notifications.js';
import { applySplit, RouterRefused } from './traffic-router.js';

type RevertDeps = { pool: pg.Pool };

/** The reference profile that judges the model once the revert is done. */
export interface ActiveReference {
  version: number;
  span: { start: string; end: string } | null;
  rows: number;
  baselineAccuracy: number;
}

export interface RevertApplied {
  revertedAt: string;
  router: string;
  reference: ActiveReference;
}

/** The registry's facts about a revert and the decision on them. */
export async function planRevert(
  q: Queryable,
  input: { modelId: string; toVersion: number },
): Promise<RevertDecision> {
  return decideRevert(await revertFacts(q, input));
}

async function revertFacts(
  q: Queryable,
  input: { modelId: string; toVersion: number },
): Promise<RevertFacts> {
  const model = await db.getModel(q, input.modelId);
  const versions = model ? await db.listModelVersions(q, input.modelId) : [];
  const open = model ? await db.openCycle(q, input.modelId) : null;
  return {
    ...input,
    modelExists: model !== null,
    versions: versions.map((v) => ({ version: v.version, status: v.status })),
    champion: model ? await db.getAlias(q, input.modelId, 'champion') : null,
    openCycle: open ? { cycleId: open.cycle_id, rollout: await db.rolloutProgress(q, open.cycle_id) } : null,
    targetHasReference:
      versions.some((v) => v.version === input.toVersion) &&
      (await db.getReferenceProfile(q, input.modelId, input.toVersion)) !== null,
  };
}

async function activeReference(q: Queryable, modelId: string, version: number): Promise<ActiveReference> {
  const stored = await db.getReferenceProfile(q, modelId, version);
  if (!stored) throw new Error(`v${version} of ${modelId} has no reference profile`);
  const profile = upgradeProfile(stored);
  return {
    version,
    span: profile.span ?? null,
    rows: profile.rows,
    baselineAccuracy: profile.baselineAccuracy,
  };
}

/** What reverting asks for: the model moved from `fromVersion` back to `toVersion`, by whom and why. */
export interface RevertRequest {
  revertId: string;
  modelId: string;
  fromVersion: number;
  toVersion: number;
  actor: string;
  reason: string;
  /** How the actor's name was established (absent: `unverified`). */
  verifiedBy?: string;
}

export function createRevertActivities({ pool }: RevertDeps) {
  return {
    /** Reads the registry and decides: revert, nothing to do, or a refusal that says what to do. */
    async checkRevert(input: { modelId: string; toVersion: number }): Promise<RevertDecision> {
      return planRevert(pool, input);
    },

    /**
     * Moves the model back to `toVersion`: the team's router first when the policy names one (it must read
     * the split back), then Remedy's records in one transaction under the model's cycle reservation lock,
     * checked again there so a cycle reserved meanwhile or another revert wins cleanly. Safe to run twice:
     * a retry finds the revert done and returns it.
     */
    async applyRevert(input: RevertRequest): Promise<RevertApplied> {
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw businessFailure('ModelNotFound', `no model "${input.modelId}"`);
      const router = model.policy.rollout.router;
      const key = `${input.revertId}:reverted`;
      if (router.kind === 'http' && !(await db.auditTime(pool, key))) {
        try {
          await applySplit(
            router,
            {
              modelId: input.modelId,
              championVersion: input.toVersion,
              candidateVersion: input.fromVersion,
              weight: 0,
              cycleId: input.revertId,
              step: 0,
            },
            process.env,
          );
        } catch (err) {
          if (!(err instanceof RouterRefused)) throw err;
          throw businessFailure(
            'TrafficRouterFailed',
            `${err.message}; nothing was reverted: v${input.fromVersion} is still the champion`,
            { router: routerName(router) },
          );
        }
      }
      return withTransaction(pool, async (client) => {
        await db.lockCycleReservation(client, input.modelId);
        const done = await db.auditTime(client, key);
        if (!done) await recordRevert(client, input, routerName(router));
        const at = done ?? (await db.auditTime(client, key))!;
        return {
          revertedAt: at.toISOString(),
          router: routerName(router),
          reference: await activeReference(client, input.modelId, input.toVersion),
        };
      });
    },
  };
}

/** The revert in Remedy's records (inside the caller's transaction), after checking it still applies. */
async function recordRevert(client: Queryable, input: RevertRequest, router: string): Promise<void> {
  const again = decideRevert(await revertFacts(client, input));
  if (again.kind !== 'revert' || again.fromVersion !== input.fromVersion)
    throw businessFailure(
      'RevertRefused',
      again.kind === 'revert'
        ? `the champion of ${input.modelId} changed to v${again.fromVersion} while reverting: run the revert again`
        : again.message,
    );
  const reference = await activeReference(client, input.modelId, input.toVersion);
  await db.setTraffic(client, input.modelId, {
    championVersion: input.toVersion,
    candidateVersion: null,
    candidateWeight: 0,
  });
  await db.setAlias(client, input.modelId, 'champion', input.toVersion);
  await db.clearAlias(client, input.modelId, 'candidate');
  await db.setVersionStatus(client, input.modelId, input.fromVersion, 'reverted', {
    revertedTo: input.toVersion,
    actor: input.actor,
    reason: input.reason,
  });
  await db.setVersionStatus(client, input.modelId, input.toVersion, 'champion');
  const details = {
    from: input.fromVersion,
    to: input.toVersion,
    reason: input.reason,
    router,
    reference,
  };
  await db.audit(client, {
    key: `${input.revertId}:reverted`,
    modelId: input.modelId,
    actor: input.actor,
    action: 'model.reverted',
    // How the person was identified lives in the audit trail only, as for the other steering events.
    details: { ...details, verifiedBy: input.verifiedBy ?? 'unverified' },
  });
  await recordEvent(client, {
    eventKey: `${input.revertId}:reverted`,
    kind: 'rollback',
    modelId: input.modelId,
    message: `${input.modelId} reverted from v${input.fromVersion} to v${input.toVersion} by ${input.actor}: ${input.reason}`,
    details,
  });
}
