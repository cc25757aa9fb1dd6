/**
 * Recalibration as a remedy, end to end on a real Temporal dev server, Postgres and the gateway. The
 * weather days are split in two by key: the champion is registered on one half; production is the other
 * half with three sunny days in four dropped (dated eight years later, so the seasons are the same), a
 * pure label-mix shift: the features→label relation holds and the class priors move. The cycle's
 * candidate is then the champion with a calibrator, judged by the same gates and rollout, and the
 * gateway serves its calibrated probabilities. On the source's own label shift (wet days relabelled
 * fog or sun from 2013), the champion's ranking does not hold and the cycle retrains as before.
 */
import { describe, expect, it } from 'vitest';
import { abortCycle, startCycle, waitForCycle } from '../../ops/cycles.js';
import { ingestRecords, registerModelWithChampion } from '../../ops/setup.js';
import { loadCycleReport, renderReport } from '../../ops/report.js';
import { answerLabels, approveWhenAsked, atStage, waitForStatus } from '../../dev/reviewer.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { stepTraffic } from '../../dev/step-traffic.js';
import { loadWeather, weatherModel, type WeatherRow } from '../../dev/weather.js';
import { fnv1a } from '../../core/hash.js';
import { accuracy, logLoss } from '../../core/metrics.js';
import { expectedCalibrationError, predictedLabel } from '../../core/evaluation.js';
import { predict, type JsonArtifact } from '../../core/model.js';
import { applyCalibrator } from '../../core/recalibration.js';
import * as db from '../../db/index.js';
import { useStack } from '../helpers.js';

const stack = useStack('recal', { gateway: true });

const bucket = (key: string, salt: string) => (fnv1a(`${salt}:${key}`) % 1000) / 1000;
/** The share of each class production keeps: three sunny days in four are dropped. */
const KEEP: Record<string, number> = { sun: 0.25, fog: 1, rain: 1, drizzle: 1, snow: 1 };
const WINDOW = { start: '2020-01-01T00:00:00Z', end: '2024-01-01T00:00:00Z' };
/**
 * A pure label-mix shift. The evaluation policy is accuracy's (the default metric, minGain 2 points): a
 * recalibrated candidate is judged on its log-loss reduction all the same (`recalibration.judgeOn`).
 */
const POLICY = {
  ...DEMO_POLICY,
  evaluation: { minGain: 0.02 },
  // Each rollout step is judged on a fixed sample of 30 answers an arm, sent as the step begins
  // (stepTraffic), so the outcome does not depend on how much traffic a loaded machine gets through.
  rollout: { ...DEMO_POLICY.rollout, stepSamples: 30 },
};

/**
 * Production: eight years later, the same day of the year (leap years stay leap years), so the seasons
 * and every feature are as they were; a quarter of the days, chosen by key, come after the window
 * (in 2024) as the traffic the rollout is judged on, with the same mix.
 */
function production(r: WeatherRow): WeatherRow {
  const next = bucket(r.recordKey, 'next') < 0.25;
  const date = next ? `2024${r.date.slice(4)}` : `${Number(r.date.slice(0, 4)) + 8}${r.date.slice(4)}`;
  return { ...r, recordKey: `live:${r.recordKey}`, date, ts: `${date}T12:00:00Z` };
}

async function prepareLabelMixShift(modelId: string) {
  const rows = await loadWeather();
  const reference = rows.filter((r) => bucket(r.recordKey, 'pool') < 0.5);
  const live = rows
    .filter((r) => bucket(r.recordKey, 'pool') >= 0.5 && bucket(r.recordKey, 'keep') < KEEP[r.label]!)
    .map(production);
  const champion = await registerModelWithChampion(
    stack.pool,
    weatherModel(modelId, POLICY),
    reference.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label })),
  );
  // Feedback for every day of the window; the year after it is the traffic the rollout is judged on.
  await ingestRecords(
    stack.pool,
    modelId,
    live.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, feedback: r.label })),
    WINDOW.end,
  );
  return { rows, reference, live, champion };
}

