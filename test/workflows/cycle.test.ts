/**
 * The remediation cycle on a real Temporal dev server and a real Postgres, driven the way people
 * drive it: client functions sending Updates and Queries.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import {
  approveRollout,
  abortCycle,
  CycleEndedError,
  pendingLabels,
  startCycle,
  submitLabel,
  UserError,
  waitForCycle,
} from '../../ops/cycles.js';
import {
  DEMO_POLICY,
  FIXED_SAMPLE_POLICY,
  prepareWeatherModel,
  runScriptedCycle,
  SCENARIO,
} from '../../dev/scenario.js';
import { answerLabels, approveWhenAsked, atStage, waitForStatus } from '../../dev/reviewer.js';
import * as db from '../../db/index.js';
import { recordHistories, searchAttributeUpserts, until, useStack } from '../helpers.js';

const stack = useStack('cycle', { gateway: true });

describe('remediation cycle', () => {
  it('given the weather label shift, when a reviewer labels and approves, then the candidate is promoted through every stage', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-full', FIXED_SAMPLE_POLICY);
    const { cycleId, summary, labelsAnswered, traffic } = await runScriptedCycle(
      stack.h.client,
      stack.h,
      prepared,
      { gatewayUrl: stack.gateway.url, pool: stack.pool },
    );

    expect(cycleId).toBe('remediation-weather-full-1');
    expect(summary.outcome).toBe('promoted');
    expect(summary.stages.map((s) => s.stage)).toEqual([
      'confirm',
      'diagnose',
      'collect',
      'label',
      'retrain',
      'evaluate',
      'approval',
      'rollout',
      'close',
    ]);
    expect(labelsAnswered).toBe(40);
    const stage = (name: string) => summary.stages.find((s) => s.stage === name)!.summary!;
    expect(stage('diagnose').signals).toContain('performance');
    expect(stage('label')).toMatchObject({ state: 'complete', requested: 40, answered: 40 });
    expect(stage('evaluate').gate).toBe('go');
    // The gain clears the minimum at the lower bound of its interval; the candidate learned the new
    // labels, so on the 2012 reference it "forgets" the old ones: reported, not judged, after a label shift.
    const evaluate = stage('evaluate') as {
      holdoutRows: number;
      intervals: { confidence: number; accuracy: { lower: number } };
      backtest: { rows: number } | null;
      gates: { gate: string; passed: boolean }[];
      reason: string;
    };
    expect(evaluate.holdoutRows).toBeGreaterThanOrEqual(30);
    expect(evaluate.intervals.confidence).toBe(0.9);
    expect(evaluate.intervals.accuracy.lower).toBeGreaterThan(0.02);
    expect(evaluate.backtest?.rows).toBeGreaterThan(0);
    expect(evaluate.gates.map((g) => g.gate)).toEqual([
      'min-holdout',
      'min-gain',
      'slice-drop',
      'calibration',
      'latency',
      'backtest',
    ]);
    expect(evaluate.reason).toMatch(/gain \d+\.\d pts, 90% interval \d+\.\d to \d+\.\d pts/);
    expect(evaluate.reason).toMatch(/backtest forgetting \d+\.\d pts \(reported, not judged\)/);
    expect(
      (stage('rollout').steps as { decision: string }[]).filter((s) => s.decision !== 'inconclusive'),
    ).toHaveLength(4);
    expect(traffic.byVersion[`v${summary.candidateVersion}`]).toBeGreaterThan(0);
    // Paced by the steps (stepSamples): every answer came from the version the step's split gives its key.
    expect(traffic.offSplit).toBe(0);

    // What the registry and the audit trail say afterwards.
    expect(await db.getAlias(stack.pool, 'weather-full', 'champion')).toBe(summary.candidateVersion);
    expect(await db.getTraffic(stack.pool, 'weather-full')).toEqual({
      championVersion: summary.candidateVersion,
      candidateVersion: null,
      candidateWeight: 0,
    });
    const { rows } = await stack.pool.query<{ outcome: string }>(
      'SELECT outcome FROM cycles WHERE cycle_id = $1',
      [cycleId],
    );
    expect(rows).toEqual([{ outcome: 'promoted' }]);
    const actions = (
      await stack.pool.query<{ action: string; actor: string }>(
        'SELECT action, actor FROM audit_events WHERE cycle_id = $1 ORDER BY event_id',
        [cycleId],
      )
    ).rows;
    expect(actions).toContainEqual({ action: 'rollout.approved', actor: SCENARIO.approver });
    expect(actions.at(-1)).toEqual({ action: 'cycle.closed', actor: 'remedy' });

    // Lineage: drift report → collected dataset → labeling campaign → labeled dataset → this version.
    const trail = await db.lineage(stack.pool, 'weather-full', summary.candidateVersion!);
    const { rows: reports } = await stack.pool.query<{ report_id: string }>(
      'SELECT report_id FROM drift_reports WHERE cycle_id = $1',
      [cycleId],
    );
    expect(trail).toMatchObject({
      cycleId,
      trainedOn: { kind: 'labeled' },
      driftReportId: Number(reports[0]!.report_id),
      campaignId: `${cycleId}-labeling`,
    });
    expect(trail.collected!.windowStart!.toISOString()).toBe('2013-04-01T00:00:00.000Z');
    const card = await stack.pool.query<{ markdown: string }>(
      'SELECT markdown FROM model_cards WHERE model_id = $1 AND version = $2',
      ['weather-full', summary.candidateVersion],
    );
    expect(card.rows[0]!.markdown).toContain(`${cycleId}-labeling`);

    // The search attributes the Web UI filters on.
    const described = await stack.h.client.workflow.getHandle(cycleId).describe();
    expect(described.searchAttributes).toMatchObject({
      ModelId: ['weather-full'],
      Outcome: ['promoted'],
      RemediationStage: ['close'],
      DriftSeverity: [summary.severity],
      CandidateVersion: [String(summary.candidateVersion)],
    });
    // A stage's search attributes and those set just before it go out in one upsert: diagnosis (in the
    // same workflow task as collection), the severity, the candidate and the outcome cost no event of
    // their own. (The SDK's own TemporalChangeVersion upsert, one per patch, is not the cycle's.)
    expect(await searchAttributeUpserts(stack.h.client, cycleId)).toEqual([
      [['RemediationStage=confirm']],
      [[`DriftSeverity=${summary.severity}`, 'RemediationStage=collect']],
      [['RemediationStage=label']],
      [['RemediationStage=retrain']],
      [[`CandidateVersion=${summary.candidateVersion}`, 'RemediationStage=evaluate']],
      [['RemediationStage=approval']],
      [['RemediationStage=rollout']],
      [['Outcome=promoted', 'RemediationStage=close']],
    ]);

    // Named <workflowId>.json: replay needs the ID the history ran under (child IDs derive from it).
    await recordHistories([
      cycleId,
      `${cycleId}-labeling`,
      `${cycleId}-rollout`,
      { key: cycleId, name: `${cycleId}@one-upsert` },
    ]);
  });

  it('given a malformed label, when it is sent, then it is refused naming the field and the cycle carries on unchanged', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-badlabel', DEMO_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-badlabel',
      window: SCENARIO.window,
    });
    await waitForStatus(stack.h.client, cycleId, atStage('label'));
    const status = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.requested > 0,
    );
    const item = status.pending[0]!;
    const campaign = stack.h.client.workflow.getHandle(`${cycleId}-labeling`);
    const eventsBefore = (await campaign.fetchHistory()).events!.length;

    // Straight to the workflow (as any Temporal client could), bypassing the client-side check.
    const { submitLabelUpdate } = await import('../../workflows/messages.js');
    const refusal = await campaign
      .executeUpdate(submitLabelUpdate, {
        args: [{ recordKey: item.recordKey, label: 42, reviewer: SCENARIO.reviewer } as never],
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(
      /^label refused: label: .*expected string/i,
    );
    await expect(
      submitLabel(stack.h.client, cycleId, {
        recordKey: item.recordKey,
        label: 'hail',
        reviewer: SCENARIO.reviewer,
      }),
    ).rejects.toThrow(/label "hail" is not one of drizzle, fog, rain, snow, sun/);
    await expect(
      submitLabel(stack.h.client, cycleId, { recordKey: 'nope', label: 'sun', reviewer: SCENARIO.reviewer }),
    ).rejects.toThrow(/recordKey "nope" is not an item/);
    await expect(
      submitLabel(stack.h.client, cycleId, { recordKey: item.recordKey, reviewer: SCENARIO.reviewer }),
    ).rejects.toBeInstanceOf(UserError);

    expect((await campaign.fetchHistory()).events!.length).toBe(eventsBefore);
    const after = await pendingLabels(stack.h.client, cycleId);
    expect(after.answered).toBe(0);
    expect(after.pending).toHaveLength(status.pending.length);

    // A good answer is accepted, a repeat of it is reported as a duplicate, and the cycle finishes.
    const first = await submitLabel(stack.h.client, cycleId, {
      recordKey: item.recordKey,
      label: truth.get(item.recordKey)!,
      reviewer: SCENARIO.reviewer,
    });
    const repeat = await submitLabel(stack.h.client, cycleId, {
      recordKey: item.recordKey,
      label: 'snow',
      reviewer: SCENARIO.reviewer,
    });
    expect(first.duplicate).toBe(false);
    expect(repeat).toMatchObject({ duplicate: true, label: truth.get(item.recordKey) });
    for (const p of after.pending.slice(1)) {
      await submitLabel(stack.h.client, cycleId, {
        recordKey: p.recordKey,
        label: truth.get(p.recordKey)!,
        reviewer: SCENARIO.reviewer,
      });
    }
    // The cycle carries on past labeling to the approval gate; the approver rejects the candidate.
    const atApproval = await waitForStatus(stack.h.client, cycleId, (s) => s.awaitingApproval);
    expect(atApproval.stages.map((s) => s.stage)).toEqual([
      'confirm',
      'diagnose',
      'collect',
      'label',
      'retrain',
      'evaluate',
      'approval',
    ]);
    await approveRollout(stack.h.client, cycleId, {
      approver: SCENARIO.approver,
      approve: false,
      reason: 'not this week',
    });
    const summary = await waitForCycle(stack.h.client, cycleId);
    expect(summary).toMatchObject({
      outcome: 'approval-denied',
      reason: `rollout denied by ${SCENARIO.approver}: not this week`,
    });
    expect((await db.getModelVersion(stack.pool, 'weather-badlabel', summary.candidateVersion!)).status).toBe(
      'rejected',
    );
    const { rows } = await stack.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM labels WHERE campaign_id = $1',
      [`${cycleId}-labeling`],
    );
    expect(Number(rows[0]!.n)).toBe(40);
  });

  it('given a cycle waiting for labels, when it is aborted, then it closes as aborted and the champion keeps serving', async () => {
    await prepareWeatherModel(stack.pool, 'weather-abort', DEMO_POLICY);
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-abort',
      window: SCENARIO.window,
    });
    await waitForStatus(stack.h.client, cycleId, atStage('label'));
    await abortCycle(stack.h.client, cycleId);
    await expect(waitForCycle(stack.h.client, cycleId)).rejects.toThrow(
      /ended without an outcome: .*cancel/i,
    );
    const { rows } = await stack.pool.query<{ outcome: string; closed: boolean }>(
      'SELECT outcome, closed_at IS NOT NULL AS closed FROM cycles WHERE cycle_id = $1',
      [cycleId],
    );
    expect(rows).toEqual([{ outcome: 'aborted', closed: true }]);
    expect(await db.getTraffic(stack.pool, 'weather-abort')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    // The model is free again: a new cycle may start.
    const next = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-abort',
      window: SCENARIO.window,
    });
    expect(next.cycleId).toBe('remediation-weather-abort-2');
    await abortCycle(stack.h.client, next.cycleId);
  });

  it('given a cycle in the middle of its rollout, when it is aborted, then traffic returns to the champion and it closes as aborted', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-midabort', {
      ...DEMO_POLICY,
      rollout: { ...DEMO_POLICY.rollout, dwell: '1h' },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-midabort',
      window: SCENARIO.window,
    });
    await waitForStatus(stack.h.client, cycleId, atStage('label'));
    await answerLabels(stack.h.client, cycleId, (k) => truth.get(k), SCENARIO.reviewer);
    await approveWhenAsked(stack.h.client, cycleId, SCENARIO.approver, 'ok');
    const split = await until(
      () => db.getTraffic(stack.pool, 'weather-midabort'),
      (t) => (t?.candidateWeight ?? 0) > 0,
    );
    expect(split).toMatchObject({ championVersion: 1, candidateWeight: 10 });

    await abortCycle(stack.h.client, cycleId);
    await expect(waitForCycle(stack.h.client, cycleId)).rejects.toThrow(CycleEndedError);
    expect(await db.getTraffic(stack.pool, 'weather-midabort')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect(await db.getAlias(stack.pool, 'weather-midabort', 'champion')).toBe(1);
    const { rows } = await stack.pool.query<{ outcome: string }>(
      'SELECT outcome FROM cycles WHERE cycle_id = $1',
      [cycleId],
    );
    expect(rows).toEqual([{ outcome: 'aborted' }]);
  });

  it('given a candidate that fails an evaluation gate, then it never reaches rollout and the summary names the gate and the numbers', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'weather-gate', {
      ...DEMO_POLICY,
      evaluation: { minGain: 0.9, sliceBy: 'location' },
    });
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-gate',
      window: SCENARIO.window,
    });
    await answerLabels(stack.h.client, cycleId, (k) => truth.get(k), SCENARIO.reviewer);
    const summary = await waitForCycle(stack.h.client, cycleId);

    expect(summary.outcome).toBe('rejected');
    expect(summary.reason).toMatch(
      /^evaluation gates failed: failed min-gain: gain \d+\.\d pts, 90% interval \d+\.\d to \d+\.\d pts on \d+ rows: lower bound \d+\.\d pts < 90\.0 pts/,
    );
    expect(summary.stages.map((s) => s.stage)).not.toContain('rollout');
    const evaluate = summary.stages.find((s) => s.stage === 'evaluate')!.summary!;
    expect(evaluate.gate).toBe('no-go');
    expect(evaluate.gates).toContainEqual(
      expect.objectContaining({ gate: 'min-gain', passed: false, limit: 0.9 }),
    );
    expect(Object.keys(evaluate.slices as object).sort()).toEqual(['New York', 'Seattle']);
    expect((await db.getModelVersion(stack.pool, 'weather-gate', summary.candidateVersion!)).status).toBe(
      'rejected',
    );
    expect(await db.getTraffic(stack.pool, 'weather-gate')).toEqual({
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
  });

  it('given a policy with no label budget, then the cycle asks nobody, starts no campaign and trains on the labels its rows have', async () => {
    await prepareWeatherModel(stack.pool, 'weather-nolabels', {
      ...DEMO_POLICY,
      labeling: { budget: 0, minLabels: 0 },
      evaluation: { minGain: 0.9 },
    });
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'weather-nolabels',
      window: SCENARIO.window,
    });
    const summary = await waitForCycle(stack.h.client, cycleId);

    // The candidate met the gates or not; either way it was trained without a person.
    expect(summary.stages.map((s) => s.stage)).toContain('retrain');
    const label = summary.stages.find((s) => s.stage === 'label')!.summary!;
    expect(label).toMatchObject({ state: 'complete', requested: 0, answered: 0 });
    expect(label.campaign).toMatch(/^none: the policy asks for no labels/);
    await expect(stack.h.client.workflow.getHandle(`${cycleId}-labeling`).describe()).rejects.toThrow(
      /not found/i,
    );
    const labeled = await stack.pool.query<{ n: string; human: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE r.label_source = 'human') AS human
         FROM dataset_versions v JOIN dataset_rows r ON r.dataset_id = v.dataset_id
        WHERE v.cycle_id = $1 AND v.kind = 'labeled'`,
      [cycleId],
    );
    expect(Number(labeled.rows[0]!.n)).toBeGreaterThan(0);
    expect(Number(labeled.rows[0]!.human)).toBe(0);
    await recordHistories([cycleId]);
  });

  it('given an unknown model, when a cycle starts, then it closes as failed saying how to register it', async () => {
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: 'no-such-model',
      window: SCENARIO.window,
    });
    await expect(waitForCycle(stack.h.client, cycleId)).rejects.toThrow(CycleEndedError);
    await expect(waitForCycle(stack.h.client, cycleId)).rejects.toThrow(
      /model "no-such-model" is not registered: register it with a champion first/,
    );
  });
});
