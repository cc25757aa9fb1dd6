/**
 * Data-quality checks that run before any drift test: schema violations, missing values, values outside
 * the reference range and categories never seen in the reference.
 */
import type { Policy } from '../schemas.js';
import { lowerBound, upperBound } from '../stats.js';
import type { CurrentColumn } from './columns.js';
import type { ColumnProfile } from './profile.js';

export interface QualityIssue {
  feature: string;
  kind: 'schema' | 'missing' | 'out-of-range' | 'new-category';
  /** Share of the window's rows affected. */
  share: number;
  detail: string;
}

export interface DataQuality {
  incident: boolean;
  issues: QualityIssue[];
}

export function qualityIssues(
  feature: string,
  ref: ColumnProfile,
  cur: CurrentColumn,
  bad: number,
  rows: number,
  policy: Policy['drift']['dataQuality'],
): QualityIssue[] {
  const issues: QualityIssue[] = [];
  if (bad > 0 && bad / rows > policy.maxSchemaViolationShare) {
    issues.push({
      feature,
      kind: 'schema',
      share: bad / rows,
      detail: `${bad} of ${rows} rows have a value of the wrong type for "${feature}" (expected ${ref.type === 'numeric' ? 'a finite number' : 'a string'})`,
    });
  }
  const present = cur.type === 'numeric' ? cur.sorted.length : cur.count;
  const missingShare = (rows - present - bad) / rows;
  const refMissing = ref.missing / Math.max(1, ref.count + ref.missing);
  if (missingShare - refMissing > policy.maxMissingIncrease) {
    issues.push({
      feature,
      kind: 'missing',
      share: missingShare,
      detail: `${pct(missingShare)} missing vs ${pct(refMissing)} in the reference`,
    });
  }
  if (ref.type === 'numeric' && cur.type === 'numeric' && ref.count > 0 && cur.sorted.length > 0) {
    const margin = (ref.max - ref.min) * policy.rangeMargin;
    const below = lowerBound(cur.sorted, ref.min - margin);
    const above = cur.sorted.length - upperBound(cur.sorted, ref.max + margin);
    const share = (below + above) / rows;
    if (share > policy.maxOutOfRangeShare) {
      issues.push({
        feature,
        kind: 'out-of-range',
        share,
        detail: `${below + above} values outside [${fmt(ref.min - margin)}, ${fmt(ref.max + margin)}] (reference range ${fmt(ref.min)}..${fmt(ref.max)} plus ${policy.rangeMargin * 100}%)`,
      });
    }
  }
  if (ref.type === 'categorical' && cur.type === 'categorical') {
    const unseen = Object.keys(cur.counts).filter(
      (k) => !Object.prototype.hasOwnProperty.call(ref.counts, k),
    );
    const n = unseen.reduce((a, k) => a + cur.counts[k]!, 0);
    if (n > 0 && n / rows > policy.maxNewCategoryShare) {
      issues.push({
        feature,
        kind: 'new-category',
        share: n / rows,
        detail: `${n} rows with categories never seen in the reference: ${unseen
          .slice(0, 5)
          .map((k) => JSON.stringify(k))
          .join(', ')}${unseen.length > 5 ? ', …' : ''}`,
      });
    }
  }
  return issues;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}
