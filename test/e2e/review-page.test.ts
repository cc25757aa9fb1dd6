/**
 * The review page in a real headless Chromium: a reviewer labels items and the cycle advances; a bad
 * label shows the workflow's refusal and the campaign is unchanged.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleStatus, pendingLabels, startCycle } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { startReviewServer, type ReviewServer } from '../../review/server.js';
import { labelingWorkflowId } from '../../workflows/cycle.js';
import { launchChromium, until, useStack } from '../helpers.js';

const stack = useStack('review');
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

describe('review page', () => {
  it('given a campaign, then a reviewer labels on the page, a bad label shows the refusal, and the cycle advances', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-review', {
      ...DEMO_POLICY,
      labeling: { budget: 3, minLabels: 3, deadline: '24h', reviewers: ['alice'] },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-review',
      window: SCENARIO.window,
    });
    const status = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.requested === 3,
    );
    const page = await browser.newPage();

    // The index lists the open campaign.
    await page.goto(`${review.url}/review?reviewer=alice`);
    await page.getByRole('link', { name: cycleId }).click();
    await expect.poll(() => page.url()).toBe(`${review.url}/review/${cycleId}?reviewer=alice`);
    expect(await page.locator('#state').textContent()).toBe('open');
    const first = status.pending[0]!;
    expect(await page.locator(`.item[data-key="${first.recordKey}"] .guess`).textContent()).toBe(first.guess);

    // A label outside the label set: the validator's message on the page, nothing added to the history.
    const campaign = stack.h.client.workflow.getHandle(labelingWorkflowId(cycleId));
    const events = (await campaign.fetchHistory()).events!.length;
    await page.getByLabel(`label for ${first.recordKey}`).fill('hail');
    await page.locator(`form[data-key="${first.recordKey}"] button`).click();
    await expect
      .poll(() => page.locator('#status.refused').textContent())
      .toMatch(/^label refused: label "hail" is not one of drizzle, fog, rain, snow, sun$/);
    expect((await campaign.fetchHistory()).events!.length).toBe(events);
    expect((await pendingLabels(stack.h.client, cycleId)).answered).toBe(0);

    // Someone who is not a reviewer is refused the same way.
    const stranger = await browser.newPage();
    await stranger.goto(`${review.url}/review/${cycleId}?reviewer=mallory`);
    await stranger.getByLabel(`label for ${first.recordKey}`).fill(truth.get(first.recordKey)!);
    await stranger.locator(`form[data-key="${first.recordKey}"] button`).click();
    await expect
      .poll(() => stranger.locator('#status.refused').textContent())
      .toMatch(/reviewer "mallory" may not label/);

    // Alice answers all three; the campaign completes and the cycle moves on.
    for (const [i, item] of status.pending.entries()) {
      await page.getByLabel(`label for ${item.recordKey}`).fill(truth.get(item.recordKey)!);
      await page.locator(`form[data-key="${item.recordKey}"] button`).click();
      await expect
        .poll(() => page.locator('#status.ok').textContent())
        .toBe(`Labeled ${item.recordKey} = ${truth.get(item.recordKey)}; ${2 - i} remaining`);
    }
    expect(await page.locator('#answered').textContent()).toBe('3');
    const moved = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => s.stage !== 'label' && s.stage !== 'collect',
    );
    expect(moved.stages.find((s) => s.stage === 'label')!.summary).toMatchObject({
      state: 'complete',
      answered: 3,
    });

    // An unknown cycle is a page that says so.
    const missing = await page.goto(`${review.url}/review/remediation-nope-1?reviewer=alice`);
    expect(missing!.status()).toBe(404);
    expect(await page.locator('.error').textContent()).toMatch(
      /no cycle "remediation-nope-1" was ever started/,
    );
  });
});
