/**
 * Policy versions: every registered definition of a model (features, label set, policy) kept as an
 * immutable version with its author and the diff from the one before, and the version each cycle
 * started with. One small function per SQL statement over an injected queryable.
 */
import { canonical, diffDefinitions, type PolicyChange } from '../core/policy-diff.js';
import type { ModelDefinition } from '../core/schemas.js';
import { audit } from './cycles.js';
import type { Queryable } from './pool.js';

/** What a version records: the definition without its model ID (task and target for regression models). */
export interface VersionedDefinition {
  labelSet: string[];
  features: unknown;
  policy: unknown;
  task?: 'regression';
  target?: unknown;
}

/**
 * The definition a version keeps. A classifier's is as it always was (no task field), so registering an
 * existing model again makes no new version; a regression model's names its task and target range.
 */
export function versionedDefinition(def: ModelDefinition): VersionedDefinition {
  const kept: VersionedDefinition = { labelSet: def.labelSet, features: def.features, policy: def.policy };
  if (def.task === 'regression') {
    kept.task = 'regression';
    if (def.target !== undefined) kept.target = def.target;
  }
  return kept;
}

export interface PolicyVersionRow {
  modelId: string;
  version: number;
  definition: VersionedDefinition;
  author: string;
  createdAt: string;
  diff: PolicyChange[];
}

function toRow(r: {
  model_id: string;
  version: number;
  policy: VersionedDefinition;
  author: string;
  created_at: Date;
  diff: PolicyChange[];
}): PolicyVersionRow {
  return {
    modelId: r.model_id,
    version: r.version,
    definition: r.policy,
    author: r.author,
    createdAt: r.created_at.toISOString(),
    diff: r.diff,
  };
}

/** The model's versions, oldest first. */
export async function listPolicyVersions(q: Queryable, modelId: string): Promise<PolicyVersionRow[]> {
  const { rows } = await q.query<Parameters<typeof toRow>[0]>(
    `SELECT model_id, version, policy, author, created_at, diff FROM policy_versions
     WHERE model_id = $1 ORDER BY version`,
    [modelId],
  );
  return rows.map(toRow);
}

/**
 * Records a registered definition: a new version (n+1) with the diff from version n and an audit event
 * naming the author, or nothing when it equals the latest version. Run it in the transaction that writes
 * the model row; registrations of one model are serialised.
 */
export async function recordPolicyVersion(
  q: Queryable,
  v: { modelId: string; definition: VersionedDefinition; author: string },
): Promise<{ version: number; created: boolean; diff: PolicyChange[] }> {
  await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`policy-version:${v.modelId}`]);
  const { rows } = await q.query<{ version: number; policy: VersionedDefinition }>(
    'SELECT version, policy FROM policy_versions WHERE model_id = $1 ORDER BY version DESC LIMIT 1',
    [v.modelId],
  );
  const latest = rows[0];
  // Through JSON, as jsonb stores it: undefined fields disappear on both sides.
  const next = JSON.parse(JSON.stringify(v.definition)) as VersionedDefinition;
  if (latest && canonical(latest.policy) === canonical(next))
    return { version: latest.version, created: false, diff: [] };
  const version = (latest?.version ?? 0) + 1;
  const diff = latest ? diffDefinitions(latest.policy, next) : [];
  await q.query(
    `INSERT INTO policy_versions (model_id, version, policy, author, diff) VALUES ($1, $2, $3, $4, $5)`,
    [v.modelId, version, JSON.stringify(next), v.author, JSON.stringify(diff)],
  );
  await audit(q, {
    key: `${v.modelId}:policy-v${version}`,
    modelId: v.modelId,
    actor: v.author,
    action: 'policy.versioned',
    details: { version, diff },
  });
  return { version, created: true, diff };
}

/** Pins the model's latest policy version on a cycle that has none yet; returns the pinned version. */
export async function pinCyclePolicyVersion(
  q: Queryable,
  cycleId: string,
  modelId: string,
): Promise<number | null> {
  const { rows } = await q.query<{ policy_version: number | null }>(
    `UPDATE cycles SET policy_version = COALESCE(policy_version,
       (SELECT max(version) FROM policy_versions WHERE model_id = $2))
     WHERE cycle_id = $1 RETURNING policy_version`,
    [cycleId, modelId],
  );
  return rows[0]?.policy_version ?? null;
}

/** The policy version a cycle started with (null for cycles from before versions were kept). */
export async function cyclePolicyVersion(q: Queryable, cycleId: string): Promise<number | null> {
  const { rows } = await q.query<{ policy_version: number | null }>(
    'SELECT policy_version FROM cycles WHERE cycle_id = $1',
    [cycleId],
  );
  return rows[0]?.policy_version ?? null;
}
