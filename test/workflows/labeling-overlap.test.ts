/**
 * Overlap, the agreement gate and batched requests, on real cycles: items two reviewers answer settle on
 * agreement or go to a third; Cohen's kappa below the policy's minimum parks the campaign for a person;
 * requests go out a batch at a time.
 */
import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { cycleStatus, decideCampaign, pendingLabels, startCycle, submitLabel } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { trafficBucket } from '../../core/policy.js';
import { createLabelingActivities } from '../../activities/labeling.js';
import { startReviewServer } from '../../review/server.js';
import { labelingWorkflowId } from '../../workflows/cycle.js';
import type { LabelingStatus } from '../../workflows/messages.js';
import { recordHistories, until, useStack } from '../helpers.js';

const stack = useStack('overlap');

async function campaign(modelId: string, labeling: Record<string, unknown>) {
  const prepared = await prepareWeatherModel(stack.pool, modelId, {
    ...DEMO_POLICY,
    labeling: { deadline: '24h', reviewers: ['alice', 'bob', 'carol'], ...labeling },
  });
  const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
  const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: SCENARIO.window });
  const status = await until(
    () => pendingLabels(stack.h.client, cycleId),
    (s) => s.requested > 0,
  );
  return { cycleId, truth, status };
}

const other = (label: string) => (label === 'rain' ? 'sun' : 'rain');

