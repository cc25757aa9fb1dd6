/**
 * Cooldown and budget: whether an automatic trigger may start a new cycle. Pure: the caller passes the
 * time (the workflow's clock, so time-skipping tests decide the same way production does), the model's
 * last closed cycle and the cycles started in the budget period.
 */
import { durationMs } from './inputs.js';
import type { Policy } from './schemas.js';
import type { Severity } from './policy.js';

const RANK: Record<Severity, number> = { none: 0, mild: 1, severe: 2 };

/** The severity a trigger claims: drift checks from their route, other automatic triggers none. */
export function triggerSeverity(evidence: { route?: unknown; severity?: unknown }): Severity {
  if (evidence.severity === 'severe' || evidence.route === 'full-cycle') return 'severe';
  if (evidence.severity === 'mild' || evidence.route === 'fine-tune') return 'mild';
  return 'none';
}

export interface GuardInput {
  now: string;
  policy: Pick<Policy['triggers'], 'cooldown' | 'maxCycles' | 'budgetPeriod'>;
  severity: Severity;
  /** The model's most recently closed cycle: when it closed and the severity it diagnosed. */
  lastClosed: { cycleId: string; closedAt: string; severity: Severity | null } | null;
  /** When each cycle of the model started, for those that started in the budget period before `now`. */
  startedInPeriod: string[];
}

export type GuardDecision =
  | { suppressed: false; reason: string | null }
  | { suppressed: true; rule: 'cooldown' | 'budget'; until: string; reason: string };

/**
 * Cooldown first (a severity above the closed cycle's lifts it), then the budget, which nothing lifts:
 * the budget is the cap on labeling and rollouts a team signed up for.
 */
export function guardCycleStart(g: GuardInput): GuardDecision {
  const now = new Date(g.now).getTime();
  let lifted: string | null = null;
  const cooldownMs = durationMs(g.policy.cooldown);
  if (g.lastClosed && cooldownMs > 0) {
    const until = new Date(g.lastClosed.closedAt).getTime() + cooldownMs;
    if (now < until) {
      const last = g.lastClosed.severity ?? 'none';
      if (RANK[g.severity] > RANK[last])
        lifted = `cooldown after ${g.lastClosed.cycleId} lifted: severity rose from ${last} to ${g.severity}`;
      else
        return {
          suppressed: true,
          rule: 'cooldown',
          until: new Date(until).toISOString(),
          reason: `suppressed: cooldown until ${new Date(until).toISOString()} (${g.lastClosed.cycleId} closed ${g.lastClosed.closedAt}; severity ${g.severity} is not above its ${last})`,
        };
    }
  }
  const max = g.policy.maxCycles;
  if (max === undefined) return { suppressed: false, reason: lifted };
  const periodMs = durationMs(g.policy.budgetPeriod);
  const started = g.startedInPeriod
    .map((t) => new Date(t).getTime())
    .filter((t) => t > now - periodMs && t <= now)
    .sort((a, b) => a - b);
  if (started.length >= max) {
    // The budget frees a slot when the oldest start it counts leaves the period.
    const until = new Date(started[started.length - max]! + periodMs).toISOString();
    return {
      suppressed: true,
      rule: 'budget',
      until,
      reason: `suppressed: budget ${started.length}/${max} in ${g.policy.budgetPeriod} (next slot ${until})`,
    };
  }
  return { suppressed: false, reason: lifted };
}
