import { log } from '@temporalio/activity';
import type pg from 'pg';
import { blobsIn, scoreRows, scorerFor } from '../scoring/index.js';
import { isRegression, type Features, type ModelDefinition } from '../core/schemas.js';
import { orderForLabeling } from '../core/policy.js';
import { disagreementPick, hybridMarginPick, quickCandidate } from '../core/active-learning.js';
import type { LabelingStrategy } from '../core/labeling-settings.js';
import { readNumericLabel } from '../core/regression-labels.js';
import {
  hybridSpreadPick,
  quickRegressorSpread,
  suggestedValue,
} from '../core/regression-active-learning.js';
import { withTransaction } from '../db/pool.js';
import * as db from '../db/index.js';
import { recordEvent } from './notifications.js';

export interface LabelItem {
  recordKey: string;
  features: Features;
  /** The champion's guess and its confidence, shown to the reviewer. */
  guess: string;
  confidence: number;
}

/** The strategies that open people's items batch by batch (nextLabelBatch). */
type BatchStrategy = Extract<LabelingStrategy, 'candidate' | 'disagreement'>;

/** Auto-labeled items' task priorities start here, after every item people may be asked. */
const AUTO_PRIORITY = 1_000_000;

type LabelingDeps = { pool: pg.Pool };

/** A campaign's activities: picking what people label, telling them, and storing their answers. */
export function createLabelingActivities(deps: LabelingDeps) {
  return {
    ...firstPickActivities(deps),
    ...nextBatchActivities(deps),
    ...answerActivities(deps),
  };
}

/** The campaign's first picks and the champion's own answers. */
function firstPickActivities({ pool }: LabelingDeps) {
  return {
    /**
     * Picks what people label: first the rows production flagged as failure cases (out of distribution,
     * unsure, slow; the more severe first), then the rows the champion is least sure of (uncertainty
     * sampling), up to the budget. The picks are stored, so a retry returns the same items.
     */
    async openLabelTasks(input: {
      campaignId: string;
      modelId: string;
      datasetId: number;
      championVersion: number;
      budget: number;
      strategy?: LabelingStrategy;
      autoLabelAbove?: number;
      /** With the candidate strategy: only the first batch is opened now (nextLabelBatch adds the others). */
      firstBatch?: number;
    }): Promise<{ items: LabelItem[]; unlabeledRows: number; autoLabeled: number; total: number }> {
      const rows = await db.getDatasetRows(pool, input.datasetId);
      const unlabeled = rows.filter((r) => r.label === null);
      const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
      const championSays = await scoreRows(
        pool,
        champion.artifact,
        unlabeled.map((r) => r.features),
      );
      const model = await db.getModel(pool, input.modelId);
      if (!model) throw new Error(`model ${input.modelId} is not registered`);
      const regression = isRegression(model);
      // A regressor's uncertainty is its quick forest's spread on the labels so far (largest first).
      const spreads = regression ? regressionSpreads(model, rows, [], unlabeled) : null;
      const scored = unlabeled.map((r, i) => {
        const p = championSays[i]!;
        const [top = 0, second = 0] = Object.values(p.probabilities).sort((a, b) => b - a);
        return {
          recordKey: r.recordKey,
          features: r.features,
          guess: p.value !== undefined ? suggestedValue(p.value) : p.label,
          confidence: p.confidence,
          margin: spreads ? -(spreads[i] ?? 0) : top - second,
        };
      });
      const byKey = new Map(scored.map((s) => [s.recordKey, s]));
      const stored = async () => {
        const tasks = await db.labelTasksWithAuto(pool, input.campaignId);
        return {
          items: tasks
            .filter((t) => !t.auto)
            .map((t) => byKey.get(t.record_key)!)
            .filter(Boolean),
          autoLabeled: tasks.filter((t) => t.auto).length,
          any: tasks.length > 0,
        };
      };
      const before = await stored();
      // How many items people will be asked in all (the candidate strategy opens them batch by batch).
      const totalOf = (autoLabeled: number) =>
        input.firstBatch === undefined
          ? null
          : Math.min(input.budget, Math.max(0, unlabeled.length - autoLabeled));
      if (before.any) {
        const { items, autoLabeled } = before;
        return {
          items: items.map(toItem),
          unlabeledRows: unlabeled.length,
          autoLabeled,
          total: totalOf(autoLabeled) ?? items.length,
        };
      }
      // Auto-labels: what the champion is sure enough of, recorded as the champion's answer.
      // Never for a regressor: its confidence is always 1, and its predicted value is not the truth.
      const threshold = regression ? undefined : input.autoLabelAbove;
      const auto = threshold === undefined ? [] : scored.filter((s) => s.confidence >= threshold);
      const autoKeys = new Set(auto.map((a) => a.recordKey));
      const candidates = scored.filter((s) => !autoKeys.has(s.recordKey));
      const flaggedRows = await db.unlabeledFlagRanks(
        pool,
        input.modelId,
        candidates.map((r) => r.recordKey),
      );
      const flagged = new Map(flaggedRows.map((f) => [f.record_key, f.rank]));
      const strategy = input.strategy ?? 'uncertainty';
      const batchwise = strategy === 'candidate' || strategy === 'disagreement';
      // The candidate strategy's first batch: flagged cases first, then at random (no labels to learn from yet).
      const picked = orderForLabeling(
        candidates,
        batchwise ? 'random' : regression && strategy !== 'random' ? 'margin' : strategy,
        batchwise ? (k) => (flagged.has(k) ? 0 : 1) : (k) => flagged.get(k) ?? 3,
        input.campaignId,
      ).slice(0, Math.min(input.budget, input.firstBatch ?? input.budget));
      await withTransaction(pool, async (client) => {
        const tasks = [...picked, ...auto];
        if (tasks.length === 0) return;
        await db.insertLabelTasks(
          client,
          input.campaignId,
          input.datasetId,
          // People's items first, in order; the champion's own answers after them, out of the way of
          // the batches the candidate strategy adds later.
          tasks.map((p, i) => ({
            recordKey: p.recordKey,
            priority: i < picked.length ? i : AUTO_PRIORITY + i,
            score: regression ? -p.margin : p.confidence,
          })),
        );
        if (auto.length > 0)
          await db.insertAutoLabels(
            client,
            input.campaignId,
            auto.map((a) => ({ recordKey: a.recordKey, label: a.guess })),
          );
      });
      const after = await stored();
      return {
        items: after.items.map(toItem),
        unlabeledRows: unlabeled.length,
        autoLabeled: after.autoLabeled,
        total: totalOf(after.autoLabeled) ?? after.items.length,
      };
    },
  };
}

