/**
 * The cycle report of a real weather cycle (labels, retraining, evaluation, approval, rollout to
 * promotion) as a person reads it: every stage's key numbers as sentences and tables, no raw JSON, the
 * policy version the cycle pinned and the reference it compared against.
 */
import { describe, expect, it } from 'vitest';
import { FIXED_SAMPLE_POLICY, prepareWeatherModel, runScriptedCycle } from '../../dev/scenario.js';
import { loadCycleReport, renderReport } from '../../ops/report.js';
import { fixed, pct } from '../../core/evaluation.js';
import { useStack } from '../helpers.js';

const stack = useStack('cycle_report', { gateway: true });

/** The text a browser shows: no style, no markup, entities decoded. */
function visibleText(html: string): string {
  return html
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<title>[\s\S]*?<\/title>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('cycle report', () => {
  it('given a promoted weather cycle, then every stage shows its key numbers as sentences and tables, with no raw JSON', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-report', FIXED_SAMPLE_POLICY);
    const { cycleId, summary } = await runScriptedCycle(stack.h.client, stack.h, prepared, {
      gatewayUrl: stack.gateway.url,
      pool: stack.pool,
    });
    expect(summary.outcome).toBe('promoted');
    const input = await loadCycleReport(stack.pool, cycleId);
    const html = renderReport(input, 'html');
    const text = visibleText(html);
    const markdown = renderReport(input, 'md');
    for (const shown of [text, markdown]) {
      expect(shown).not.toContain('{"');
      expect(shown).not.toContain('[{');
    }
    const stage = (name: string) => summary.stages.find((s) => s.stage === name)!.summary!;

    // confirm: the features that drifted most, each with its test, statistic and p-value.
    const confirm = stage('confirm');
    const top = (confirm.topFeatures as { feature: string; test: string; psi: number }[])[0]!;
    const row = new RegExp(
      `<tr><td>${top.feature}</td><td>${top.test}</td><td class="num">\\d+\\.\\d{3}</td>`,
    );
    expect(html).toMatch(row);
    expect(markdown).toMatch(
      new RegExp(
        `\\| ${top.feature.replace('_', '\\\\_')} \\| ${top.test} \\| \\d+\\.\\d{3} \\| [\\d.e-]+ \\|`,
      ),
    );
    expect(text).toContain(
      `Measured accuracy ${pct(confirm.currentAccuracy as number)} on ${String(confirm.labeledRows)} labeled rows against the baseline ${pct(confirm.baselineAccuracy as number)}`,
    );
    // diagnose: severity, route and signals in a sentence.
    expect(text).toContain(
      `Severity severe, route full-cycle, on ${(stage('diagnose').signals as string[]).join(', ')}.`,
    );
    // label: the campaign's counts.
    const label = stage('label');
    expect(text).toContain(`${String(label.answered)} of ${String(label.requested)} labels answered`);
    // retrain: rows, trainer and whether it resumed.
    const retrain = stage('retrain');
    // The weather's labels changed meaning (label shift in the diagnosis): the champion's 2012 rows are
    // left out of a severe drift's training set, and the report says why.
    expect(stage('diagnose').signals as string[]).toContain('label-shift');
    expect(retrain.historyRows).toBe(0);
    expect(text).toMatch(
      new RegExp(
        `Candidate v${String(retrain.version)} trained by ${String(retrain.trainer)} on ${String(retrain.trainRows)} rows \\(none from the history before the window\\), from scratch`,
      ),
    );
    const set = retrain.trainingSet as { windowRows: number; referenceRows: number; windowWeight: number };
    expect(set.windowRows).toBe(retrain.trainRows);
    expect(text).toMatch(
      new RegExp(
        `Trained on ${set.windowRows} rows of the window, each weighing 1; none of the champion's training rows \\(the labels shifted: label PSI \\d+\\.\\d\\d ≥ 0\\.25\\)\\.`,
      ),
    );
    // evaluate: candidate against champion with the delta, every gate.
    const evaluate = stage('evaluate');
    const gain = (evaluate.candidateAccuracy as number) - (evaluate.championAccuracy as number);
    expect(markdown).toContain(
      `| Accuracy | ${pct(evaluate.candidateAccuracy as number)} | ${pct(evaluate.championAccuracy as number)} | ${gain >= 0 ? '+' : '−'}${fixed(Math.abs(gain) * 100, 1)} pts |`,
    );
    for (const g of evaluate.gates as { gate: string }[])
      expect(markdown).toMatch(new RegExp(`\\| ${g.gate} \\| pass \\|`));
    // rollout: one row per step with its traffic and decision.
    const steps = stage('rollout').steps as { weight: number; decision: string }[];
    expect(markdown).toContain('**Rollout steps**');
    for (const [i, s] of steps.entries())
      expect(markdown).toContain(`| ${i + 1} | ${s.weight}% | ${s.decision} |`);

    // The policy version the cycle pinned, the reference compared against and the one monitored from now on.
    expect(input.cycle.policyVersion).toBe(1);
    expect(markdown).toContain('| Policy | v1 (as when the cycle started) |');
    expect(text).toContain("v1's reference: 2012-01-01 to 2012-12-31 (the registration's reference data)");
    expect(text).toMatch(
      new RegExp(
        `Monitored from now on against v${String(summary.candidateVersion)}'s reference: 2012-01-01 to 2014-12-31 \\(`,
      ),
    );
  });
});
