import { describe, it, expect } from 'vitest';
import {
  accuracy,
  cohenKappa,
  confusionCounts,
  logLoss,
  macroF1,
  twoProportionZTest,
} from '../../core/metrics.js';

/*
 * Expected numbers were computed independently in Python (scikit-learn 1.9, statsmodels, numpy) and
 * pasted in; the producing call is named next to each. Tolerance: 1e-12 absolute for metrics in [0, 1]
 * and log-loss; 1e-9 relative for z and p-values (so tail p-values are checked as strictly).
 */

function expectAbs(actual: number, expected: number, abs = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(abs);
}

function expectRel(actual: number, expected: number, rel = 1e-9): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

describe('accuracy', () => {
  it('given three of four correct, when accuracy is computed, then it is 0.75', () => {
    // sklearn.metrics.accuracy_score(['a','b','a','c'], ['a','b','c','c']) -> 0.75
    expect(accuracy(['a', 'b', 'a', 'c'], ['a', 'b', 'c', 'c'])).toBe(0.75);
  });

  it('given all wrong or all right, when accuracy is computed, then it is 0 or 1', () => {
    expect(accuracy(['a', 'b'], ['b', 'a'])).toBe(0);
    expect(accuracy(['a', 'a', 'a'], ['a', 'a', 'a'])).toBe(1);
  });

  it('given mismatched lengths or no examples, when accuracy is computed, then it throws', () => {
    expect(() => accuracy(['a'], ['a', 'b'])).toThrow(/1 entries .* 2/);
    expect(() => accuracy([], [])).toThrow(/at least one/);
  });
});

describe('macroF1', () => {
  // sklearn.metrics.f1_score(truth, predicted, labels=labels, average='macro') for each row
  const cases: { truth: string[]; predicted: string[]; labels?: string[]; expected: number }[] = [
    { truth: ['a', 'b', 'a', 'c'], predicted: ['a', 'b', 'c', 'c'], expected: 0.7777777777777777 },
    {
      truth: ['cat', 'dog', 'dog', 'bird', 'cat', 'cat'],
      predicted: ['cat', 'dog', 'cat', 'cat', 'cat', 'bird'],
      expected: 0.41269841269841273,
    },
    // a label only ever predicted ('z') is part of the default label set and scores 0
    { truth: ['x', 'x', 'y'], predicted: ['x', 'z', 'y'], expected: 0.5555555555555555 },
    // an explicit label absent from both sides ('c') scores 0 (sklearn zero_division default)
    {
      truth: ['a', 'a', 'b'],
      predicted: ['a', 'b', 'b'],
      labels: ['a', 'b', 'c'],
      expected: 0.4444444444444444,
    },
    // explicit labels restrict the average
    { truth: ['a', 'a', 'b'], predicted: ['a', 'b', 'b'], labels: ['b'], expected: 0.6666666666666666 },
    { truth: ['a', 'b'], predicted: ['b', 'a'], expected: 0 },
    { truth: ['a', 'a', 'a'], predicted: ['a', 'a', 'a'], expected: 1 },
  ];
  for (const c of cases) {
    it(`given ${JSON.stringify(c.truth)} vs ${JSON.stringify(c.predicted)}${c.labels ? ` with labels ${JSON.stringify(c.labels)}` : ''}, when macro F1 is computed, then it matches sklearn`, () => {
      expectAbs(macroF1(c.truth, c.predicted, c.labels), c.expected);
    });
  }

  it('given mismatched lengths, no examples or an empty label list, when macro F1 is computed, then it throws', () => {
    expect(() => macroF1(['a'], [])).toThrow();
    expect(() => macroF1([], [])).toThrow(/at least one/);
    expect(() => macroF1(['a'], ['a'], [])).toThrow(/labels/);
  });
});

