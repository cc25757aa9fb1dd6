import { describe, expect, it } from 'vitest';
import { carsDataset } from '../../bench/efficacy-cars.js';
import { POLICY_NAMES, type Dataset } from '../../bench/efficacy-data.js';
import {
  checkRegressionTargets,
  maeChart,
  regressionTable,
  summarizeRegression,
} from '../../bench/efficacy-regression.js';
import type { ReplayResult } from '../../bench/efficacy-replay.js';
import { sklearnLines } from '../../bench/efficacy-sklearn.js';

/** One replay per policy over two windows, the same errors for all (no cycles). */
function replays(d: Dataset): ReplayResult[] {
  const windows = [
    { start: d.start, end: '2001-02-08T00:00:00.000Z', rows: 10, correct: 0, absError: 185, champion: 1 },
    {
      start: '2001-02-08T00:00:00.000Z',
      end: '2001-02-15T00:00:00.000Z',
      rows: 10,
      correct: 0,
      absError: 185,
      champion: 1,
    },
  ];
  return POLICY_NAMES.map((policy) => ({
    dataset: d.name,
    policy,
    modelId: `m-${policy}`,
    records: 20,
    keysHash: 'same',
    windows,
    cycles: [],
    checks: [],
    wallSeconds: 1,
    championHoldoutMae: 16.5,
  }));
}

describe("a regression dataset's errors in its unit", () => {
  it('prints miles per gallon for the cars, as before datasets named a unit', async () => {
    const cars = await carsDataset(true);
    const results = replays(cars);
    const s = results.map((r) => summarizeRegression(cars, r));
    expect(regressionTable(s, cars)).toContain('| never | 18.50 mpg |');
    expect(checkRegressionTargets(cars, s, results)[0]!.detail).toContain('18.50 mpg vs best');
    expect(maeChart(cars, s)).toContain('Prequential MAE (miles per gallon) per 365-day window');
    const reference = {
      model: 'forest',
      sklearnVersion: '1',
      seconds: 1,
      mae: 3.5,
      maeSeries: [],
      afterRemedyPromotion: null,
    };
    expect(sklearnLines(reference)[0]).toContain('MAE 3.50 mpg over the stream');
  });

  it("prints a dataset's own unit where it names one (the flights' minutes)", async () => {
    const flights: Dataset = {
      ...(await carsDataset(true)),
      name: 'flights',
      windowDays: 7,
      unit: { short: 'min', long: 'minutes of delay' },
    };
    const results = replays(flights);
    const s = results.map((r) => summarizeRegression(flights, r));
    expect(regressionTable(s, flights)).toContain('| never | 18.50 min |');
    const beats = checkRegressionTargets(flights, s, results).find((t) => t.target.startsWith('beats'))!;
    expect(beats.met).toBe(false);
    expect(beats.detail).toBe('remedy-default 18.50 min vs never 18.50 min (+0.00 min)');
    expect(maeChart(flights, s)).toContain('Prequential MAE (minutes of delay) per 7-day window, flights');
    const reference = {
      model: 'forest',
      sklearnVersion: '1',
      seconds: 1,
      mae: 19.49,
      maeSeries: [],
      afterRemedyPromotion: null,
    };
    expect(sklearnLines(reference, 'min')[0]).toContain('MAE 19.49 min over the stream');
  });
});
