/**
 * Safe HTML by construction for the pages Remedy writes (model cards, cycle reports): every interpolated
 * value is escaped unless it is already markup made by the `markup` tag.
 */

/** Markup that is already safe: made only by the `markup` tag and from this file's own constants. */
export class Html {
  constructor(readonly markup: string) {}
}

export type Interpolated = Html | string | number | boolean | readonly Interpolated[];

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function render(value: Interpolated): string {
  if (value instanceof Html) return value.markup;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return escapeHtml(String(value));
  }
  return value.map(render).join('');
}

/**
 * Template tag that escapes every interpolated value unless it is already Html. Escaping is the
 * default rather than something each call site must remember: a slice name, label source or config
 * value can hold "<script>", and the pages are opened by people approving production changes. It is
 * not called `html` on purpose: Prettier reformats templates with that tag as embedded HTML, which
 * would make a page's bytes depend on the formatter's version.
 */
export function markup(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => (out += render(value) + strings[i + 1]!));
  return new Html(out);
}
