/**
 * The labeling page's only script, a constant never built from data: it shows one item at a time and
 * sends each answer to this server as JSON (the same `submitLabel` Update the CLI sends). Keys: 1–9 pick
 * a label, Enter sends it, S skips, U or Backspace goes back. Enter on a focused link, Skip or Back does
 * what that control says; picking a label takes the focus off them. Keys pressed while an answer is on its
 * way are held and played after it, so a fast labeler loses none; a refusal drops them and stays on its
 * item. A numeric campaign's item has a value field instead of label buttons: typing goes into it, Enter
 * sends what it holds (the campaign's validator judges it), and Skip and Back are its buttons.
 *
 * An answer the campaign accepted is final (the first answer for a record wins: workflows/labeling.ts
 * stores a second one as a duplicate of the first), so going back to it shows it, locked, and sends
 * nothing. The server allows this script by its SHA-256 in the Content-Security-Policy
 * (`LABEL_SCRIPT_HASH`).
 */
import { createHash } from 'node:crypto';
import { Html } from '../core/html.js';

const SOURCE = `
'use strict';
const items = Array.from(document.querySelectorAll('#queue .item'));
const progress = document.getElementById('progress');
const bar = document.getElementById('bar');
const counts = document.getElementById('counts');
const status = document.getElementById('status');
const answered = document.getElementById('answered');
const done = document.getElementById('done');
const reviewer = new URLSearchParams(location.search).get('reviewer');
const target = location.pathname.replace(/[/]+$/, '') + '/label' + (reviewer ? '?reviewer=' + encodeURIComponent(reviewer) : '');
const trail = [];
const held = [];
let at = 0;
let busy = false;
document.body.classList.add('js');

const tell = (kind, text) => { status.className = kind; status.textContent = text; };
const current = () => items[at];
const buttons = (item) => Array.from(item.querySelectorAll('button.label'));
const field = (item) => item.querySelector('input.value');
const sentCount = () => items.filter((el) => el.dataset.state === 'sent').length;

function show() {
  items.forEach((el, i) => { el.hidden = i !== at; });
  if (done) done.hidden = at < items.length;
  const input = items[at] && field(items[at]);
  if (input && !input.disabled) input.focus();
  const sent = sentCount();
  const skipped = items.filter((el) => el.dataset.state === 'skipped').length;
  progress.textContent = Math.min(at + 1, items.length) + ' of ' + items.length;
  bar.value = sent;
  counts.textContent = sent + ' sent' + (skipped ? ', ' + skipped + ' skipped' : '');
}

function choose(n) {
  const item = current();
  if (!item || item.dataset.state === 'sent') return;
  const list = buttons(item);
  if (n < 1 || n > list.length) return;
  list.forEach((b, i) => b.setAttribute('aria-pressed', String(i === n - 1)));
  item.dataset.chosen = list[n - 1].dataset.label;
  // Picking a label takes the focus off Skip or Back, so the next Enter sends it.
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
}

function lock(item, label, note) {
  item.dataset.state = 'sent';
  for (const b of buttons(item)) {
    b.disabled = true;
    b.setAttribute('aria-pressed', String(b.dataset.label === label));
  }
  const input = field(item);
  if (input) { input.value = label; input.disabled = true; }
  item.querySelector('.submit').disabled = true;
  const sent = item.querySelector('.sent');
  sent.textContent = note;
  sent.hidden = false;
}

function advance() {
  const open = (i) => items[i].dataset.state !== 'sent';
  let next = -1;
  for (let i = at + 1; i < items.length && next < 0; i++) if (open(i)) next = i;
  for (let i = 0; i <= at && i < items.length && next < 0; i++) if (open(i)) next = i;
  if (next === at) { tell('note', 'This is the last item waiting: answer it or come back later.'); return; }
  trail.push(at);
  at = next < 0 ? items.length : next;
  show();
}

function skip() {
  const item = current();
  if (!item) return;
  if (item.dataset.state !== 'sent') item.dataset.state = 'skipped';
  advance();
}

function back() {
  if (trail.length === 0) { tell('note', 'Nothing to go back to.'); return; }
  at = trail.pop();
  show();
  const item = current();
  if (item.dataset.state === 'sent')
    tell('note', 'Back to ' + item.dataset.key + ': already sent. The campaign keeps the first answer for each record, so it cannot be changed here.');
  else tell('note', 'Back to ' + item.dataset.key + '.');
}

async function submit() {
  const item = current();
  if (!item) return;
  if (item.dataset.state === 'sent') { tell('note', item.dataset.key + ' is already sent; its answer cannot be changed here.'); return; }
  const input = field(item);
  const label = input ? input.value.trim() : item.dataset.chosen;
  if (!label) { tell('note', input ? 'Type the value first, then press Enter.' : 'Pick a label first: press its number or click it.'); return; }
  busy = true;
  const refusal = item.querySelector('.refusal');
  refusal.textContent = '';
  let ok = false;
  let body;
  try {
    const res = await fetch(target, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ recordKey: item.dataset.key, label }),
    });
    ok = res.ok;
    body = await res.json();
  } catch (err) {
    body = { error: 'could not reach the review server (' + err.message + '): press Enter to send again' };
  }
  busy = false;
  if (ok) {
    const waits = body.awaiting ? ' (this item waits for ' + body.awaiting + ' more reviewer' + (body.awaiting > 1 ? 's' : '') + ')' : '';
    const theirs = body.label !== label;
    lock(item, body.label, theirs
      ? 'Already labeled ' + body.label + ' before yours: the first answer stands.'
      : 'Sent: ' + body.label + '. The first answer for a record stands; it cannot be changed here.');
    tell('ok', (body.duplicate ? 'Already labeled: ' : 'Labeled ') + body.recordKey + ' = ' + body.label + '; ' + body.remaining + ' remaining' + waits);
    if (!body.duplicate && !body.awaiting) answered.textContent = String(Number(answered.textContent) + 1);
    advance();
  } else {
    item.dataset.state = 'refused';
    refusal.textContent = body.error;
    held.length = 0;
    show();
    tell('refused', 'Not sent: ' + item.dataset.key + ' (the reason is under the item).');
  }
  while (!busy && held.length > 0) act(held.shift());
}

function act(key) {
  if (key === 'Enter') void submit();
  else if (key === 's' || key === 'S') skip();
  else if (key === 'u' || key === 'U' || key === 'Backspace') back();
  else choose(Number(key));
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  const k = e.key;
  // In a value field every key but Enter is typing.
  if (e.target && e.target.classList && e.target.classList.contains('value')) {
    if (k !== 'Enter') return;
    e.preventDefault();
    if (busy) held.push(k);
    else act(k);
    return;
  }
  const digit = k.length === 1 && k >= '1' && k <= '9';
  if (!digit && !['Enter', 's', 'S', 'u', 'U', 'Backspace'].includes(k)) return;
  // Enter on a focused link, Skip or Back does what that control says, as everywhere else.
  const focused = document.activeElement;
  if (k === 'Enter' && focused && (focused.tagName === 'A' || focused.id === 'skip' || focused.id === 'back')) return;
  e.preventDefault();
  if (busy) held.push(k);
  else act(k);
});
document.addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b || busy) return;
  if (b.classList.contains('label')) choose(buttons(current()).indexOf(b) + 1);
  else if (b.classList.contains('submit')) void submit();
  else if (b.id === 'skip') skip();
  else if (b.id === 'back') back();
});
show();
`;

export const LABEL_SCRIPT = new Html(SOURCE);

/** The CSP source that allows exactly this script. */
export const LABEL_SCRIPT_HASH = `'sha256-${createHash('sha256').update(SOURCE, 'utf8').digest('base64')}'`;
