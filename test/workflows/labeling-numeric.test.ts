/**
 * A regression model's labeling campaign takes numbers: the raw Update's validator accepts a finite
 * number within the campaign's range (as text or a JSON number, stored in one form) and refuses NaN,
 * text, a comma decimal, a number out of range and a 100 kB answer with the field named, before anything
 * is written: the campaign's history and its stored labels are unchanged by every refusal.
 *
 * The campaign runs on the weather model's days (a real dataset and champion to open tasks with), started
 * directly as a numeric campaign (the range of daily maximum temperatures in °C), as a regression
 * model's cycle will start it.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { prepareWeatherModel } from '../../dev/scenario.js';
import { numericLabelRange } from '../../core/regression-labels.js';
import { campaignNotifications } from '../../db/labeling.js';
import { krippendorffAlphaInterval } from '../../core/numeric-agreement.js';
import { labelingStatusQuery, submitLabelUpdate } from '../../workflows/messages.js';
import { recordHistories, until, useStack } from '../helpers.js';

const stack = useStack('numeric');

describe('numeric labels', () => {
  it('given a numeric campaign, then bad answers are refused by field with the history unchanged, and numbers in range are stored', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'numeric-weather');
    const rows = prepared.rows.slice(0, 6).map((r) => ({
      recordKey: r.recordKey,
      ts: r.ts,
      features: r.features,
      label: null,
      labelSource: null,
      split: 'train' as const,
    }));
    const { datasetId } = await withTransaction(stack.pool, (client) =>
      db.insertDatasetVersion(client, {
        modelId: prepared.modelId,
        idempotencyKey: `${prepared.modelId}:numeric`,
        parentId: null,
        kind: 'collected',
        cycleId: null,
        windowStart: null,
        windowEnd: null,
        samplingPlan: { test: 'numeric labels' },
        contentHash: 'numeric-6',
        rows,
      }),
    );
    // Configured below (−40 °C), derived above from a reference of −8 to 36 °C widened by half its span.
    const numeric = numericLabelRange({ min: -40 }, { min: -8, max: 36 }, 0.5);
    const campaignId = 'numeric-weather-1-labeling';
    const handle = await stack.h.client.workflow.start('labelingCampaign', {
      workflowId: campaignId,
      taskQueue: stack.h.taskQueue,
      args: [
        {
          campaignId,
          cycleId: 'numeric-weather-1',
          modelId: prepared.modelId,
          datasetId,
          championVersion: prepared.champion.version,
          labelSet: [],
          numeric,
          budget: 6,
          minLabels: 6,
          deadline: '24h',
          reminderAt: 0,
        },
      ],
    });
    try {
      const status = await until(
        () => handle.query(labelingStatusQuery),
        (s) => s.pending.length === 6,
      );
      expect(status.numeric).toEqual(numeric);
      const [first, second, third] = status.pending.map((p) => p.recordKey);
      // As any Temporal client may send it: the label's type is not checked until the campaign's validator.
      const send = (label: unknown, recordKey = first!) =>
        handle.executeUpdate(submitLabelUpdate, {
          args: [{ recordKey, label: label as string, reviewer: 'rita' }],
        });
      const refusal = async (label: unknown): Promise<string> => {
        const err = await send(label).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        return (err as WorkflowUpdateFailedError).cause?.message ?? '';
      };

      const before = (await handle.fetchHistory()).events?.length;
      expect(await refusal('NaN')).toBe(
        'label refused: label: "NaN" is not a finite number; answer with a number such as 23.5',
      );
      // A JSON NaN arrives as null.
      expect(await refusal(Number.NaN)).toBe(
        'label refused: label: expected a number (such as 23.5), got null',
      );
      expect(await refusal('warm')).toBe(
        'label refused: label: "warm" is not a number; answer with a number such as 23.5',
      );
      expect(await refusal('21,5')).toContain('label: "21,5" uses a comma');
      expect(await refusal('-41')).toBe(
        "label refused: label: -41 is below the lowest value a label may take, -40 (the model's target)",
      );
      expect(await refusal(58.5)).toBe(
        "label refused: label: 58.5 is above the highest value a label may take, 58 (the reference's labels widened by the policy's drift.dataQuality.rangeMargin)",
      );
      expect(await refusal('9'.repeat(100_000))).toContain('label: Too big');
      // Refused answers leave no trace: no event in the campaign's history, no stored label.
      expect((await handle.fetchHistory()).events?.length).toBe(before);
      expect(await db.campaignLabels(stack.pool, campaignId)).toEqual([]);

      // Numbers in range, as text or a JSON number, are stored in one form.
      expect(await send(' 21.50 ')).toMatchObject({ recordKey: first, label: '21.5', duplicate: false });
      expect(await send(-40, second)).toMatchObject({ recordKey: second, label: '-40' });
      expect(await send('5.8e1', third)).toMatchObject({ recordKey: third, label: '58' });
      const stored = await db.campaignLabels(stack.pool, campaignId);
      expect(new Map(stored.map((l) => [l.record_key, l.label]))).toEqual(
        new Map([
          [first, '21.5'],
          [second, '-40'],
          [third, '58'],
        ]),
      );
      expect((await handle.query(labelingStatusQuery)).answered).toBe(3);
      await recordHistories([campaignId]);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('given two reviewers on every item, then answers within the tolerance settle on their mean, a third settles the rest on the median, and low alpha parks the campaign', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'numeric-overlap');
    const modelId = prepared.modelId;
    const rows = prepared.rows.slice(10, 13);
    const { datasetId } = await withTransaction(stack.pool, (client) =>
      db.insertDatasetVersion(client, {
        modelId,
        idempotencyKey: `${modelId}:numeric-overlap`,
        parentId: null,
        kind: 'collected',
        cycleId: null,
        windowStart: null,
        windowEnd: null,
        samplingPlan: { test: 'numeric overlap' },
        contentHash: 'numeric-overlap-3',
        rows: rows.map((r) => ({
          recordKey: r.recordKey,
          ts: r.ts,
          features: r.features,
          label: null,
          labelSource: null,
          split: 'train' as const,
        })),
      }),
    );
    // −40 to 58 °C: answers within 5 % of that span (4.9 °C) agree.
    const numeric = numericLabelRange({ min: -40 }, { min: -8, max: 36 }, 0.5);
    const campaignId = 'numeric-overlap-1-labeling';
    const handle = await stack.h.client.workflow.start('labelingCampaign', {
      workflowId: campaignId,
      taskQueue: stack.h.taskQueue,
      args: [
        {
          campaignId,
          cycleId: 'numeric-overlap-1',
          modelId,
          datasetId,
          championVersion: prepared.champion.version,
          labelSet: [],
          numeric,
          budget: 3,
          minLabels: 3,
          deadline: '24h',
          reminderAt: 0,
          overlap: 1,
          minOverlapItems: 3,
        },
      ],
    });
    try {
      const status = await until(
        () => handle.query(labelingStatusQuery),
        (s) => s.pending.length === 3,
      );
      const [a, b, c] = status.pending.map((p) => p.recordKey);
      const send = (recordKey: string, label: string, reviewer: string) =>
        handle.executeUpdate(submitLabelUpdate, { args: [{ recordKey, label, reviewer }] });
      expect(await send(a!, '20', 'rita')).toMatchObject({ awaiting: 1 });
      expect(await send(a!, '20.5', 'sam')).toMatchObject({ remaining: 2 });
      // 10 and 30 are 20 apart: a third reviewer settles the item.
      await send(b!, '10', 'rita');
      expect(await send(b!, '30', 'sam')).toMatchObject({ awaiting: 1 });
      expect(await send(b!, '12', 'tom')).toMatchObject({ remaining: 1 });
      await send(c!, '30', 'rita');
      await send(c!, '5', 'sam');
      await send(c!, '28', 'tom');
      const parked = await until(
        () => handle.query(labelingStatusQuery),
        (s) => s.state === 'parked',
      );
      const alpha = krippendorffAlphaInterval([
        [20, 20.5],
        [10, 30, 12],
        [30, 5, 28],
      ])!;
      expect(alpha).toBeLessThan(0.667);
      expect(parked.parkedFor).toBe('agreement');
      expect(parked.agreement).toMatchObject({ pairs: 3, disagreements: 2, settledByThird: 2, kappa: null });
      expect(parked.agreement!.alpha).toBeCloseTo(alpha, 12);
      expect(parked.agreement!.agreeWithin).toBeCloseTo(4.9, 12);
      const stored = await db.campaignLabels(stack.pool, campaignId);
      expect(new Map(stored.map((l) => [l.record_key, l.label]))).toEqual(
        new Map([
          [a, '20.25'],
          [b, '12'],
          [c, '28'],
        ]),
      );
      const notes = await campaignNotifications(stack.pool, campaignId);
      expect(notes.map((n) => n.message).join('\n')).toMatch(
        new RegExp(
          `reviewers agree too little: alpha ${alpha.toFixed(2)} < 0\\.667 on 3 items answered twice`,
        ),
      );
      await recordHistories([campaignId]);
    } finally {
      await handle.terminate('test over');
    }
  });
});
