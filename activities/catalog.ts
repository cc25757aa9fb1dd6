/**
 * The failure catalog's activities: failure volume for the volume trigger, the latest window for the
 * schedule trigger, the patterns a cycle targets and, once the candidate has served, whether the remedy
 * fixed them.
 */
import type pg from 'pg';
import { sliceOf, traceVerdict, volumeDecision, type Verdict } from '../core/catalog.js';
import { blobsIn, scorerFor } from '../scoring/index.js';
import { durationMs, isRegression, type ModelDefinition, type Window } from '../core/schemas.js';
import * as db from '../db/index.js';
import { businessFailure } from './failures.js';
import { logSourceFrom } from './log-sources.js';
import { regressionTargets, traceRegressionRemedy } from './regression-catalog.js';

export interface TargetTrace {
  patternKey: string;
  cases: number;
  before: { rows: number; errors: number; rate: number | null };
  after: { version: number; rows: number; errors: number; rate: number | null } | null;
  verdict: Verdict | null;
  reason: string | null;
}

const rate = (errors: number, rows: number) => (rows === 0 ? null : errors / rows);

export function createCatalogActivities({ pool }: { pool: pg.Pool }) {
  const model = async (modelId: string) => {
    const def = await db.getModel(pool, modelId);
    if (!def) throw businessFailure('ModelNotFound', `model "${modelId}" is not registered`);
    return def;
  };

  return {
    /** Labeled failures since the last cycle closed and per pattern in the trailing window. */
    async volumeEvidence(input: { modelId: string }): Promise<{
      fire: boolean;
      reason: string;
      pattern: string | null;
      window: Window | null;
      newLabeledFailures: number;
    }> {
      const def = await model(input.modelId);
      const policy = def.policy.triggers.volume;
      const since = await db.labeledFailuresSinceLastCycle(pool, input.modelId);
      const last = since[0]?.last;
      if (!last)
        return {
          fire: false,
          reason: 'no labeled failures since the last cycle',
          pattern: null,
          window: null,
          newLabeledFailures: 0,
        };
      const end = new Date(last.getTime() + 1);
      const start = new Date(end.getTime() - durationMs(policy.window));
      const patterns = await db.labeledPatternCounts(pool, input.modelId, start, end);
      const evidence = {
        newLabeledFailures: Number(since[0]!.n),
        patterns: patterns.map((p) => ({ patternKey: p.pattern_key, cases: Number(p.cases) })),
        windowFailures: patterns.reduce((a, p) => a + Number(p.cases), 0),
      };
      const d = volumeDecision(evidence, policy);
      return {
        ...d,
        window: { start: start.toISOString(), end: end.toISOString() },
        newLabeledFailures: evidence.newLabeledFailures,
      };
    },

    /** The latest `triggers.scheduleWindow` of the production log, ending just after its last record. */
    async latestWindow(input: { modelId: string }): Promise<{ window: Window | null; reason: string }> {
      const def = await model(input.modelId);
      const last = await logSourceFrom(pool, def.policy.logSource, def.features).bound(input.modelId, 'last');
      if (!last) return { window: null, reason: 'the production log is empty' };
      const end = new Date(new Date(last).getTime() + 1);
      const start = new Date(end.getTime() - durationMs(def.policy.triggers.scheduleWindow));
      return {
        window: { start: start.toISOString(), end: end.toISOString() },
        reason: `scheduled cycle over the latest ${def.policy.triggers.scheduleWindow} of the log`,
      };
    },

    /**
     * The model-error patterns a cycle sets out to fix: the window's most frequent ones, each with the
     * champion's error rate in its slice (same slicing values and true label) over the window. A
     * regressor's are slices of large over- or under-predictions (activities/regression-catalog.ts).
     */
    async targetPatterns(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      window: Window;
      /** No longer limits the read (kept for the workflows that pass it): every labeled record counts. */
      maxRows?: number;
    }): Promise<TargetTrace[]> {
      const def = await model(input.modelId);
      const limit = def.policy.failures.targets;
      const top = await db.topModelErrorPatterns(
        pool,
        input.modelId,
        input.window.start,
        input.window.end,
        limit,
      );
      if (top.length > 0 && isRegression(def)) await regressionTargets(pool, def, input, top);
      else if (top.length > 0) await classifierTargets(pool, def, input, top);
      return readTargets(pool, input.cycleId);
    },

    /**
     * After promotion or rollback: the candidate's error rate in each targeted slice on the labeled
     * traffic it served, against the champion's before, and the verdict kept on the pattern.
     */
    async traceRemedy(input: {
      cycleId: string;
      modelId: string;
      candidateVersion: number;
    }): Promise<TargetTrace[]> {
      const def = await model(input.modelId);
      const sliceBy = def.policy.failures.sliceBy ?? def.features.categorical;
      const targets = await readTargets(pool, input.cycleId);
      if (isRegression(def)) {
        await traceRegressionRemedy(pool, def, input, targets);
        return readTargets(pool, input.cycleId);
      }
      const served = await db.labeledServedBy(pool, input.modelId, input.candidateVersion);
      for (const t of targets) {
        const { slice, truth } = parsePattern(t.patternKey);
        const inSlice = served.filter((s) => s.feedback === truth && sliceOf(s.features, sliceBy) === slice);
        const after = {
          rows: inSlice.length,
          errors: inSlice.filter((s) => s.predicted !== s.feedback).length,
        };
        const v = traceVerdict({ rows: t.before.rows, errors: t.before.errors }, after);
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
      return readTargets(pool, input.cycleId);
    },
  };
}

