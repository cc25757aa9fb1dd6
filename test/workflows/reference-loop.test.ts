/**
 * The loop closed twice on the weather data: a cycle over April–June 2013 promotes a retrained champion,
 * then the following year's checks run against the reference that promotion wrote. The new reference
 * must be the production the champion serves (every season, not the three months of its training
 * rows): no data-quality incident on ordinary data, no feature drift the old champion would not have
 * raised, and the second cycle over 2013–2014 does not close as a data-quality incident. Its baseline is
 * measured on rows from the window on (the 2012 labels carry the meaning from before the shift), so the
 * monitoring after the promotion still sees a drop.
 */
import { expect, it } from 'vitest';
import { abortCycle, startCycle, waitForCycle } from '../../ops/cycles.js';
import { waitForStatus } from '../../dev/reviewer.js';
import {
  DEMO_POLICY,
  FIXED_SAMPLE_POLICY,
  prepareWeatherModel,
  runScriptedCycle,
  SCENARIO,
} from '../../dev/scenario.js';
import { windowReport } from '../../activities/drift.js';
import { upgradeProfile, type DriftReport } from '../../core/drift.js';
import { diagnose } from '../../core/policy.js';
import * as db from '../../db/index.js';
import { useStack } from '../helpers.js';

const MODEL = 'weather-loop';
const stack = useStack('refloop', { gateway: true });

/** Twelve 30-day windows from July 2013: the year after the promotion's window. */
function followingYear(): { start: string; end: string }[] {
  const out = [];
  for (let m = 0; m < 12; m++) {
    const start = new Date(Date.UTC(2013, 6 + m, 1));
    const end = new Date(Date.UTC(2013, 7 + m, 1));
    out.push({ start: start.toISOString(), end: end.toISOString() });
  }
  return out;
}

it('given a champion promoted on April–June 2013, then the next year’s checks raise no data-quality incident and no drift the old champion would not have raised', async () => {
  const { pool, h } = stack;
  // The README walkthrough's policy and the window its monitor started the cycle on.
  const prepared = await prepareWeatherModel(pool, MODEL, {
    ...DEMO_POLICY,
    drift: { minLabeledRows: 15 },
    labeling: { ...DEMO_POLICY.labeling, budget: 30, minLabels: 20 },
    // As dev/dev.ts: 40 % of the window's labeled rows held out, so the gates have the 30 they ask for.
    collection: { holdoutShare: 0.4 },
    // The small holdout's calibration error and the rollout's few samples on a busy machine are noisy;
    // what follows a promotion is the subject here, so those gates are loose.
    evaluation: { maxEce: 0.3 },
    rollout: { ...FIXED_SAMPLE_POLICY.rollout, maxDegradation: 0.3, maxLatencyP95Ms: 2000, failureLimit: 3 },
  });
  const window = { start: '2013-04-01T00:00:00Z', end: '2013-06-30T00:00:00Z' };
  const { cycleId } = await startCycle(h.client, h, { modelId: MODEL, window, trigger: 'test' });
  const { summary } = await runScriptedCycle(h.client, h, prepared, {
    gatewayUrl: stack.gateway.url,
    cycleId,
    pool,
  });
  expect(summary.outcome).toBe('promoted');
  const v2 = summary.candidateVersion!;
  expect(await db.getAlias(pool, MODEL, 'champion')).toBe(v2);

  // The reference promotion wrote: 2012 (the old reference's span) through June 2013, every row of it.
  const profile = upgradeProfile(await db.getReferenceProfile(pool, MODEL, v2));
  expect(profile.span).toEqual({
    start: '2012-01-01T12:00:00.000Z',
    end: window.end.replace('Z', '.000Z'),
    rule: "the previous reference's span combined with the cycle's window",
  });
  const inSpan = prepared.rows.filter((r) => r.date < '2013-06-30').length;
  expect(profile.sample).toEqual({ rows: inSpan, of: inSpan, method: 'every row of the span' });
  expect(profile.rows).toBe(inSpan);
  // The baseline rests on rows from the cycle's window on that the champion did not train on, with its
  // interval stated: the 2012 rows carry the labels from before the change of meaning.
  const evidence = profile.baselineEvidence!;
  expect(evidence.source).toMatch(
    /^(labeled rows from the cycle's window on that the champion was not trained on|the candidate's holdout)/,
  );
  const ci = evidence.accuracyInterval;
  expect(ci.low).toBeLessThan(profile.baselineAccuracy);
  expect(ci.high).toBeGreaterThan(profile.baselineAccuracy);
  const version = await db.getModelVersion(pool, MODEL, v2);
  expect(version.metrics.reference).toMatchObject({ rows: inSpan, of: inSpan, span: profile.span });

  // Promotion again (an activity retry) changes nothing.
  const { createActivities } = await import('../../activities/index.js');
  await createActivities({ pool }).promote({
    cycleId,
    modelId: MODEL,
    championVersion: prepared.champion.version,
    candidateVersion: v2,
    actor: 'retry',
  });
  expect(upgradeProfile(await db.getReferenceProfile(pool, MODEL, v2))).toEqual(profile);

  // The following year, month by month, against the new reference and against the old champion's.
  const model = (await db.getModel(pool, MODEL))!;
  const check = (championVersion: number, w: { start: string; end: string }): Promise<DriftReport> =>
    windowReport(pool, {
      modelId: MODEL,
      championVersion,
      window: w,
      policy: model.policy.drift,
      maxRows: 5000,
    });
  let acted = 0;
  let oldActed = 0;
  for (const w of followingYear()) {
    const now = await check(v2, w);
    const before = await check(prepared.champion.version, w);
    const month = w.start.slice(0, 7);
    expect({ month, issues: now.dataQuality.issues }).toEqual({ month, issues: [] });
    // Monthly windows against a yearly reference show seasonal feature drift under either reference; what
    // matters is what the monitor acts on: dataset drift and the route.
    if (now.datasetDrifted)
      expect({ month, oldDatasetDrift: before.datasetDrifted }).toEqual({ month, oldDatasetDrift: true });
    const route = diagnose(now, model.policy.drift).route;
    const oldRoute = diagnose(before, model.policy.drift).route;
    expect(route).not.toBe('data-quality');
    if (route !== 'none') expect({ month, oldRoute }).not.toEqual({ month, oldRoute: 'none' });
    if (route !== 'none') acted++;
    if (oldRoute !== 'none') oldActed++;
  }
  expect(acted).toBeLessThanOrEqual(oldActed);

  // The second cycle, over April 2013 – December 2014, on the promoted champion.
  const second = await startCycle(h.client, h, { modelId: MODEL, window: SCENARIO.window, trigger: 'test' });
  const status = await waitForStatus(
    h.client,
    second.cycleId,
    (s) => s.outcome !== null || !['confirm', 'diagnose'].includes(s.stage),
  );
  expect(status.outcome).not.toBe('data-quality-incident');
  expect(JSON.stringify(status.stages)).not.toContain('out-of-range');
  if (status.outcome === null) {
    await abortCycle(h.client, second.cycleId);
    await expect(waitForCycle(h.client, second.cycleId)).rejects.toThrow(/ended without an outcome/);
  }
});
