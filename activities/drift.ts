/**
 * Drift checks against Postgres: the window's report (shared by the cycle's confirm stage and the
 * monitor), the monitor's windows, persistence across windows, and the reservation that makes sure one
 * model never has two cycles at once.
 */
import { log } from '@temporalio/activity';
import type pg from 'pg';
import {
  driftReportColumns,
  truthOf,
  ESTIMATE_MAX_ROWS,
  Reservoir,
  upgradeProfile,
  type DriftReport,
  type EstimateOutcome,
  type WindowOutcome,
} from '../core/drift.js';
import { diagnose } from '../core/policy.js';
import { guardCycleStart, triggerSeverity } from '../core/cycle-guard.js';
import { durationMs } from '../core/inputs.js';
import { isRegressionMetric, type Features, type Policy, type Window } from '../core/schemas.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { windowSeed, type FeaturePage } from '../db/windows.js';
import { WindowColumns } from '../core/window.js';
import { blobsIn, scorerFor } from '../scoring/index.js';
import { businessFailure } from './failures.js';
import { tryReconcile } from './reconcile.js';
import { estimateWindowPerformance } from './estimate.js';
import { logSourceOf, type LogSource } from './log-sources.js';

/** Records per FETCH of a window: a few MiB of feature text per page. */
const PAGE = 20_000 as const;

/**
 * The window's report against the champion's stored reference profile, over every record of the window
 * (or the uniform sample the policy asks for), streamed page by page into columns. The performance
 * signal uses every labeled record of the window; while they are fewer than the policy's minimum, it
 * uses the label-free estimate (the champion's scores on the window's records, or a uniform sample of
 * ESTIMATE_MAX_ROWS of them, calibrated on its reference). The report says how many records the window
 * held, how many were tested and how they were chosen, and what the performance signal rests on.
 */