/** A classifier's targets: each top pattern with the champion's error rate in its slice and true label. */
async function classifierTargets(
  pool: pg.Pool,
  def: ModelDefinition,
  input: { cycleId: string; modelId: string; championVersion: number; window: Window },
  top: readonly { pattern_key: string; cases: string }[],
): Promise<void> {
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  const sliceBy = def.policy.failures.sliceBy ?? def.features.categorical;
  // Every labeled record of the window, streamed: the error rate of each slice before the cycle.
  const groups = new Map<string, { rows: number; errors: number }>();
  const range = { modelId: input.modelId, start: input.window.start, end: input.window.end };
  const scorer = await scorerFor(champion.artifact, blobsIn(pool));
  const source = logSourceFrom(pool, def.policy.logSource, def.features);
  await source.readWindow({ ...range, labeledOnly: true }, async (labeled) => {
    const predicted = await scorer.score(labeled.map((r) => r.features));
    labeled.forEach((r, i) => {
      const k = `${sliceOf(r.features, sliceBy)}|${r.feedback}`;
      const g = groups.get(k) ?? { rows: 0, errors: 0 };
      g.rows++;
      if (predicted[i]!.label !== r.feedback) g.errors++;
      groups.set(k, g);
    });
  });
  for (const t of top) {
    const { slice, truth } = parsePattern(t.pattern_key);
    const g = groups.get(`${slice}|${truth}`) ?? { rows: 0, errors: 0 };
    await db.insertCycleTarget(pool, {
      cycleId: input.cycleId,
      modelId: input.modelId,
      patternKey: t.pattern_key,
      cases: Number(t.cases),
      rows: g.rows,
      errors: g.errors,
    });
    await db.setPatternCycle(pool, input.modelId, t.pattern_key, input.cycleId);
  }
}

/** model-error/<slice>/truth=<t>/predicted=<p> → its slice and true label. */
export function parsePattern(key: string): { slice: string; truth: string } {
  const m = /^model-error\/(.*)\/truth=(.*)\/predicted=.*$/.exec(key);
  if (!m) throw new Error(`"${key}" is not a model-error pattern`);
  return { slice: m[1]!, truth: m[2]! };
}

async function readTargets(pool: pg.Pool, cycleId: string): Promise<TargetTrace[]> {
  const rows = await db.cycleTargets(pool, cycleId);
  return rows.map((r) => ({
    patternKey: r.pattern_key,
    cases: r.cases,
    before: { rows: r.before_rows, errors: r.before_errors, rate: rate(r.before_errors, r.before_rows) },
    after:
      r.after_version === null
        ? null
        : {
            version: r.after_version,
            rows: r.after_rows!,
            errors: r.after_errors!,
            rate: rate(r.after_errors!, r.after_rows!),
          },
    verdict: r.verdict,
    reason:
      r.verdict === null
        ? null
        : traceVerdict(
            { rows: r.before_rows, errors: r.before_errors },
            { rows: r.after_rows!, errors: r.after_errors! },
          ).reason,
  }));
}
