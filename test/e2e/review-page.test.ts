/**
 * The review page in a real headless Chromium, as a labeler uses it: one item at a time, a key per label
 * and Enter to send, skip and back, the model's guess marked, the deadline in words. A reviewer who may not
 * label sees the workflow's refusal next to the item and the campaign is unchanged; forty items are
 * labeled by keyboard alone, two keys each, and every label arrives in the campaign.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignAnswers, campaignLabels } from '../../db/labeling.js';
import { cycleStatus, pendingLabels, startCycle } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { startReviewServer, type ReviewServer } from '../../review/server.js';
import { labelingWorkflowId } from '../../workflows/cycle.js';
import type { LabelingStatus } from '../../workflows/messages.js';
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

/** A campaign of `budget` items for Alice, started and open. */
async function campaignFor(modelId: string, budget: number) {
  const prepared = await prepareWeatherModel(stack.pool, modelId, {
    ...DEMO_POLICY,
    labeling: { budget, minLabels: budget, deadline: '24h', reviewers: ['alice'] },
  });
  const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
  const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: SCENARIO.window });
  const status = await until(
    () => pendingLabels(stack.h.client, cycleId),
    (s) => s.requested === budget,
  );
  expect(status.pending).toHaveLength(budget);
  return { cycleId, status, truth };
}

/** What the labeler sees: the item on screen, the progress, the status line. */
const shown = (page: Page) => page.locator('#queue .item:not([hidden])').getAttribute('data-key');
const text = (page: Page, selector: string) => page.locator(selector).textContent();
/** The number key of a label: its place in the label set, from 1. */
const keyOf = (s: LabelingStatus, label: string) => String(s.labelSet.indexOf(label) + 1);

