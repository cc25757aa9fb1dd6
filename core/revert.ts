/**
 * `remedy revert`: whether a model may go back to an earlier champion, and what to tell the person when it
 * may not. Pure: activities/revert.ts gathers the facts from the registry and acts on the decision.
 */
import { z } from 'zod';
import { ModelId, VerifiedBy } from './inputs.js';

export const RevertRequest = z.object({
  modelId: ModelId,
  toVersion: z.number().int().min(1, 'the version to revert to is a whole number from 1'),
  reason: z
    .string()
    .trim()
    .min(1, 'say why the champion is reverted (--reason): it is kept in the audit trail')
    .max(500),
  actor: z.string().trim().min(1, 'say who reverts (--actor)').max(100),
  /** How the actor's name was established (absent: `unverified`), kept in the audit event. */
  verifiedBy: VerifiedBy.optional(),
});
export type RevertRequest = z.infer<typeof RevertRequest>;

/** A version's status once it has served as champion and was replaced (by a promotion or a revert). */
export const FORMER_CHAMPION = ['retired', 'reverted'] as const;

/** What the registry says about the model, read just before deciding. */
export interface RevertFacts {
  modelId: string;
  toVersion: number;
  modelExists: boolean;
  versions: readonly { version: number; status: string }[];
  /** The version the champion alias names now (null: none). */
  champion: number | null;
  /** The model's open cycle, and how far its rollout went (null: it has not moved traffic). */
  openCycle: {
    cycleId: string;
    rollout: { candidateVersion: number; weight: number; promoted: boolean } | null;
  } | null;
  targetHasReference: boolean;
}

export type RevertDecision =
  | { kind: 'refused'; message: string }
  | { kind: 'no-op'; message: string }
  | { kind: 'revert'; fromVersion: number; toVersion: number };

const STATUS_WORDS: Record<string, string> = {
  candidate: 'it is still a candidate',
  rejected: 'a candidate rejected at its gate',
  rolled_back: 'rolled back during its rollout',
};

/** Decides a revert. Order: unknown model or version, already champion (no-op), open cycle, never champion. */
export function decideRevert(f: RevertFacts): RevertDecision {
  const { modelId, toVersion } = f;
  if (!f.modelExists) return { kind: 'refused', message: `no model "${modelId}": see "remedy models list"` };
  const target = f.versions.find((v) => v.version === toVersion);
  if (!target) {
    const known = f.versions.map((v) => `v${v.version}`).join(', ') || 'none';
    return {
      kind: 'refused',
      message: `${modelId} has no version ${toVersion} (its versions: ${known}); "remedy models show ${modelId}" lists them`,
    };
  }
  if (f.champion === toVersion)
    return {
      kind: 'no-op',
      message: `v${toVersion} is already the champion of ${modelId}: nothing to revert`,
    };
  if (f.champion === null) return { kind: 'refused', message: `${modelId} has no champion to revert from` };
  if (f.openCycle) return { kind: 'refused', message: openCycleRefusal(modelId, f.champion, f.openCycle) };
  if (!(FORMER_CHAMPION as readonly string[]).includes(target.status)) {
    const allowed = f.versions
      .filter((v) => (FORMER_CHAMPION as readonly string[]).includes(v.status))
      .map((v) => `v${v.version}`);
    return {
      kind: 'refused',
      message: `v${toVersion} of ${modelId} never served as champion (${STATUS_WORDS[target.status] ?? target.status}): ${
        allowed.length > 0
          ? `a revert goes back to a former champion: ${allowed.join(', ')}`
          : `v${f.champion} is the only version that has been champion, so there is nothing to go back to`
      }`,
    };
  }
  if (!f.targetHasReference)
    return {
      kind: 'refused',
      message: `v${toVersion} of ${modelId} has no reference profile, so drift checks could not judge it as champion: register it again or roll a new version out instead`,
    };
  return { kind: 'revert', fromVersion: f.champion, toVersion };
}

function openCycleRefusal(
  modelId: string,
  champion: number,
  open: NonNullable<RevertFacts['openCycle']>,
): string {
  const { cycleId, rollout } = open;
  if (rollout?.promoted)
    return `cycle ${cycleId} promoted v${rollout.candidateVersion} and is still watching it (rollout.bakeTime): "remedy rollback ${cycleId} --actor <you>" takes it back now; revert once the cycle has closed`;
  if (rollout)
    return `cycle ${cycleId} is rolling out v${rollout.candidateVersion} (${rollout.weight}% of traffic): end it first with "remedy rollback ${cycleId} --actor <you>" (traffic returns to v${champion}) or wait until it closes, then revert`;
  return `cycle ${cycleId} of ${modelId} is open and compares its candidate with champion v${champion}: abort it with "remedy abort ${cycleId}" or wait until it closes, then revert`;
}
