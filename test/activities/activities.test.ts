/**
 * Activities against a real Postgres: each is run twice where a retry could repeat it, and the
 * database must show the effect once.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, createTrainingActivities } from '../../activities/index.js';
import { classificationResult } from '../../activities/evaluation.js';
import { Policy } from '../../core/schemas.js';
import { prepareWeatherModel, SCENARIO, type PreparedModel } from '../../dev/scenario.js';
import * as db from '../../db/index.js';
import { serveRecords } from '../../gateway/routing.js';
import { runTrainer, type Checkpoint } from '../../activities/trainers.js';
import { trainingRows } from '../../activities/training.js';
import { canonicalJson } from '../../core/model.js';
import { freshDatabase } from '../helpers.js';

let pool: pg.Pool;
let acts: ReturnType<typeof createActivities>;
let training: ReturnType<typeof createTrainingActivities>;
let prepared: PreparedModel;
const policy = Policy.parse({});
const modelId = 'weather-acts';
const cycleId = 'remediation-weather-acts-1';
const count = async (sql: string, params: unknown[]) =>
  Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);
const inActivity = <R>(fn: () => Promise<R>, env = new MockActivityEnvironment()): Promise<R> =>
  env.run<[], R, () => Promise<R>>(fn);

beforeAll(async () => {
  ({ pool } = await freshDatabase('acts'));
  acts = createActivities({ pool });
  training = createTrainingActivities({ pool });
  prepared = await prepareWeatherModel(pool, modelId);
});
afterAll(async () => {
  await pool?.end();
});

describe('registration and the production log', () => {
  it('given the model registered twice and the log ingested twice, then one champion and no duplicate rows', async () => {
    const again = await prepareWeatherModel(pool, modelId);
    expect(again.champion.version).toBe(prepared.champion.version);
    expect(again.log).toEqual({ added: 0, served: again.log.served });
    expect(await count('SELECT count(*) AS n FROM model_versions WHERE model_id = $1', [modelId])).toBe(1);
    expect(await count('SELECT count(*) AS n FROM records WHERE model_id = $1', [modelId])).toBe(
      prepared.log.added,
    );
    expect(prepared.champion.baselineAccuracy).toBeGreaterThan(0.6);
  });
});

describe('cycle activities', () => {
  it('given an open cycle for a model, when another cycle opens for it, then it is refused as CycleAlreadyRunning', async () => {
    const input = { cycleId, modelId, window: SCENARIO.window, trigger: 'test' };
    const ctx = await inActivity(() => acts.openCycle(input));
    expect(ctx.championVersion).toBe(prepared.champion.version);
    await inActivity(() => acts.openCycle(input)); // the same cycle again: a retry, accepted
    await expect(
      inActivity(() => acts.openCycle({ ...input, cycleId: 'remediation-weather-acts-2' })),
    ).rejects.toMatchObject({
      type: 'CycleAlreadyRunning',
    });
  });

  it('given the April 2013 label shift, when drift is confirmed twice, then one report shows the accuracy drop', async () => {
    const input = {
      cycleId,
      modelId,
      championVersion: 1,
      window: SCENARIO.window,
      policy: policy.drift,
      maxRows: 5000,
    };
    const first = await inActivity(() => acts.confirmDrift(input));
    const second = await inActivity(() => acts.confirmDrift(input));
    expect(second.reportId).toBe(first.reportId);
    expect(await count('SELECT count(*) AS n FROM drift_reports WHERE cycle_id = $1', [cycleId])).toBe(1);
    const perf = first.report.performance;
    expect(perf.judged).toBe(true);
    expect(perf.degraded).toBe(true);
    expect(perf.currentAccuracy!).toBeLessThan(perf.baselineAccuracy - 0.15);
  });

  it('given an empty window, when drift is confirmed, then it fails as EmptyWindow naming the window', async () => {
    const window = { start: '2030-01-01T00:00:00Z', end: '2030-02-01T00:00:00Z' };
    await expect(
      inActivity(() =>
        acts.confirmDrift({
          cycleId: 'x',
          modelId,
          championVersion: 1,
          window,
          policy: policy.drift,
          maxRows: 10,
        }),
      ),
    ).rejects.toMatchObject({
      type: 'EmptyWindow',
      message: expect.stringContaining('2030-01-01') as string,
    });
  });

  let datasetId = 0;
  it('given a collection retried, then one immutable dataset version with the same content hash', async () => {
    const input = { cycleId, modelId, window: SCENARIO.window, policy: policy.collection, driftReportId: 1 };
    const a = await inActivity(() => acts.collectDataset(input));
    const b = await inActivity(() => acts.collectDataset(input));
    expect(b).toEqual(a);
    datasetId = a.datasetId;
    expect(a.rowCount).toBe(
      await count('SELECT count(*) AS n FROM records WHERE model_id = $1 AND ts >= $2 AND ts < $3', [
        modelId,
        SCENARIO.window.start,
        SCENARIO.window.end,
      ]),
    );
    expect(a.labeledCount).toBeGreaterThan(0);
    expect(a.labeledCount).toBeLessThan(a.rowCount);
    expect(await count('SELECT count(*) AS n FROM dataset_rows WHERE dataset_id = $1', [datasetId])).toBe(
      a.rowCount,
    );
  });

  it('given a window whose records break the schema, then collection stops at the gate, says why, and writes nothing', async () => {
    const window = { start: '2030-02-01T00:00:00Z', end: '2030-03-01T00:00:00Z' };
    await db.insertRecords(
      pool,
      modelId,
      Array.from({ length: 30 }, (_, i) => ({
        recordKey: `broken-${i}`,
        ts: `2030-02-${String((i % 27) + 1).padStart(2, '0')}T12:00:00Z`,
        // the upstream feed lost temp_max on a third of the rows
        features: {
          location: 'Seattle',
          precipitation: 1,
          ...(i % 3 === 0 ? {} : { temp_max: 9 }),
          temp_min: 2,
          wind: 3,
          season_sin: 0,
          season_cos: 1,
        },
        feedback: null,
      })),
    );
    const before = await count('SELECT count(*) AS n FROM dataset_versions', []);
    const input = {
      cycleId: 'remediation-weather-acts-gate',
      modelId,
      window,
      policy: policy.collection,
      driftReportId: 1,
    };
    await expect(inActivity(() => acts.collectDataset(input))).rejects.toMatchObject({
      type: 'DatasetQualityGateFailed',
      message:
        'collection stopped: quality gate "schema" failed: 10 of 30 records lack a feature or have one of the wrong type',
    });
    expect(await count('SELECT count(*) AS n FROM dataset_versions', [])).toBe(before);
  });

  it('given label tasks opened twice, then the same least-confident items within the budget', async () => {
    const input = { campaignId: 'camp-1', modelId, datasetId, championVersion: 1, budget: 12 };
    const a = await inActivity(() => acts.openLabelTasks(input));
    const b = await inActivity(() => acts.openLabelTasks(input));
    expect(a.items).toHaveLength(12);
    expect(b.items.map((i) => i.recordKey)).toEqual(a.items.map((i) => i.recordKey));
    const confidences = a.items.map((i) => i.confidence);
    expect([...confidences].sort((x, y) => x - y)).toEqual(confidences);
  });

  it('given auto-labels and the margin strategy, then sure items are labeled by the champion, recorded as such, and people get the closest calls', async () => {
    const input = {
      campaignId: 'camp-auto',
      modelId,
      datasetId,
      championVersion: 1,
      budget: 10,
      strategy: 'margin' as const,
      autoLabelAbove: 0.7,
    };
    const a = await inActivity(() => acts.openLabelTasks(input));
    const b = await inActivity(() => acts.openLabelTasks(input));
    expect(b).toEqual(a);
    expect(a.items).toHaveLength(10);
    expect(a.autoLabeled).toBeGreaterThan(0);
    const { rows: auto } = await pool.query<{ record_key: string; reviewer: string; via: string }>(
      "SELECT record_key, reviewer, via FROM labels WHERE campaign_id = 'camp-auto' AND source = 'auto'",
    );
    expect(auto).toHaveLength(a.autoLabeled);
    expect(auto.every((r) => r.reviewer === 'remedy:champion' && r.via === 'auto')).toBe(true);
    const autoKeys = new Set(auto.map((r) => r.record_key));
    expect(a.items.some((i) => autoKeys.has(i.recordKey))).toBe(false);
    // Nobody is asked about an item the champion was sure of.
    expect(a.items.every((i) => i.confidence < 0.7)).toBe(true);
  });

  it('given an answer sent twice with different labels, then the first wins and one row exists', async () => {
    const { rows } = await pool.query<{ record_key: string }>(
      'SELECT record_key FROM label_tasks WHERE campaign_id = $1 LIMIT 1',
      ['camp-1'],
    );
    const recordKey = rows[0]!.record_key;
    const first = await inActivity(() =>
      acts.recordLabel({ campaignId: 'camp-1', recordKey, label: 'fog', reviewer: 'ann' }),
    );
    const second = await inActivity(() =>
      acts.recordLabel({ campaignId: 'camp-1', recordKey, label: 'sun', reviewer: 'bob' }),
    );
    expect(first).toEqual({ label: 'fog', reviewer: 'ann', duplicate: false });
    const { rows: via } = await pool.query<{ via: string }>(
      'SELECT via FROM labels WHERE campaign_id = $1 AND record_key = $2',
      ['camp-1', recordKey],
    );
    expect(via[0]!.via).toBe('api');
    expect(second).toEqual({ label: 'fog', reviewer: 'ann', duplicate: true });
    expect(await count('SELECT count(*) AS n FROM labels WHERE campaign_id = $1', ['camp-1'])).toBe(1);
  });

  let labeledId = 0;
  it('given answers, when the labeled dataset is frozen twice, then one child version carries the human label', async () => {
    const input = { cycleId, modelId, parentId: datasetId, campaignId: 'camp-1' };
    const a = await inActivity(() => acts.freezeLabeledDataset(input));
    const b = await inActivity(() => acts.freezeLabeledDataset(input));
    expect(b).toEqual(a);
    expect(a.humanLabels).toBe(1);
    labeledId = a.datasetId;
    const version = await db.getDatasetVersion(pool, labeledId);
    expect(version).toMatchObject({ kind: 'labeled', parentId: datasetId, rowCount: a.rowCount });
  });

  let candidate = 0;
  it('given training retried, then one registry row and a byte-identical artifact', async () => {
    const input = {
      cycleId,
      modelId,
      datasetId: labeledId,
      championVersion: 1,
      severity: 'severe' as const,
      config: policy.training,
    };
    const a = await inActivity(() => training.trainCandidate(input));
    expect(a).toMatchObject({ trainer: 'forest', resumedFrom: 0 });
    // The cycle's drift check found the weather's label shift: a severe drift's candidate learns from the
    // window alone, and says why (the champion's 2012 rows carry the labels' old meaning).
    expect(a.historyRows).toBe(0);
    expect(a.trainingSet?.scope).toBe('window');
    expect(a.trainingSet?.withoutHistory).toMatch(/^the labels shifted: label PSI \d+\.\d\d ≥ 0\.25$/);
    // A severe drift without a label shift (a cycle with no such drift report) keeps its share of them.
    const kept = await trainingRows(pool, { ...input, cycleId: 'no-label-shift' });
    expect(kept.historyRows).toBeGreaterThan(0);
    expect(kept.trainingSet.scope).toBe('window+history');
    const b = await inActivity(() => training.trainCandidate(input));
    expect(b.version).toBe(a.version);
    expect(b.artifactSha256).toBe(a.artifactSha256);
    candidate = a.version;
    expect(
      await count("SELECT count(*) AS n FROM model_versions WHERE model_id = $1 AND status = 'candidate'", [
        modelId,
      ]),
    ).toBe(1);
    expect(await db.getAlias(pool, modelId, 'candidate')).toBe(candidate);
  });

  it('given a killed softmax attempt, when training runs again from its heartbeat, then it resumes at that epoch and ends the same', async () => {
    const input = {
      cycleId: 'resume-softmax',
      modelId,
      datasetId: labeledId,
      championVersion: 1,
      severity: 'mild' as const,
      config: { ...policy.training, trainer: 'softmax' as const, epochs: 100, checkpointEvery: 25 },
    };
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const full = await inActivity(
      () => training.trainCandidate({ ...input, cycleId: 'resume-softmax-full' }),
      env,
    );
    expect(heartbeats).toHaveLength(4);
    const resumed = await inActivity(
      () => training.trainCandidate(input),
      new MockActivityEnvironment({ heartbeatDetails: heartbeats[1] }),
    );
    expect(resumed.resumedFrom).toBe(50);
    expect(resumed.artifactSha256).toBe(full.artifactSha256);
  });

  it('given a forest cancelled mid-training, when it runs again from its last save, then it resumes at that tree and ends the same', async () => {
    const def = (await db.getModel(pool, modelId))!;
    const rows = (await db.getDatasetRows(pool, labeledId))
      .filter((r) => r.split === 'train' && r.label !== null)
      .map((r) => ({ features: r.features, label: r.label!, weight: 1 }));
    const config = { ...policy.training, trainer: 'forest' as const, trees: 30 };
    const ctx = (
      checkpoint: Checkpoint | undefined,
      onSave: (c: Checkpoint) => void,
      cancelled = () => false,
    ) => ({
      checkpoint,
      save: (c: Checkpoint) => Promise.resolve(onSave(c)),
      heartbeat: () => undefined,
      cancelled,
      signal: AbortSignal.abort(new Error('cancelled by the test')),
      saveEveryMs: 0,
    });
    const saves: Checkpoint[] = [];
    await expect(
      runTrainer(
        def.features,
        def.labelSet,
        rows,
        config,
        ctx(
          undefined,
          (c) => saves.push(structuredClone(c)),
          () => saves.length >= 12,
        ),
      ),
    ).rejects.toThrow('cancelled by the test');
    const last = saves.at(-1)!;
    expect(last.kind === 'forest' && last.trees.length).toBe(12);

    const resumed = await runTrainer(
      def.features,
      def.labelSet,
      rows,
      config,
      ctx(last, () => undefined),
    );
    const uninterrupted = await runTrainer(
      def.features,
      def.labelSet,
      rows,
      config,
      ctx(undefined, () => undefined),
    );
    expect(resumed.resumedFrom).toBe(12);
    expect(canonicalJson(resumed.artifact)).toBe(canonicalJson(uninterrupted.artifact));
  });

  it('given a command trainer that follows the contract, then its artifact is registered and serves', async () => {
    const config = {
      ...policy.training,
      trainer: 'command' as const,
      command: ['node', 'test/fixtures/majority-trainer.mjs'],
    };
    const input = {
      cycleId: 'cmd-ok',
      modelId,
      datasetId: labeledId,
      championVersion: 1,
      severity: 'mild' as const,
      config,
    };
    const r = await inActivity(() => training.trainCandidate(input));
    expect(r.trainer).toBe('command');
    expect(r.details).toMatchObject({ command: config.command, metrics: { rows: r.trainRows } });
    const artifact = (await db.getModelVersion(pool, modelId, r.version)).artifact;
    expect(artifact.kind).toBe('softmax-regression');
  });

  it.each([
    ['--fail', /failed \(exit 3\); last output:\ntraining data rejected/],
    ['--garbage', /did not write a valid .*output\.json/],
  ])(
    'given a command trainer run with %s, then training fails with what the program said',
    async (flag, message) => {
      const config = {
        ...policy.training,
        trainer: 'command' as const,
        command: ['node', 'test/fixtures/majority-trainer.mjs', flag],
      };
      const input = {
        cycleId: `cmd${flag}`,
        modelId,
        datasetId: labeledId,
        championVersion: 1,
        severity: 'mild' as const,
        config,
      };
      await expect(inActivity(() => training.trainCandidate(input))).rejects.toThrow(message);
      expect(
        await count('SELECT count(*) AS n FROM model_versions WHERE cycle_id = $1', [`cmd${flag}`]),
      ).toBe(0);
    },
  );

  it("given a mild drift, when trained, then the trainer gets every labeled training row of the champion, weighted by recency, plus the window's labels weighted up", async () => {
    const config = {
      ...policy.training,
      trainer: 'command' as const,
      command: ['node', 'test/fixtures/majority-trainer.mjs'],
      recencyHalfLife: '30d',
    };
    const input = {
      cycleId: 'mild-keeps-reference',
      modelId,
      datasetId: labeledId,
      championVersion: 1,
      severity: 'mild' as const,
      config,
    };
    const r = await inActivity(() => training.trainCandidate(input));
    const labeledTrain = async (id: number) =>
      (await db.getDatasetRows(pool, id)).filter((x) => x.split === 'train' && x.label !== null);
    const champion = await db.getModelVersion(pool, modelId, 1);
    const reference = await labeledTrain(champion.datasetId!);
    const window = await labeledTrain(labeledId);
    expect(r.historyRows).toBe(reference.length);
    expect(r.trainRows).toBe(reference.length + window.length);
    // What the trainer learned (the majority fixture's bias is the log of each label's weighted share)
    // matches a row weighing 2^(−age / 30 days) from the window's newest label, a window row driftedWeight.
    const newest = Math.max(...window.map((x) => new Date(x.ts).getTime()));
    const weighted: Record<string, number> = {};
    for (const x of window) weighted[x.label!] = (weighted[x.label!] ?? 0) + config.driftedWeight;
    for (const x of reference) {
      const age = Math.max(0, newest - new Date(x.ts).getTime());
      weighted[x.label!] = (weighted[x.label!] ?? 0) + 2 ** (-age / (30 * 86_400_000));
    }
    const total = Object.values(weighted).reduce((a, b) => a + b, 0);
    const artifact = (await db.getModelVersion(pool, modelId, r.version)).artifact;
    if (artifact.kind !== 'softmax-regression') throw new Error(`expected softmax, got ${artifact.kind}`);
    artifact.classes.forEach((c, i) =>
      expect(artifact.bias[i]).toBeCloseTo(Math.log(weighted[c]! / total), 9),
    );
    expect(r.trainingSet).toMatchObject({
      scope: 'window+reference',
      windowRows: window.length,
      windowWeight: config.driftedWeight,
      referenceRows: reference.length,
      halfLife: '30d',
    });
    expect((await db.getModelVersion(pool, modelId, r.version)).metrics.trainingSet).toEqual(r.trainingSet);
  });

  it('given the candidate and the champion, when evaluated on the holdout, then the candidate is better after the shift', async () => {
    const e = await inActivity(() =>
      acts
        .evaluateCandidate({
          cycleId,
          modelId,
          datasetId: labeledId,
          candidateVersion: candidate,
          championVersion: 1,
          policy: { ...policy.evaluation, sliceBy: 'location' },
          driftReportId: 1,
          campaignId: 'camp-1',
        })
        .then(classificationResult),
    );
    expect(e.holdoutRows).toBeGreaterThan(50);
    expect(e.candidate.accuracy).toBeGreaterThan(e.champion.accuracy + 0.1);
    expect(Object.keys(e.slices).sort()).toEqual(['New York', 'Seattle']);
    expect(e.gates.map((g) => g.name)).toEqual([
      'min-holdout',
      'min-gain',
      'slice-drop',
      'calibration',
      'latency',
      'backtest',
    ]);
    expect(e.intervals.accuracy.lower).toBeLessThanOrEqual(e.intervals.accuracy.estimate);
    const card = await pool.query<{ markdown: string; html: string; go: boolean }>(
      'SELECT markdown, html, go FROM model_cards WHERE model_id = $1 AND version = $2',
      [modelId, candidate],
    );
    expect(card.rows[0]!.go).toBe(e.go);
    expect(card.rows[0]!.markdown).toContain(`${modelId}`);
    expect(card.rows[0]!.html).toContain('<svg');
  });

  it('given requests served twice under one batch through the gateway core, then each is logged once, split by weight', async () => {
    await inActivity(() =>
      acts.setTrafficWeight({
        cycleId,
        modelId,
        championVersion: 1,
        candidateVersion: candidate,
        weight: 50,
      }),
    );
    const records = await db.recordsAfter(pool, modelId, { ts: SCENARIO.window.end, recordKey: '' }, 100);
    const a = await serveRecords(pool, modelId, `${cycleId}:replay`, records);
    const b = await serveRecords(pool, modelId, `${cycleId}:replay`, records);
    expect(b).toEqual(a);
    expect(a.served).toBe(100);
    expect(Object.keys(a.byVersion).sort()).toEqual([`v1`, `v${candidate}`]);
    expect(
      await count('SELECT count(*) AS n FROM predictions WHERE batch_key = $1', [`${cycleId}:replay`]),
    ).toBe(100);
  });

  it('given a rollback run twice, then traffic is 100% champion, aliases restored, one audit event', async () => {
    const input = {
      cycleId,
      modelId,
      championVersion: 1,
      candidateVersion: candidate,
      actor: 'test',
      evidence: { why: 'test' },
    };
    await inActivity(() => acts.rollback(input));
    await inActivity(() => acts.rollback(input));
    expect(await db.getTraffic(pool, modelId)).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect(await db.getAlias(pool, modelId, 'champion')).toBe(1);
    expect(await db.getAlias(pool, modelId, 'candidate')).toBeNull();
    expect((await db.getModelVersion(pool, modelId, candidate)).status).toBe('rolled_back');
    expect(
      await count(
        "SELECT count(*) AS n FROM audit_events WHERE cycle_id = $1 AND action = 'rollout.rolled_back'",
        [cycleId],
      ),
    ).toBe(1);
  });

  it('given a promotion run twice, then the candidate is champion with its own reference profile', async () => {
    const input = {
      cycleId: 'promo',
      modelId,
      championVersion: 1,
      candidateVersion: candidate,
      actor: 'test',
    };
    await inActivity(() => acts.promote(input));
    await inActivity(() => acts.promote(input));
    expect(await db.getAlias(pool, modelId, 'champion')).toBe(candidate);
    expect((await db.getModelVersion(pool, modelId, 1)).status).toBe('retired');
    expect(await db.getReferenceProfile(pool, modelId, candidate)).not.toBeNull();
    expect(await db.getTraffic(pool, modelId)).toEqual({
      championVersion: candidate,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });

  it('given a cycle closed twice, then it has one outcome and one close event', async () => {
    await inActivity(() => acts.closeCycle({ cycleId, modelId, outcome: 'promoted', summary: { a: 1 } }));
    await inActivity(() => acts.closeCycle({ cycleId, modelId, outcome: 'failed', summary: { a: 2 } }));
    const { rows } = await pool.query<{ outcome: string }>('SELECT outcome FROM cycles WHERE cycle_id = $1', [
      cycleId,
    ]);
    expect(rows).toEqual([{ outcome: 'promoted' }]);
    expect(
      await count("SELECT count(*) AS n FROM audit_events WHERE cycle_id = $1 AND action = 'cycle.closed'", [
        cycleId,
      ]),
    ).toBe(1);
  });
});
