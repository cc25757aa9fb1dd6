/**
 * Policy versions: every registration that changes a model's definition is a new immutable version with
 * its author and diff (also in the audit trail); an identical one adds nothing; a cycle reports the
 * version it started with even after the policy changed.
 */
import { describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { weatherModel } from '../../dev/weather.js';
import { abortCycle, startCycle } from '../../ops/cycles.js';
import { loadCycleReport, renderReport } from '../../ops/report.js';
import { registerDefinition } from '../../ops/setup.js';
import { renderPolicyHistory } from '../../cli/policy-history.js';
import { until, useStack } from '../helpers.js';

const stack = useStack('policy');

describe('policy versions', () => {
  it('given a registration, a changed one and an identical one, then two versions with the diff, and a running cycle keeps its version', async () => {
    const modelId = 'policy-weather';
    await prepareWeatherModel(stack.pool, modelId, DEMO_POLICY);
    const [first] = await db.listPolicyVersions(stack.pool, modelId);
    expect(first).toMatchObject({ version: 1, author: 'remedy', diff: [] });

    // A cycle starts under v1 and pins it.
    const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: SCENARIO.window });
    await until(
      () => db.cyclePolicyVersion(stack.pool, cycleId),
      (v) => v !== null,
    );

    // Alice turns on a 3-day cooldown and raises the labeling budget: version 2, with both changes.
    const changed = weatherModel(modelId, {
      ...DEMO_POLICY,
      labeling: { ...DEMO_POLICY.labeling, budget: 60 },
      triggers: { cooldown: '3d' },
    });
    const v2 = await registerDefinition(stack.pool, changed, 'alice');
    expect(v2).toEqual({
      version: 2,
      created: true,
      changes: ['policy.labeling.budget: 40 → 60', 'policy.triggers.cooldown: "0s" → "3d"'],
    });
    // The same definition again: no new version.
    expect(await registerDefinition(stack.pool, changed, 'bob')).toEqual({
      version: 2,
      created: false,
      changes: [],
    });
    const versions = await db.listPolicyVersions(stack.pool, modelId);
    expect(versions.map((v) => [v.version, v.author])).toEqual([
      [1, 'remedy'],
      [2, 'alice'],
    ]);
    expect(versions[1]!.diff).toEqual([
      { path: 'policy.labeling.budget', before: 40, after: 60 },
      { path: 'policy.triggers.cooldown', before: '0s', after: '3d' },
    ]);
    expect((await db.getModel(stack.pool, modelId))!.policy.triggers.cooldown).toBe('3d');
    const { rows: audited } = await stack.pool.query<{ actor: string; details: { version: number } }>(
      "SELECT actor, details FROM audit_events WHERE model_id = $1 AND action = 'policy.versioned' ORDER BY event_id",
      [modelId],
    );
    expect(audited.map((a) => [a.actor, a.details.version])).toEqual([
      ['remedy', 1],
      ['alice', 2],
    ]);
    const history = renderPolicyHistory(modelId, versions);
    expect(history).toMatch(
      /^policy-weather: 2 policy versions\nv1 {2}\S+ {2}by remedy\n {4}first registration\n/,
    );
    expect(history).toContain(
      'by alice\n    policy.labeling.budget: 40 → 60\n    policy.triggers.cooldown: "0s" → "3d"\n',
    );

    // The cycle that started before the change still reports v1.
    expect(await db.cyclePolicyVersion(stack.pool, cycleId)).toBe(1);
    const report = renderReport(await loadCycleReport(stack.pool, cycleId), 'md');
    expect(report).toContain('| Policy | v1 (as when the cycle started) |');
    await abortCycle(stack.h.client, cycleId);
  }, 240_000);
});
