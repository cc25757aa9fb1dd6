/**
 * The evaluation gates on real models and a real Postgres: the weather champion (trained on 2012) against
 * candidates trained here, scored by evaluateCandidate as a cycle would call it. The holdouts are picked
 * from the weather log by how the two models answer, so the evidence is known before the gates judge it.
 */
import { createHash } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { classificationResult } from '../../activities/evaluation.js';
import { canonicalJson, predict, train, type JsonArtifact } from '../../core/model.js';
import { Policy, type FeatureSpec } from '../../core/schemas.js';
import { prepareWeatherModel, SCENARIO, type PreparedModel } from '../../dev/scenario.js';
import { withTransaction } from '../../db/pool.js';
import * as db from '../../db/index.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let acts: ReturnType<typeof createActivities>;
let prepared: PreparedModel;
let features: FeatureSpec;
let champion: JsonArtifact;
const modelId = 'weather-gates';
const policy = Policy.parse({});
const inActivity = <R>(fn: () => Promise<R>): Promise<R> =>
  new MockActivityEnvironment().run<[], R, () => Promise<R>>(fn);

beforeAll(async () => {
  ({ pool } = await freshDatabase('gates'));
  acts = createActivities({ pool });
  prepared = await prepareWeatherModel(pool, modelId);
  const model = (await db.getModel(pool, modelId))!;
  features = model.features;
  champion = (await db.getModelVersion(pool, modelId, 1)).artifact as JsonArtifact;
});
afterAll(async () => {
  await pool?.end();
});

type Row = PreparedModel['rows'][number];

const trained = (rows: readonly Row[]): JsonArtifact =>
  train(
    features,
    rows.map((r) => ({ features: r.features, label: r.label })),
    { epochs: 300, learningRate: 0.5, l2: 0.001 },
  );

/** Registers a candidate and a labeled dataset whose holdout is `holdout`. */
async function candidateWithHoldout(
  name: string,
  artifact: JsonArtifact,
  holdout: readonly Row[],
): Promise<{ version: number; datasetId: number }> {
  const json = canonicalJson(artifact);
  return withTransaction(pool, async (client) => {
    const { datasetId } = await db.insertDatasetVersion(client, {
      modelId,
      idempotencyKey: `${name}:labeled`,
      parentId: null,
      kind: 'labeled',
      cycleId: name,
      windowStart: null,
      windowEnd: null,
      samplingPlan: {},
      contentHash: name,
      rows: holdout.map((r) => ({
        recordKey: r.recordKey,
        ts: r.ts,
        features: r.features,
        label: r.label,
        labelSource: 'human',
        split: 'holdout',
      })),
    });
    const version = await db.insertModelVersion(client, {
      modelId,
      idempotencyKey: `${name}:candidate`,
      status: 'candidate',
      datasetId,
      cycleId: name,
      configHash: name,
      codeVersion: 'test',
      artifact: json,
      artifactSha256: createHash('sha256').update(json).digest('hex'),
      metrics: { trainer: 'softmax-regression' },
    });
    return { version, datasetId };
  });
}

const right = (artifact: JsonArtifact, r: Row) => predict(artifact, r.features).label === r.label;

