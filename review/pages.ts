/**
 * The review page's HTML: the list of open campaigns, one campaign with a form per item, and the error
 * page. Built with core/html.ts's `markup` tag, so every value from a campaign (record keys, features,
 * labels, reviewer names) is escaped unless it is markup made here.
 */
import { markup, type Html, type Interpolated } from '../core/html.js';
import type { LabelingStatus } from '../workflows/messages.js';

const STYLE = markup`
body{font:15px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2330}
h1{font-size:1.4rem} .muted{color:#667} .error{color:#a40000}
table{border-collapse:collapse} td,th{padding:.15rem .6rem;text-align:left;border-bottom:1px solid #e3e6ea}
.item{border:1px solid #d5d9de;border-radius:6px;padding:.8rem 1rem;margin:.8rem 0}
.item.done{opacity:.45} .guess{font-weight:600}
#status{min-height:1.4em;padding:.4rem .6rem;border-radius:4px}
#status.ok{background:#e7f6ea} #status.refused{background:#fde8e8;color:#a40000}`;

/** Sends each answer to this server and shows the result; a constant, never built from data. */
const SCRIPT = markup`
const status = document.getElementById('status');
const reviewer = new URLSearchParams(location.search).get('reviewer');
for (const form of document.querySelectorAll('form[data-key]')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = form.dataset.key;
    const label = form.elements.label.value.trim();
    const res = await fetch(location.pathname + '/label' + (reviewer ? '?reviewer=' + encodeURIComponent(reviewer) : ''), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ recordKey: key, label }),
    });
    const body = await res.json();
    if (res.ok) {
      status.className = 'ok';
      status.textContent = (body.duplicate ? 'Already labeled: ' : 'Labeled ') + body.recordKey + ' = ' + body.label + '; ' + body.remaining + ' remaining' + (body.awaiting ? ' (this item waits for ' + body.awaiting + ' more reviewer' + (body.awaiting > 1 ? 's' : '') + ')' : '');
      form.closest('.item').classList.add('done');
      form.querySelector('button').disabled = true;
      if (!body.duplicate && !body.awaiting) document.getElementById('answered').textContent = String(Number(document.getElementById('answered').textContent) + 1);
    } else {
      status.className = 'refused';
      status.textContent = body.error;
    }
  });
}`;

function page(title: string, body: Html, script?: Html): string {
  return markup`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>${STYLE}</style></head><body>${body}${script ? markup`<script>${script}</script>` : ''}</body></html>`
    .markup;
}

const reviewerText = (reviewer: string | null): Interpolated =>
  reviewer ? reviewer : 'not set (add ?reviewer=you)';

export function errorPage(message: string): string {
  return page(
    'Remedy review',
    markup`<p class="error">${message}</p><p><a href="/review">Open campaigns</a></p>`,
  );
}

export function indexPage(list: { cycleId: string; startTime: string }[], reviewer: string | null): string {
  const q = reviewer ? `?reviewer=${encodeURIComponent(reviewer)}` : '';
  const rows = list.map(
    (c) =>
      markup`<tr><td><a href="/review/${encodeURIComponent(c.cycleId)}${q}">${c.cycleId}</a></td><td class="muted">${c.startTime}</td></tr>`,
  );
  return page(
    'Remedy review',
    markup`<h1>Open labeling campaigns</h1><p class="muted">Reviewer: ${reviewerText(reviewer)}</p>${
      rows.length > 0
        ? markup`<table><tr><th>cycle</th><th>started</th></tr>${rows}</table>`
        : markup`<p>No campaign is waiting for labels.</p>`
    }`,
  );
}

export function campaignPage(cycleId: string, s: LabelingStatus, reviewer: string | null): string {
  const options = s.labelSet.map((l) => markup`<option value="${l}">`);
  // An overlapped item this reviewer has answered waits for someone else: not in their queue.
  const queue = s.pending.filter((item) => !reviewer || !(item.reviewedBy ?? []).includes(reviewer));
  const items = queue.map((item, i) => {
    const features = Object.entries(item.features).map(
      ([k, v]) => markup`<tr><th>${k}</th><td>${String(v)}</td></tr>`,
    );
    const overlap = item.needs
      ? markup` <span class="muted overlap">· ${item.needs === 3 ? 'the first two reviewers disagreed: yours decides' : `answered by two reviewers (${(item.reviewedBy ?? []).length} so far)`}</span>`
      : '';
    return markup`<div class="item" data-key="${item.recordKey}">
<div><b>${item.recordKey}</b> — model's guess: <span class="guess">${item.guess}</span> <span class="muted">(${(item.confidence * 100).toFixed(0)}% sure)</span>${overlap}</div>
<table>${features}</table>
<form data-key="${item.recordKey}"><label>Label <input name="label" list="labels" required autocomplete="off" aria-label="label for ${item.recordKey}" id="label-${i}"></label> <button type="submit">Submit</button></form>
</div>`;
  });
  const batch = s.batch ? markup` · batch <span id="batch">${s.batch.current} of ${s.batch.of}</span>` : '';
  const agreement =
    s.agreement && s.agreement.kappa !== null
      ? ` · agreement kappa ${s.agreement.kappa.toFixed(2)} on ${s.agreement.pairs} items`
      : '';
  const body = markup`<h1>Labeling campaign of ${cycleId}</h1>
<p class="muted">Reviewer: <b id="reviewer">${reviewerText(reviewer)}</b> · state <b id="state">${s.state}</b> · <span id="answered">${s.answered}</span> of ${s.requested} answered · deadline ${s.deadlineAt} · labels: ${s.labelSet.join(', ')}${batch}${agreement}</p>
<div id="status" role="status" aria-live="polite"></div>
<datalist id="labels">${options}</datalist>
${items.length > 0 ? items : markup`<p>Nothing is waiting for a label.</p>`}`;
  return page(`Review ${cycleId}`, body, SCRIPT);
}