describe('labeling overlap', () => {
  it('given overlap, then two agreeing answers settle an item, a disagreement goes to a third reviewer, and kappa is reported', async () => {
    const { cycleId, truth, status } = await campaign('weather-overlap', {
      budget: 10,
      minLabels: 10,
      overlap: 0.5,
      minKappa: 0,
      minOverlapItems: 2,
    });
    const campaignId = labelingWorkflowId(cycleId);
    // The overlapped items are a stable hash of the item: the same ones on every replay.
    const expected = status.pending.filter((p) => trafficBucket(`${campaignId}:${p.recordKey}`) < 50);
    const overlapped = status.pending.filter((p) => p.needs === 2);
    expect(overlapped.map((p) => p.recordKey)).toEqual(expected.map((p) => p.recordKey));
    expect(overlapped.length).toBeGreaterThanOrEqual(2);
    expect(overlapped.length).toBeLessThan(10);

    // Bob's name comes verified (as from a token); Alice's and Carol's as typed.
    const label = (recordKey: string, reviewer: string, value = truth.get(recordKey)!) =>
      submitLabel(stack.h.client, cycleId, {
        recordKey,
        label: value,
        reviewer,
        via: 'api',
        ...(reviewer === 'bob' ? { verifiedBy: 'jwt' } : {}),
      });

    // A single-review item settles on its one answer.
    const single = status.pending.find((p) => !p.needs)!;
    expect(await label(single.recordKey, 'alice')).toMatchObject({ duplicate: false, remaining: 9 });

    // An overlapped item waits for a second reviewer; the same reviewer again changes nothing.
    const [first, disputed, ...rest] = overlapped;
    expect(await label(first!.recordKey, 'alice')).toMatchObject({
      duplicate: false,
      awaiting: 1,
      remaining: 9,
    });
    expect(await label(first!.recordKey, 'alice')).toMatchObject({
      duplicate: true,
      awaiting: 1,
      remaining: 9,
    });
    let s: LabelingStatus = await pendingLabels(stack.h.client, cycleId);
    expect(s.pending.find((p) => p.recordKey === first!.recordKey)).toMatchObject({
      reviewedBy: ['alice'],
      needs: 2,
    });
    // On the review page the item has left Alice's queue and waits in Bob's, marked as overlapped.
    const review = await startReviewServer(stack.h.client);
    try {
      const pageOf = async (who: string) =>
        (await fetch(`${review.url}/review/${cycleId}?reviewer=${who}`)).text();
      expect(await pageOf('alice')).not.toContain(`data-key="${first!.recordKey}"`);
      expect(await pageOf('bob')).toMatch(
        new RegExp(`<b>${first!.recordKey}</b>.*answered by two reviewers \\(1 so far\\)`),
      );
    } finally {
      await review.close();
    }
    expect(await label(first!.recordKey, 'bob')).toMatchObject({ duplicate: false, remaining: 8 });
    expect((await label(first!.recordKey, 'carol')).duplicate).toBe(true);

    // Bob disagrees with Alice: the item needs a third answer, and Carol's settles it (majority of three).
    const truthOf = truth.get(disputed!.recordKey)!;
    await label(disputed!.recordKey, 'alice');
    expect(await label(disputed!.recordKey, 'bob', other(truthOf))).toMatchObject({
      awaiting: 1,
      remaining: 8,
    });
    s = await pendingLabels(stack.h.client, cycleId);
    expect(s.pending.find((p) => p.recordKey === disputed!.recordKey)).toMatchObject({
      reviewedBy: ['alice', 'bob'],
      needs: 3,
    });
    expect(await label(disputed!.recordKey, 'carol')).toMatchObject({ duplicate: false, remaining: 7 });

    for (const p of rest) {
      await label(p.recordKey, 'alice');
      await label(p.recordKey, 'bob');
    }
    for (const p of status.pending.filter((x) => !x.needs && x.recordKey !== single.recordKey))
      await label(p.recordKey, 'carol');

    const moved = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (c) => c.stage !== 'label' && c.stage !== 'collect',
    );
    const summary = moved.stages.find((st) => st.stage === 'label')!.summary!;
    const pairs = overlapped.length;
    expect(summary).toMatchObject({
      state: 'complete',
      answered: 10,
      agreement: { overlapped: pairs, pairs, disagreements: 1, settledByThird: 1, minKappa: 0 },
    });
    // Every answer kept, one per reviewer per item; the settled label names who agreed.
    const votes = await stack.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM label_votes WHERE campaign_id = $1',
      [campaignId],
    );
    expect(Number(votes.rows[0]!.n)).toBe(2 * pairs + 1);
    const methods = await stack.pool.query<{ reviewer: string; verified_by: string }>(
      'SELECT DISTINCT reviewer, verified_by FROM label_votes WHERE campaign_id = $1 ORDER BY reviewer',
      [campaignId],
    );
    expect(methods.rows).toEqual([
      { reviewer: 'alice', verified_by: 'unverified' },
      { reviewer: 'bob', verified_by: 'jwt' },
      { reviewer: 'carol', verified_by: 'unverified' },
    ]);
    const settled = await stack.pool.query<{
      record_key: string;
      label: string;
      reviewer: string;
      verified_by: string;
    }>('SELECT record_key, label, reviewer, verified_by FROM labels WHERE campaign_id = $1', [campaignId]);
    const byKey = new Map(settled.rows.map((r) => [r.record_key, r]));
    // The settled label keeps how each of its reviewers was identified, as it keeps their names.
    expect(byKey.get(first!.recordKey)).toMatchObject({
      reviewer: 'alice+bob',
      label: truth.get(first!.recordKey),
      verified_by: 'unverified+jwt',
    });
    expect(byKey.get(disputed!.recordKey)).toMatchObject({
      reviewer: 'alice+bob+carol',
      label: truthOf,
      verified_by: 'unverified+jwt',
    });
    expect(byKey.get(single.recordKey)).toMatchObject({ reviewer: 'alice', verified_by: 'unverified' });
    expect(settled.rows).toHaveLength(10);
    await recordHistories([campaignId]);
    await stack.h.client.workflow.getHandle(cycleId).cancel();
  });

  it('given reviewers who disagree on most items, then kappa below the gate parks the campaign until a person proceeds', async () => {
    const { cycleId, truth, status } = await campaign('weather-kappa', {
      budget: 8,
      minLabels: 8,
      overlap: 1,
      minKappa: 0.6,
      minOverlapItems: 3,
    });
    expect(status.pending.every((p) => p.needs === 2)).toBe(true);
    for (const [i, p] of status.pending.entries()) {
      const t = truth.get(p.recordKey)!;
      await submitLabel(stack.h.client, cycleId, { recordKey: p.recordKey, label: t, reviewer: 'alice' });
      // Bob agrees on the first two items only; Carol settles the rest.
      await submitLabel(stack.h.client, cycleId, {
        recordKey: p.recordKey,
        label: i < 2 ? t : other(t),
        reviewer: 'bob',
      });
      if (i >= 2)
        await submitLabel(stack.h.client, cycleId, { recordKey: p.recordKey, label: t, reviewer: 'carol' });
    }
    const parked = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.state === 'parked',
    );
    expect(parked.parkedFor).toBe('agreement');
    expect(parked.agreement).toMatchObject({ pairs: 8, disagreements: 6, settledByThird: 6 });
    expect(parked.agreement!.kappa!).toBeLessThan(0.6);
    const note = await stack.pool.query<{ message: string }>(
      "SELECT message FROM notifications WHERE campaign_id = $1 AND kind = 'parked'",
      [labelingWorkflowId(cycleId)],
    );
    expect(note.rows[0]!.message).toMatch(
      /^reviewers agree too little: kappa -?\d\.\d\d < 0\.6 on 8 items answered twice/,
    );

    // More time does not make reviewers agree: extend is refused with the reason, and nothing changes.
    // Parking tells the reviewers (an activity), then starts the decision's timer in the workflow task that
    // also completes the last answer: counted once that task is in the history, when nothing else moves.
    const parkTimer = (e: temporal.api.history.v1.IHistoryEvent) =>
      e.timerStartedEventAttributes &&
      Buffer.from(e.userMetadata?.summary?.data ?? [])
        .toString()
        .includes('Parked on low agreement');
    const events = (
      await until(
        () => stack.h.client.workflow.getHandle(labelingWorkflowId(cycleId)).fetchHistory(),
        (h) => h.events!.some(parkTimer),
      )
    ).events!.length;
    await expect(
      decideCampaign(stack.h.client, cycleId, { decision: 'extend', by: '24h', actor: 'lead' }),
    ).rejects.toThrow(
      /parked because reviewers agree too little; more time does not change that: proceed or abort/,
    );
    expect(
      (await stack.h.client.workflow.getHandle(labelingWorkflowId(cycleId)).fetchHistory()).events!.length,
    ).toBe(events);

    await decideCampaign(stack.h.client, cycleId, {
      decision: 'proceed',
      actor: 'lead',
      reason: 'spot-checked',
    });
    const moved = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (c) => c.stage !== 'label' && c.stage !== 'collect',
    );
    expect(moved.stages.find((st) => st.stage === 'label')!.summary).toMatchObject({
      state: 'complete',
      answered: 8,
      parked: true,
    });
    await recordHistories([labelingWorkflowId(cycleId)]);
    await stack.h.client.workflow.getHandle(cycleId).cancel();
  });

  it('given a batch size, then requests go out a batch at a time, later items are refused until then, and reviewers are told', async () => {
    const { cycleId, truth, status } = await campaign('weather-batches', {
      budget: 10,
      minLabels: 10,
      batchSize: 4,
    });
    expect(status.requested).toBe(10);
    expect(status.pending).toHaveLength(4);
    expect(status.batch).toEqual({ current: 1, of: 3, size: 4 });
    const answer = (recordKey: string) =>
      submitLabel(stack.h.client, cycleId, { recordKey, label: truth.get(recordKey)!, reviewer: 'alice' });

    const seen = new Set<string>();
    for (let batch = 1; batch <= 3; batch++) {
      const s = await until(
        () => pendingLabels(stack.h.client, cycleId),
        (x) => x.batch!.current === batch,
      );
      expect(s.pending).toHaveLength(batch < 3 ? 4 : 2);
      for (const p of s.pending) {
        expect(seen.has(p.recordKey)).toBe(false);
        seen.add(p.recordKey);
      }
      if (batch === 1) {
        // An item of a later batch is not asked yet.
        const later = await stack.pool.query<{ record_key: string }>(
          'SELECT record_key FROM label_tasks WHERE campaign_id = $1 AND NOT (record_key = ANY($2)) LIMIT 1',
          [labelingWorkflowId(cycleId), [...seen]],
        );
        await expect(answer(later.rows[0]!.record_key)).rejects.toThrow(
          /is in a later batch \(batch 1 of 3 is out\); answer the pending items first/,
        );
      }
      for (const p of s.pending) await answer(p.recordKey);
    }
    expect(seen.size).toBe(10);
    const moved = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (c) => c.stage !== 'label' && c.stage !== 'collect',
    );
    expect(moved.stages.find((st) => st.stage === 'label')!.summary).toMatchObject({
      state: 'complete',
      answered: 10,
    });
    const told = await stack.pool.query<{ message: string }>(
      "SELECT message FROM notifications WHERE campaign_id = $1 AND kind = 'batch' ORDER BY created_at",
      [labelingWorkflowId(cycleId)],
    );
    expect(told.rows.map((r) => r.message.replace(/, by .*/, ''))).toEqual([
      'batch 2 of 3 is out: 4 items',
      'batch 3 of 3 is out: 2 items',
    ]);
    await recordHistories([labelingWorkflowId(cycleId)]);
    await stack.h.client.workflow.getHandle(cycleId).cancel();
  });
});