describe('recalibration as a remedy', () => {
  it('given a pure label-mix shift, then the candidate is the recalibrated champion, passes the gates, is promoted and the gateway serves calibrated probabilities', async () => {
    const modelId = 'weather-mix';
    const { live, champion } = await prepareLabelMixShift(modelId);
    const truth = new Map(live.map((r) => [r.recordKey, r.label]));
    const future = live.filter((r) => r.ts >= WINDOW.end);
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId,
      window: WINDOW,
      trigger: 'test',
    });
    const traffic = stepTraffic({
      gatewayUrl: stack.gateway.url,
      pool: stack.pool,
      modelId,
      cycleId,
      rows: future.map((r) => ({ recordKey: r.recordKey, features: r.features, label: r.label })),
      perArm: 30,
      maxPerStep: 5_000,
    });
    let summary;
    let sent;
    try {
      const atLabel = await waitForStatus(stack.h.client, cycleId, atStage('label'));
      if (atLabel.outcome === null) {
        await answerLabels(stack.h.client, cycleId, (k) => truth.get(k), SCENARIO.reviewer);
        await approveWhenAsked(stack.h.client, cycleId, SCENARIO.approver, 'calibration reviewed');
      }
      summary = await waitForCycle(stack.h.client, cycleId);
    } finally {
      sent = await traffic.stop();
    }
    expect(sent.offSplit).toBe(0);
    const stage = (name: string) => summary.stages.find((s) => s.stage === name)?.summary ?? {};
    expect({ outcome: summary.outcome, reason: summary.reason }).toMatchObject({ outcome: 'promoted' });

    // The candidate: the champion and a calibrator, with the numbers that chose it.
    const retrain = stage('retrain');
    expect(retrain.trainer).toBe('recalibration');
    expect(retrain.remedy).toMatch(
      /^recalibration of v1 \(vector scaling: temperature \d+\.\d\d, biases drizzle [+−]\d\.\d\d, .*sun −\d\.\d\d\): champion AUC 0\.\d{3} on \d+ new labels vs 0\.\d{3} on \d+ reference rows \(within 0\.020\), while .*label mix PSI \d\.\d{3}; on the \d+ rows fitted on, log-loss \d\.\d{3} → \d\.\d{3}, accuracy \d+\.\d% → \d+\.\d%$/,
    );
    expect(retrain.logLossAfter).toBeLessThan(retrain.logLossBefore as number);
    const v2 = summary.candidateVersion!;
    const version = await db.getModelVersion(stack.pool, modelId, v2);
    const v1 = await db.getModelVersion(stack.pool, modelId, champion.version);
    expect(version.artifact).toMatchObject({ kind: 'calibrated', baseVersion: 1, base: v1.artifact });

    // The same gates: better log-loss and calibration than the champion on the holdout.
    const evaluate = stage('evaluate') as Record<string, number | string>;
    expect(evaluate.gate).toBe('go');
    expect(evaluate.candidateLogLoss).toBeLessThan(evaluate.championLogLoss as number);
    expect(evaluate.candidateEce).toBeLessThan(evaluate.championEce as number);
    // Judged on its log-loss reduction (the policy's metric is accuracy): the card says so.
    const judged = await db.getModelCard(stack.pool, modelId, v2);
    expect(judged?.markdown).toMatch(
      /log-loss reduction 0\.\d{3}, 90% interval 0\.\d{3} to 0\.\d{3} on \d+ rows: lower bound 0\.\d{3} ≥ 0\.010/,
    );

    // Promoted, and what the gateway serves is the calibrated champion.
    expect(await db.getAlias(stack.pool, modelId, 'champion')).toBe(v2);
    if (version.artifact.kind !== 'calibrated') throw new Error('not calibrated');
    const cal = version.artifact.calibrator;
    const base = v1.artifact as JsonArtifact;
    const served: Record<string, number>[] = [];
    for (const r of future) {
      const res = await fetch(`${stack.gateway.url}/v1/models/${modelId}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ features: r.features }),
      });
      const body = (await res.json()) as { version: number; probabilities: Record<string, number> };
      expect(body.version).toBe(v2);
      const expected = applyCalibrator(cal, predict(base, r.features).probabilities);
      for (const c of base.classes) expect(body.probabilities[c]).toBeCloseTo(expected[c]!, 9);
      served.push(body.probabilities);
    }
    const labels = future.map((r) => r.label);
    const before = future.map((r) => predict(base, r.features).probabilities);
    const acc = (ps: Record<string, number>[]) => accuracy(labels, ps.map(predictedLabel));
    console.log(
      `gateway on the ${future.length} rows after the window: log-loss ${logLoss(labels, before).toFixed(3)} (v1) → ${logLoss(labels, served).toFixed(3)} (v${v2}), accuracy ${acc(before).toFixed(3)} → ${acc(served).toFixed(3)}, ECE ${expectedCalibrationError(labels, before).toFixed(3)} → ${expectedCalibrationError(labels, served).toFixed(3)}`,
    );
    expect(logLoss(labels, served)).toBeLessThan(logLoss(labels, before));

    // The report and the model card say which remedy this was.
    const markdown = renderReport(await loadCycleReport(stack.pool, cycleId), 'md');
    expect(markdown).toContain(`Remedy: ${String(retrain.remedy)}.`);
    expect(markdown).toMatch(/the champion with a calibrator fitted on \d+ labeled rows/);
    const card = await stack.pool.query<{ markdown: string }>(
      'SELECT markdown FROM model_cards WHERE model_id = $1 AND version = $2',
      [modelId, v2],
    );
    expect(card.rows[0]!.markdown).toMatch(/\| Remedy \| recalibration of v1 \(vector scaling/);
  });

  it('given the source’s own label shift, when the champion’s ranking does not hold, then the cycle retrains as before and says why', async () => {
    const modelId = 'weather-concept';
    const prepared = await prepareWeatherModel(stack.pool, modelId, {
      ...DEMO_POLICY,
      rollout: { ...DEMO_POLICY.rollout, dwell: '1h' },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId,
      window: SCENARIO.window,
      trigger: 'test',
    });
    await waitForStatus(stack.h.client, cycleId, atStage('label'));
    await answerLabels(stack.h.client, cycleId, (k) => truth.get(k), SCENARIO.reviewer);
    const status = await waitForStatus(
      stack.h.client,
      cycleId,
      (s) => s.outcome !== null || s.stages.some((x) => x.stage === 'evaluate'),
    );
    if (status.outcome === null) await abortCycle(stack.h.client, cycleId);
    await waitForCycle(stack.h.client, cycleId).catch(() => null);
    const retrain = status.stages.find((s) => s.stage === 'retrain')!.summary!;
    expect(retrain.trainer).not.toBe('recalibration');
    expect(retrain.remedy).toMatch(
      /^retrained: champion AUC 0\.\d{3} on \d+ new labels vs 0\.\d{3} on \d+ reference rows: the ranking moved by 0\.\d{3}, more than the tolerance 0\.020$/,
    );
    const v = await db.getModelVersion(stack.pool, modelId, status.candidateVersion!);
    expect(v.artifact.kind).not.toBe('calibrated');
  });
});