describe('review page', () => {
  it('given a campaign, then a reviewer skips, goes back, labels by key, sees a refusal next to its item, and the cycle advances', async () => {
    const { cycleId, status, truth } = await campaignFor('weather-review', 3);
    const [a, b, c] = [status.pending[0]!, status.pending[1]!, status.pending[2]!];
    const page = await browser.newPage();
    const cspErrors: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });

    // The index lists the open campaign; its page runs only its own script, allowed by hash.
    await page.goto(`${review.url}/review?reviewer=alice`);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(`/review/${cycleId}`)),
      page.getByRole('link', { name: cycleId }).click(),
    ]);
    expect(page.url()).toBe(`${review.url}/review/${cycleId}?reviewer=alice`);
    expect(response.headers()['content-security-policy']).toMatch(
      /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+={0,2}'; style-src 'unsafe-inline'; connect-src 'self'$/,
    );

    // One item at a time, with progress, the deadline in words from the server's clock, the guess marked.
    expect(await text(page, '#state')).toBe('open');
    expect(await text(page, '#progress')).toBe('1 of 3');
    expect(await text(page, '#deadline')).toBe('in 23 hours');
    expect(await page.locator('#deadline').getAttribute('datetime')).toBe(status.deadlineAt);
    expect(await shown(page)).toBe(a.recordKey);
    expect(await page.locator('#queue .item:not([hidden])').count()).toBe(1);
    const card = page.locator(`.item[data-key="${a.recordKey}"]`);
    const buttons = await card.locator('.labels button.label').all();
    expect(await Promise.all(buttons.map((x) => x.getAttribute('data-label')))).toEqual(status.labelSet);
    expect(await card.locator('button.label.guess').getAttribute('data-label')).toBe(a.guess);
    expect(await card.locator('button.label.guess .tag').textContent()).toBe("model's guess");
    expect(await card.locator('button.label[aria-keyshortcuts="1"]').getAttribute('data-label')).toBe(
      status.labelSet[0],
    );
    expect(await card.locator('table.features th').allTextContents()).toEqual(Object.keys(a.features));

    // Without JavaScript the page says that it needs it, and what to use instead.
    const noScript = await browser.newContext({ javaScriptEnabled: false });
    const plain = await noScript.newPage();
    await plain.goto(`${review.url}/review/${cycleId}?reviewer=alice`);
    expect(await plain.locator('noscript p').textContent()).toMatch(
      new RegExp(`^This page needs JavaScript to send labels\\. .*remedy labels import ${cycleId}`),
    );
    await noScript.close();

    // Someone who is not a reviewer: the workflow's refusal under the item, nothing added to the history.
    const campaign = stack.h.client.workflow.getHandle(labelingWorkflowId(cycleId));
    const events = (await campaign.fetchHistory()).events!.length;
    const stranger = await browser.newPage();
    await stranger.goto(`${review.url}/review/${cycleId}?reviewer=mallory`);
    await stranger.keyboard.press(keyOf(status, truth.get(a.recordKey)!));
    await stranger.keyboard.press('Enter');
    await expect
      .poll(() => text(stranger, `.item[data-key="${a.recordKey}"] .refusal`))
      .toMatch(/^label refused: reviewer "mallory" may not label for this model$/);
    expect(await shown(stranger)).toBe(a.recordKey);
    expect(await text(stranger, '#progress')).toBe('1 of 3');
    expect((await campaign.fetchHistory()).events!.length).toBe(events);
    expect((await pendingLabels(stack.h.client, cycleId)).answered).toBe(0);
    await stranger.close();

    // Skip, and back to the skipped item: still open to answer.
    await page.keyboard.press('s');
    expect(await shown(page)).toBe(b.recordKey);
    expect(await text(page, '#progress')).toBe('2 of 3');
    expect(await text(page, '#counts')).toBe('0 sent, 1 skipped');
    await page.keyboard.press('u');
    expect(await shown(page)).toBe(a.recordKey);
    expect(await text(page, '#progress')).toBe('1 of 3');

    // A number picks the label, Enter sends it and the next item comes.
    await page.keyboard.press(keyOf(status, truth.get(a.recordKey)!));
    expect(await card.locator('button.label[aria-pressed="true"]').getAttribute('data-label')).toBe(
      truth.get(a.recordKey),
    );
    await page.keyboard.press('Enter');
    await expect
      .poll(() => text(page, '#status.ok'))
      .toBe(`Labeled ${a.recordKey} = ${truth.get(a.recordKey)}; 2 remaining`);
    expect(await shown(page)).toBe(b.recordKey);
    expect(await text(page, '#answered')).toBe('1');

    // Back to a sent item: it shows the answer, locked; the campaign keeps the first answer, so no second
    // one is sent.
    const answeredOnce = (await campaign.fetchHistory()).events!.length;
    await page.keyboard.press('u');
    expect(await shown(page)).toBe(a.recordKey);
    expect(await text(page, '#status')).toMatch(/already sent\. The campaign keeps the first answer/);
    expect(await card.locator('.sent').textContent()).toMatch(
      new RegExp(`^Sent: ${truth.get(a.recordKey)}\\.`),
    );
    expect(await card.locator('button.label:not([disabled])').count()).toBe(0);
    const other = status.labelSet.find((l) => l !== truth.get(a.recordKey))!;
    await page.keyboard.press(keyOf(status, other));
    await page.keyboard.press('Enter');
    expect(await text(page, '#status')).toMatch(/is already sent; its answer cannot be changed here/);
    expect((await campaign.fetchHistory()).events!.length).toBe(answeredOnce);
    expect((await pendingLabels(stack.h.client, cycleId)).answered).toBe(1);

    // On to the rest: Skip (here focused and activated with Enter, as a control is) moves past the sent
    // item; the last answer ends the queue.
    await page.focus('#skip');
    await page.keyboard.press('Enter');
    expect(await shown(page)).toBe(b.recordKey);
    for (const [i, item] of [b, c].entries()) {
      await page.keyboard.press(keyOf(status, truth.get(item.recordKey)!));
      await page.keyboard.press('Enter');
      await expect
        .poll(() => text(page, '#status.ok'))
        .toBe(`Labeled ${item.recordKey} = ${truth.get(item.recordKey)}; ${1 - i} remaining`);
    }
    expect(await page.locator('#done').isVisible()).toBe(true);
    expect(await text(page, '#progress')).toBe('3 of 3');
    expect(await text(page, '#counts')).toBe('3 sent');
    expect(await text(page, '#answered')).toBe('3');
    expect(cspErrors).toEqual([]);
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

  it('given forty items, then a reviewer labels them all by keyboard alone with two keys each, and every label arrives', async () => {
    const { cycleId, status, truth } = await campaignFor('weather-keys', 40);
    const page = await browser.newPage({ viewport: { width: 1000, height: 720 } });
    await page.goto(`${review.url}/review/${cycleId}?reviewer=alice`);
    expect(await text(page, '#progress')).toBe('1 of 40');
    let presses = 0;
    const press = async (key: string) => {
      presses++;
      await page.keyboard.press(key);
    };

    // The first twelve one by one, as they appear...
    for (const [i, item] of status.pending.slice(0, 12).entries()) {
      expect(await shown(page)).toBe(item.recordKey);
      await press(keyOf(status, truth.get(item.recordKey)!));
      if (i === 11) await page.screenshot({ path: path.join(tmpdir(), 'review-page.png') });
      await press('Enter');
      await expect.poll(() => text(page, '#progress'), { timeout: 10_000 }).toBe(`${i + 2} of 40`);
    }
    // ...the rest as fast as the keys go: keys pressed while an answer is on its way wait for it.
    for (const item of status.pending.slice(12)) {
      await press(keyOf(status, truth.get(item.recordKey)!));
      await press('Enter');
    }
    await expect.poll(() => text(page, '#counts'), { timeout: 60_000 }).toBe('40 sent');
    expect(await text(page, '#progress')).toBe('40 of 40');
    expect(await page.locator('#done').isVisible()).toBe(true);
    expect(await text(page, '#answered')).toBe('40');
    expect(presses).toBe(80);
    expect(presses / 40).toBeLessThanOrEqual(2);

    // Every label is in the campaign, as pressed, from Alice on the review page; the cycle moves on.
    const labels = await campaignLabels(stack.pool, status.campaignId);
    expect(new Map(labels.map((l) => [l.record_key, l.label]))).toEqual(
      new Map(status.pending.map((p) => [p.recordKey, truth.get(p.recordKey)])),
    );
    const answers = await campaignAnswers(stack.pool, status.campaignId);
    expect(
      answers.every((x) => x.reviewer === 'alice' && x.via === 'review-page' && x.source === 'human'),
    ).toBe(true);
    const moved = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => s.stage !== 'label' && s.stage !== 'collect',
    );
    expect(moved.stages.find((s) => s.stage === 'label')!.summary).toMatchObject({
      state: 'complete',
      answered: 40,
    });
  });
});
