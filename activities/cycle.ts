import { createHash } from 'node:crypto';
import { log } from '@temporalio/activity';
import type pg from 'pg';
import type { DriftReport } from '../core/drift.js';
import { planCollection } from '../core/collection.js';
import { holdoutKeys } from '../core/policy.js';
import { isRegression, type Policy, type Window } from '../core/schemas.js';
import { numericLabelRange, type NumericLabelRange } from '../core/regression-labels.js';
import { canonicalJson } from '../core/model.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { windowSeed } from '../db/windows.js';
import { windowReport } from './drift.js';
import { logSourceFrom } from './log-sources.js';
import { businessFailure } from './failures.js';
import { cycleClosedEvents } from './cycle-events.js';
import { recordEvent } from './notifications.js';
import type { Pseudonymiser } from './pseudonym.js';
import { tryReconcile } from './reconcile.js';

export interface CycleContext {
  policy: Policy;
  labelSet: string[];
  championVersion: number;
  /**
   * A regression model's cycle only: the range its numeric labels must fall in (the model's target, else
   * the champion's reference target widened by drift.dataQuality.rangeMargin). Absent for a classifier.
   */
  numeric?: NumericLabelRange;
}

/** Opens the cycle's row; false when the model's one open cycle is another one. */
async function insertCycleOnce(
  pool: pg.Pool,
  cycleId: string,
  modelId: string,
  summary: unknown,
): Promise<boolean> {
  try {
    await db.insertCycle(pool, cycleId, modelId, summary);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return false;
    throw err;
  }
}

type CycleDeps = { pool: pg.Pool; pseudonymise?: Pseudonymiser };

/** The cycle's own activities: its record (open, audit, close), the drift check and its datasets. */
export function createCycleActivities(deps: CycleDeps) {
  return {
    ...cycleRecordActivities(deps),
    ...collectionActivities(deps),
    ...labeledDatasetActivities(deps),
  };
}

/** Opening the cycle and confirming the drift that triggered it. */
function cycleRecordActivities({ pool }: CycleDeps) {
  return {
    /** Registers the cycle (one open cycle per model) and returns what the workflow needs from the registry. */
    async openCycle(input: {
      cycleId: string;
      modelId: string;
      window: Window;
      trigger: string;
    }): Promise<CycleContext> {
      const model = await db.getModel(pool, input.modelId);
      if (!model)
        throw businessFailure(
          'ModelNotFound',
          `model "${input.modelId}" is not registered: register it with a champion first (npm run dev registers the weather example)`,
        );
      const champion = await db.getAlias(pool, input.modelId, 'champion');
      if (champion === null)
        throw businessFailure('NoChampion', `model "${input.modelId}" has no champion version to remediate`);
      const summary = { window: input.window, trigger: input.trigger };
      // The model's open cycle refuses this one, unless its workflow has ended without closing it.
      if (!(await insertCycleOnce(pool, input.cycleId, input.modelId, summary))) {
        const reconciled = await tryReconcile(pool, input.modelId);
        if (!reconciled || !(await insertCycleOnce(pool, input.cycleId, input.modelId, summary))) {
          const open = await db.openCycle(pool, input.modelId);
          throw businessFailure(
            'CycleAlreadyRunning',
            `model "${input.modelId}" already has an open cycle (${open?.cycle_id ?? 'unknown'}); abort it or wait for it to close`,
          );
        }
      }
      // The cycle judges by the policy it starts with; its version is pinned on the cycle for the report.
      const policyVersion = await db.pinCyclePolicyVersion(pool, input.cycleId, input.modelId);
      await db.audit(pool, {
        key: `${input.cycleId}:opened`,
        cycleId: input.cycleId,
        modelId: input.modelId,
        actor: 'remedy',
        action: 'cycle.opened',
        details: { window: input.window, trigger: input.trigger, championVersion: champion, policyVersion },
      });
      await recordEvent(pool, {
        eventKey: `${input.cycleId}:started`,
        kind: 'cycle-started',
        modelId: input.modelId,
        cycleId: input.cycleId,
        message: `cycle ${input.cycleId} started for ${input.modelId} (champion v${champion}, trigger: ${input.trigger}, window ${input.window.start} .. ${input.window.end})`,
        details: { trigger: input.trigger, window: input.window, championVersion: champion },
      });
      const context = { policy: model.policy, labelSet: model.labelSet, championVersion: champion };
      if (!isRegression(model)) return context;
      const profile = await db.getReferenceProfile(pool, input.modelId, champion);
      const target = profile?.target;
      return {
        ...context,
        numeric: numericLabelRange(
          model.target,
          target ? { min: target.min, max: target.max } : null,
          model.policy.drift.dataQuality.rangeMargin,
        ),
      };
    },

    /** Drift report of the window against the champion's stored reference profile. */
    async confirmDrift(input: {
      cycleId: string;
      modelId: string;
      championVersion: number;
      window: Window;
      policy: Policy['drift'];
      maxRows: number;
    }): Promise<{
      reportId: number;
      report: DriftReport;
    }> {
      const report = await windowReport(pool, input);
      await db.insertDriftReport(pool, {
        modelId: input.modelId,
        cycleId: input.cycleId,
        referenceVersion: input.championVersion,
        window: input.window,
        report,
      });
      const reportId = await db.driftReportIdOfCycle(pool, input.cycleId);
      log.info('drift report', {
        cycleId: input.cycleId,
        rows: report.windowRows,
        labeled: report.performance.labeledRows,
        drifted: report.driftedShare,
      });
      return { reportId: Number(reportId!), report };
    },
  };
}

