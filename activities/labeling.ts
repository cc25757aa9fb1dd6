import { log } from '@temporalio/activity';
import type pg from 'pg';
import { predict } from '../core/model.js';
import type { Features } from '../core/schemas.js';
import * as db from '../db/queries.js';

export interface LabelItem {
  recordKey: string;
  features: Features;
  /** The champion's guess and its confidence, shown to the reviewer. */
  guess: string;
  confidence: number;
}

export function createLabelingActivities({ pool }: { pool: pg.Pool }) {
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
    }): Promise<{ items: LabelItem[]; unlabeledRows: number }> {
      const rows = await db.getDatasetRows(pool, input.datasetId);
      const unlabeled = rows.filter((r) => r.label === null);
      const champion = await db.getModelVersion(pool, input.modelId, input.championVersion);
      const existing = await pool.query<{ record_key: string }>(
        'SELECT record_key FROM label_tasks WHERE campaign_id = $1 ORDER BY priority',
        [input.campaignId],
      );
      const scored = unlabeled.map((r) => {
        const p = predict(champion.artifact, r.features);
        return { recordKey: r.recordKey, features: r.features, guess: p.label, confidence: p.confidence };
      });
      let picked: typeof scored;
      if (existing.rows.length > 0) {
        const byKey = new Map(scored.map((s) => [s.recordKey, s]));
        picked = existing.rows.map((r) => byKey.get(r.record_key)!).filter(Boolean);
      } else {
        const { rows: flaggedRows } = await pool.query<{ record_key: string; rank: number }>(
          `SELECT record_key, min(CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END) AS rank
           FROM failure_cases WHERE model_id = $1 AND truth IS NULL AND record_key = ANY($2::text[])
           GROUP BY record_key`,
          [input.modelId, unlabeled.map((r) => r.recordKey)],
        );
        const flagged = new Map(flaggedRows.map((f) => [f.record_key, f.rank]));
        const rank = (k: string) => flagged.get(k) ?? 3;
        picked = [...scored]
          .sort(
            (a, b) =>
              rank(a.recordKey) - rank(b.recordKey) ||
              a.confidence - b.confidence ||
              (a.recordKey < b.recordKey ? -1 : 1),
          )
          .slice(0, input.budget);
        if (picked.length > 0) {
          await pool.query(
            `INSERT INTO label_tasks (campaign_id, record_key, dataset_id, priority, score)
             SELECT $1, k, $2, p, s FROM unnest($3::text[], $4::int[], $5::float8[]) AS u(k, p, s)
             ON CONFLICT (campaign_id, record_key) DO NOTHING`,
            [
              input.campaignId,
              input.datasetId,
              picked.map((p) => p.recordKey),
              picked.map((_, i) => i),
              picked.map((p) => p.confidence),
            ],
          );
        }
      }
      return { items: picked, unlabeledRows: unlabeled.length };
    },

    /** Tells people something about a campaign (stored once per event key; a deployment forwards it). */
    async notify(input: {
      eventKey: string;
      campaignId: string;
      kind: 'reminder' | 'escalation' | 'parked' | 'decision' | 'extended';
      recipients: string[];
      message: string;
    }): Promise<void> {
      const inserted = await pool.query(
        `INSERT INTO notifications (event_key, campaign_id, kind, recipients, message) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_key) DO NOTHING`,
        [input.eventKey, input.campaignId, input.kind, JSON.stringify(input.recipients), input.message],
      );
      if (inserted.rowCount)
        log.info('notification', { campaignId: input.campaignId, kind: input.kind, message: input.message });
    },

    /** Stores one answer. The first answer for an item wins; a repeat returns it and adds nothing. */
    async recordLabel(input: {
      campaignId: string;
      recordKey: string;
      label: string;
      reviewer: string;
    }): Promise<{ label: string; reviewer: string; duplicate: boolean }> {
      const inserted = await pool.query<{ label: string; reviewer: string }>(
        `INSERT INTO labels (campaign_id, record_key, label, reviewer, source) VALUES ($1, $2, $3, $4, 'human')
         ON CONFLICT (campaign_id, record_key) DO NOTHING RETURNING label, reviewer`,
        [input.campaignId, input.recordKey, input.label, input.reviewer],
      );
      if (inserted.rows[0]) return { ...inserted.rows[0], duplicate: false };
      const { rows } = await pool.query<{ label: string; reviewer: string }>(
        'SELECT label, reviewer FROM labels WHERE campaign_id = $1 AND record_key = $2',
        [input.campaignId, input.recordKey],
      );
      return { ...rows[0]!, duplicate: true };
    },
  };
}