/** The batch strategies' later batches. */
function nextBatchActivities({ pool }: LabelingDeps) {
  return {
    /**
     * The candidate strategy's next batch: a quick forest trained on the dataset's labeled rows and the
     * campaign's answers so far scores the rows nobody was asked yet; the batch is a random share plus
     * the rows it is least sure of (core/active-learning.ts). Batch `index` (from 1) is stored, so a
     * retry returns the same items.
     */
    async nextLabelBatch(input: {
      campaignId: string;
      modelId: string;
      datasetId: number;
      championVersion: number;
      index: number;
      size: number;
      budget: number;
      strategy?: BatchStrategy;
    }): Promise<{ items: LabelItem[] }> {
      const tasksNow = () => db.labelTasks(pool, input.campaignId);
      const rows = await db.getDatasetRows(pool, input.datasetId);
      const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
      const scorer = await scorerFor(champion.artifact, blobsIn(pool));
      const asItems = async (batch: (typeof rows)[number][]): Promise<LabelItem[]> => {
        const predicted = await scorer.score(batch.map((r) => r.features));
        return batch.map((r, i) => {
          const p = predicted[i]!;
          return {
            recordKey: r.recordKey,
            features: r.features,
            guess: p.value !== undefined ? suggestedValue(p.value) : p.label,
            confidence: p.confidence,
          };
        });
      };
      const byKey = new Map(rows.map((r) => [r.recordKey, r]));
      const start = input.index * input.size;
      const existing = await tasksNow();
      const askedOfPeople = existing.filter((t) => t.priority < AUTO_PRIORITY).length;
      const stored = existing.filter((t) => t.priority >= start && t.priority < start + input.size);
      if (stored.length > 0) return { items: await asItems(stored.map((t) => byKey.get(t.record_key)!)) };

      const model = await db.getModel(pool, input.modelId);
      if (!model) throw new Error(`model ${input.modelId} is not registered`);
      const answered = await db.campaignLabels(pool, input.campaignId);
      const examples = [
        ...rows.filter((r) => r.label !== null).map((r) => ({ features: r.features, label: r.label! })),
        ...answered
          .filter((a) => byKey.has(a.record_key))
          .map((a) => ({ features: byKey.get(a.record_key)!.features, label: a.label })),
      ];
      const asked = new Set(existing.map((t) => t.record_key));
      const remaining = orderForLabeling(
        rows
          .filter((r) => r.label === null && !asked.has(r.recordKey))
          .map((r) => ({ ...r, confidence: 0, margin: 0 })),
        'random',
        () => 0,
        input.campaignId,
      );
      const take = Math.min(input.size, input.budget - askedOfPeople, remaining.length);
      if (take <= 0) return { items: [] };
      if (isRegression(model)) {
        // A regressor's next batch: a random share, then the rows its quick forest's trees disagree on most.
        const spreads = regressionSpreads(model, rows, answered, remaining);
        const picks = hybridSpreadPick(
          remaining.map((r, i) => ({ ...r, spread: spreads?.[i] ?? 0 })),
          take,
        );
        await db.insertLabelTasks(
          pool,
          input.campaignId,
          input.datasetId,
          picks.map((p, i) => ({ recordKey: p.recordKey, priority: start + i, score: p.spread })),
        );
        const after = (await tasksNow()).filter(
          (t) => t.priority >= start && t.priority < start + input.size,
        );
        return { items: await asItems(after.map((t) => byKey.get(t.record_key)!)) };
      }
      const said = quickCandidate(model.features, model.labelSet, examples, remaining);
      const withMargin = remaining.map((r, i) => ({ ...r, margin: said ? said[i]!.margin : 0 }));
      // Only the disagreement strategy needs the champion's guess on every remaining row.
      const guesses =
        input.strategy === 'disagreement' && said
          ? await scorer.score(withMargin.map((r) => r.features))
          : null;
      const picks =
        guesses && said
          ? disagreementPick(
              withMargin.map((r, i) => ({
                ...r,
                guess: guesses[i]!.label,
                candidateLabel: said[i]!.label,
              })),
              take,
            )
          : hybridMarginPick(withMargin, take);
      await db.insertLabelTasks(
        pool,
        input.campaignId,
        input.datasetId,
        picks.map((p, i) => ({ recordKey: p.recordKey, priority: start + i, score: p.margin })),
      );
      const after = (await tasksNow()).filter((t) => t.priority >= start && t.priority < start + input.size);
      return { items: await asItems(after.map((t) => byKey.get(t.record_key)!)) };
    },
  };
}