export async function windowReport(
  pool: pg.Pool,
  input: {
    modelId: string;
    championVersion: number;
    window: Window;
    policy: Policy['drift'];
    /** No longer limits the read (kept for the workflows that pass it): every record is used. */
    maxRows?: number;
    /** Where the window is read from (default: the model's policy.logSource). */
    source?: LogSource;
  },
): Promise<DriftReport> {
  const source = input.source ?? (await logSourceOf(pool, input.modelId));
  const stored = await db.getReferenceProfile(pool, input.modelId, input.championVersion);
  if (!stored)
    throw businessFailure('NoChampion', `champion v${input.championVersion} has no reference profile`);
  const profile = upgradeProfile(stored);
  // The champion's own probabilities on the labeled rows: accuracy, F1, AUC and log-loss all come from them.
  const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
  const scorer = await scorerFor(champion.artifact, blobsIn(pool));
  // A regression model's outcomes are numbers: its checks are core/drift/regression.ts's.
  const regression = isRegressionMetric(input.policy.performanceMetric);
  const outcomes: WindowOutcome[] = [];
  const columns = new WindowColumns(profile.features);
  // Only labeled records are scored: a page's labeled records in one batch.
  const scoreLabeled = async (rows: Features[], truths: string[]) => {
    if (rows.length === 0) return;
    const predictions = await scorer.score(rows);
    predictions.forEach((p, i) =>
      outcomes.push(
        regression
          ? {
              truth: truths[i]!,
              predicted: p.label,
              truthValue: truthOf(truths[i]!),
              predictedValue: p.value!,
            }
          : { truth: truths[i]!, predicted: p.label, probabilities: p.probabilities },
      ),
    );
  };
  const judge = (page: FeaturePage) => {
    const rows: Features[] = [];
    const truths: string[] = [];
    for (let i = 0; i < page.features.length; i++) {
      const truth = page.feedback[i]!;
      if (truth === null) continue;
      rows.push(JSON.parse(page.features[i]!) as Features);
      truths.push(truth);
    }
    return scoreLabeled(rows, truths);
  };
  const limit = input.policy.maxWindowRows;
  const range = { modelId: input.modelId, start: input.window.start, end: input.window.end };
  // Feature texts kept for the estimate, in case labels turn out too few (only strings, bounded).
  const forEstimate = new Reservoir<string>(
    ESTIMATE_MAX_ROWS,
    windowSeed(range.modelId, range.start, range.end),
  );
  const read = await source.readWindowFeatures(
    {
      ...range,
      sample: limit ? { size: limit, seed: windowSeed(range.modelId, range.start, range.end) } : undefined,
      ordered: false,
      pageSize: PAGE,
    },
    (page) => {
      const rows: Features[] = [];
      const truths: string[] = [];
      for (let i = 0; i < page.features.length; i++) {
        const text = page.features[i]!;
        columns.addJsonText(text);
        forEstimate.offer(text);
        const truth = page.feedback[i]!;
        if (limit || truth === null) continue;
        // The row from the values just read (JSON.parse's object, without reading the text again).
        rows.push(columns.lastRow() ?? (JSON.parse(text) as Features));
        truths.push(truth);
      }
      return scoreLabeled(rows, truths);
    },
  );
  if (read.held === 0) {
    throw businessFailure(
      'EmptyWindow',
      source.kind === 'records'
        ? `no production records for "${input.modelId}" between ${input.window.start} and ${input.window.end}: ingest traffic or pick another window`
        : `no production records for "${input.modelId}" between ${input.window.start} and ${input.window.end} in the ${source.name}: check its time column and partitions, or pick another window`,
    );
  }
  // A sample tests the features; feedback is scarce, so the performance signal reads every labeled record.
  if (limit)
    await source.readWindowFeatures({ ...range, labeledOnly: true, ordered: false, pageSize: PAGE }, judge);
  let estimate: EstimateOutcome | undefined;
  // A regressor has no label-free estimate: its check says so (NO_REGRESSION_ESTIMATE) while labels are few.
  if (!regression && outcomes.length < input.policy.minLabeledRows) {
    try {
      estimate = await estimateWindowPerformance(pool, scorer, {
        modelId: input.modelId,
        championVersion: input.championVersion,
        profile,
        texts: forEstimate.items,
        windowRows: read.held,
      });
    } catch (err) {
      // The feature tests stand without it; the report says why there is no estimate.
      log.warn('label-free estimate failed', { modelId: input.modelId, error: String(err) });
      estimate = { unavailable: `the estimate failed: ${(err as Error).message}` };
    }
  }
  const report = driftReportColumns(profile, columns.columns(), outcomes, input.policy, {
    schemaViolations: columns.schemaViolations(),
    ...(estimate ? { estimate } : {}),
  });
  return {
    ...report,
    window: {
      held: read.held,
      tested: read.read,
      selection: read.selection,
      ...(read.seed !== undefined ? { seed: read.seed } : {}),
    },
  };
}

export interface MonitorWindow {
  window: Window | null;
  /** Why there is no window to check yet. */
  waiting?: string;
}

/** A stored check as the monitor's workflow sees it. */
export type CheckResult = Omit<db.DriftCheckRow, 'cycleId'>;

