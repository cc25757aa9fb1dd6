import type { CycleSummary } from '../workflows/messages.js';

/** A cycle summary as a person reads it in a terminal: one block per stage with its key numbers. */
export function renderSummary(s: CycleSummary): string {
  const lines = [
    `Cycle ${s.cycleId} for model ${s.modelId}`,
    `  window ${s.window.start} .. ${s.window.end}`,
    `  outcome: ${s.outcome ?? `(running: ${s.stage})`}${s.reason ? ` — ${s.reason}` : ''}`,
    '',
  ];
  for (const st of s.stages) {
    const took = st.endedAt
      ? ` (${((Date.parse(st.endedAt) - Date.parse(st.startedAt)) / 1000).toFixed(1)} s)`
      : ' (running)';
    lines.push(`  ${st.stage}${took}`);
    for (const [k, v] of Object.entries(st.summary ?? {})) {
      lines.push(`    ${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