/** Notifications and people's answers. */
function answerActivities({ pool }: LabelingDeps) {
  return {
    /**
     * Tells people something about a campaign: stored once per event key, with a delivery to each of the
     * model's notification channels that wants the kind (sent by the worker's delivery loop).
     */
    async notify(input: {
      eventKey: string;
      campaignId: string;
      kind: 'reminder' | 'escalation' | 'parked' | 'decision' | 'extended' | 'batch';
      recipients: string[];
      message: string;
    }): Promise<void> {
      // A cycle's campaign is "<cycle>-labeling" (workflows/cycle.ts labelingWorkflowId).
      const cycleId = input.campaignId.endsWith('-labeling')
        ? input.campaignId.slice(0, -'-labeling'.length)
        : null;
      const modelId = await db.campaignModelId(pool, input.campaignId, cycleId);
      const inserted = await recordEvent(pool, {
        ...input,
        modelId,
        cycleId: modelId !== null && cycleId !== null ? cycleId : null,
      });
      if (inserted)
        log.info('notification', { campaignId: input.campaignId, kind: input.kind, message: input.message });
    },

    /**
     * Stores one answer with how its reviewer was identified (absent: `unverified`). The first answer for
     * an item wins; a repeat returns it and adds nothing.
     */
    async recordLabel(input: {
      campaignId: string;
      recordKey: string;
      label: string;
      reviewer: string;
      via?: string;
      verifiedBy?: string;
    }): Promise<{ label: string; reviewer: string; duplicate: boolean }> {
      const inserted = await db.insertHumanLabel(pool, {
        ...input,
        via: input.via ?? 'api',
        verifiedBy: input.verifiedBy ?? 'unverified',
      });
      if (inserted) return { ...inserted, duplicate: false };
      const stored = await db.getLabel(pool, input.campaignId, input.recordKey);
      return { ...stored!, duplicate: true };
    },

    /**
     * Stores one reviewer's answer to an overlapped item. One answer per reviewer per item: a repeat
     * returns the stored answer and adds nothing.
     */
    async recordVote(input: {
      campaignId: string;
      recordKey: string;
      label: string;
      reviewer: string;
      via?: string;
      verifiedBy?: string;
    }): Promise<{ label: string; duplicate: boolean }> {
      const inserted = await db.insertVote(pool, {
        ...input,
        via: input.via ?? 'api',
        verifiedBy: input.verifiedBy ?? 'unverified',
      });
      if (inserted) return { label: inserted.label, duplicate: false };
      const stored = await db.getVote(pool, input.campaignId, input.recordKey, input.reviewer);
      return { label: stored!.label, duplicate: true };
    },
  };
}

type Scored = LabelItem & { margin: number };

function toItem(s: Scored): LabelItem {
  return { recordKey: s.recordKey, features: s.features, guess: s.guess, confidence: s.confidence };
}

/**
 * A regressor's quick forest (core/regression-active-learning.ts) trained on the dataset's labeled rows
 * and the campaign's answers so far: its trees' spread on each of `rows`; null with fewer than two labels.
 */
function regressionSpreads(
  model: ModelDefinition,
  dataset: readonly { recordKey: string; features: Features; label: string | null }[],
  answered: readonly { record_key: string; label: string }[],
  rows: readonly { features: Features }[],
): number[] | null {
  const numeric = (label: string): number[] => {
    const read = readNumericLabel(label);
    return 'value' in read ? [read.value] : [];
  };
  const byKey = new Map(dataset.map((r) => [r.recordKey, r]));
  const examples = [
    ...dataset.flatMap((r) =>
      r.label === null ? [] : numeric(r.label).map((value) => ({ features: r.features, value })),
    ),
    ...answered.flatMap((a) => {
      const row = byKey.get(a.record_key);
      return row ? numeric(a.label).map((value) => ({ features: row.features, value })) : [];
    }),
  ];
  return quickRegressorSpread(model.features, examples, rows)?.map((p) => p.spread) ?? null;
}
