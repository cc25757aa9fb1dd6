/**
 * The failure catalog's cycle activities for a regression model (activities/catalog.ts calls these for
 * one): the patterns a cycle targets are slices where the champion errs largely in one direction, each
 * with the champion's rate of such errors in its slice over the window; once the candidate has served,
 * its rate of the same errors (by the same limit) on the labeled traffic it served, and the verdict.
 */
import type pg from 'pg';
import { traceVerdict } from '../core/catalog.js';
import { upgradeProfile } from '../core/drift.js';
import {
  largeErrorLimit,
  parseRegressionPattern,
  sliceErrors,
  type SliceErrors,
} from '../core/regression-catalog.js';
import type { ModelDefinition, Window } from '../core/schemas.js';
import * as db from '../db/index.js';
import { blobsIn, scorerFor } from '../scoring/index.js';
import { logSourceFrom } from './log-sources.js';

const sliceByOf = (def: ModelDefinition) => def.policy.failures.sliceBy ?? def.features.categorical;

async function versionLimit(pool: pg.Pool, def: ModelDefinition, version: number): Promise<number | null> {
  const stored = await db.getReferenceProfile(pool, def.modelId, version);
  return largeErrorLimit(stored ? upgradeProfile(stored) : null, def.policy.failures);
}

/** Records the cycle's targets: each top pattern with the champion's large errors of its sign in its slice. */
export async function regressionTargets(
  pool: pg.Pool,
  def: ModelDefinition,
  input: { cycleId: string; modelId: string; championVersion: number; window: Window },
  top: readonly { pattern_key: string; cases: string }[],
): Promise<void> {
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  const limit = await versionLimit(pool, def, input.championVersion);
  const groups = new Map<string, SliceErrors>();
  if (limit !== null) {
    const scorer = await scorerFor(champion.artifact, blobsIn(pool));
    const source = logSourceFrom(pool, def.policy.logSource, def.features);
    const range = { modelId: input.modelId, start: input.window.start, end: input.window.end };
    await source.readWindow({ ...range, labeledOnly: true }, async (labeled) => {
      const predicted = await scorer.score(labeled.map((r) => r.features));
      const rows = labeled.map((r, i) => ({
        features: r.features,
        predicted: predicted[i]!.value ?? Number(predicted[i]!.label),
        truth: Number(r.feedback),
      }));
      sliceErrors(
        rows.filter((r) => Number.isFinite(r.truth)),
        sliceByOf(def),
        limit,
        groups,
      );
    });
  }
  for (const t of top) {
    const pattern = parseRegressionPattern(t.pattern_key);
    if (!pattern) continue;
    const g = groups.get(pattern.slice) ?? { rows: 0, over: 0, under: 0 };
    await db.insertCycleTarget(pool, {
      cycleId: input.cycleId,
      modelId: input.modelId,
      patternKey: t.pattern_key,
      cases: Number(t.cases),
      rows: g.rows,
      errors: g[pattern.sign],
    });
    await db.setPatternCycle(pool, input.modelId, t.pattern_key, input.cycleId);
  }
}

/** The candidate's large errors of each target's sign in its slice, on the labeled traffic it served. */
export async function traceRegressionRemedy(
  pool: pg.Pool,
  def: ModelDefinition,
  input: { cycleId: string; modelId: string; candidateVersion: number },
  targets: readonly { patternKey: string; before: { rows: number; errors: number } }[],
): Promise<void> {
  const served = (await db.labeledServedBy(pool, input.modelId, input.candidateVersion))
    .map((s) => ({ features: s.features, predicted: Number(s.predicted), truth: Number(s.feedback) }))
    .filter((s) => Number.isFinite(s.predicted) && Number.isFinite(s.truth));
  const fallback = await versionLimit(pool, def, input.candidateVersion);
  for (const t of targets) {
    const pattern = parseRegressionPattern(t.patternKey);
    if (!pattern) continue;
    const limit = (await db.patternErrorLimit(pool, input.modelId, t.patternKey)) ?? fallback;
    const g = limit === null ? undefined : sliceErrors(served, sliceByOf(def), limit).get(pattern.slice);
    const after = { rows: g?.rows ?? 0, errors: g?.[pattern.sign] ?? 0 };
    const v = traceVerdict(t.before, after);
    await db.setCycleTargetAfter(pool, {
      cycleId: input.cycleId,
      patternKey: t.patternKey,
      version: input.candidateVersion,
      rows: after.rows,
      errors: after.errors,
      verdict: v.verdict,
    });
    await db.setPatternVerdict(pool, input.modelId, t.patternKey, v.verdict, input.cycleId);
  }
}
