import { describe, expect, it } from 'vitest';
import { canonical, describeChanges, diffDefinitions } from '../../core/policy-diff.js';

describe('policy diff', () => {
  it('names each changed leaf by path, with arrays as one value', () => {
    const before = {
      labelSet: ['a', 'b'],
      policy: { triggers: { cooldown: '7d' }, drift: { persistence: 3 } },
    };
    const after = {
      labelSet: ['a', 'b', 'c'],
      policy: { triggers: { cooldown: '3d' }, drift: { persistence: 3 }, gates: { minGain: 0.01 } },
    };
    const diff = diffDefinitions(before, after);
    expect(diff).toEqual([
      { path: 'labelSet', before: ['a', 'b'], after: ['a', 'b', 'c'] },
      { path: 'policy.gates', after: { minGain: 0.01 } },
      { path: 'policy.triggers.cooldown', before: '7d', after: '3d' },
    ]);
    expect(describeChanges(diff)).toEqual([
      'labelSet: ["a","b"] → ["a","b","c"]',
      'policy.gates: (unset) → {"minGain":0.01}',
      'policy.triggers.cooldown: "7d" → "3d"',
    ]);
  });

  it('sees no change when only key order differs', () => {
    expect(diffDefinitions({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toEqual([]);
    expect(canonical({ b: 1, a: [2, { y: 1, x: 2 }] })).toBe('{"a":[2,{"x":2,"y":1}],"b":1}');
  });
});
