/**
 * What starts a cycle besides a person: the monitor's drift checks (monitor.ts), failure volume and a
 * schedule. Every trigger goes through startOrAttach, so a model never has two cycles: a trigger that
 * finds one running is attached to it as evidence.
 */
import {
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  proxyActivities,
  startChild,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import { ModelId, type Window } from '../core/inputs.js';
import { remediationCycle, type CycleOptions } from './cycle.js';
import { addEvidenceSignal, type TriggerEvidence } from './messages.js';
import { quickIo, summarized } from './presets.js';
import { ModelIdKey, TriggerKindKey } from './search-attributes.js';

const acts = summarized(proxyActivities<Activities>(quickIo));

/**
 * Starts the model's cycle over `window`, or attaches the evidence to the one already open. The database
 * decides (one open cycle per model) and names the cycle remediation-<model>-<n>.
 */
export async function startOrAttach(t: {
  modelId: string;
  window: Window;
  trigger: string;
  evidence: TriggerEvidence;
  options: CycleOptions;
}): Promise<{ cycleId: string; attached: boolean } | { cycleId: null; suppressed: string }> {
  // The workflow's clock judges the cooldown and budget, so time-skipping tests decide as production does.
  const reserved = await acts.reserveCycle({
    triggerKey: t.evidence.key,
    modelId: t.modelId,
    kind: t.evidence.kind,
    evidence: { ...t.evidence },
    now: new Date(Date.now()).toISOString(),
  });
  // Held back by the cooldown or the budget: recorded with its reason, no cycle, nothing to signal.
  if (reserved.cycleId === null) return { cycleId: null, suppressed: reserved.suppressed };
  let attached = !reserved.started;
  if (reserved.started) {
    try {
      await startChild(remediationCycle, {
        workflowId: reserved.cycleId,
        args: [{ modelId: t.modelId, window: t.window, trigger: t.trigger }, t.options],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: ModelIdKey, value: t.modelId },
          { key: TriggerKindKey, value: t.evidence.kind },
        ],
        memo: { trigger: t.evidence },
      });
    } catch (err) {
      // A cycle started by hand took this ID between the reservation and the start: it is the model's
      // open cycle (IDs carry the model), so this trigger becomes its evidence.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        // Any other failure: give the reservation back, or the model could never have a cycle again.
        await acts.releaseCycle({ cycleId: reserved.cycleId, triggerKey: t.evidence.key });
        throw err;
      }
      attached = true;
    }
  }
  if (attached) {
    try {
      await getExternalWorkflowHandle(reserved.cycleId).signal(addEvidenceSignal, t.evidence);
    } catch (err) {
      log.warn('could not signal the open cycle; the evidence is recorded in Postgres', {
        cycleId: reserved.cycleId,
        error: String(err),
      });
    }
  }
  return { cycleId: reserved.cycleId, attached };
}

export interface TriggerSummary {
  modelId: string;
  kind: 'volume' | 'schedule';
  key: string;
  state: 'quiet' | 'waiting' | 'cycle-started' | 'attached-to-cycle' | 'suppressed';
  reason: string;
  window: Window | null;
  cycleId: string | null;
}

/** The trigger's state from what startOrAttach decided. */
export function stateOf(o: { cycleId: string; attached: boolean } | { cycleId: null; suppressed: string }): {
  state: 'cycle-started' | 'attached-to-cycle' | 'suppressed';
} {
  if (o.cycleId === null) return { state: 'suppressed' };
  return { state: o.attached ? 'attached-to-cycle' : 'cycle-started' };
}

const keyOf = () => `${workflowInfo().workflowId}@${workflowInfo().runId}`;

/**
 * The volume trigger, run by the model's `volume-<model>` Schedule: enough newly labeled failures since
 * the last cycle, or one failure pattern dominating the trailing window, starts a cycle over that window.
 */
export async function volumeCheck(
  input: { modelId: string },
  options: CycleOptions,
): Promise<TriggerSummary> {
  const modelId = ModelId.parse(input.modelId);
  const key = keyOf();
  const v = await acts.volumeEvidence({ modelId });
  upsertMemo({ reason: v.reason });
  if (!v.fire || !v.window)
    return {
      modelId,
      kind: 'volume',
      key,
      state: 'quiet',
      reason: v.reason,
      window: v.window,
      cycleId: null,
    };
  const outcome = await startOrAttach({
    modelId,
    window: v.window,
    trigger: `volume check ${key}`,
    evidence: {
      kind: 'volume',
      key,
      window: v.window,
      reason: v.reason,
      ...(v.pattern ? { signals: [v.pattern] } : {}),
    },
    options,
  });
  return {
    modelId,
    kind: 'volume',
    key,
    ...stateOf(outcome),
    reason: outcome.cycleId === null ? `${outcome.suppressed}: ${v.reason}` : v.reason,
    window: v.window,
    cycleId: outcome.cycleId,
  };
}

/** The schedule trigger, run by the model's `retrain-<model>` Schedule: a cycle over the latest window of the log. */
export async function scheduledCycle(
  input: { modelId: string },
  options: CycleOptions,
): Promise<TriggerSummary> {
  const modelId = ModelId.parse(input.modelId);
  const key = keyOf();
  const w = await acts.latestWindow({ modelId });
  if (!w.window)
    return {
      modelId,
      kind: 'schedule',
      key,
      state: 'waiting',
      reason: w.reason,
      window: null,
      cycleId: null,
    };
  const outcome = await startOrAttach({
    modelId,
    window: w.window,
    trigger: `schedule ${key}`,
    evidence: { kind: 'schedule', key, window: w.window, reason: w.reason },
    options,
  });
  return {
    modelId,
    kind: 'schedule',
    key,
    ...stateOf(outcome),
    reason: outcome.cycleId === null ? `${outcome.suppressed}: ${w.reason}` : w.reason,
    window: w.window,
    cycleId: outcome.cycleId,
  };
}
