import { describe, expect, it } from 'vitest';
import { predict } from '../../core/model.js';
import { weatherModel } from '../../dev/weather.js';
import {
  isTrainingSet,
  recencyWeight,
  scopeTrainingRows,
  trainingSetSentence,
} from '../../core/training-scope.js';
import { runTrainer } from '../../activities/trainers.js';

const DAY = 86_400_000;
const day = (n: number) => new Date(Date.UTC(2014, 0, 1) + n * DAY);
const row = (x: number, label: string, ts: Date) => ({ features: { x }, label, ts });
const halfLife = { ms: 100 * DAY, text: '100d' };

describe('recency weights', () => {
  it('given ages in half-lives, then a row weighs 1 when new, a half after one half-life, a quarter after two', () => {
    expect(recencyWeight(0, 100 * DAY)).toBe(1);
    expect(recencyWeight(100 * DAY, 100 * DAY)).toBeCloseTo(0.5, 12);
    expect(recencyWeight(200 * DAY, 100 * DAY)).toBeCloseTo(0.25, 12);
    // A row newer than the window's newest label is not weighted up.
    expect(recencyWeight(-50 * DAY, 100 * DAY)).toBe(1);
  });

  it('given a half-life of zero, then it says the half-life must be positive', () => {
    expect(() => recencyWeight(DAY, 0)).toThrow(/half-life must be positive/);
  });
});

describe('training scope', () => {
  const window = [row(1, 'b', day(300)), row(2, 'b', day(310))];
  const history = [row(1, 'a', day(310)), row(1, 'a', day(210)), row(5, 'c', day(110))];

  it('given a mild drift, then every champion row is kept, weighted by its age back from the newest window label', () => {
    const { rows, summary } = scopeTrainingRows({
      severity: 'mild',
      window,
      history,
      driftedWeight: 2,
      halfLife,
    });
    expect(rows.map((r) => [r.label, r.weight])).toEqual([
      ['b', 2],
      ['b', 2],
      ['a', 1],
      ['a', expect.closeTo(0.5, 12)],
      ['c', expect.closeTo(0.25, 12)],
    ]);
    expect(summary).toEqual({
      scope: 'window+reference',
      windowRows: 2,
      windowWeight: 2,
      referenceRows: 3,
      referenceWeight: { min: 0.25, mean: 0.5833, max: 1 },
      halfLife: '100d',
      windowWeightShare: 0.6957,
    });
    expect(trainingSetSentence(summary)).toBe(
      "2 rows of the window weighing 2 each, plus all 3 rows of the champion's training data weighted by recency (half-life 100d: 0.25 for the oldest to 1 for the newest, mean 0.58); the window carries 70 % of the total weight.",
    );
    expect(isTrainingSet(JSON.parse(JSON.stringify(summary)))).toBe(true);
  });

  it('given a severe drift, then the given share of history weighs 1 and the window driftedWeight', () => {
    const { rows, summary } = scopeTrainingRows({
      severity: 'severe',
      window,
      history,
      driftedWeight: 3,
      halfLife,
    });
    expect(rows.map((r) => r.weight)).toEqual([3, 3, 1, 1, 1]);
    expect(summary).toMatchObject({ scope: 'window+history', referenceRows: 3, windowWeightShare: 0.6667 });
    expect(trainingSetSentence(summary)).toMatch(/^2 rows of the window weighing 3 each, plus 3 rows/);
  });

  it('given no champion rows, then the window alone trains with every row weighing 1', () => {
    const { rows, summary } = scopeTrainingRows({
      severity: 'mild',
      window,
      history: [],
      driftedWeight: 2,
      halfLife,
    });
    expect(rows.map((r) => r.weight)).toEqual([1, 1]);
    expect(summary).toMatchObject({ scope: 'window', referenceRows: 0, referenceWeight: null });
    expect(trainingSetSentence(summary)).toBe(
      "2 rows of the window, each weighing 1; none of the champion's training rows.",
    );
  });

  it('given a mild drift where the window contradicts the champion in one region, then the forest follows the window there and keeps the champion elsewhere', async () => {
    // The champion learned from a year of daily rows: x < 10 → "low", x ≥ 10 → "high". In the next
    // quarter traffic has moved below 10 (no rows above it) and x in {2, 3} is now labeled "mid".
    const champion = Array.from({ length: 360 }, (_, i) =>
      row((i * 7) % 20, (i * 7) % 20 < 10 ? 'low' : 'high', day(i)),
    );
    const windowRows = Array.from({ length: 90 }, (_, i) => {
      const x = (i * 7) % 10;
      return row(x, x === 2 || x === 3 ? 'mid' : 'low', day(370 + i));
    });
    const trained = async (history: typeof champion) => {
      const { rows } = scopeTrainingRows({
        severity: 'mild',
        window: windowRows,
        history,
        driftedWeight: 2,
        halfLife: { ms: 365 * DAY, text: '365d' },
      });
      const out = await runTrainer(
        { numeric: ['x'], categorical: [] },
        ['high', 'low', 'mid'],
        rows,
        weatherModel().policy.training,
        {
          checkpoint: undefined,
          save: async () => {},
          heartbeat: () => {},
          cancelled: () => false,
          signal: new AbortController().signal,
        },
      );
      expect(out.trainer).toBe('forest');
      return (x: number) => predict(out.artifact, { x }).label;
    };
    const kept = await trained(champion);
    expect([2, 2.5, 3].map(kept)).toEqual(['mid', 'mid', 'mid']);
    expect([0, 7, 8].map(kept)).toEqual(['low', 'low', 'low']);
    expect([12, 15, 19].map(kept)).toEqual(['high', 'high', 'high']);
    // The window alone never saw x ≥ 10: what the champion knew there is lost.
    const scratch = await trained([]);
    expect([12, 15, 19].map(scratch)).not.toContain('high');
  });
});