describe('logLoss', () => {
  const rows = [
    { a: 0.7, b: 0.2, c: 0.1 },
    { a: 0.1, b: 0.8, c: 0.1 },
    { a: 0.25, b: 0.25, c: 0.5 },
    { a: 0.6, b: 0.3, c: 0.1 },
  ];

  it('given well-formed probability rows, when log-loss is computed, then it matches sklearn', () => {
    // sklearn.metrics.log_loss(['a','b','c','b'], [[.7,.2,.1],[.1,.8,.1],[.25,.25,.5],[.6,.3,.1]],
    //   labels=['a','b','c']) -> 0.6192346200347059
    expectAbs(logLoss(['a', 'b', 'c', 'b'], rows), 0.6192346200347059);
  });

  it('given a confident miss and a missing class, when log-loss is computed, then probabilities are clipped to 1e-15', () => {
    // -numpy.mean(numpy.log(numpy.clip([1.0, 0.0, 0.0], 1e-15, 1 - 1e-15))) -> 23.025850929940457
    const probs: Record<string, number>[] = [{ a: 1 }, { a: 1, b: 0 }, { a: 1 }];
    expectAbs(logLoss(['a', 'b', 'c'], probs), 23.025850929940457, 1e-9);
  });

  it('given a custom epsilon, when log-loss is computed, then it clips to [eps, 1 - eps]', () => {
    // -numpy.mean(numpy.log(numpy.clip([1.0, 0.0, 0.5], 1e-3, 1 - 1e-3))) -> 2.5339676532918887
    const probs: Record<string, number>[] = [{ a: 1 }, { a: 1, b: 0 }, { a: 0.5, c: 0.5 }];
    expectAbs(logLoss(['a', 'b', 'c'], probs, 1e-3), 2.5339676532918887);
  });

  it('given a label named like an Object property, when log-loss is computed, then inherited properties are ignored', () => {
    // "constructor" is absent from the row: probability 0, clipped to 1e-15 -> -ln(1e-15) = 34.538776394910684
    expectAbs(logLoss(['constructor'], [{ a: 1 }]), 34.538776394910684, 1e-9);
  });

  it('given mismatched lengths, no examples or a bad epsilon, when log-loss is computed, then it throws', () => {
    expect(() => logLoss(['a'], [])).toThrow();
    expect(() => logLoss([], [])).toThrow(/at least one/);
    expect(() => logLoss(['a'], [{ a: 1 }], 0)).toThrow(/epsilon/);
  });
});

describe('twoProportionZTest', () => {
  // statsmodels.stats.proportion.proportions_ztest([sA, sB], [nA, nB]) (pooled variance) -> z, p;
  // diff = sA / nA - sB / nB
  const cases: [number, number, number, number, number, number, number][] = [
    [45, 100, 55, 100, -1.4142135623730956, 0.15729920705028497, -0.10000000000000003],
    [830, 1000, 850, 1000, -1.2198750911856673, 0.22251222972591045, -0.020000000000000018],
    [90, 100, 70, 100, 3.5355339059327386, 0.0004069520174449571, 0.20000000000000007],
    [1, 3, 2, 3, -0.816496580927726, 0.4142161782425252, -0.3333333333333333],
    [0, 50, 3, 40, -1.9695964928958383, 0.048884633916181135, -0.075],
    [9900, 10000, 9000, 10000, 27.914526311954106, 1.7779188368243713e-171, 0.08999999999999997],
  ];
  for (const [sA, nA, sB, nB, z, p, diff] of cases) {
    it(`given ${sA}/${nA} vs ${sB}/${nB}, when z-tested, then z and p match statsmodels`, () => {
      const r = twoProportionZTest(sA, nA, sB, nB);
      expectRel(r.z, z);
      expectRel(r.pValue, p);
      expectAbs(r.diff, diff, 1e-15);
    });
  }

  it('given equal proportions, when z-tested, then z = 0 and p = 1', () => {
    // statsmodels proportions_ztest([500, 500], [1000, 1000]) -> z 0.0, p 1.0
    expect(twoProportionZTest(500, 1000, 500, 1000)).toEqual({ z: 0, pValue: 1, diff: 0 });
  });

  it('given zero pooled variance (all successes or all failures), when z-tested, then z = 0 and p = 1', () => {
    expect(twoProportionZTest(10, 10, 20, 20)).toEqual({ z: 0, pValue: 1, diff: 0 });
    expect(twoProportionZTest(0, 10, 0, 5)).toEqual({ z: 0, pValue: 1, diff: 0 });
  });

  it('given swapped groups, when z-tested, then z and diff flip sign and p is unchanged', () => {
    const ab = twoProportionZTest(45, 100, 55, 100);
    const ba = twoProportionZTest(55, 100, 45, 100);
    expect(ba.z).toBe(-ab.z);
    expect(ba.diff).toBe(-ab.diff);
    expect(ba.pValue).toBe(ab.pValue);
  });

  it('given invalid counts, when z-tested, then it throws', () => {
    expect(() => twoProportionZTest(1, 0, 1, 2)).toThrow(/totalA/);
    expect(() => twoProportionZTest(3, 2, 1, 2)).toThrow(/successesA/);
    expect(() => twoProportionZTest(1, 2, -1, 2)).toThrow(/successesB/);
    expect(() => twoProportionZTest(1.5, 2, 1, 2)).toThrow(/successesA/);
  });
});

