/**
 * The README's main job, as a new user runs it: its own Temporal dev server and embedded Postgres in a
 * fresh data folder, a full cycle, and one JSON document on stdout.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTemporalCli } from '../../infra/temporal-install.js';
import { projectRoot } from '../../infra/paths.js';

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'dev/demo.ts'), ...args],
      { cwd: projectRoot, env },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('main job (npm run demo)', () => {
  it.each([
    ['', {}],
    [
      ' with payload encryption on (worker process, client and review page share the key)',
      { REMEDY_CODEC_KEYS: `demo:${randomBytes(32).toString('base64')}` },
    ],
  ])(
    'given a fresh data folder%s, when the demo runs with --json, then it prints one summary with every stage and the candidate promoted',
    async (_name, extraEnv: Record<string, string>) => {
      const cli = await resolveTemporalCli();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'remedy-demo-'));
      // As root, the embedded Postgres runs as "postgres", which must be able to enter the folder.
      await chmod(dataDir, 0o755);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        REMEDY_DATA_DIR: dataDir,
        ...extraEnv,
      };
      delete env.DATABASE_URL;
      delete env.TEMPORAL_ADDRESS;
      if (cli) env.TEMPORAL_CLI_PATH = cli.path;

      const { code, stdout, stderr } = await run(['--json'], env);

      expect(code, stderr).toBe(0);
      const summary = JSON.parse(stdout) as {
        outcome: string;
        reason: string;
        severity: string;
        championVersion: number;
        candidateVersion: number;
        labelsAnswered: number;
        targets: { patternKey: string; verdict: string }[];
        stages: { stage: string; summary?: { steps?: { weight: number; decision: string }[] } }[];
        webUi: string | null;
        cycleId: string;
      };
      // The demo's seed fixes everything but the rollout's timing: the 2012 champion (v1), the window's
      // severe drift, the 40 items the scripted reviewer answers with the true labels, and the seeded
      // forest trained on them (v2). That candidate is far better on the later traffic (about 80 % vs
      // 43 %), so whichever requests a step happens to see, every step passes and it is promoted.
      expect({ outcome: summary.outcome, reason: summary.reason }, stderr).toEqual({
        outcome: 'promoted',
        reason: 'every step passed its analysis',
      });
      expect(summary).toMatchObject({
        severity: 'severe',
        championVersion: 1,
        candidateVersion: 2,
        labelsAnswered: 40,
      });
      const steps = summary.stages.find((s) => s.stage === 'rollout')?.summary?.steps ?? [];
      expect(steps.filter((s) => s.decision === 'pass').map((s) => s.weight)).toEqual([10, 25, 50, 100]);
      expect(steps.some((s) => s.decision === 'fail')).toBe(false);
      // The failure patterns production flagged in the window, each fixed by the candidate.
      expect(summary.targets.map((t) => [t.patternKey, t.verdict])).toEqual([
        ['model-error/location=Seattle/truth=fog/predicted=rain', 'fixed'],
        ['model-error/location=Seattle/truth=sun/predicted=rain', 'fixed'],
        ['model-error/location=New York/truth=sun/predicted=rain', 'fixed'],
      ]);
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
      expect(summary.stages.every((s) => s.summary && Object.keys(s.summary).length > 0)).toBe(true);
      expect(summary.webUi).toMatch(
        new RegExp(`^http://127\\.0\\.0\\.1:\\d+/namespaces/default/workflows/${summary.cycleId}$`),
      );
      expect(stderr).toContain('Web UI: http://');
    },
    300_000,
  );

  it('given a fresh data folder, when the demo runs with --trainer python, then it installs the Python environment, the Python worker trains the candidate and the cycle closes on its numbers', async () => {
    const cli = await resolveTemporalCli();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'remedy-demo-python-'));
    await chmod(dataDir, 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, REMEDY_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    delete env.TEMPORAL_ADDRESS;
    if (cli) env.TEMPORAL_CLI_PATH = cli.path;

    const { code, stdout, stderr } = await run(['--json', '--trainer', 'python'], env);

    const summary = JSON.parse(stdout) as {
      outcome: string;
      reason: string;
      stages: { stage: string; summary?: Record<string, unknown> }[];
    };
    // Promoted and rolled back are both a cycle that did its job (exit 0); a rejection exits 2.
    expect(code, stderr).toBe(summary.outcome === 'rejected' ? 2 : 0);
    expect(['promoted', 'rolled-back', 'rejected']).toContain(summary.outcome);
    expect(stderr).toMatch(/Python environment ready|python training worker polling/);
    expect(summary.stages.find((s) => s.stage === 'retrain')?.summary).toMatchObject({
      trainer: 'python',
      estimator: 'GradientBoostingClassifier',
    });
  }, 600_000);

  it('given a fresh data folder, when the demo runs with --task regression, then a miles-per-gallon model goes through every stage on its errors and the candidate is promoted', async () => {
    const cli = await resolveTemporalCli();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'remedy-demo-regression-'));
    await chmod(dataDir, 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, REMEDY_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    delete env.TEMPORAL_ADDRESS;
    if (cli) env.TEMPORAL_CLI_PATH = cli.path;

    const { code, stdout, stderr } = await run(['--json', '--task', 'regression'], env);

    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as {
      modelId: string;
      outcome: string;
      reason: string;
      stages: { stage: string; summary?: Record<string, unknown> }[];
    };
    const stage = (name: string) => summary.stages.find((s) => s.stage === name)?.summary;
    expect(summary.modelId).toBe('cars-1');
    expect({ outcome: summary.outcome, reason: summary.reason }).toEqual({
      outcome: 'promoted',
      reason: 'every step passed its analysis',
    });
    expect(stderr).toMatch(/champion v1 trained on 1970–74: holdout MAE [\d.]+ mpg on \d+ rows/);
    // The window is judged on its error against the holdout, not on an accuracy.
    expect(stage('confirm')).toMatchObject({ performanceMetric: 'mae', performanceBasis: 'measured' });
    expect(stage('diagnose')?.reason).toMatch(/measured MAE [\d.]+ vs baseline [\d.]+ \(holdout, \d+ rows\)/);
    expect(stage('retrain')).toMatchObject({ task: 'regression', trainer: 'forest-regressor' });
    const evaluation = stage('evaluate') as { candidate: { mae: number }; champion: { mae: number } };
    expect(evaluation).toMatchObject({ task: 'regression', gate: 'go' });
    expect(evaluation.candidate.mae).toBeLessThan(evaluation.champion.mae);
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
  }, 300_000);
});
