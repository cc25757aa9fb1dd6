/**
 * The review page for a regression model's campaign, in a real headless Chromium: each item asks for a
 * number in a field that says the range the campaign accepts, with the champion's guess to four digits.
 * Text and a number out of range are refused by the campaign's validator, the reason under the item and
 * the campaign unchanged; the reviewer corrects the value and goes on, typing and pressing Enter only, and
 * every value arrives in the campaign in its one stored form.
 *
 * The campaign runs on real cars (vega-datasets cars.json: 1975–80 cars for a champion trained on 1970–74)
 * and is started as a regression model's cycle starts it, with its numeric range.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { campaignLabels } from '../../db/labeling.js';
import { numericLabelRange } from '../../core/regression-labels.js';
import { CARS_SCENARIO, prepareCarsModel } from '../../dev/cars-scenario.js';
import { pendingLabels } from '../../ops/cycles.js';
import { startReviewServer, type ReviewServer } from '../../review/server.js';
import { labelingWorkflowId } from '../../workflows/cycle.js';
import { launchChromium, until, useStack } from '../helpers.js';

const stack = useStack('reviewnumeric');
let browser: Browser;
let review: ReviewServer;

beforeAll(async () => {
  browser = await launchChromium();
  review = await startReviewServer(stack.h.client);
});
afterAll(async () => {
  await browser?.close();
  await review?.close();
});

const shown = (page: Page) => page.locator('#queue .item:not([hidden])').getAttribute('data-key');
const text = (page: Page, selector: string) => page.locator(selector).textContent();

describe('review page, numeric answers', () => {
  it('given a regression campaign, then the reviewer types values, sees refusals under the item, corrects them, and every value arrives', async () => {
    const modelId = 'cars-review';
    const prepared = await prepareCarsModel(stack.pool, modelId, { labeling: { reviewers: ['alice'] } });
    const window = prepared.rows.filter(
      (r) => r.ts >= CARS_SCENARIO.window.start && r.ts < CARS_SCENARIO.window.end,
    );
    const items = window.slice(0, 4);
    const truth = new Map(items.map((r) => [r.recordKey, r.label]));
    const { datasetId } = await withTransaction(stack.pool, (client) =>
      db.insertDatasetVersion(client, {
        modelId,
        idempotencyKey: `${modelId}:review`,
        parentId: null,
        kind: 'collected',
        cycleId: null,
        windowStart: null,
        windowEnd: null,
        samplingPlan: { test: 'numeric review page' },
        contentHash: 'cars-review-4',
        rows: items.map((r) => ({
          recordKey: r.recordKey,
          ts: r.ts,
          features: r.features,
          label: null,
          labelSource: null,
          split: 'train' as const,
        })),
      }),
    );
    // Miles per gallon: at least 0 by the model's target, at most the reference's top widened by half its span.
    const numeric = numericLabelRange({ min: 0 }, { min: 9, max: 35 }, 0.5);
    const cycleId = `${modelId}-1`;
    const campaign = await stack.h.client.workflow.start('labelingCampaign', {
      workflowId: labelingWorkflowId(cycleId),
      taskQueue: stack.h.taskQueue,
      args: [
        {
          campaignId: labelingWorkflowId(cycleId),
          cycleId,
          modelId,
          datasetId,
          championVersion: prepared.champion.version,
          labelSet: [],
          numeric,
          budget: items.length,
          minLabels: items.length,
          deadline: '24h',
          reminderAt: 0,
        },
      ],
    });
    try {
      const status = await until(
        () => pendingLabels(stack.h.client, cycleId),
        (s) => s.pending.length === items.length,
      );
      const [a, b] = [status.pending[0]!, status.pending[1]!];
      const page = await browser.newPage();
      await page.goto(`${review.url}/review/${cycleId}?reviewer=alice`);

      // A value field per item, with its range and the model's guess to four significant digits.
      const card = page.locator(`.item[data-key="${a.recordKey}"]`);
      expect(await shown(page)).toBe(a.recordKey);
      expect(await card.locator('button.label').count()).toBe(0);
      expect(await card.locator('input.value').getAttribute('aria-label')).toBe(`value for ${a.recordKey}`);
      expect(await text(page, `#range-${a.recordKey}`)).toBe('a number between 0 and 48');
      expect(await card.locator('.guess').textContent()).toBe(String(Number(Number(a.guess).toPrecision(4))));
      expect(await text(page, '.keys')).toMatch(
        /^Keys: type the value · Enter\s?submit · Skip and Back are buttons/,
      );
      // The field has the focus: typing goes straight into it.
      await expect
        .poll(() => page.evaluate('document.activeElement && document.activeElement.className'))
        .toBe('value');

      // Text, then a number out of range: each refused under the item, nothing written to the campaign.
      const events = (await campaign.fetchHistory()).events!.length;
      await page.keyboard.type('twenty');
      await page.keyboard.press('Enter');
      await expect.poll(() => text(page, `.item[data-key="${a.recordKey}"] .refusal`)).toMatch(/label/);
      const notANumber = await text(page, `.item[data-key="${a.recordKey}"] .refusal`);
      expect(notANumber).toMatch(/"twenty"|twenty/);
      expect(await shown(page)).toBe(a.recordKey);
      await card.locator('input.value').fill('');
      await page.keyboard.type('120');
      await page.keyboard.press('Enter');
      await expect
        .poll(() => text(page, `.item[data-key="${a.recordKey}"] .refusal`))
        .toMatch(/120.*(48|range)|(48|range).*120/);
      expect((await campaign.fetchHistory()).events!.length).toBe(events);
      expect((await pendingLabels(stack.h.client, cycleId)).answered).toBe(0);

      // Corrected, with a trailing zero ("18.0"): stored in its one form, and the next item's field takes
      // the typing.
      const value = truth.get(a.recordKey)!;
      await card.locator('input.value').fill('');
      await page.keyboard.type(value.includes('.') ? `${value}0` : `${value}.0`);
      await page.keyboard.press('Enter');
      await expect
        .poll(() => text(page, '#status.ok'))
        .toBe(`Labeled ${a.recordKey} = ${truth.get(a.recordKey)}; ${items.length - 1} remaining`);
      expect(await card.locator('input.value').isDisabled()).toBe(true);
      expect(await shown(page)).toBe(b.recordKey);
      for (const item of status.pending.slice(1)) {
        expect(await shown(page)).toBe(item.recordKey);
        await page.keyboard.type(truth.get(item.recordKey)!);
        await page.keyboard.press('Enter');
        await expect.poll(() => text(page, '#answered')).toBe(String(status.pending.indexOf(item) + 1));
      }
      const after = await until(
        () => pendingLabels(stack.h.client, cycleId),
        (s) => s.answered === items.length,
      );
      expect(after.state).toBe('complete');
      const stored = await until(
        () => campaignLabels(stack.pool, labelingWorkflowId(cycleId)),
        (rows) => rows.length === items.length,
      );
      expect(new Map(stored.map((l) => [l.record_key, l.label]))).toEqual(truth);
      await page.close();
    } finally {
      await campaign.terminate('test over').catch(() => undefined);
    }
  });
});
