/**
 * The efficacy benchmark's quick mode on the weather stream, against the test stack's real Temporal,
 * Postgres, worker and gateway: every policy saw the same stream, and what the result says about cycles
 * and labels is what the database holds. The scripted reviewer answers wrong at a set rate; the wrong
 * answers it reports are the ones stored. The cars (a regressor) are scored by their error: the MAE
 * the report gives is the one the logged predictions have against the ground truth.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { carsDataset } from '../../bench/efficacy-cars.js';
import { weatherDataset, windowsOf, POLICY_NAMES } from '../../bench/efficacy-data.js';
import type { RegressionSummary } from '../../bench/efficacy-regression.js';
import { replayBatchPrefix } from '../../bench/efficacy-replay.js';
import { runEfficacy } from '../../bench/efficacy-run.js';
import { machine } from '../../bench/report.js';
import {
  modelCycleOutcomes,
  modelHumanLabels,
  countModelLabels,
  servedPredictions,
  servedRecordKeys,
} from '../../db/efficacy.js';
import { useStack } from '../helpers.js';

const stack = useStack('efficacy', { gateway: true });

describe('bench:efficacy --quick', () => {
  it('given the weather stream under four policies, then every policy saw the same records and the counts match the database', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'remedy-efficacy-'));
    const [run] = await runEfficacy(
      { client: stack.h.client, pool: stack.pool, queues: stack.h, gatewayUrl: stack.gateway.url },
      {
        datasets: ['weather'],
        quick: true,
        reviewer: { delayMs: 0, errorRate: 0.1, seed: 3 },
        prefix: 'eff',
        outDir,
        machine: machine(),
        log: () => undefined,
      },
    );
    const dataset = await weatherDataset(true);
    const windows = windowsOf(dataset);
    const expected = dataset.stream
      .filter((r) => r.ts >= windows[0]!.start && r.ts < windows.at(-1)!.end)
      .map((r) => r.recordKey)
      .sort();
    expect(run!.results.map((r) => r.policy)).toEqual([...POLICY_NAMES]);
    // The same stream: as many records, the same keys in the same order, each served once per policy.
    expect(new Set(run!.results.map((r) => r.keysHash)).size).toBe(1);
    for (const r of run!.results) {
      expect(r.records).toBe(expected.length);
      expect(r.windows).toHaveLength(12);
      expect((await servedRecordKeys(stack.pool, r.modelId, replayBatchPrefix)).sort()).toEqual(expected);
    }
    const truth = new Map(dataset.stream.map((r) => [r.recordKey, r.label]));
    for (const [i, r] of run!.results.entries()) {
      const s = run!.summaries[i]!;
      // Cycles and their outcomes (rollbacks among them) as the cycles table has them.
      expect(await modelCycleOutcomes(stack.pool, r.modelId)).toEqual(s.outcomes);
      expect(s.cyclesStarted).toBe(r.cycles.length);
      // Every rollout request landed where its step's split sends its key: each step's fixed sample is
      // the rows the replay meant it to be.
      expect(r.cycles.filter((c) => c.offSplit !== undefined)).toEqual([]);
      // Labels asked and answered as the campaigns' tasks and answers have them.
      expect(await countModelLabels(stack.pool, r.modelId)).toEqual({
        requested: s.labelsAsked,
        answered: s.labelsAnswered,
      });
      const stored = await modelHumanLabels(stack.pool, r.modelId);
      expect(stored).toHaveLength(s.labelsAnswered);
      expect(stored.filter((l) => truth.get(l.recordKey) !== l.label)).toHaveLength(
        r.cycles.reduce((a, c) => a + c.wrong, 0),
      );
    }
    // "never" starts nothing; the policies that retrain do.
    expect(run!.summaries[0]).toMatchObject({ policy: 'never', cyclesStarted: 0, labelsAsked: 0 });
    expect(run!.summaries.filter((s) => s.cyclesStarted > 0).length).toBeGreaterThanOrEqual(2);
    // The report: the table with a row per policy, and the chart with a line per policy.
    const md = await readFile(path.join(outDir, 'efficacy.md'), 'utf8');
    for (const p of POLICY_NAMES) expect(md).toMatch(new RegExp(`^\\| ${p} \\| \\d+\\.\\d %`, 'm'));
    expect(md).toMatch(/^- (met|MISSED): within 1 point of the best policy's mean accuracy/m);
    const svg = await readFile(path.join(outDir, 'efficacy-weather.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).toHaveLength(4);
  }, 300_000);

  it('given the cars stream (a regressor) under four policies, then the report gives the MAE of the logged predictions and the counts match the database', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'remedy-efficacy-cars-'));
    const [run] = await runEfficacy(
      { client: stack.h.client, pool: stack.pool, queues: stack.h, gatewayUrl: stack.gateway.url },
      {
        datasets: ['cars'],
        quick: true,
        reviewer: { delayMs: 0, errorRate: 0.1, seed: 5 },
        prefix: 'effcars',
        outDir,
        machine: machine(),
        log: () => undefined,
      },
    );
    const dataset = await carsDataset(true);
    const truth = new Map(dataset.stream.map((r) => [r.recordKey, Number(r.label)]));
    expect(run!.results.map((r) => r.policy)).toEqual([...POLICY_NAMES]);
    expect(new Set(run!.results.map((r) => r.keysHash)).size).toBe(1);
    for (const [i, r] of run!.results.entries()) {
      const s = run!.summaries[i]! as RegressionSummary;
      // Every car of 1975–82, once, in 8 yearly windows of at least 15 labeled rows each.
      expect(r.records).toBe(dataset.stream.length);
      expect(r.windows).toHaveLength(8);
      const logged = await servedPredictions(stack.pool, r.modelId, replayBatchPrefix);
      expect(logged.map((p) => p.recordKey)).toEqual([...truth.keys()].sort());
      // The MAE the report gives is the logged predictions' error against the ground truth.
      const mae =
        logged.reduce((a, p) => a + Math.abs(Number(p.predicted) - truth.get(p.recordKey)!), 0) /
        logged.length;
      expect(s.mae).toBeCloseTo(mae, 6);
      expect(await modelCycleOutcomes(stack.pool, r.modelId)).toEqual(s.outcomes);
      expect(await countModelLabels(stack.pool, r.modelId)).toEqual({
        requested: s.labelsAsked,
        answered: s.labelsAnswered,
      });
      // A wrong answer for a number is off by a quarter: the stored ones are those the reviewer reported.
      const stored = await modelHumanLabels(stack.pool, r.modelId);
      expect(stored).toHaveLength(s.labelsAnswered);
      expect(stored.filter((l) => Math.abs(Number(l.label) - truth.get(l.recordKey)!) > 0.01)).toHaveLength(
        r.cycles.reduce((a, c) => a + c.wrong, 0),
      );
    }
    for (const w of windowsOf(dataset))
      expect(
        dataset.stream.filter((r) => r.feedback && r.ts >= w.start && r.ts < w.end).length,
      ).toBeGreaterThanOrEqual(15);
    expect(run!.summaries[0]).toMatchObject({ policy: 'never', cyclesStarted: 0, labelsAsked: 0 });
    expect(run!.summaries.filter((s) => s.cyclesStarted > 0).length).toBeGreaterThanOrEqual(2);
    // The report reads on MAE: a row per policy in miles per gallon, the MAE target, a line per policy.
    const md = await readFile(path.join(outDir, 'efficacy.md'), 'utf8');
    for (const p of POLICY_NAMES) expect(md).toMatch(new RegExp(`^\\| ${p} \\| \\d+\\.\\d\\d mpg \\|`, 'm'));
    expect(md).toMatch(/^- (met|MISSED): within 5 % of the best policy's MAE/m);
    const svg = await readFile(path.join(outDir, 'efficacy-cars.svg'), 'utf8');
    expect(svg).toContain('Prequential MAE');
    expect(svg.match(/<polyline /g)).toHaveLength(4);
  }, 300_000);
});
