/**
 * Loads what a cycle report shows from Remedy's database, and, for a cycle still running, its live
 * stage view from the workflow (the database holds the full stage record once the cycle closes).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { cycleReportHtml, cycleReportMarkdown, type CycleReportInput } from '../core/report.js';
import type { ReferenceSummary } from '../core/report-stages.js';
import { upgradeProfile } from '../core/drift.js';
import { cycleStatusQuery, type CycleSummary } from '../workflows/messages.js';
import { labelingWorkflowId } from '../workflows/cycle.js';
import { UserError } from './user-error.js';
import { dataDir } from '../infra/paths.js';
import * as db from '../db/index.js';

export interface ReportOptions {
  /** To read a running cycle's stages from its workflow. */
  client?: Client;
  /** The Temporal Web UI's base, e.g. http://localhost:8233, for a link to the run. */
  webUiBase?: string;
  namespace?: string;
  now?: Date;
}

const iso = (d: Date | string): string => (typeof d === 'string' ? d : d.toISOString());

/** What a version's stored reference profile says about itself (null when none is stored). */
async function referenceSummary(
  pool: pg.Pool,
  modelId: string,
  version: number | null | undefined,
): Promise<ReferenceSummary | null> {
  if (version === null || version === undefined) return null;
  const stored = await db.getReferenceProfile(pool, modelId, version);
  if (!stored) return null;
  const p = upgradeProfile(stored);
  return {
    version,
    rows: p.rows,
    baselineAccuracy: p.baselineAccuracy,
    ...(p.span ? { span: p.span } : {}),
    ...(p.sample ? { sample: p.sample } : {}),
    ...(p.baselineEvidence ? { baselineEvidence: p.baselineEvidence } : {}),
  };
}

export async function loadCycleReport(
  pool: pg.Pool,
  cycleId: string,
  opts: ReportOptions = {},
): Promise<CycleReportInput> {
  const cycleRow = await db.getCycle<Partial<CycleSummary> & { trigger?: string }>(pool, cycleId);
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

  const campaignId = labelingWorkflowId(cycleId);
  const [drift, labels, requested, notes, card, steps, audit] = await Promise.all([
    db.cycleDriftReports(pool, cycleId),
    db.campaignAnswers(pool, campaignId),
    db.labelTaskCount(pool, campaignId),
    db.campaignNotifications(pool, campaignId),
    db.latestCycleModelCard(pool, cycleId),
    db.rolloutSteps(pool, cycleId),
    db.cycleAudit(pool, cycleId),
  ]);

  const opened = audit.find((a) => a.action === 'cycle.opened');
  const reviewers = new Map<string, { reviewer: string; via: string; verifiedBy: string; count: number }>();
  for (const l of labels) {
    const key = `${l.reviewer}\u0000${l.via}\u0000${l.verified_by}`;
    const entry = reviewers.get(key) ?? {
      reviewer: l.reviewer,
      via: l.via,
      verifiedBy: l.verified_by,
      count: 0,
    };
    entry.count += 1;
    reviewers.set(key, entry);
  }
  const d = drift[0];
  const namespace = opts.namespace ?? 'default';
  const outcome = summary.outcome ?? cycleRow.outcome;
  const [reference, newReference] = await Promise.all([
    referenceSummary(pool, cycleRow.model_id, d?.reference_version ?? summary.championVersion),
    outcome === 'promoted' ? referenceSummary(pool, cycleRow.model_id, summary.candidateVersion) : null,
  ]);
  return {
    generatedAt: iso(opts.now ?? new Date()),
    cycle: {
      cycleId,
      modelId: cycleRow.model_id,
      window: summary.window ?? { start: '', end: '' },
      stage: cycleRow.closed_at ? 'closed' : (summary.stage ?? cycleRow.stage),
      outcome,
      reason: summary.reason ?? null,
      severity: summary.severity ?? null,
      trigger: cycleRow.summary.trigger ?? opened?.details.trigger ?? null,
      championVersion: summary.championVersion ?? null,
      candidateVersion: summary.candidateVersion ?? null,
      policyVersion: await db.cyclePolicyVersion(pool, cycleId),
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
    reference,
    newReference,
    labeling:
      requested === 0
        ? null
        : {
            campaignId: labelingWorkflowId(cycleId),
            requested,
            human: labels.filter((l) => l.source === 'human').length,
            auto: labels.filter((l) => l.source === 'auto').length,
            reviewers: [...reviewers.values()].sort((a, b) => b.count - a.count),
            answeredAt: labels.map((l) => iso(l.answered_at)),
            notifications: notes.map((n) => ({
              kind: n.kind,
              at: iso(n.created_at),
              message: n.message,
            })),
          },
    card: card ? { go: card.go, input: card.input } : null,
    rollout: steps.map((s) => ({
      stepIndex: s.step_index,
      attempt: s.attempt,
      weight: s.weight,
      decision: s.decision,
      decidedAt: iso(s.decided_at),
      analysis: s.analysis,
    })),
    audit: audit.map((a) => ({ at: iso(a.at), actor: a.actor, action: a.action })),
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
