/**
 * "Bring your own model" as the README tells it, through the `remedy` CLI: a team's scikit-learn
 * models on real data (workers/python/examples/weather_onnx.py), the champion adopted as an ONNX file,
 * a retrained model added as a version, and a cycle that evaluates and rolls it out through the gateway.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runScriptedCycle, type PreparedModel } from '../../dev/scenario.js';
import { loadWeather } from '../../dev/weather.js';
import { ensurePythonEnv } from '../../infra/python-env.js';
import { projectRoot } from '../../infra/paths.js';
import * as db from '../../db/index.js';
import { cliRunner, recordHistories, useStack } from '../helpers.js';

const stack = useStack('byom', { gateway: true });
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));
let dir = '';

beforeAll(async () => {
  const { python } = await ensurePythonEnv();
  dir = await mkdtemp(path.join(os.tmpdir(), 'remedy-byom-'));
  await promisify(execFile)(python, [path.join(projectRoot, 'workers/python/examples/weather_onnx.py'), dir]);
}, 600_000);

const count = async (sql: string, params: unknown[]) =>
  Number((await stack.pool.query<{ n: string }>(sql, params)).rows[0]!.n);

describe('bring your own model', () => {
  it('given ONNX files that are not models, when they are registered or added, then each is refused and nothing is written', async () => {
    await writeFile(path.join(dir, 'not-a-model.onnx'), '{"this": "is JSON"}');
    const before = await count('SELECT count(*) AS n FROM model_versions', []);
    const refused = await remedy(
      'models',
      'register',
      path.join(dir, 'definition.json'),
      '--artifact',
      path.join(dir, 'not-a-model.onnx'),
      '--reference',
      path.join(dir, 'reference.csv'),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/not-a-model\.onnx: refused, nothing registered: not an ONNX model/);
    expect(await db.getModel(stack.pool, 'weather-onnx')).toBeNull();
    expect(await count('SELECT count(*) AS n FROM model_versions', [])).toBe(before);
    const missing = await remedy('models', 'add-version', 'weather-onnx', path.join(dir, 'nowhere.onnx'));
    expect(missing.err).toMatch(/cannot read the model file .*nowhere\.onnx: no such file/);
  });

  it('given a champion trained in scikit-learn, when it is adopted and a retrained model is added, then a cycle evaluates that version and rolls it out through the gateway', async () => {
    const registered = await remedy(
      'models',
      'register',
      path.join(dir, 'definition.json'),
      '--artifact',
      path.join(dir, 'champion.onnx'),
      '--reference',
      path.join(dir, 'reference.csv'),
      '--original-probabilities',
      path.join(dir, 'original.csv'),
      '--json',
    );
    expect(registered.code, registered.err).toBe(0);
    const champion = JSON.parse(registered.out) as { version: number; baselineAccuracy: number };
    const v1 = await db.getModelVersion(stack.pool, 'weather-onnx', champion.version);
    expect(v1.artifact.kind).toBe('onnx');
    // The forest's probabilities as Remedy computes them from the ONNX file vs scikit-learn's own.
    expect(v1.metrics.converterGap).toBeLessThan(1e-5);
    expect(await db.getReferenceProfile(stack.pool, 'weather-onnx', champion.version)).not.toBeNull();

    // Registering again: the same file keeps the champion as it is; another file is refused, nothing written.
    const register = (file: string) =>
      remedy(
        'models',
        'register',
        path.join(dir, 'definition.json'),
        '--artifact',
        path.join(dir, file),
        '--reference',
        path.join(dir, 'reference.csv'),
      );
    const same = await register('champion.onnx');
    expect(same.code, same.err).toBe(0);
    expect(same.out).toContain(
      `registered weather-onnx: champion v1 kept, unchanged (${path.join(dir, 'champion.onnx')} is the same file)`,
    );
    const policies = await count('SELECT count(*) AS n FROM policy_versions WHERE model_id = $1', [
      'weather-onnx',
    ]);
    const other = await register('candidate.onnx');
    expect(other.code).toBe(2);
    expect(other.err).toContain(
      `weather-onnx already has champion v1, and ${path.join(dir, 'candidate.onnx')} is a different model`,
    );
    expect(other.err).toContain(`remedy models add-version weather-onnx ${path.join(dir, 'candidate.onnx')}`);
    expect(
      await count('SELECT count(*) AS n FROM model_versions WHERE model_id = $1', ['weather-onnx']),
    ).toBe(1);
    expect(
      await count('SELECT count(*) AS n FROM policy_versions WHERE model_id = $1', ['weather-onnx']),
    ).toBe(policies);

    const ingested = await remedy('ingest', 'weather-onnx', path.join(dir, 'production.csv'));
    expect(ingested.code, ingested.err).toBe(0);

    const added = await remedy(
      'models',
      'add-version',
      'weather-onnx',
      path.join(dir, 'candidate.onnx'),
      '--json',
    );
    expect(added.code, added.err).toBe(0);
    const version = JSON.parse(added.out) as { version: number; created: boolean; holdoutAccuracy: number };
    expect(version).toMatchObject({ version: 2, created: true });
    const again = await remedy(
      'models',
      'add-version',
      'weather-onnx',
      path.join(dir, 'candidate.onnx'),
      '--json',
    );
    expect(JSON.parse(again.out)).toMatchObject({ version: 2, created: false });

    const wrong = await remedy(
      'start',
      'weather-onnx',
      '--from',
      '2013-04-01',
      '--to',
      '2015-01-01',
      '--candidate',
      '1',
    );
    expect(wrong.err).toMatch(/weather-onnx v1 is champion, not a candidate/);

    const started = await remedy(
      'start',
      'weather-onnx',
      '--from',
      '2013-04-01',
      '--to',
      '2015-01-01',
      '--candidate',
      '2',
      '--json',
    );
    expect(started.code, started.err).toBe(0);
    const { cycleId } = JSON.parse(started.out) as { cycleId: string };
    const rows = await loadWeather();
    const prepared: PreparedModel = {
      modelId: 'weather-onnx',
      rows,
      champion: { version: champion.version, baselineAccuracy: champion.baselineAccuracy },
      log: { added: 0, served: 0 },
    };
    const { summary, traffic } = await runScriptedCycle(stack.h.client, stack.h, prepared, {
      gatewayUrl: stack.gateway.url,
      cycleId,
    });
    const stage = (name: string) => summary.stages.find((s) => s.stage === name)?.summary ?? {};
    expect(stage('retrain')).toMatchObject({ version: 2, trainer: 'external' });
    expect(summary.candidateVersion).toBe(2);
    const card = await db.getModelCard(stack.pool, 'weather-onnx', 2);
    expect(card?.markdown).toContain('Produced by | candidate.onnx');
    if (stage('evaluate').gate === 'go') {
      expect(['promoted', 'rolled-back']).toContain(summary.outcome);
      expect(traffic.byVersion['v2']).toBeGreaterThan(0);
    } else expect(summary.outcome).toBe('rejected');
    console.log(
      `adopted champion ${(champion.baselineAccuracy * 100).toFixed(1)}% on its holdout; candidate v2 ${(version.holdoutAccuracy * 100).toFixed(1)}% on the reference holdout; cycle ${summary.outcome} (${summary.reason})`,
    );
    await recordHistories([
      cycleId,
      `${cycleId}-labeling`,
      ...(summary.stages.some((s) => s.stage === 'rollout') ? [`${cycleId}-rollout`] : []),
    ]);
    // The file a version names is the file stored: content-addressed and unchanged.
    const v2 = await db.getModelVersion(stack.pool, 'weather-onnx', 2);
    const stored = await db.getBlob(stack.pool, v2.artifactSha256);
    expect(stored?.equals(await readFile(path.join(dir, 'candidate.onnx')))).toBe(true);
  });
});
