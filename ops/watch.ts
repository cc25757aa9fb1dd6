/**
 * `remedy watch`: a cycle's live stage view in the terminal. Every stage with its duration, and a
 * progress bar on the long ones (labels answered of those requested, candidate traffic during the
 * rollout). On a terminal the view is redrawn in place; in a pipe or a log, a line is printed only when
 * something changed, so the output reads as a history.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { humanDuration } from '../core/report.js';
import type { CycleSummary, LabelingStatus, RolloutStatus } from '../workflows/messages.js';
import { cycleStatus, pendingLabels, rolloutStatus, UserError, waitForCycle } from './cycles.js';

export interface WatchFrame {
  summary: CycleSummary;
  labeling: Pick<LabelingStatus, 'requested' | 'answered' | 'state' | 'deadlineAt'> | null;
  rollout: Pick<RolloutStatus, 'state' | 'currentWeight'> | null;
}

/** `[██████░░░░░░░░░░░░░░]  12/40` */
export function progressBar(done: number, total: number, width = 20): string {
  const share = total <= 0 ? 0 : Math.max(0, Math.min(1, done / total));
  const full = Math.round(share * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

export function renderFrame(f: WatchFrame, now: Date): string {
  const s = f.summary;
  const lines = [
    `${s.cycleId}  model ${s.modelId}  window ${s.window.start} .. ${s.window.end}`,
    s.outcome
      ? `outcome: ${s.outcome}${s.reason ? ` — ${s.reason}` : ''}`
      : `running: ${s.stage}${s.awaitingApproval ? ' (waiting for approval: remedy approve)' : ''}`,
  ];
  for (const st of s.stages) {
    const ms = Date.parse(st.endedAt ?? now.toISOString()) - Date.parse(st.startedAt);
    const mark = st.endedAt ? '✓' : '▶';
    let extra = '';
    if (!st.endedAt && st.stage === 'label' && f.labeling) {
      extra = `  ${progressBar(f.labeling.answered, f.labeling.requested)} ${f.labeling.answered}/${f.labeling.requested} labels, ${f.labeling.state}, due ${f.labeling.deadlineAt}`;
    }
    if (!st.endedAt && st.stage === 'rollout' && f.rollout) {
      extra = `  ${progressBar(f.rollout.currentWeight, 100)} ${f.rollout.currentWeight}% to the candidate, ${f.rollout.state}`;
    }
    lines.push(`  ${mark} ${st.stage.padEnd(9)} ${humanDuration(ms).padStart(12)}${extra}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What changed between frames, ignoring the clock: the non-TTY output prints only changes. */
function fingerprint(f: WatchFrame): string {
  return JSON.stringify([
    f.summary.stage,
    f.summary.outcome,
    f.summary.awaitingApproval,
    f.summary.stages.length,
    f.labeling?.answered,
    f.labeling?.state,
    f.rollout?.currentWeight,
    f.rollout?.state,
  ]);
}

async function frameOf(client: Client, cycleId: string): Promise<WatchFrame> {
  const summary = await cycleStatus(client, cycleId);
  let labeling: WatchFrame['labeling'] = null;
  let rollout: WatchFrame['rollout'] = null;
  // The children exist only in their stage; a query to one that has not started yet is not an error.
  const optional = async <T>(fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UserError || err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  };
  if (summary.stage === 'label') labeling = await optional(() => pendingLabels(client, cycleId));
  if (summary.stage === 'rollout') rollout = await optional(() => rolloutStatus(client, cycleId));
  return { summary, labeling, rollout };
}

export interface WatchOptions {
  out: (text: string) => void;
  /** Redraw in place (a terminal) or print changes only. */
  tty: boolean;
  intervalMs: number;
  /** Stops watching early (Ctrl-C); resolves the watch with the last frame. */
  signal?: AbortSignal;
}

/** Refreshes in a row whose queries may fail before the watch gives up with the last error. */
const WATCH_FAILURES = 5;

/** Follows a cycle until it closes; returns its final summary. */
export async function watchCycle(client: Client, cycleId: string, opts: WatchOptions): Promise<CycleSummary> {
  let last = '';
  let failures = 0;
  for (;;) {
    let frame: WatchFrame;
    try {
      frame = await frameOf(client, cycleId);
      failures = 0;
    } catch (err) {
      // A viewer: a query the server could not answer this refresh (a busy or restarting worker) is
      // asked again on the next one; only a run of failures ends the watch with the error.
      if (err instanceof UserError || ++failures >= WATCH_FAILURES) throw err;
      await new Promise<void>((resolve) => setTimeout(resolve, opts.intervalMs));
      continue;
    }
    const text = renderFrame(frame, new Date());
    if (opts.tty) opts.out(`\x1b[H\x1b[2J${text}`);
    else if (fingerprint(frame) !== last) opts.out(`${text}\n`);
    last = fingerprint(frame);
    if (frame.summary.outcome !== null) {
      // The summary says closed once the close stage has begun; the result is the final word.
      return waitForCycle(client, cycleId);
    }
    if (opts.signal?.aborted) return frame.summary;
    // A refresh period, not a wait for a condition: the view is redrawn on this clock.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
