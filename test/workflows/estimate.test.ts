/**
 * Performance without labels in the drift check, on the real weather data: December 2013, when the
 * champion trained on 2012 loses most of its accuracy. With no feedback the check estimates the accuracy
 * from the champion's probabilities (CBPE, calibrated on the registration's holdout) and says so; with a
 * third of the feedback (fewer rows than the policy's minimum) it still estimates and says how many labels
 * there were; with every label it measures. The monitor's output, the stored drift report and a cycle's
 * diagnosis say which they used.
 */
import { describe, expect, it } from 'vitest';
import { abortCycle, cycleStatus } from '../../ops/cycles.js';
import { loadCycleReport, renderReport } from '../../ops/report.js';
import { ingestRecords, registerModelWithChampion } from '../../ops/setup.js';
import { SCENARIO } from '../../dev/scenario.js';
import { hasFeedback, loadWeather, weatherModel } from '../../dev/weather.js';
import type { DriftReport } from '../../core/drift.js';
import { cliRunner, until, useStack } from '../helpers.js';

const stack = useStack('estimate');
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));

/** A weather model whose production log carries no feedback, a third of it, or all of it. */
async function prepare(modelId: string, feedback: 'none' | 'third' | 'all'): Promise<void> {
  const rows = await loadWeather();
  await registerModelWithChampion(
    stack.pool,
    weatherModel(modelId),
    rows
      .filter((r) => r.date < SCENARIO.referenceEnd)
      .map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
  );
  await ingestRecords(
    stack.pool,
    modelId,
    rows
      .filter((r) => r.date >= SCENARIO.referenceEnd)
      .map((r) => ({
        recordKey: r.recordKey,
        ts: r.ts,
        features: r.features,
        feedback: feedback === 'all' || (feedback === 'third' && hasFeedback(r.recordKey)) ? r.label : null,
      })),
  );
}

/** One monitor check of December 2013, as `remedy monitor trigger --wait` prints it. */
async function checkDecember(modelId: string): Promise<string> {
  const created = await remedy(
    'monitor',
    'create',
    modelId,
    '--every',
    '24h',
    '--window',
    '31d',
    '--mode',
    'cursor',
    '--start',
    '2013-12-01',
  );
  expect(created.err).toBe('');
  const ran = await remedy('monitor', 'trigger', modelId, '--wait');
  expect(ran.code).toBe(0);
  expect(ran.out).toContain('2013-12-01T00:00:00.000Z .. 2014-01-01T00:00:00.000Z');
  expect((await remedy('monitor', 'delete', modelId)).code).toBe(0);
  return ran.out;
}

const percent = (s: string): number => Number(s) / 100;

/** The drift report the model's one check stored. */
async function storedReport(modelId: string): Promise<DriftReport> {
  const { rows } = await stack.pool.query<{ report: DriftReport }>(
    'SELECT report FROM drift_checks WHERE model_id = $1',
    [modelId],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.report;
}

describe('the drift check without labels', () => {
  it('given December 2013 with no, few and all labels, then the check estimates (CBPE) or measures and says which', async () => {
    await Promise.all([
      prepare('weather-unlabeled', 'none'),
      prepare('weather-few', 'third'),
      prepare('weather-labeled', 'all'),
    ]);

    // No feedback at all: the accuracy is estimated, below the 2012 baseline, inside its band.
    const unlabeled = await checkDecember('weather-unlabeled');
    const est =
      /estimated accuracy (\d+\.\d)% \(CBPE, no labels\) vs baseline (\d+\.\d)% \(95% CI [^)]+\), band (\d+\.\d)%–(\d+\.\d)% on 62 rows/.exec(
        unlabeled,
      );
    expect(est, unlabeled).not.toBeNull();
    const [estimate, baseline, low, high] = est!.slice(1).map(percent) as [number, number, number, number];
    expect(estimate).toBeLessThan(baseline);
    expect(low).toBeLessThan(estimate);
    expect(high).toBeGreaterThan(estimate);
    const unlabeledReport = (await storedReport('weather-unlabeled')).performance;
    expect(unlabeledReport).toMatchObject({
      basis: 'estimated',
      labeledRows: 0,
      estimate: { method: 'cbpe', rows: 62, windowRows: 62, calibrationRows: 192 },
    });
    // Calibrated on the registration's holdout: the 2012 rows the champion was not trained on.
    expect(unlabeledReport.estimate!.calibrationSource).toBe(
      'labeled rows of the reference span (2012-01-01 to 2012-12-31) the champion was not trained on',
    );

    // A third of the feedback: 20 labels, fewer than the 30 the policy needs; the same estimate.
    const few = await checkDecember('weather-few');
    expect(few).toContain(
      `estimated accuracy ${(estimate * 100).toFixed(1)}% (CBPE, 20 labeled rows, fewer than the 30 needed) vs baseline`,
    );

    // Every label: measured, and lower than the estimate (the weather changed in ways the features do not show).
    const labeled = await checkDecember('weather-labeled');
    const measured = /measured accuracy (\d+\.\d)% vs baseline (\d+\.\d)% \([^)]+\) on 62 labeled rows/.exec(
      labeled,
    );
    expect(measured, labeled).not.toBeNull();
    expect(labeled).not.toContain('estimated accuracy');
    expect(percent(measured![1]!)).toBeLessThan(estimate);
    const labeledReport = await storedReport('weather-labeled');
    expect(labeledReport.performance.basis).toBe('measured');
    expect(labeledReport.performance).not.toHaveProperty('estimate');

    // A cycle over the unlabeled window: its confirm note keeps the estimate, its diagnosis says so.
    const started = await remedy('start', 'weather-unlabeled', '--from', '2013-12-01', '--to', '2014-01-01');
    expect(started.code).toBe(0);
    const cycleId = /remediation-weather-unlabeled-\d+/.exec(started.out)![0];
    const summary = await until(
      () => cycleStatus(stack.h.client, cycleId),
      (s) => s.stages.some((st) => st.stage === 'diagnose' && st.summary?.reason !== undefined),
    );
    const confirm = summary.stages.find((s) => s.stage === 'confirm')!.summary!;
    expect(confirm.performanceBasis).toBe('estimated');
    expect(((confirm.estimatedAccuracy as number) * 100).toFixed(1)).toBe((estimate * 100).toFixed(1));
    const diagnosis = summary.stages.find((s) => s.stage === 'diagnose')!.summary!;
    expect(diagnosis.reason).toContain(
      `estimated accuracy ${(estimate * 100).toFixed(1)}% (CBPE, no labels)`,
    );
    // The cycle report's drift section says the same.
    const markdown = renderReport(await loadCycleReport(stack.pool, cycleId), 'md');
    expect(markdown).toContain(
      `**Performance:** Estimated accuracy ${(estimate * 100).toFixed(1)}% (CBPE, no labels) vs baseline`,
    );
    await abortCycle(stack.h.client, cycleId);
  });
});