describe('confusionCounts', () => {
  it('given cat/dog/bird predictions, when counted, then counts[truth][predicted] matches sklearn', () => {
    // sklearn.metrics.confusion_matrix(truth, predicted, labels=['bird','cat','dog'])
    //   -> [[0, 1, 0], [1, 2, 0], [0, 1, 1]]   (rows: truth, columns: predicted)
    const cm = confusionCounts(
      ['cat', 'dog', 'dog', 'bird', 'cat', 'cat'],
      ['cat', 'dog', 'cat', 'cat', 'cat', 'bird'],
    );
    expect(cm).toEqual({
      bird: { bird: 0, cat: 1, dog: 0 },
      cat: { bird: 1, cat: 2, dog: 0 },
      dog: { bird: 0, cat: 1, dog: 1 },
    });
  });

  it('given a label only predicted, when counted, then it gets a row of zeros and a column', () => {
    expect(confusionCounts(['a', 'a'], ['a', 'b'])).toEqual({ a: { a: 1, b: 1 }, b: { a: 0, b: 0 } });
  });

  it('given a label named __proto__, when counted, then it is an ordinary key', () => {
    const cm = confusionCounts(['__proto__'], ['__proto__']);
    expect(Object.keys(cm)).toEqual(['__proto__']);
    expect(cm['__proto__']!['__proto__']).toBe(1);
  });

  it('given mismatched lengths, when counted, then it throws', () => {
    expect(() => confusionCounts(['a'], [])).toThrow();
  });
});

describe('cohenKappa', () => {
  it('given the textbook table (20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no), then kappa is 0.4', () => {
    const pairs: [string, string][] = [
      ...Array.from({ length: 20 }, () => ['yes', 'yes'] as [string, string]),
      ...Array.from({ length: 5 }, () => ['yes', 'no'] as [string, string]),
      ...Array.from({ length: 10 }, () => ['no', 'yes'] as [string, string]),
      ...Array.from({ length: 15 }, () => ['no', 'no'] as [string, string]),
    ];
    expect(cohenKappa(pairs)).toBeCloseTo(0.4, 12);
  });

  it('given perfect agreement, chance-level and no items, then 1, about 0 and null', () => {
    expect(
      cohenKappa([
        ['a', 'a'],
        ['b', 'b'],
        ['c', 'c'],
      ]),
    ).toBe(1);
    expect(
      cohenKappa([
        ['a', 'a'],
        ['a', 'a'],
      ]),
    ).toBe(1);
    expect(
      cohenKappa([
        ['a', 'a'],
        ['a', 'b'],
        ['b', 'a'],
        ['b', 'b'],
      ]),
    ).toBeCloseTo(0, 12);
    expect(
      cohenKappa([
        ['a', 'b'],
        ['b', 'a'],
      ]),
    ).toBe(-1);
    expect(cohenKappa([])).toBeNull();
  });
});
