/**
 * The labeling page: one item at a time, with the campaign's progress, the deadline in words (from the
 * server's clock), the model's guess marked on its label, the features in a compact table, and a button
 * per label (1–9 as keys, Enter sends); a regression model's campaign asks for a number instead, in a field
 * that says the range the campaign accepts (the workflow's validator has the last word). Every item of the reviewer's queue is in the page; the script
 * (label-script.ts) shows one and moves through them. Without JavaScript the page says it needs it and
 * names the CLI that does the same.
 */
import { markup, type Html } from '../core/html.js';
import { agreementText } from '../core/labeling.js';
import type { LabelingStatus, PendingItem } from '../workflows/messages.js';
import { LABEL_SCRIPT } from './label-script.js';
import { page, reviewerText } from './pages.js';

const STYLE = markup`
.head{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;align-items:baseline}
.meta{margin:.2rem 0 .8rem}
.progress{display:flex;gap:.8rem;align-items:center;margin:.6rem 0}
.progress progress{flex:1;height:.6rem}
#progress{font-weight:600;font-variant-numeric:tabular-nums}
.item{border:1px solid #d5d9de;border-radius:8px;padding:1rem 1.2rem;margin:.6rem 0}
.item h2{font-size:1.1rem;margin:0 0 .6rem}
.guess{font-weight:600}
table.features{font-size:.9rem;margin:.4rem 0 1rem}
table.features th{color:#556;font-weight:500;width:1%;white-space:nowrap}
table.features td{font-variant-numeric:tabular-nums;padding-right:1.6rem}
.labels{display:flex;flex-wrap:wrap;gap:.5rem}
button{font:inherit;cursor:pointer;border:1px solid #b9c0c8;background:#fff;border-radius:6px;padding:.45rem .8rem}
button:disabled{cursor:default;opacity:.55}
button.label[aria-pressed="true"]{background:#1f5fbf;border-color:#1f5fbf;color:#fff}
button.label.guess{border-width:2px;border-color:#7a5cc7}
button.label .tag{font-size:.75rem;margin-left:.4rem;color:#7a5cc7}
button.label[aria-pressed="true"] .tag{color:#e8e0ff}
kbd{font:600 .8rem ui-monospace,monospace;border:1px solid #c5cad0;border-bottom-width:2px;border-radius:4px;padding:0 .3rem;margin-right:.35rem;background:#f6f7f9;color:#1d2330}
.actions{display:flex;gap:.5rem;margin-top:1rem}
button.submit{background:#1d2330;color:#fff;border-color:#1d2330}
.refusal:not(:empty){margin-top:.8rem;padding:.5rem .7rem;border-radius:6px;background:#fde8e8;color:#a40000}
.sent{margin-top:.8rem;padding:.5rem .7rem;border-radius:6px;background:#e7f6ea}
#status{min-height:1.4em;padding:.4rem .6rem;border-radius:4px}
#status.ok{background:#e7f6ea} #status.refused{background:#fde8e8;color:#a40000} #status.note{background:#f1f3f6}
input.value{font:inherit;font-variant-numeric:tabular-nums;width:9rem;padding:.4rem .6rem;border:1px solid #b9c0c8;border-radius:6px}
.range{font-size:.85rem;color:#667;margin-left:.6rem}
.keys{font-size:.85rem;color:#667}
noscript p{padding:.6rem .8rem;border-radius:6px;background:#fff4d6}`;

const FEATURE_COLUMNS = 3;

/** A duration in words, as a labeler reads a deadline: "in 23 hours", "2 days ago"; rounded down. */
export function inWords(deltaMs: number): string {
  const minutes = Math.floor(Math.abs(deltaMs) / 60_000);
  if (minutes < 1) return deltaMs >= 0 ? 'in less than a minute' : 'less than a minute ago';
  const amount =
    minutes < 60
      ? plural(minutes, 'minute')
      : minutes < 48 * 60
        ? plural(Math.floor(minutes / 60), 'hour')
        : plural(Math.floor(minutes / (24 * 60)), 'day');
  return deltaMs >= 0 ? `in ${amount}` : `${amount} ago`;
}

const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** A feature value, short: numbers to four significant digits (the full value in the cell's title). */
function shortValue(v: number | string): string {
  if (typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v))
    return String(Number(v.toPrecision(4)));
  return String(v);
}

function featureTable(features: PendingItem['features']): Html {
  const cells = Object.entries(features).map(
    ([k, v]) => markup`<th>${k}</th><td title="${String(v)}">${shortValue(v)}</td>`,
  );
  const rows: Html[] = [];
  for (let i = 0; i < cells.length; i += FEATURE_COLUMNS)
    rows.push(markup`<tr>${cells.slice(i, i + FEATURE_COLUMNS)}</tr>`);
  return markup`<table class="features">${rows}</table>`;
}

/** The range a numeric answer must fall in, in words: "between 9 and 46", "at least 0", "any number". */
export function rangeInWords(range: NonNullable<LabelingStatus['numeric']>): string {
  const { min, max } = range;
  if (min !== null && max !== null) return `between ${shortValue(min)} and ${shortValue(max)}`;
  if (min !== null) return `at least ${shortValue(min)}`;
  if (max !== null) return `at most ${shortValue(max)}`;
  return 'any number';
}

/** The model's guess as a labeler reads it: a predicted number to four significant digits. */
function guessText(guess: string, numeric: boolean): string {
  const value = Number(guess);
  return numeric && guess.trim() !== '' && Number.isFinite(value) ? shortValue(value) : guess;
}

