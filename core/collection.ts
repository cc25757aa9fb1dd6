/**
 * The collection campaign's decisions: which records of the window to collect (the sampling plan) and
 * whether they pass the quality gates. Pure and deterministic: the same records, report and policy give
 * the same dataset.
 */
import type { DriftReport, RegionPart } from './drift.js';
import { fnv1a } from './hash.js';
import type { Features, FeatureSpec, Policy } from './schemas.js';

export type CollectionPolicy = Policy['collection'];

export interface Candidate {
  recordKey: string;
  ts: string;
  features: Features;
  feedback: string | null;
}

export interface GateResult {
  gate: 'schema' | 'completeness' | 'duplicates' | 'relevance';
  passed: boolean;
  measured: number;
  limit: number;
  detail: string;
}

export interface CollectionPlan {
  rows: (Candidate & { stratum: 'drifted' | 'control' })[];
  gates: GateResult[];
  passed: boolean;
  /** The first failing gate, said for a person. */
  reason: string | null;
  plan: {
    strategy: 'drift-stratified';
    candidates: number;
    droppedSchema: number;
    droppedDuplicates: number;
    drifted: number;
    control: number;
    controlShare: number;
    maxRows: number;
    region: { feature: string; parts: RegionPart[] }[];
    pii: { dropped: string[]; masked: string[] };
  };
}

function inRegion(features: Features, region: CollectionPlan['plan']['region']): boolean {
  for (const r of region) {
    const v = features[r.feature];
    for (const p of r.parts) {
      if (p.kind === 'category' && String(v) === p.value) return true;
      if (
        p.kind === 'range' &&
        typeof v === 'number' &&
        (p.from === null || v >= p.from) &&
        (p.to === null || v < p.to)
      )
        return true;
    }
  }
  return false;
}

/**
 * The plan: drop rows that break the schema and exact duplicates; apply the PII rule (drop or mask
 * configured columns that are not features); then, over `maxRows`, keep the rows in the drifted region
 * (the bins and categories that gained share) and a `controlShare` of the stable rest, both chosen by
 * a stable hash. Gates: schema violations, completeness, duplicates, and relevance (the collected rows
 * must cover the drifted region when there is one).
 */
export function planCollection(
  candidates: readonly Candidate[],
  spec: FeatureSpec,
  report: Pick<DriftReport, 'features'> | null,
  policy: CollectionPolicy,
  salt: string,
  /** Replaces a value of a `pii.mask` column by its token (keyed: activities/pseudonym.ts). */
  pseudonymise?: (value: string | number) => string,
): CollectionPlan {
  const gates: GateResult[] = [];
  const featureNames = [...spec.numeric, ...spec.categorical];
  const valid = (f: Features) =>
    spec.numeric.every((n) => typeof f[n] === 'number' && Number.isFinite(f[n])) &&
    spec.categorical.every((n) => typeof f[n] === 'string' && f[n] !== '');
  const schemaOk = candidates.filter((c) => valid(c.features));
  const droppedSchema = candidates.length - schemaOk.length;
  const schemaShare = candidates.length === 0 ? 0 : droppedSchema / candidates.length;
  gates.push({
    gate: 'schema',
    passed: schemaShare <= policy.maxSchemaDropShare,
    measured: schemaShare,
    limit: policy.maxSchemaDropShare,
    detail: `${droppedSchema} of ${candidates.length} records lack a feature or have one of the wrong type`,
  });
  const completeness = candidates.length === 0 ? 0 : schemaOk.length / candidates.length;
  gates.push({
    gate: 'completeness',
    passed: schemaOk.length >= policy.minRows,
    measured: schemaOk.length,
    limit: policy.minRows,
    detail: `${schemaOk.length} complete records (${(completeness * 100).toFixed(1)}% of the window; at least ${policy.minRows} needed)`,
  });

  const seen = new Set<string>();
  const unique = schemaOk.filter((c) => {
    const key = `${c.ts}|${featureNames.map((n) => String(c.features[n])).join('|')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const droppedDuplicates = schemaOk.length - unique.length;
  const dupShare = schemaOk.length === 0 ? 0 : droppedDuplicates / schemaOk.length;
  gates.push({
    gate: 'duplicates',
    passed: dupShare <= policy.maxDuplicateShare,
    measured: dupShare,
    limit: policy.maxDuplicateShare,
    detail: `${droppedDuplicates} exact duplicates (same time and features) dropped`,
  });

  // The model definition refuses PII columns that are features, so these are extra fields of the log.
  const piiDrop = policy.pii.drop;
  const piiMask = policy.pii.mask;
  const mask =
    pseudonymise ??
    ((): never => {
      throw new Error('collection.pii.mask needs a pseudonymiser: set REMEDY_PII_KEYS on the worker');
    });
  const clean = unique.map((c) => {
    const features: Features = {};
    for (const [k, v] of Object.entries(c.features)) {
      if (piiDrop.includes(k)) continue;
      features[k] = piiMask.includes(k) ? mask(v) : v;
    }
    return { ...c, features };
  });

  const region = (report?.features ?? [])
    .filter((f) => f.drifted && (f.region ?? []).length > 0)
    .map((f) => ({ feature: f.feature, parts: f.region }));
  const order = (c: Candidate) => fnv1a(`${salt}:${c.recordKey}`);
  const drifted = clean
    .filter((c) => region.length > 0 && inRegion(c.features, region))
    .sort((a, b) => order(a) - order(b));
  const stable = clean
    .filter((c) => !(region.length > 0 && inRegion(c.features, region)))
    .sort((a, b) => order(a) - order(b));
  let picked: CollectionPlan['rows'];
  if (clean.length <= policy.maxRows) {
    picked = [
      ...drifted.map((c) => ({ ...c, stratum: 'drifted' as const })),
      ...stable.map((c) => ({ ...c, stratum: 'control' as const })),
    ];
  } else {
    const controlTarget =
      region.length === 0 ? policy.maxRows : Math.round(policy.maxRows * policy.controlShare);
    const driftTake = Math.min(drifted.length, policy.maxRows - Math.min(controlTarget, stable.length));
    const controlTake = Math.min(stable.length, policy.maxRows - driftTake);
    picked = [
      ...drifted.slice(0, driftTake).map((c) => ({ ...c, stratum: 'drifted' as const })),
      ...stable.slice(0, controlTake).map((c) => ({ ...c, stratum: 'control' as const })),
    ];
  }
  picked.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.recordKey < b.recordKey ? -1 : 1));
  const driftCount = picked.filter((p) => p.stratum === 'drifted').length;
  const relevance = picked.length === 0 ? 0 : driftCount / picked.length;
  gates.push({
    gate: 'relevance',
    passed: region.length === 0 || relevance >= policy.minDriftedShare,
    measured: relevance,
    limit: region.length === 0 ? 0 : policy.minDriftedShare,
    detail:
      region.length === 0
        ? 'no drifted region to cover (performance or label drift): every record is relevant'
        : `${driftCount} of ${picked.length} collected records lie in the drifted region`,
  });

  const failed = gates.find((g) => !g.passed);
  return {
    rows: picked,
    gates,
    passed: failed === undefined,
    reason: failed ? `quality gate "${failed.gate}" failed: ${failed.detail}` : null,
    plan: {
      strategy: 'drift-stratified',
      candidates: candidates.length,
      droppedSchema,
      droppedDuplicates,
      drifted: driftCount,
      control: picked.length - driftCount,
      controlShare: policy.controlShare,
      maxRows: policy.maxRows,
      region,
      pii: { dropped: piiDrop, masked: piiMask },
    },
  };
}
