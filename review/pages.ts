/**
 * The review page's HTML shell, the list of open campaigns and the error page. The labeling page itself
 * (one item at a time) is in label-page.ts. Built with core/html.ts's `markup` tag, so every value from a
 * campaign (record keys, features, labels, reviewer names) is escaped unless it is markup made here.
 */
import { markup, type Html, type Interpolated } from '../core/html.js';

const STYLE = markup`
body{font:15px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem} .muted{color:#667} .error{color:#a40000}
table{border-collapse:collapse} td,th{padding:.15rem .6rem;text-align:left;border-bottom:1px solid #e3e6ea}`;

/**
 * A page of the review server: its title, body, and optionally extra style and one script. The script is
 * a constant of this folder, allowed by its hash in the server's Content-Security-Policy.
 */
export function page(title: string, body: Html, extra: { style?: Html; script?: Html } = {}): string {
  return markup`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><style>${STYLE}${extra.style ?? ''}</style></head><body>${body}${extra.script ? markup`<script>${extra.script}</script>` : ''}</body></html>`
    .markup;
}

export const reviewerText = (reviewer: string | null): Interpolated =>
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
