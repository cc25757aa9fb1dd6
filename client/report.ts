/**
 * Loads what a cycle report shows from Remedy's database, and, for a cycle still running, its live
 * stage view from the workflow (the database holds the full stage record once the cycle closes).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { DriftReport } from '../core/drift.js';
import type { ModelCardInput } from '../core/model-card.js';
import type { StepAnalysis } from '../core/policy.js';
import { cycleReportHtml, cycleReportMarkdown, type CycleReportInput } from '../core/report.js';
import { cycleStatusQuery, type CycleSummary } from '../workflows/messages.js';
import { labelingWorkflowId } from '../workflows/cycle.js';
import { UserError } from './cycles.js';
import { dataDir } from '../infra/paths.js';

export interface ReportOptions {
  /** To read a running cycle's stages from its workflow. */
  client?: Client;
  /** The Temporal Web UI's base, e.g. http://localhost:8233, for a link to the run. */
  webUiBase?: string;
  namespace?: string;
  now?: Date;
}

const iso = (d: Date | string): string => (typeof d === 'string' ? d : d.toISOString());

export async function loadCycleReport(
  pool: pg.Pool,
  cycleId: string,
  opts: ReportOptions = {},
): Promise<CycleReportInput> {
  const cycleRow = (
    await pool.query<{
      model_id: string;
      stage: string;
      outcome: string | null;
      summary: Partial<CycleSummary> & { trigger?: string };
      started_at: Date;
      closed_at: Date | null;
    }>('SELECT model_id, stage, outcome, summary, started_at, closed_at FROM cycles WHERE cycle_id = $1', [
      cycleId,
    ])
  ).rows[0];
  if (!cycleRow)
    throw new UserError(
      `no cycle "${cycleId}" in Remedy's database: list cycles with "remedy list" (IDs look like remediation-<model>-<n>)`,
    );

  let summary: Partial<CycleSummary> = cycleRow.summary;
  if (!cycleRow.closed_at && opts.client) {
    try {
      summary = await opts.client.workflow.getHandle(cycleId).query(cycleStatusQuery);
    } catch {
      // The workflow may be gone (retention) or unreachable: the database's record is shown.
    }
  }

  const [drift, labels, tasks, notes, card, steps, audit] = await Promise.all([
    pool.query<{
      report_id: string;
      reference_version: number;
      window_start: Date;
      window_end: Date;
      report: DriftReport;
    }>(
      'SELECT report_id, reference_version, window_start, window_end, report FROM drift_reports WHERE cycle_id = $1',
      [cycleId],
    ),
    pool.query<{ reviewer: string; via: string; source: string; answered_at: Date }>(
      'SELECT reviewer, via, source, answered_at FROM labels WHERE campaign_id = $1 ORDER BY answered_at',
      [labelingWorkflowId(cycleId)],
    ),
    pool.query<{ n: string }>('SELECT count(*) AS n FROM label_tasks WHERE campaign_id = $1', [
      labelingWorkflowId(cycleId),
    ]),
    pool.query<{ kind: string; created_at: Date; message: string }>(
      'SELECT kind, created_at, message FROM notifications WHERE campaign_id = $1 ORDER BY created_at, notification_id',
      [labelingWorkflowId(cycleId)],
    ),
    pool.query<{ go: boolean; input: ModelCardInput | null }>(
      'SELECT go, input FROM model_cards WHERE cycle_id = $1 ORDER BY version DESC LIMIT 1',
      [cycleId],
    ),
    pool.query<{
      step_index: number;
      attempt: number;
      weight: number;
      decision: string;
      decided_at: Date;
      analysis: StepAnalysis;
    }>(
      'SELECT step_index, attempt, weight, decision, decided_at, analysis FROM rollout_steps WHERE cycle_id = $1 ORDER BY decided_at, step_index, attempt',
      [cycleId],
    ),
    pool.query<{ at: Date; actor: string; action: string; details: { trigger?: string } }>(
      'SELECT at, actor, action, details FROM audit_events WHERE cycle_id = $1 ORDER BY event_id',
      [cycleId],
    ),
  ]);

  const opened = audit.rows.find((a) => a.action === 'cycle.opened');
  const requested = Number(tasks.rows[0]?.n ?? 0);
  const reviewers = new Map<string, { reviewer: string; via: string; count: number }>();
  for (const l of labels.rows) {
    const key = `${l.reviewer}\u0000${l.via}`;
    const entry = reviewers.get(key) ?? { reviewer: l.reviewer, via: l.via, count: 0 };
    entry.count += 1;
    reviewers.set(key, entry);
  }
  const d = drift.rows[0];
  const namespace = opts.namespace ?? 'default';
  return {
    generatedAt: iso(opts.now ?? new Date()),
    cycle: {
      cycleId,
      modelId: cycleRow.model_id,
      window: summary.window ?? { start: '', end: '' },
      stage: cycleRow.closed_at ? 'closed' : (summary.stage ?? cycleRow.stage),
      outcome: summary.outcome ?? cycleRow.outcome,
      reason: summary.reason ?? null,
      severity: summary.severity ?? null,
      trigger: cycleRow.summary.trigger ?? opened?.details.trigger ?? null,
      championVersion: summary.championVersion ?? null,
      candidateVersion: summary.candidateVersion ?? null,
      stages: summary.stages ?? [],
    },
    drift: d
      ? {
          reportId: Number(d.report_id),
          referenceVersion: d.reference_version,
          window: { start: iso(d.window_start), end: iso(d.window_end) },
          report: d.report,
        }
      : null,
    labeling:
      requested === 0
        ? null
        : {
            campaignId: labelingWorkflowId(cycleId),
            requested,
            human: labels.rows.filter((l) => l.source === 'human').length,
            auto: labels.rows.filter((l) => l.source === 'auto').length,
            reviewers: [...reviewers.values()].sort((a, b) => b.count - a.count),
            answeredAt: labels.rows.map((l) => iso(l.answered_at)),
            notifications: notes.rows.map((n) => ({
              kind: n.kind,
              at: iso(n.created_at),
              message: n.message,
            })),
          },
    card: card.rows[0] ? { go: card.rows[0].go, input: card.rows[0].input } : null,
    rollout: steps.rows.map((s) => ({
      stepIndex: s.step_index,
      attempt: s.attempt,
      weight: s.weight,
      decision: s.decision,
      decidedAt: iso(s.decided_at),
      analysis: s.analysis,
    })),
    audit: audit.rows.map((a) => ({ at: iso(a.at), actor: a.actor, action: a.action })),
    ...(opts.webUiBase
      ? {
          webUiUrl: `${opts.webUiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(cycleId)}`,
        }
      : {}),
  };
}

export type ReportFormat = 'html' | 'md';

export function renderReport(input: CycleReportInput, format: ReportFormat): string {
  return format === 'html' ? cycleReportHtml(input) : cycleReportMarkdown(input);
}

/** Writes a cycle's report as HTML and Markdown under `<data dir>/reports/` (or `dir`); returns both paths. */
export async function writeReport(
  pool: pg.Pool,
  cycleId: string,
  opts: ReportOptions & { dir?: string } = {},
): Promise<{ html: string; markdown: string }> {
  const input = await loadCycleReport(pool, cycleId, opts);
  const dir = opts.dir ?? path.join(dataDir(), 'reports');
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, cycleId.replace(/[^\w.-]/g, '_'));
  await writeFile(`${base}.html`, renderReport(input, 'html'));
  await writeFile(`${base}.md`, renderReport(input, 'md'));
  return { html: `${base}.html`, markdown: `${base}.md` };
}