export function createDriftActivities({ pool }: { pool: pg.Pool }) {
  return {
    /**
     * The next window for a model's monitor. Clock mode: the window ending at `now`. Cursor mode: the
     * window after the last checked one, once the log holds a record at or past its end.
     */
    async nextMonitorWindow(input: { modelId: string; now: string }): Promise<MonitorWindow> {
      // Every check also closes the model's cycle if its workflow ended without closing it.
      await tryReconcile(pool, input.modelId);
      const m = await db.getMonitor(pool, input.modelId);
      if (!m)
        throw businessFailure(
          'ModelNotFound',
          `model "${input.modelId}" has no monitor: create one with remedy monitor create --model ${input.modelId}`,
        );
      if (m.mode === 'clock') {
        const end = new Date(input.now);
        return {
          window: { start: new Date(end.getTime() - m.windowMs).toISOString(), end: end.toISOString() },
        };
      }
      const source = await logSourceOf(pool, input.modelId);
      const start = m.nextStart ?? (await source.bound(input.modelId, 'first'));
      if (!start) return { window: null, waiting: 'the production log is empty' };
      const end = new Date(new Date(start).getTime() + m.windowMs).toISOString();
      const latest = await source.bound(input.modelId, 'last');
      if (!latest || latest < end)
        return {
          window: null,
          waiting: `the log has no records at or after ${end} yet (latest ${latest ?? 'none'})`,
        };
      return { window: { start: new Date(start).toISOString(), end } };
    },

    /**
     * One monitor check: the report and diagnosis of the window, stored once per check (the check's
     * workflow ID is the key), the cursor advanced in the same transaction, and the streak of
     * consecutive actionable windows for the current champion.
     */
    async runDriftCheck(input: { checkKey: string; modelId: string; window: Window }): Promise<CheckResult> {
      const existing = await db.getDriftCheck(pool, input.checkKey);
      if (existing) {
        const { cycleId: _cycle, ...check } = existing;
        return check;
      }
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw businessFailure('ModelNotFound', `model "${input.modelId}" is not registered`);
      const champion = await db.getAlias(pool, input.modelId, 'champion');
      if (champion === null) throw businessFailure('NoChampion', `model "${input.modelId}" has no champion`);
      const report = await windowReport(pool, {
        modelId: input.modelId,
        championVersion: champion,
        window: input.window,
        policy: model.policy.drift,
      });
      const diagnosis = diagnose(report, model.policy.drift);
      const actionable = diagnosis.route === 'fine-tune' || diagnosis.route === 'full-cycle';
      await withTransaction(pool, async (client) => {
        await db.insertDriftCheck(client, {
          checkKey: input.checkKey,
          modelId: input.modelId,
          referenceVersion: champion,
          window: input.window,
          report,
          diagnosis,
          actionable,
          persistence: model.policy.drift.persistence,
        });
        await db.advanceMonitor(client, input.modelId, input.window.end);
      });
      const { cycleId: _cycle, ...stored } = (await db.getDriftCheck(pool, input.checkKey))!;
      log.info('drift check', { checkKey: input.checkKey, route: stored.route, streak: stored.streak });
      return stored;
    },

    /**
     * Starts a cycle for a trigger, or attaches the trigger to the model's open cycle as evidence. The
     * database's one-open-cycle-per-model index decides; the trigger key makes a retry find its own row.
     * With no cycle open, a drift or volume trigger may be held back by the policy's cooldown or budget
     * (triggers.cooldown, maxCycles per budgetPeriod), judged at `now`, the workflow's clock: it is then
     * recorded with the reason and no cycle starts. Manual and scheduled cycles are never held back.
     */
    async reserveCycle(input: {
      triggerKey: string;
      modelId: string;
      kind: 'manual' | 'drift' | 'volume' | 'schedule';
      evidence: Record<string, unknown>;
      now?: string;
    }): Promise<db.Reservation> {
      // An open cycle whose workflow has ended (terminated, timed out) is closed first, not attached to.
      await tryReconcile(pool, input.modelId);
      const now = input.now;
      const guarded = now !== undefined && (input.kind === 'drift' || input.kind === 'volume');
      return db.reserveCycle(pool, {
        ...input,
        at: now,
        guard: guarded
          ? async (q) => {
              const model = await db.getModel(q, input.modelId);
              if (!model)
                throw businessFailure('ModelNotFound', `model "${input.modelId}" is not registered`);
              const policy = model.policy.triggers;
              const since = new Date(new Date(now).getTime() - durationMs(policy.budgetPeriod)).toISOString();
              const decision = guardCycleStart({
                now,
                policy,
                severity: triggerSeverity(input.evidence),
                lastClosed: await db.lastClosedCycle(q, input.modelId),
                startedInPeriod: await db.cycleStartsBetween(q, input.modelId, since, now),
              });
              if (decision.suppressed)
                log.info('trigger suppressed', { modelId: input.modelId, reason: decision.reason });
              return decision.suppressed ? { suppressed: decision.reason } : { note: decision.reason };
            }
          : undefined,
      });
    },

    /** Gives back a reservation whose cycle could not be started (only while it is still pending). */
    async releaseCycle(input: { cycleId: string; triggerKey: string }): Promise<void> {
      await withTransaction(pool, (client) =>
        db.releasePendingCycle(client, input.cycleId, input.triggerKey),
      );
    },

    async linkCheckToCycle(input: { checkKey: string; cycleId: string }): Promise<void> {
      await db.linkCheckToCycle(pool, input.checkKey, input.cycleId);
    },
  };
}
