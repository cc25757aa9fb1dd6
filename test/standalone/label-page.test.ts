/**
 * The labeling page without a browser: the deadline in words, values from a campaign escaped, and the
 * script in the page being exactly the one the Content-Security-Policy allows by hash.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { campaignPage, inWords } from '../../review/label-page.js';
import { LABEL_SCRIPT_HASH } from '../../review/label-script.js';
import type { LabelingStatus } from '../../workflows/messages.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2025-03-01T12:00:00Z');

function status(over: Partial<LabelingStatus> = {}): LabelingStatus {
  return {
    campaignId: 'c-labeling',
    labelSet: ['rain', 'sun'],
    requested: 2,
    answered: 0,
    pending: [
      { recordKey: 'r1', features: { wind: 3.14159265, location: 'Oslo' }, guess: 'sun', confidence: 0.7 },
      { recordKey: 'r2', features: { wind: 2, location: 'Lima' }, guess: 'rain', confidence: 0.55 },
    ],
    deadlineAt: new Date(NOW + 24 * HOUR - 5_000).toISOString(),
    state: 'open',
    ...over,
  };
}

describe('labeling page', () => {
  it('given a deadline, then it is told in words, rounded down, ahead or past', () => {
    expect(inWords(24 * HOUR - 5_000)).toBe('in 23 hours');
    expect(inWords(HOUR)).toBe('in 1 hour');
    expect(inWords(90 * 60_000)).toBe('in 1 hour');
    expect(inWords(59 * 60_000 + 59_000)).toBe('in 59 minutes');
    expect(inWords(60_000)).toBe('in 1 minute');
    expect(inWords(30_000)).toBe('in less than a minute');
    expect(inWords(3 * 24 * HOUR + 5 * HOUR)).toBe('in 3 days');
    expect(inWords(47 * HOUR)).toBe('in 47 hours');
    expect(inWords(-2 * HOUR - 60_000)).toBe('2 hours ago');
    expect(inWords(-10_000)).toBe('less than a minute ago');
  });

  it('given a campaign, then the page shows the first item, its guess marked, and the deadline from the given clock', () => {
    const html = campaignPage('remediation-x-1', status(), 'alice', NOW);
    expect(html).toContain(`<time id="deadline" datetime="${status().deadlineAt}"`);
    expect(html).toMatch(/>in 23 hours<\/time>/);
    expect(html).toContain('Item <span id="progress">1 of 2</span>');
    expect(html).toMatch(/<section class="item" data-key="r1" data-state="open">/);
    expect(html).toMatch(/<section class="item" data-key="r2" data-state="open" hidden>/);
    expect(html).toMatch(
      /<button type="button" class="label guess" data-label="sun" aria-pressed="false" aria-keyshortcuts="2"><kbd>2<\/kbd>sun<span class="tag">model's guess<\/span><\/button>/,
    );
    expect(html).toContain('<td title="3.14159265">3.142</td>');
    expect(html).toContain('<noscript><p>This page needs JavaScript to send labels.');
    // A parked campaign says when its decision is due.
    const parked = campaignPage(
      'remediation-x-1',
      status({ state: 'parked', decisionDueAt: new Date(NOW + 3 * HOUR).toISOString() }),
      'alice',
      NOW,
    );
    expect(parked).toMatch(/parked: a decision is due <time [^>]+>in 3 hours<\/time>/);
  });

  it('given hostile record keys, labels and features, then they are escaped and the one script is the hashed one', () => {
    const bad = '"><script>alert(1)</script>';
    const html = campaignPage(
      'remediation-x-1',
      status({
        labelSet: [bad, 'sun'],
        pending: [{ recordKey: bad, features: { [bad]: bad }, guess: bad, confidence: 0.5 }],
      }),
      bad,
      NOW,
    );
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(`'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}'`).toBe(LABEL_SCRIPT_HASH);
    expect(html).toContain('data-key="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it('given an empty queue, then the page says nothing is waiting', () => {
    const html = campaignPage('remediation-x-1', status({ pending: [] }), 'alice', NOW);
    expect(html).toContain('<p>Nothing is waiting for a label.</p>');
    expect(html).not.toContain('id="queue"');
  });
});
