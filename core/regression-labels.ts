/**
 * Numeric labels, the answers a regression model's reviewers give: a finite number within the target's
 * range, written as decimal text ("23.5", "-4", "1.2e3") or sent as a JSON number. The range's ends come
 * from the model's `target` where it sets them, else from the reference's labels widened by the policy's
 * range margin (as the data-quality checks widen a feature's range), else the end is open. Pure: the
 * labeling workflow's validator, the CLI and imports share these rules.
 */
import type { TargetRange } from './schemas.js';

/** The range a campaign's numeric answers must fall in (both ends included); null: that end is open. */
export interface NumericLabelRange {
  min: number | null;
  max: number | null;
  /** Where each end came from, for messages: the model's target, or the reference's labels widened. */
  minFrom?: 'target' | 'reference';
  maxFrom?: 'target' | 'reference';
}

/** A plain decimal number: optional sign, digits with an optional point, optional exponent. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The range numeric answers must fall in: the model's target ends, and for an end it leaves unset the
 * reference labels' end widened by `margin` × their span (none without a reference).
 */
export function numericLabelRange(
  target: TargetRange | undefined,
  reference: { min: number; max: number } | null,
  margin: number,
): NumericLabelRange {
  if (!(Number.isFinite(margin) && margin >= 0))
    throw new Error(`numericLabelRange: margin must be a number ≥ 0, got ${margin}`);
  if (
    reference &&
    !(Number.isFinite(reference.min) && Number.isFinite(reference.max) && reference.min <= reference.max)
  )
    throw new Error(
      `numericLabelRange: the reference range [${reference.min}, ${reference.max}] is not a range`,
    );
  const widen = reference ? (reference.max - reference.min) * margin : 0;
  const range: NumericLabelRange = { min: null, max: null };
  if (target?.min !== undefined) Object.assign(range, { min: target.min, minFrom: 'target' });
  else if (reference) Object.assign(range, { min: reference.min - widen, minFrom: 'reference' });
  if (target?.max !== undefined) Object.assign(range, { max: target.max, maxFrom: 'target' });
  else if (reference) Object.assign(range, { max: reference.max + widen, maxFrom: 'reference' });
  return range;
}

/** The number a numeric answer gives, or what is wrong with it (naming the field) as a string. */
export function readNumericLabel(label: unknown): { value: number } | { problem: string } {
  if (typeof label === 'number') {
    return Number.isFinite(label)
      ? { value: label }
      : { problem: `label: ${String(label)} is not a finite number; answer with a number such as 23.5` };
  }
  if (typeof label !== 'string')
    return {
      problem: `label: expected a number (such as 23.5), got ${label === null ? 'null' : typeof label}`,
    };
  const text = label.trim();
  if (text.length === 0) return { problem: 'label: is empty; answer with a number such as 23.5' };
  if (/^[+-]?(nan|inf(inity)?)$/i.test(text))
    return { problem: `label: "${text}" is not a finite number; answer with a number such as 23.5` };
  if (/^[+-]?\d+,\d+$/.test(text))
    return {
      problem: `label: "${text}" uses a comma; write the decimal point as ".", e.g. "${text.replace(',', '.')}"`,
    };
  if (!DECIMAL.test(text))
    return { problem: `label: "${shorten(text)}" is not a number; answer with a number such as 23.5` };
  const value = Number(text);
  if (!Number.isFinite(value))
    return { problem: `label: "${shorten(text)}" is too large to be a finite number` };
  return { value };
}

/** What is wrong with a numeric answer for this range (naming the field), or null when it is fine. */
export function numericLabelProblem(label: unknown, range: NumericLabelRange): string | null {
  const read = readNumericLabel(label);
  if ('problem' in read) return read.problem;
  const v = read.value;
  if (range.min !== null && v < range.min)
    return `label: ${v} is below the lowest value a label may take, ${range.min} (${origin(range.minFrom)})`;
  if (range.max !== null && v > range.max)
    return `label: ${v} is above the highest value a label may take, ${range.max} (${origin(range.maxFrom)})`;
  return null;
}

/** The one text a numeric answer is stored as: "23.50", " 23.5" and 23.5 all become "23.5". */
export function canonicalNumericLabel(label: string | number): string {
  const read = readNumericLabel(label);
  if ('problem' in read) throw new Error(read.problem);
  return String(read.value);
}

function origin(from: 'target' | 'reference' | undefined): string {
  return from === 'reference'
    ? "the reference's labels widened by the policy's drift.dataQuality.rangeMargin"
    : "the model's target";
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
