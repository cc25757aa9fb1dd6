/**
 * What the bad-input matrices share (test/e2e/bad-input.test.ts, bad-input-identity.test.ts): the
 * database's row counts and workflow history lengths a refused input must leave unchanged, the refusal's
 * message, and the printed matrix.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Pool } from 'pg';
import { describeZodError, ModelDefinition } from '../../core/schemas.js';

const TABLES = [
  'records',
  'predictions',
  'labels',
  'label_tasks',
  'failure_cases',
  'failure_patterns',
  'cycles',
  'cycle_triggers',
  'audit_events',
  'dataset_versions',
  'drift_checks',
  'notifications',
  'model_versions',
  'models',
  'policy_versions',
  'monitors',
];

/** Row counts of every table a refused input could touch. */
export async function fingerprint(pool: Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`);
    out[t] = Number(rows[0]!.n);
  }
  return out;
}

export const historyLength = async (h: WorkflowHandle) => (await h.fetchHistory()).events!.length;

/** The refusal's message: a failed Update's validator message, a thrown error's, or an HTTP error body. */
export async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof Error) return err.cause.message;
    if (err instanceof Error) return err.message;
    return String(err);
  }
  throw new Error('the input was accepted');
}

/** The message a model definition with this policy is refused with. */
export function policyError(policy: Record<string, unknown>): string {
  const r = ModelDefinition.safeParse({
    modelId: 'weather-bad',
    labelSet: ['rain', 'sun'],
    features: { numeric: ['temp_max'], categorical: ['location'] },
    policy,
  });
  if (r.success) throw new Error('the policy was accepted');
  return describeZodError(r.error);
}

/** Prints the matrix: each case and the first line of its refusal. */
export function printMatrix(title: string, seen: [string, string, string][]): void {
  const width = Math.max(...seen.map((s) => `${s[0]}: ${s[1]}`.length));
  console.log(
    `\n${title}: ${seen.length} cases, each refused; the database and the workflows unchanged\n` +
      seen
        .map(
          ([surface, name, message]) =>
            `${`${surface}: ${name}`.padEnd(width)}  →  ${message.split('\n')[0]}`,
        )
        .join('\n'),
  );
}
