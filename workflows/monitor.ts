import { log, proxyActivities, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CheckResult } from '../activities/drift.js';
import { ModelId } from '../core/inputs.js';
import type { CycleOptions } from './cycle.js';
import type { TriggerEvidence } from './messages.js';
import { quickIo, summarized } from './presets.js';
import { startOrAttach } from './triggers.js';

const acts = summarized(proxyActivities<Activities>(quickIo));

export interface DriftCheckInput {
  modelId: string;
}

export interface DriftCheckSummary {
  modelId: string;
  /** This check's key: its workflow ID and run ID. */
  checkKey: string;
  state: 'waiting' | 'checked' | 'cycle-started' | 'attached-to-cycle' | 'suppressed';
  reason: string;
  check: CheckResult | null;
  cycleId: string | null;
}

/**
 * One monitor check, run by the model's Temporal Schedule: the next window's drift report against the
 * champion's reference profile, stored; when the drift has persisted for the policy's number of windows,
 * the model's remediation cycle is started — or, when one is already running, this check is attached to
 * it as evidence. The database's one-open-cycle-per-model rule makes two cycles for one model impossible.
 */
export async function driftCheck(input: DriftCheckInput, options: CycleOptions): Promise<DriftCheckSummary> {
  const modelId = ModelId.parse(input.modelId);
  // The schedule may reuse a workflow ID (two triggers in one second): the run ID makes the key unique.
  const checkKey = `${workflowInfo().workflowId}@${workflowInfo().runId}`;
  const next = await acts.nextMonitorWindow({ modelId, now: new Date(Date.now()).toISOString() });
  if (!next.window) {
    log.info('nothing to check yet', { modelId, reason: next.waiting });
    return {
      modelId,
      checkKey,
      state: 'waiting',
      reason: next.waiting ?? 'no window',
      check: null,
      cycleId: null,
    };
  }
  const check = await acts.runDriftCheck({ checkKey, modelId, window: next.window });
  upsertMemo({
    window: check.window,
    route: check.route,
    streak: check.streak,
    reason: check.reason,
  });
  if (!check.persistent) {
    const reason =
      check.route === 'fine-tune' || check.route === 'full-cycle'
        ? `drift in ${check.streak} consecutive window(s), not yet persistent: ${check.reason}`
        : `${check.route === 'data-quality' ? 'data-quality incident' : 'no action'}: ${check.reason}`;
    return { modelId, checkKey, state: 'checked', reason, check, cycleId: null };
  }
  const evidence: TriggerEvidence = {
    kind: 'drift',
    key: checkKey,
    checkId: check.checkId,
    window: check.window,
    route: check.route,
    signals: check.signals,
    streak: check.streak,
    reason: check.reason,
  };
  const outcome = await startOrAttach({
    modelId,
    window: check.runWindow,
    trigger: `drift check ${checkKey}`,
    evidence,
    options,
  });
  if (outcome.cycleId === null) {
    // The cooldown or the budget held it back; the reason is recorded with the trigger.
    upsertMemo({ suppressed: outcome.suppressed });
    const reason = `${outcome.suppressed}; drift persisted for ${check.streak} windows: ${check.reason}`;
    return { modelId, checkKey, state: 'suppressed', reason, check, cycleId: null };
  }
  const { cycleId, attached } = outcome;
  await acts.linkCheckToCycle({ checkKey, cycleId });
  return {
    modelId,
    checkKey,
    state: attached ? 'attached-to-cycle' : 'cycle-started',
    reason: `drift persisted for ${check.streak} windows: ${check.reason}`,
    check,
    cycleId,
  };
}