describe('active learning with a quick candidate', () => {
  it.each(['candidate', 'disagreement'] as const)(
    'given the %s strategy, then each batch is chosen after the previous one is answered, from rows nobody was asked',
    async (strategy) => {
      const modelId = `weather-${strategy}`;
      const { cycleId, truth, status } = await campaign(modelId, {
        budget: 15,
        minLabels: 15,
        strategy,
        batchSize: 5,
      });
      const campaignId = labelingWorkflowId(cycleId);
      expect(status).toMatchObject({ requested: 15, batch: { current: 1, of: 3, size: 5 } });
      expect(status.pending).toHaveLength(5);
      // Only the first batch is stored: the others do not exist until the labels they learn from do.
      const tasks = async () =>
        (
          await stack.pool.query<{ record_key: string; priority: number }>(
            'SELECT record_key, priority FROM label_tasks WHERE campaign_id = $1 AND priority < 1000000 ORDER BY priority',
            [campaignId],
          )
        ).rows;
      expect(await tasks()).toHaveLength(5);

      const asked: string[] = [];
      for (let batch = 1; batch <= 3; batch++) {
        const s = await until(
          () => pendingLabels(stack.h.client, cycleId),
          (x) => x.batch!.current === batch && x.pending.length === 5,
        );
        for (const p of s.pending) {
          expect(asked).not.toContain(p.recordKey);
          asked.push(p.recordKey);
          await submitLabel(stack.h.client, cycleId, {
            recordKey: p.recordKey,
            label: truth.get(p.recordKey)!,
            reviewer: 'alice',
          });
        }
      }
      const moved = await until(
        () => cycleStatus(stack.h.client, cycleId),
        (c) => c.stage !== 'label' && c.stage !== 'collect',
      );
      expect(moved.stages.find((st) => st.stage === 'label')!.summary).toMatchObject({
        state: 'complete',
        requested: 15,
        answered: 15,
      });
      // Stored in the order asked, one priority per item, so a retried batch returns the same picks.
      expect((await tasks()).map((t) => [t.record_key, t.priority])).toEqual(asked.map((k, i) => [k, i]));
      const retried = await createLabelingActivities({ pool: stack.pool }).nextLabelBatch({
        campaignId,
        modelId,
        datasetId: Number(
          (
            await stack.pool.query<{ dataset_id: string }>(
              'SELECT dataset_id FROM label_tasks WHERE campaign_id = $1 LIMIT 1',
              [campaignId],
            )
          ).rows[0]!.dataset_id,
        ),
        championVersion: 1,
        index: 1,
        size: 5,
        budget: 15,
        ...(strategy === 'disagreement' ? { strategy } : {}),
      });
      expect(retried.items.map((i) => i.recordKey)).toEqual(asked.slice(5, 10));
      await recordHistories([campaignId]);
      await stack.h.client.workflow.getHandle(cycleId).cancel();
    },
  );

  it('given the candidate strategy with overlap, then items of later batches are answered by two reviewers too', async () => {
    const { cycleId, truth, status } = await campaign('weather-candidate-overlap', {
      budget: 6,
      minLabels: 6,
      strategy: 'candidate',
      batchSize: 3,
      overlap: 1,
      minKappa: -1,
    });
    expect(status.pending.every((p) => p.needs === 2)).toBe(true);
    const answerTwice = async (recordKey: string) => {
      for (const reviewer of ['alice', 'bob'])
        await submitLabel(stack.h.client, cycleId, { recordKey, label: truth.get(recordKey)!, reviewer });
    };
    for (const p of status.pending) await answerTwice(p.recordKey);
    const second = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.batch!.current === 2,
    );
    expect(second.pending).toHaveLength(3);
    expect(second.pending.every((p) => p.needs === 2)).toBe(true);
    for (const p of second.pending) await answerTwice(p.recordKey);
    const moved = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (c) => c.stage !== 'label' && c.stage !== 'collect',
    );
    expect(moved.stages.find((st) => st.stage === 'label')!.summary).toMatchObject({
      state: 'complete',
      answered: 6,
      agreement: { overlapped: 6, pairs: 6, disagreements: 0 },
    });
    await stack.h.client.workflow.getHandle(cycleId).cancel();
  });
});