/** The window's records into a dataset version the cycle trains on. */
function collectionActivities({ pool, pseudonymise }: CycleDeps) {
  return {
    /**
     * Collection: selects the window's records into an immutable dataset version with a deterministic
     * train/holdout split and a content hash. Feedback that has arrived is carried as labels.
     */
    async collectDataset(input: {
      cycleId: string;
      modelId: string;
      window: Window;
      policy: Policy['collection'];
      driftReportId: number;
      /** Which rows are held out (evaluation.holdout); by key when unset. */
      holdout?: Policy['evaluation']['holdout'];
    }): Promise<{
      datasetId: number;
      rowCount: number;
      labeledCount: number;
      contentHash: string;
      drifted: number;
      control: number;
      gates: string[];
      /** The candidates the plan chose from: every record of the window, or a uniform sample of it. */
      window: { held: number; candidates: number; selection: 'all' | 'uniform-sample'; seed?: string };
    }> {
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw businessFailure('ModelNotFound', `model "${input.modelId}" is not registered`);
      if (input.policy.pii.mask.length > 0 && !pseudonymise)
        throw businessFailure(
          'PseudonymKeyMissing',
          `the policy masks ${input.policy.pii.mask.join(', ')} (collection.pii.mask) but this worker has no REMEDY_PII_KEYS: set REMEDY_PII_KEYS="p1:<base64 key>" (openssl rand -base64 32) on every worker, or drop the columns instead (collection.pii.drop)`,
        );
      // A wider pool than the dataset holds, so the sampling plan can choose: a uniform sample of the whole
      // window (every record when the window holds no more), never its first hours.
      const range = { modelId: input.modelId, start: input.window.start, end: input.window.end };
      const candidates: db.RecordRow[] = [];
      const source = logSourceFrom(pool, model.policy.logSource, model.features);
      const read = await source.readWindow(
        {
          ...range,
          sample: {
            size: Math.min(input.policy.maxRows * 4, 1_000_000),
            seed: windowSeed(range.modelId, range.start, range.end),
          },
        },
        (rows) => {
          for (const r of rows) candidates.push(r);
        },
      );
      const drawn = {
        held: read.held,
        candidates: read.read,
        selection: read.selection,
        ...(read.seed !== undefined ? { seed: read.seed } : {}),
      };
      if (candidates.length === 0) {
        throw businessFailure(
          'DatasetQualityGateFailed',
          `collection found no records in the window ${input.window.start} .. ${input.window.end}`,
        );
      }
      const stored = await db.getDriftReport(pool, input.driftReportId);
      const plan = planCollection(
        candidates.map((c) => ({ ...c, ts: c.ts.toISOString() })),
        model.features,
        stored?.report ?? null,
        input.policy,
        input.modelId,
        pseudonymise,
      );
      if (!plan.passed) {
        throw businessFailure('DatasetQualityGateFailed', `collection stopped: ${plan.reason!}`, {
          gates: plan.gates,
        });
      }
      const holdout = input.holdout ?? 'random';
      const held = holdoutKeys(plan.rows, input.policy.holdoutShare, holdout);
      const rows: db.DatasetRowInput[] = plan.rows.map((r) => ({
        recordKey: r.recordKey,
        ts: new Date(r.ts),
        features: r.features,
        label: r.feedback,
        labelSource: r.feedback === null ? null : 'feedback',
        split: held.has(r.recordKey) ? 'holdout' : 'train',
      }));
      const contentHash = hashRows(rows);
      // From a team's own log, only the collected rows are copied into Remedy's records (as the dataset
      // holds them), so the feedback and failure catalog that key on records find the items a campaign labels.
      if (source.kind !== 'records')
        await db.insertRecords(
          pool,
          input.modelId,
          rows.map((r) => ({ ...r, feedback: r.label })),
        );
      // Lineage: the champion's training dataset is the parent; the plan says what was taken and why.
      const referenceVersion = stored?.reference_version;
      const parent =
        referenceVersion === undefined
          ? null
          : (await db.getModelVersion(pool, input.modelId, referenceVersion)).datasetId;
      const { datasetId } = await withTransaction(pool, (client) =>
        db.insertDatasetVersion(client, {
          modelId: input.modelId,
          idempotencyKey: `${input.cycleId}:collected`,
          parentId: parent,
          kind: 'collected',
          cycleId: input.cycleId,
          windowStart: input.window.start,
          windowEnd: input.window.end,
          samplingPlan: {
            ...plan.plan,
            window: drawn,
            holdoutShare: input.policy.holdoutShare,
            holdout,
            driftReportId: input.driftReportId,
            driftedRegion: plan.plan.region,
            gates: plan.gates,
          },
          contentHash,
          rows,
        }),
      );
      return {
        datasetId,
        rowCount: rows.length,
        labeledCount: rows.filter((r) => r.label !== null).length,
        contentHash,
        drifted: plan.plan.drifted,
        control: plan.plan.control,
        gates: plan.gates.map((g) => `${g.gate}: ${g.passed ? 'pass' : 'FAIL'}`),
        window: drawn,
      };
    },
  };
}

