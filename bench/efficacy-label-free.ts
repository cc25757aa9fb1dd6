/**
 * The label-free policy of the efficacy benchmark: Remedy's default policy on a production pipeline that
 * delivers no feedback at all. Every stream row is logged without its ground truth and the rollout's
 * traffic posts none, so the monitor sees only the features and the champion's label-free performance
 * estimate (CBPE, core/drift/estimate.ts), and a cycle's only labels are the ones people give.
 *
 * A staged rollout judges its steps on feedback: with none, every step is inconclusive. The policy's one
 * change to the default is that such a step pauses at once (`rollout.sampleWait: 0s`) instead of dwelling
 * a minute for samples that never come, and the benchmark's operator answers each pause with "continue",
 * as a team without feedback would: the candidate has already passed the gates on the reviewed labels.
 *
 * A regressor has no label-free estimate (CBPE reads a classifier's class probabilities), so the policy
 * is refused for regression datasets.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { cycleStatus, resolvePause, rolloutStatus, UserError } from '../ops/cycles.js';

export const LABEL_FREE = 'label-free';

/** The policy section the label-free policy adds on top of the shared ones (as remedy-default, plus this). */
export const LABEL_FREE_POLICY: Record<string, unknown> = { rollout: { sampleWait: '0s' } };

/** The benchmark's datasets whose model is a regressor (no label-free estimate). */
export const REGRESSION_DATASET_NAMES: readonly string[] = ['cars', 'flights'];

/** Who answers a rollout's pauses in the replay. */
export const LABEL_FREE_OPERATOR = 'efficacy-operator';

/**
 * Why the label-free policy cannot run on these datasets (null: it can). A regressor has no label-free
 * performance estimate, so without feedback its monitor could alarm on feature drift alone.
 */
export function labelFreeRefusal(datasets: readonly string[]): string | null {
  const regressors = datasets.filter((d) => REGRESSION_DATASET_NAMES.includes(d));
  if (regressors.length === 0) return null;
  const classifiers = datasets.filter((d) => !regressors.includes(d));
  return (
    `--label-free does not apply to ${regressors.join(', ')}: a regressor has no label-free performance ` +
    `estimate (CBPE estimates a classifier's accuracy from its class probabilities), so with no feedback ` +
    `its monitor could alarm on feature drift alone. ` +
    (classifiers.length > 0
      ? `Run --label-free with --dataset ${classifiers.join(',')}, and ${regressors.join(', ')} without it.`
      : `Run --label-free with a classifier's dataset (e.g. --dataset weather,employment).`)
  );
}

/** The feedback a stream row's record is logged with: none at all under the label-free policy. */
export function deliveredFeedback(row: { label: string; feedback: boolean }, policy: string): string | null {
  return row.feedback && policy !== LABEL_FREE ? row.label : null;
}

/**
 * Follows a cycle to its close, answering each pause of its rollout: with "continue" under the label-free
 * policy (the steps have no feedback to judge), with "rollback" under the others, where a pause means a
 * step saw too few samples in its dwell (a loaded machine) and no person will answer: the rollout would
 * roll back at its decisionTimeout (1 h) anyway, so the replay does it at once. Returns how many pauses
 * it answered.
 */
export async function answerPausedRollout(
  client: Client,
  cycleId: string,
  decision: 'continue' | 'rollback',
  timeoutMs = 1_800_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let continued = 0;
  for (;;) {
    const status = await cycleStatus(client, cycleId);
    if (status.outcome !== null) return continued;
    if (status.stage === 'rollout') {
      try {
        if ((await rolloutStatus(client, cycleId)).state === 'paused') {
          const { accepted } = await resolvePause(client, cycleId, {
            actor: LABEL_FREE_OPERATOR,
            decision,
            reason:
              decision === 'continue'
                ? 'no feedback in production: the candidate passed the gates on reviewed labels'
                : 'no person answers in the replay: rolled back now rather than at the decision timeout',
          });
          if (accepted) continued++;
        }
      } catch (err) {
        // The rollout's workflow has not started yet, or has just moved on or closed: look again.
        if (!(err instanceof UserError)) throw err;
      }
    }
    if (Date.now() > deadline) throw new Error(`${cycleId}: not closed within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}