/** A numeric campaign's answer field, labelled with the record and the range it accepts. */
function valueField(item: PendingItem, range: NonNullable<LabelingStatus['numeric']>): Html {
  const words = rangeInWords(range);
  return markup`<label>Value <input type="text" class="value" inputmode="decimal" autocomplete="off" spellcheck="false" aria-label="value for ${item.recordKey}" aria-describedby="range-${item.recordKey}"></label><span class="range" id="range-${item.recordKey}">a number ${words}</span>`;
}

function itemCard(item: PendingItem, s: LabelingStatus, first: boolean): Html {
  const { labelSet } = s;
  const overlap = item.needs
    ? markup` <span class="muted overlap">· ${item.needs === 3 ? 'the first two reviewers disagreed: yours decides' : `answered by two reviewers (${(item.reviewedBy ?? []).length} so far)`}</span>`
    : '';
  const buttons = s.numeric
    ? [valueField(item, s.numeric)]
    : labelSet.map((label, i) => {
        const key = i < 9 ? markup`<kbd>${i + 1}</kbd>` : '';
        const isGuess = label === item.guess;
        return markup`<button type="button" class="label${isGuess ? ' guess' : ''}" data-label="${label}" aria-pressed="false"${i < 9 ? markup` aria-keyshortcuts="${i + 1}"` : ''}>${key}${label}${isGuess ? markup`<span class="tag">model's guess</span>` : ''}</button>`;
      });
  return markup`<section class="item" data-key="${item.recordKey}" data-state="open"${first ? '' : markup` hidden`}>
<h2><b>${item.recordKey}</b> <span class="muted">— model's guess: <span class="guess">${guessText(item.guess, s.numeric !== undefined)}</span>${s.numeric ? '' : markup` (${(item.confidence * 100).toFixed(0)}% sure)`}</span>${overlap}</h2>
${featureTable(item.features)}
<div class="labels" role="group" aria-label="label for ${item.recordKey}">${buttons}</div>
<div class="actions"><button type="button" class="submit"><kbd>Enter</kbd>Submit</button></div>
<div class="refusal" role="alert"></div>
<div class="sent" hidden></div>
</section>`;
}

/** The campaign's page for one reviewer, its deadline told relative to `nowMs` (the server's clock). */
export function campaignPage(
  cycleId: string,
  s: LabelingStatus,
  reviewer: string | null,
  nowMs: number,
): string {
  // An overlapped item this reviewer has answered waits for someone else: not in their queue.
  const queue = s.pending.filter((item) => !reviewer || !(item.reviewedBy ?? []).includes(reviewer));
  const batch = s.batch ? markup` · batch <span id="batch">${s.batch.current} of ${s.batch.of}</span>` : '';
  const agreed = s.agreement ? agreementText(s.agreement) : null;
  const agreement = agreed ? ` · agreement ${agreed.replace(/ \(gate [^)]*\)$/, '')}` : '';
  const due = Date.parse(s.deadlineAt) - nowMs;
  const deadline = markup`<time id="deadline" datetime="${s.deadlineAt}" title="${s.deadlineAt}">${inWords(due)}</time>`;
  const parked =
    s.state === 'parked' && s.decisionDueAt
      ? markup` · parked: a decision is due <time datetime="${s.decisionDueAt}" title="${s.decisionDueAt}">${inWords(Date.parse(s.decisionDueAt) - nowMs)}</time>`
      : '';
  const shortcuts = s.numeric
    ? markup`type the value · `
    : s.labelSet.slice(0, 9).map((l, i) => markup`<kbd>${i + 1}</kbd>${l} `);
  const queueHtml =
    queue.length > 0
      ? markup`<div class="progress"><span>Item <span id="progress">1 of ${queue.length}</span></span><progress id="bar" max="${queue.length}" value="0"></progress><span class="muted" id="counts">0 sent</span></div>
<div id="status" role="status" aria-live="polite"></div>
<div id="queue">${queue.map((item, i) => itemCard(item, s, i === 0))}</div>
<div id="done" hidden><p><b>Your queue is done.</b> Every item on this page is sent. <a href="">Check for more</a> (a new batch, or items other reviewers left).</p></div>
<div class="actions"><button type="button" id="skip"><kbd>S</kbd>Skip</button><button type="button" id="back"><kbd>U</kbd>Back</button></div>
${
  s.numeric
    ? markup`<p class="keys">Keys: ${shortcuts}<kbd>Enter</kbd>submit · Skip and Back are buttons (<kbd>Tab</kbd> to them): S, U and ⌫ are for typing here</p>`
    : markup`<p class="keys">Keys: ${shortcuts}· <kbd>Enter</kbd>submit · <kbd>S</kbd>skip · <kbd>U</kbd>or <kbd>⌫</kbd>back to the previous item</p>`
}`
      : markup`<p>Nothing is waiting for a label.</p>`;
  const body = markup`<div class="head"><h1>Labeling: ${cycleId}</h1><span class="muted">Reviewer <b id="reviewer">${reviewerText(reviewer)}</b></span></div>
<p class="muted meta">State <b id="state">${s.state}</b> · <span id="answered">${s.answered}</span> of ${s.requested} answered · due ${deadline}${parked}${batch}${agreement}</p>
<noscript><p>This page needs JavaScript to send labels. Without it, answer from the command line: <code>remedy pending ${cycleId}</code>, then <code>remedy label ${cycleId} &lt;recordKey&gt; &lt;label&gt; --reviewer you</code> or <code>remedy labels import ${cycleId} answers.csv --reviewer you</code>.</p></noscript>
${queueHtml}`;
  return page(`Label ${cycleId}`, body, { style: STYLE, script: LABEL_SCRIPT });
}