describe('evaluateCandidate with uncertainty', () => {
  it('given a candidate 7.5 pts better on 40 rows, when evaluated, then the interval crosses the 2-pt minimum and the candidate is rejected with the interval in the reason', async () => {
    // Trained on the window's labels (2013-2014); judged on 40 rows of 2015: both models right on 30,
    // only the candidate on 4, only the champion on 1, neither on 5.
    const window = prepared.rows.filter((r) => r.date >= '2013-04-01' && r.date < '2015-01-01');
    const candidate = trained(window);
    const later = prepared.rows.filter((r) => r.date >= '2015-01-01');
    const pick = (c: boolean, h: boolean, n: number) => {
      const found = later.filter((r) => right(candidate, r) === c && right(champion, r) === h).slice(0, n);
      expect(found).toHaveLength(n);
      return found;
    };
    const holdout = [
      ...pick(true, true, 30),
      ...pick(true, false, 4),
      ...pick(false, true, 1),
      ...pick(false, false, 5),
    ];
    const { version, datasetId } = await candidateWithHoldout('gates-interval', candidate, holdout);

    const e = await inActivity(() =>
      acts
        .evaluateCandidate({
          cycleId: 'gates-interval',
          modelId,
          datasetId,
          candidateVersion: version,
          championVersion: 1,
          // Only the gain is in question here: calibration and the backtest do not decide.
          policy: { ...policy.evaluation, maxEce: 1, backtest: 'report' },
          driftReportId: null,
          campaignId: null,
        })
        .then(classificationResult),
    );
    expect(e.holdoutRows).toBe(40);
    expect(e.candidate.accuracy - e.champion.accuracy).toBeCloseTo(0.075, 12);
    expect(e.intervals.accuracy.estimate).toBeCloseTo(0.075, 12);
    expect(e.intervals.accuracy.lower).toBeLessThan(0.02);
    expect(e.intervals.accuracy.upper).toBeGreaterThan(0.075);
    expect(e.go).toBe(false);
    const lo = (e.intervals.accuracy.lower * 100).toFixed(1);
    const hi = (e.intervals.accuracy.upper * 100).toFixed(1);
    expect(e.reason).toBe(
      `failed min-gain: gain 7.5 pts, 90% interval ${lo} to ${hi} pts on 40 rows: lower bound ${lo} pts < 2.0 pts`,
    );
    // The same rows give the same interval: a retry of the activity decides the same.
    const again = await inActivity(() =>
      acts
        .evaluateCandidate({
          cycleId: 'gates-interval',
          modelId,
          datasetId,
          candidateVersion: version,
          championVersion: 1,
          policy: { ...policy.evaluation, maxEce: 1, backtest: 'report' },
          driftReportId: null,
          campaignId: null,
        })
        .then(classificationResult),
    );
    expect(again.intervals).toEqual(e.intervals);
    const card = await pool.query<{ markdown: string }>(
      'SELECT markdown FROM model_cards WHERE model_id = $1 AND version = $2',
      [modelId, version],
    );
    expect(card.rows[0]!.markdown).toContain('Δ 90% interval');
    expect(card.rows[0]!.markdown).toContain('On 40 labeled holdout rows');
  });

  it("given a candidate that learned only dry days of the reference, when evaluated, then the backtest on the champion's reference rejects it for forgetting", async () => {
    // The reference's own labels (2012, before the label shift), but only its dry days: the candidate
    // never sees rain, and the champion's reference holdout is full of it.
    const reference = prepared.rows.filter((r) => r.date < '2013-01-01');
    const dry = reference.filter((r) => r.features.precipitation === 0);
    const later = prepared.rows.filter((r) => r.date >= '2015-01-01').slice(0, 60);
    const { version, datasetId } = await candidateWithHoldout('gates-forget', trained(dry), later);

    const e = await inActivity(() =>
      acts
        .evaluateCandidate({
          cycleId: 'gates-forget',
          modelId,
          datasetId,
          candidateVersion: version,
          championVersion: 1,
          policy: policy.evaluation,
          driftReportId: null,
          campaignId: null,
        })
        .then(classificationResult),
    );
    expect(e.backtest).not.toBeNull();
    const b = e.backtest!;
    const referenceHoldout = (
      await db.getDatasetRows(pool, (await db.getModelVersion(pool, modelId, 1)).datasetId!)
    ).filter((r) => r.split === 'holdout' && r.label !== null);
    expect(b.rows).toBe(referenceHoldout.length);
    expect(b.championAccuracy - b.candidateAccuracy).toBeGreaterThan(0.05);
    const gate = e.gates.find((g) => g.name === 'backtest')!;
    expect(gate.passed).toBe(false);
    expect(e.go).toBe(false);
    expect(e.reason).toMatch(
      new RegExp(
        `failed backtest: on ${b.rows} reference holdout rows candidate \\d+\\.\\d% vs champion \\d+\\.\\d% \\(forgetting \\d+\\.\\d pts > 5\\.0 pts; difference 90% interval -\\d+\\.\\d to -?\\d+\\.\\d pts\\)`,
      ),
    );
    const card = await pool.query<{ markdown: string }>(
      'SELECT markdown FROM model_cards WHERE model_id = $1 AND version = $2',
      [modelId, version],
    );
    expect(card.rows[0]!.markdown).toContain('## Backtest on the reference');
    expect(card.rows[0]!.markdown).toMatch(/\| backtest \| ❌ fail \| \d+\.\d pts \| ≤ 5\.0 pts \|/);
  });
});

describe('the time-ordered holdout', () => {
  it("given evaluation.holdout latest, when the window is collected, then the holdout is the window's latest quarter and every train row comes before it", async () => {
    const collect = (cycleId: string, holdout?: 'random' | 'latest') =>
      inActivity(() =>
        acts.collectDataset({
          cycleId,
          modelId,
          window: SCENARIO.window,
          policy: policy.collection,
          // No drift report: the plan takes the window as it is.
          driftReportId: 0,
          ...(holdout ? { holdout } : {}),
        }),
      );
    const latest = await collect('gates-latest', 'latest');
    const rows = await db.getDatasetRows(pool, latest.datasetId);
    const held = rows.filter((r) => r.split === 'holdout');
    const trainRows = rows.filter((r) => r.split === 'train');
    expect(held.length).toBe(Math.round(rows.length * policy.collection.holdoutShare));
    const firstHeld = Math.min(...held.map((r) => r.ts.getTime()));
    const lastTrain = Math.max(...trainRows.map((r) => r.ts.getTime()));
    expect(lastTrain).toBeLessThanOrEqual(firstHeld);
    expect(new Date(firstHeld).toISOString() > '2014-06-01').toBe(true);

    // The default stays as it was: held out by key, spread over the whole window.
    const random = await db.getDatasetRows(pool, (await collect('gates-random')).datasetId);
    const randomHeld = random.filter((r) => r.split === 'holdout');
    expect(Math.min(...randomHeld.map((r) => r.ts.getTime()))).toBeLessThan(Date.parse('2013-05-01'));
  });
});
