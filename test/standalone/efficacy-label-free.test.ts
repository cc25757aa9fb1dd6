/**
 * The efficacy benchmark's label-free policy and its scripted reviewer's mistakes, without a system:
 * which datasets the policy refuses and what it says, the feedback a row is logged with, the policy it
 * runs (the default, with a rollout step that pauses at once), and what a wrong answer is for a class and
 * for a number.
 */
import { describe, expect, it } from 'vitest';
import { Policy } from '../../core/schemas.js';
import { wrongAnswer } from '../../bench/efficacy-cycle.js';
import { DATASETS, mergePolicy, policyOverrides, sharedPolicy } from '../../bench/efficacy-data.js';
import {
  deliveredFeedback,
  labelFreeRefusal,
  REGRESSION_DATASET_NAMES,
} from '../../bench/efficacy-label-free.js';
import { seededRandom } from '../../core/seeded-random.js';

describe('label-free policy', () => {
  it('given only classifiers, then nothing is refused', () => {
    expect(labelFreeRefusal(['weather', 'employment'])).toBeNull();
  });

  it('given the cars (a regressor), then it is refused with why and what to run instead', () => {
    const refused = labelFreeRefusal(['weather', 'cars']);
    expect(refused).toContain('--label-free does not apply to cars');
    expect(refused).toContain('a regressor has no label-free performance estimate');
    expect(refused).toContain('Run --label-free with --dataset weather, and cars without it.');
    expect(labelFreeRefusal(['cars'])).toContain('e.g. --dataset weather,employment');
  });

  it('given the regression datasets it names, then each is a dataset of the benchmark', async () => {
    for (const name of REGRESSION_DATASET_NAMES) {
      expect(DATASETS).toHaveProperty(name);
      expect((await DATASETS[name]!(true)).task).toBe('regression');
    }
    // Loading the flights dataset reads a 3-million-row Parquet file: seconds on a busy machine.
  }, 120_000);

  it('given a row whose feedback the pipeline delivers, then only the label-free policy logs it without', () => {
    const row = { label: 'rain', feedback: true };
    expect(deliveredFeedback(row, 'remedy-default')).toBe('rain');
    expect(deliveredFeedback(row, 'every-alarm')).toBe('rain');
    expect(deliveredFeedback(row, 'label-free')).toBeNull();
    expect(deliveredFeedback({ label: 'rain', feedback: false }, 'remedy-default')).toBeNull();
  });

  it("given the shared settings, then it runs remedy-default's policy but for a step pausing at once", () => {
    const parse = (name: 'remedy-default' | 'label-free') =>
      Policy.parse(mergePolicy(sharedPolicy(false), policyOverrides(name, 30)));
    const remedy = parse('remedy-default');
    const labelFree = parse('label-free');
    expect(labelFree.rollout.sampleWait).toBe('0s');
    expect(remedy.rollout.sampleWait).not.toBe('0s');
    expect({
      ...labelFree,
      rollout: { ...labelFree.rollout, sampleWait: remedy.rollout.sampleWait },
    }).toEqual(remedy);
  });
});

describe("the reviewer's wrong answers", () => {
  it('given a class, then another class of the label set', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 50; i++) {
      const wrong = wrongAnswer('rain', ['rain', 'sun', 'fog'], random);
      expect(['sun', 'fog']).toContain(wrong);
    }
  });

  it('given a number (a regressor has no classes), then a plausible wrong number: a quarter off either way', () => {
    const random = seededRandom(7);
    const answers = Array.from({ length: 50 }, () => wrongAnswer('24', [], random));
    expect(new Set(answers)).toEqual(new Set(['18', '30']));
    expect(wrongAnswer('31.5', [], seededRandom(1))).toMatch(/^(23\.6|39\.4)$/);
  });

  it('given the same seed, then the same wrong answers', () => {
    const run = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () => wrongAnswer('17.3', [], random));
    };
    expect(run(3)).toEqual(run(3));
  });
});