/** The labeled dataset, the audit trail and the cycle's close. */
function labeledDatasetActivities({ pool }: CycleDeps) {
  return {
    /** Freezes the collected rows plus the campaign's answers into a new, labeled dataset version. */
    async freezeLabeledDataset(input: {
      cycleId: string;
      modelId: string;
      parentId: number;
      campaignId: string;
    }): Promise<{
      datasetId: number;
      rowCount: number;
      labeledCount: number;
      humanLabels: number;
      contentHash: string;
    }> {
      const parent = await db.getDatasetRows(pool, input.parentId);
      const answers = await db.campaignLabels(pool, input.campaignId);
      const byKey = new Map(answers.map((a) => [a.record_key, a]));
      const rows: db.DatasetRowInput[] = parent
        .map((r) => {
          const answer = byKey.get(r.recordKey);
          return answer && r.label === null
            ? { ...r, label: answer.label, labelSource: answer.source }
            : { ...r, labelSource: r.labelSource as db.DatasetRowInput['labelSource'] };
        })
        .filter((r) => r.label !== null);
      const contentHash = hashRows(rows);
      const { datasetId } = await withTransaction(pool, (client) =>
        db.insertDatasetVersion(client, {
          modelId: input.modelId,
          idempotencyKey: `${input.cycleId}:labeled`,
          parentId: input.parentId,
          kind: 'labeled',
          cycleId: input.cycleId,
          windowStart: null,
          windowEnd: null,
          samplingPlan: { campaignId: input.campaignId },
          contentHash,
          rows,
        }),
      );
      return {
        datasetId,
        rowCount: rows.length,
        labeledCount: rows.length,
        humanLabels: rows.filter((r) => r.labelSource === 'human').length,
        contentHash,
      };
    },

    async recordAudit(input: {
      key: string;
      cycleId: string;
      modelId: string;
      actor: string;
      action: string;
      details?: unknown;
    }): Promise<void> {
      await db.audit(pool, input);
    },

    /**
     * Closes the cycle once: outcome, summary, an audit event and its notifications (cycle closed; a
     * data-quality incident too when that is the outcome). A repeat changes nothing.
     */
    async closeCycle(input: {
      cycleId: string;
      modelId: string;
      outcome: string;
      summary: unknown;
    }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await db.closeCycle(client, input.cycleId, input.outcome, input.summary);
        // Training progress is only needed while the cycle can still retry its training.
        await db.deleteCycleCheckpoints(client, input.cycleId);
        await db.audit(client, {
          key: `${input.cycleId}:closed`,
          cycleId: input.cycleId,
          modelId: input.modelId,
          actor: 'remedy',
          action: 'cycle.closed',
          details: { outcome: input.outcome },
        });
        for (const event of cycleClosedEvents(input)) await recordEvent(client, event);
      });
    },
  };
}

export function hashRows(rows: readonly db.DatasetRowInput[]): string {
  const canonical = rows
    .map((r) => ({ ...r, ts: r.ts instanceof Date ? r.ts.toISOString() : r.ts }))
    .sort((a, b) => (a.recordKey < b.recordKey ? -1 : a.recordKey > b.recordKey ? 1 : 0));
  return createHash('sha256').update(canonicalJson(canonical)).digest('hex');
}
