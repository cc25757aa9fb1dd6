/**
 * Whole cycles trained by the Python worker as a real process (workers/python) on the shared dev
 * server: a candidate trained, gated and rolled out through the gateway; the worker killed mid-training
 * and the training resumed; and trainers that crash, hang or answer nonsense, each closing the cycle
 * with its reason and registering nothing.
 */
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_POLICY, prepareWeatherModel, runScriptedCycle } from '../../dev/scenario.js';
import { startPythonWorker, type PythonWorker } from '../../dev/python-worker.js';
import { ensurePythonEnv } from '../../infra/python-env.js';
import { projectRoot } from '../../infra/paths.js';
import * as db from '../../db/index.js';
import { pythonTaskQueue } from '../../workflows/cycle.js';
import { recordHistories, until, useStack } from '../helpers.js';

const stack = useStack('pycycle', { gateway: true });
const fixtures = path.join(projectRoot, 'test', 'fixtures', 'python');
let running: PythonWorker[] = [];

beforeAll(async () => {
  await ensurePythonEnv();
}, 600_000);

afterEach(async () => {
  // A hanging trainer's thread never returns: those workers are killed, not asked.
  for (const w of running) w.kill('SIGKILL');
  await Promise.all(running.map((w) => w.exited));
  running = [];
});

async function pythonWorker(model?: string): Promise<PythonWorker> {
  const worker = startPythonWorker({
    temporalAddress: inject('temporalAddress'),
    taskQueue: pythonTaskQueue(stack.h.trainingTaskQueue),
    databaseUrl: stack.url,
    env: {
      PYTHONPATH: fixtures,
      ...(model ? { REMEDY_PYTHON_MODEL: `test_trainers:${model}` } : {}),
    },
  });
  running.push(worker);
  await worker.ready;
  return worker;
}

const pythonPolicy = (python: Record<string, unknown>, training: Record<string, unknown> = {}) => ({
  ...DEMO_POLICY,
  training: { trainer: 'python', python, ...training },
});

async function versionsOf(cycleId: string): Promise<{ version: number; artifact: { kind: string } }[]> {
  const { rows } = await stack.pool.query<{ version: number; artifact: { kind: string } }>(
    'SELECT version, artifact FROM model_versions WHERE cycle_id = $1',
    [cycleId],
  );
  return rows;
}

describe('cycles trained by the Python worker', () => {
  it('given trainer "python", when a cycle runs, then the candidate is a scikit-learn model served as ONNX and judged on its numbers', async () => {
    await pythonWorker();
    const prepared = await prepareWeatherModel(
      stack.pool,
      'py-weather',
      pythonPolicy({ estimators: 60, stageSize: 20 }),
    );
    const { cycleId, summary, traffic } = await runScriptedCycle(stack.h.client, stack.h, prepared, {
      gatewayUrl: stack.gateway.url,
    });
    const stage = (name: string) => summary.stages.find((s) => s.stage === name)?.summary ?? {};
    expect(stage('retrain')).toMatchObject({ trainer: 'python', estimator: 'GradientBoostingClassifier' });
    const [candidate] = await versionsOf(cycleId);
    expect(candidate?.artifact.kind).toBe('onnx');
    const card = await db.getModelCard(stack.pool, 'py-weather', summary.candidateVersion!);
    expect(card?.markdown).toContain('Artifact kind | ONNX');
    // The gates decide for a Python model as for any other: go means a rollout through the gateway.
    if (stage('evaluate').gate === 'go') {
      expect(['promoted', 'rolled-back']).toContain(summary.outcome);
      expect(traffic.byVersion[`v${summary.candidateVersion}`]).toBeGreaterThan(0);
    } else {
      expect(summary.outcome).toBe('rejected');
    }
    await recordHistories([
      cycleId,
      `${cycleId}-labeling`,
      ...(summary.stages.some((s) => s.stage === 'rollout') ? [`${cycleId}-rollout`] : []),
    ]);
    console.log(
      `python cycle: ${summary.outcome} (${summary.reason}); train accuracy ${String(stage('retrain').trainAccuracy)}, gate ${String(stage('evaluate').gate)}`,
    );
  });

  it('given the Python worker killed with SIGKILL mid-training, when another starts, then training resumes from its checkpoint and one version is registered', async () => {
    const first = await pythonWorker('paced');
    const prepared = await prepareWeatherModel(
      stack.pool,
      'py-killed',
      pythonPolicy({ estimators: 40, stageSize: 4 }, { heartbeatTimeout: '4s' }),
    );
    const checkpoints = async () =>
      Number(
        (
          await stack.pool.query<{ n: string }>(
            "SELECT count(*) AS n FROM model_blobs WHERE media_type = 'application/x-python-pickle'",
          )
        ).rows[0]!.n,
      );
    const before = await checkpoints();
    const cycle = runScriptedCycle(stack.h.client, stack.h, prepared, { gatewayUrl: stack.gateway.url });
    // Killed once training has stored a checkpoint: a stage done, more to go.
    await until(checkpoints, (n) => n > before, 120_000);
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await pythonWorker('paced');
    const { cycleId, summary } = await cycle;
    const retrain = summary.stages.find((s) => s.stage === 'retrain')?.summary;
    expect(retrain, `${summary.outcome}: ${summary.reason}`).toBeDefined();
    expect(retrain!.trainer).toBe('python');
    expect(retrain!.resumedFrom).toBeGreaterThan(0);
    expect(retrain!.estimators).toBe(40);
    expect(await versionsOf(cycleId)).toHaveLength(1);
    console.log(
      `killed mid-training: resumed from ${String(retrain?.resumedFrom)} of 40 estimators; ${summary.outcome}`,
    );
  });

  it.each([
    {
      trainer: 'crashing',
      python: { estimators: 10, stageSize: 5, maxAttempts: 2 },
      training: {},
      reason: /failed on all 2 attempts.*ran out of memory/,
    },
    {
      trainer: 'hanging',
      python: { estimators: 10, stageSize: 5, maxAttempts: 1 },
      training: { heartbeatTimeout: '3s' },
      reason: /failed on all 1 attempts.*timed out/i,
    },
    {
      trainer: 'nonsense',
      python: { estimators: 10, stageSize: 5 },
      training: {},
      reason: /ConversionError: .*NaN/,
    },
  ])(
    'given a Python trainer that is $trainer, when a cycle trains with it, then the cycle closes as failed with the reason and nothing is registered',
    async ({ trainer, python, training, reason }) => {
      await pythonWorker(trainer);
      const prepared = await prepareWeatherModel(stack.pool, `py-${trainer}`, pythonPolicy(python, training));
      const { cycleId, summary } = await runScriptedCycle(stack.h.client, stack.h, prepared, {
        gatewayUrl: stack.gateway.url,
      });
      expect(summary.outcome).toBe('failed');
      expect(summary.reason).toMatch(reason);
      expect(await versionsOf(cycleId)).toEqual([]);
      expect(await db.getAlias(stack.pool, `py-${trainer}`, 'champion')).toBe(prepared.champion.version);
      console.log(`${trainer}: ${summary.reason}`);
    },
  );
});
