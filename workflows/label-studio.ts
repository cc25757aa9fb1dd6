/**
 * A campaign labeled in Label Studio (the policy's `labeling.tool: label-studio`): the items out so far
 * become tasks of its project, at the campaign's opening and with each next batch. Answers come back as
 * `submitLabel` Updates (the webhook or the polling in ops/label-studio.ts), like any other answer.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  log,
  proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { Campaign } from './labeling-state.js';
import { quickIo, summarized } from './presets.js';

/** Label Studio down for good is no reason to hold the campaign: a few tries, then the failure is recorded. */
const publishActs = summarized(
  proxyActivities<Activities>({ ...quickIo, retry: { ...quickIo.retry, maximumAttempts: 5 } }),
);
const acts = summarized(proxyActivities<Activities>(quickIo));

/**
 * Sends the released items to Label Studio (the activity skips the ones already there). When Label
 * Studio cannot take them, an audit event says why, and the campaign goes on: people can still answer
 * on the review page or with the CLI, and the SLA (reminder, deadline, parking) applies as usual.
 */
export async function publishReleased(c: Campaign): Promise<void> {
  const ls = c.settings.labelStudio;
  if (!c.toLabelStudio || !ls || c.released === 0) return;
  const { campaignId, cycleId, modelId, championVersion, labelSet } = c.id;
  try {
    const r = await publishActs.publishLabelStudioTasks({
      campaignId,
      cycleId,
      championVersion,
      labelSet,
      // A regression campaign's tasks take a number (a classifier's input is as it always was).
      ...(c.id.numeric ? { numeric: c.id.numeric } : {}),
      labelStudio: ls,
      items: c.items.slice(0, c.released).map(({ recordKey, features, guess, confidence }) => ({
        recordKey,
        features,
        guess,
        confidence,
      })),
    });
    log.info('items sent to Label Studio', { campaignId, ...r });
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    const cause = err.cause instanceof ApplicationFailure ? err.cause.message : String(err.cause ?? err);
    log.warn('Label Studio did not take the items', { campaignId, error: cause });
    await acts.recordAudit({
      key: `${campaignId}:label-studio-failed:${c.released}`,
      cycleId,
      modelId,
      actor: 'remedy',
      action: 'labeling.label-studio-failed',
      details: { reason: cause, url: ls.url, released: c.released },
    });
  }
}
