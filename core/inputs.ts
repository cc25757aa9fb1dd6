/**
 * The schemas of what people and clients send to running workflows (cycle starts, answers, decisions,
 * approvals) and the helpers workflows use. Kept apart from the policy's schemas (core/schemas.ts,
 * which re-exports these) so the workflow bundle builds only these small schemas for each workflow.
 */
import { z } from 'zod';

/** A Temporal duration string such as `30s`, `10m`, `24h`, `3d`. */
export const DurationString = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like "30s", "10m", "24h" or "3d"');

export const IsoDate = z.iso.datetime({ offset: true }).or(z.iso.date());

const Identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(
    /^[a-z0-9][a-z0-9_-]*$/,
    'use lowercase letters, digits, "-" and "_" (start with a letter or digit)',
  );
export const ModelId = Identifier;

export const Window = z
  .object({ start: IsoDate, end: IsoDate })
  .refine((w) => Date.parse(w.start) < Date.parse(w.end), {
    message: 'window.start must be before window.end',
  });
export type Window = z.infer<typeof Window>;

export const CycleInput = z.object({
  modelId: ModelId,
  window: Window,
  trigger: z.string().min(1).max(200).default('manual'),
  /** A version added from outside (`remedy models add-version`) to evaluate and roll out instead of training one. */
  candidateVersion: z.number().int().positive().optional(),
});
export type CycleInput = z.infer<typeof CycleInput>;
/** What a caller sends to start a cycle (defaults not yet applied). */
export type CycleRequest = z.input<typeof CycleInput>;

/**
 * How the sender established who a person is, kept with their labels and approvals: a verified OIDC
 * token (`jwt`), an authenticating proxy's header (`trusted-proxy`), a gateway client's API key
 * (`api-key`), a Label Studio login (`label-studio`: the annotator's account, read from Label Studio
 * by Remedy's own token or sent by its webhook with the shared secret), or the name as typed
 * (`unverified`). The sending process (the CLI, the review page) checks it; a sender that says nothing
 * is recorded as `unverified`.
 */
export const VerifiedBy = z.enum(['jwt', 'trusted-proxy', 'api-key', 'label-studio', 'unverified']);
export type VerifiedBy = z.infer<typeof VerifiedBy>;

/** One answer from a reviewer, as sent by the CLI, the review page or any Temporal client. */
export const LabelAnswer = z.object({
  recordKey: z.string().min(1).max(200),
  label: z.string().min(1).max(100),
  reviewer: z.string().min(1).max(100),
  /** Where the answer was given, kept with it: the CLI, the review page, Label Studio, or any other client. */
  via: z.enum(['cli', 'review-page', 'label-studio', 'api']).optional(),
  /** How the reviewer's name was established (absent: `unverified`). */
  verifiedBy: VerifiedBy.optional(),
});
export type LabelAnswer = z.infer<typeof LabelAnswer>;

/** Moves a campaign's deadline later (also unparks a parked campaign). */
export const ExtendDeadlineInput = z.object({
  actor: z.string().min(1).max(100),
  by: DurationString,
  reason: z.string().max(500).optional(),
  /** How the actor's name was established (absent: `unverified`). */
  verifiedBy: VerifiedBy.optional(),
});
export type ExtendDeadlineInput = z.infer<typeof ExtendDeadlineInput>;

/** A person's decision on a parked campaign: more time, go on with what is labeled, or stop. */
export const CampaignDecision = z
  .object({
    actor: z.string().min(1).max(100),
    decision: z.enum(['extend', 'proceed', 'abort']),
    by: DurationString.optional(),
    reason: z.string().max(500).optional(),
    /** How the actor's name was established (absent: `unverified`). */
    verifiedBy: VerifiedBy.optional(),
  })
  .refine((d) => d.decision !== 'extend' || d.by !== undefined, {
    message: 'extend needs "by", a duration such as "24h"',
    path: ['by'],
  });
export type CampaignDecision = z.infer<typeof CampaignDecision>;

export const ApprovalInput = z.object({
  approver: z.string().min(1).max(100),
  approve: z.boolean(),
  reason: z.string().max(2000).optional(),
  /** How the approver's name was established (absent: `unverified`). */
  verifiedBy: VerifiedBy.optional(),
});
export type ApprovalInput = z.infer<typeof ApprovalInput>;

export const RolloutCommand = z.object({
  actor: z.string().min(1).max(100),
  reason: z.string().max(2000).optional(),
  /** How the actor's name was established (absent: `unverified`). */
  verifiedBy: VerifiedBy.optional(),
});
export type RolloutCommand = z.infer<typeof RolloutCommand>;

/** A feature row: numeric features are numbers, categorical ones strings. */
export type Features = Record<string, number | string>;

/** Formats a zod error as one line per problem, each naming the field, for people to read. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(input)'}: ${issue.message}`)
    .join('; ');
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in a duration string accepted by DurationString. */
export function durationMs(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new Error(`invalid duration "${value}": use a number and a unit (ms, s, m, h, d)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
