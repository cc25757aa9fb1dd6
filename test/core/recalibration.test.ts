/**
 * The recalibration fit and decision on the real weather data (vega-datasets): a champion trained on
 * half of the days, the other half shifted by dropping most sunny days (the features→label relation
 * holds, the class priors move), and a sharpened copy of the champion's own probabilities (a known
 * temperature).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadWeather, weatherModel, type WeatherRow } from '../../dev/weather.js';
import { expectedCalibrationError, macroAucOvo, macroAucOvr, predictedLabel } from '../../core/evaluation.js';
import { fnv1a } from '../../core/hash.js';
import { accuracy, logLoss } from '../../core/metrics.js';
import { predict, train, type SoftmaxArtifact } from '../../core/model.js';
import { isHoldout } from '../../core/policy.js';
import {
  judgingPolicy,
  applyCalibrator,
  decideRecalibration,
  describeCalibrator,
  fitCalibrator,
  type RecalibrationEvidence,
  type RecalibrationPolicy,
} from '../../core/recalibration.js';
import { scorerFor } from '../../scoring/index.js';

const bucket = (key: string, salt: string) => (fnv1a(`${salt}:${key}`) % 1000) / 1000;
/** The share of each class kept in the shifted half: three sunny days in four are dropped. */
const KEEP: Record<string, number> = { sun: 0.25, fog: 1, rain: 1, drizzle: 1, snow: 1 };

let champion: SoftmaxArtifact;
let holdout: WeatherRow[];
let shifted: WeatherRow[];
const probs = (rows: readonly WeatherRow[]) => rows.map((r) => predict(champion, r.features).probabilities);
const labels = (rows: readonly WeatherRow[]) => rows.map((r) => r.label);

beforeAll(async () => {
  const rows = await loadWeather();
  const def = weatherModel('w');
  const reference = rows.filter((r) => bucket(r.recordKey, 'pool') < 0.5);
  const share = def.policy.collection.holdoutShare;
  champion = train(
    def.features,
    reference.filter((r) => !isHoldout(r.recordKey, share)),
    { epochs: def.policy.training.epochs, learningRate: def.policy.training.learningRate, l2: 0.001 },
  );
  holdout = reference.filter((r) => isHoldout(r.recordKey, share));
  shifted = rows.filter(
    (r) => bucket(r.recordKey, 'pool') >= 0.5 && bucket(r.recordKey, 'keep') < KEEP[r.label]!,
  );
});

describe('recalibration fit', () => {
  it('given a pure label-mix shift of real data, then the one-vs-one AUC holds while one-vs-rest, ECE and log-loss move', () => {
    const ovoRef = macroAucOvo(labels(holdout), probs(holdout))!;
    const ovoNew = macroAucOvo(labels(shifted), probs(shifted))!;
    expect(Math.abs(ovoRef - ovoNew)).toBeLessThan(0.01);
    // One-vs-rest mixes the other classes into "rest", so the new mix alone moves it.
    expect(
      macroAucOvr(labels(holdout), probs(holdout))! - macroAucOvr(labels(shifted), probs(shifted))!,
    ).toBeGreaterThan(0.02);
    expect(expectedCalibrationError(labels(shifted), probs(shifted))).toBeGreaterThan(
      expectedCalibrationError(labels(holdout), probs(holdout)) + 0.1,
    );
  });

  it('given a small table, then the one-vs-one AUC is scikit-learn’s', () => {
    const truth = ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'c', 'b', 'a'];
    const rows = [
      [0.6, 0.3, 0.1],
      [0.2, 0.5, 0.3],
      [0.1, 0.3, 0.6],
      [0.4, 0.4, 0.2],
      [0.5, 0.3, 0.2],
      [0.2, 0.2, 0.6],
      [0.3, 0.5, 0.2],
      [0.3, 0.3, 0.4],
      [0.1, 0.6, 0.3],
      [0.7, 0.1, 0.2],
    ].map(([a, b, c]) => ({ a: a!, b: b!, c: c! }));
    // scikit-learn 1.x: roc_auc_score(truth, rows, multi_class='ovo') = 0.9050925925925926, 'ovr' 0.9017857142857143.
    expect(macroAucOvo(truth, rows)).toBeCloseTo(0.9050925925925926, 12);
    expect(macroAucOvr(truth, rows)).toBeCloseTo(0.9017857142857143, 12);
  });

  it('given the shifted rows, then the biases recover the prior shift and held-out log-loss and accuracy improve', () => {
    const fitRows = shifted.filter((r) => bucket(r.recordKey, 'fit') < 0.5);
    const testRows = shifted.filter((r) => bucket(r.recordKey, 'fit') >= 0.5);
    const fit = fitCalibrator(probs(fitRows), labels(fitRows), champion.classes);
    const { bias, classes } = fit.calibrator;
    // Dropping 3 sunny days in 4 moves ln p(sun | x) by ln 0.25 against every other class.
    const sun = bias[classes.indexOf('sun')]!;
    const others = bias.filter((_, k) => classes[k] !== 'sun');
    const relative = sun - others.reduce((a, b) => a + b, 0) / others.length;
    expect(relative).toBeGreaterThan(Math.log(0.25) - 0.35);
    expect(relative).toBeLessThan(Math.log(0.25) + 0.35);
    expect(fit.logLossAfter).toBeLessThan(fit.logLossBefore);

    const before = probs(testRows);
    const after = before.map((p) => applyCalibrator(fit.calibrator, p));
    const truth = labels(testRows);
    const measured = {
      logLoss: [logLoss(truth, before), logLoss(truth, after)],
      accuracy: [accuracy(truth, before.map(predictedLabel)), accuracy(truth, after.map(predictedLabel))],
      ece: [expectedCalibrationError(truth, before), expectedCalibrationError(truth, after)],
    };
    expect(measured.logLoss[1]).toBeLessThan(measured.logLoss[0]! - 0.1);
    expect(measured.accuracy[1]).toBeGreaterThan(measured.accuracy[0]! + 0.03);
    expect(measured.ece[1]).toBeLessThan(measured.ece[0]! / 2);
    console.log(`held-out ${testRows.length} rows: ${describeCalibrator(fit.calibrator)}`, measured);
  });

  it('given the champion’s probabilities sharpened at temperature 0.5, then the fitted temperature doubles', () => {
    const p = probs(holdout);
    const sharp = p.map((row) => {
      const z = Object.fromEntries(Object.entries(row).map(([c, v]) => [c, v ** 2]));
      const sum = Object.values(z).reduce((a, b) => a + b, 0);
      return Object.fromEntries(Object.entries(z).map(([c, v]) => [c, v / sum]));
    });
    const own = fitCalibrator(p, labels(holdout), champion.classes, { method: 'temperature' });
    const fromSharp = fitCalibrator(sharp, labels(holdout), champion.classes, { method: 'temperature' });
    expect(fromSharp.calibrator.temperature / own.calibrator.temperature).toBeCloseTo(2, 1);
    expect(fromSharp.logLossAfter).toBeLessThan(fromSharp.logLossBefore);
    expect(fromSharp.calibrator.bias.every((b) => b === 0)).toBe(true);
  });

  it('given the same rows twice, then the calibrator is the same to the last bit', () => {
    const a = fitCalibrator(probs(shifted), labels(shifted), champion.classes);
    const b = fitCalibrator(probs(shifted), labels(shifted), champion.classes);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it('given two classes, then vector scaling is Platt scaling on the log-odds', () => {
    const rows = shifted.filter((r) => r.label === 'rain' || r.label === 'sun');
    const binary = rows.map((r) => {
      const p = predict(champion, r.features).probabilities;
      const s = p.rain! + p.sun!;
      return { rain: p.rain! / s, sun: p.sun! / s };
    });
    const fit = fitCalibrator(binary, labels(rows), ['rain', 'sun']);
    const { temperature, bias } = fit.calibrator;
    for (const p of binary.slice(0, 20)) {
      const logit = Math.log(p.rain / p.sun);
      const platt = 1 / (1 + Math.exp(-(logit / temperature + bias[0]! - bias[1]!)));
      expect(applyCalibrator(fit.calibrator, p).rain).toBeCloseTo(platt, 9);
    }
  });

  it('given labels outside the classes or no rows, then the fit refuses and says why', () => {
    expect(() => fitCalibrator([{ a: 1, b: 0 }], ['c'], ['a', 'b'])).toThrow(
      /row 0 is labeled "c", not one of a, b/,
    );
    expect(() => fitCalibrator([], [], ['a', 'b'])).toThrow(/no labeled rows/);
  });

  it('given a calibrated artifact, then its scorer is the champion’s scorer followed by the calibrator', async () => {
    const fit = fitCalibrator(probs(shifted), labels(shifted), champion.classes);
    const scorer = await scorerFor(
      {
        kind: 'calibrated',
        classes: champion.classes,
        base: champion,
        calibrator: fit.calibrator,
        baseVersion: 1,
      },
      () => Promise.resolve(null),
    );
    const rows = shifted.slice(0, 50);
    const scored = await scorer.score(rows.map((r) => r.features));
    scored.forEach((p, i) => {
      const expected = applyCalibrator(fit.calibrator, predict(champion, rows[i]!.features).probabilities);
      expect(p.probabilities).toEqual(expected);
      expect(p.label).toBe(predictedLabel(expected));
    });
  });
});

describe('recalibration decision', () => {
  const policy: RecalibrationPolicy = {
    recalibrate: 'auto',
    recalibration: {
      aucTolerance: 0.02,
      minRows: 100,
      minEceIncrease: 0.05,
      minLabelPsi: 0.1,
      method: 'vector',
    },
  };
  const evidence: RecalibrationEvidence = {
    reference: { rows: 384, auc: 0.771, ece: 0.037 },
    current: { rows: 400, auc: 0.77, ece: 0.2 },
    labelPsi: 0.4,
  };

  it('given the ranking holds and calibration and the label mix moved, then it recalibrates and says why', () => {
    const d = decideRecalibration(policy, evidence);
    expect(d.recalibrate).toBe(true);
    expect(d.reason).toBe(
      'champion AUC 0.770 on 400 new labels vs 0.771 on 384 reference rows (within 0.020), while calibration error 0.037 → 0.200 and label mix PSI 0.400',
    );
  });

  it('given the ranking dropped, too few rows, nothing moved or the policy off, then it retrains and says why', () => {
    const cases: [RecalibrationPolicy, typeof evidence, RegExp][] = [
      [
        policy,
        { ...evidence, current: { ...evidence.current, auc: 0.669 } },
        /the ranking moved by 0\.102, more than the tolerance 0\.020/,
      ],
      [
        policy,
        { ...evidence, current: { ...evidence.current, rows: 40 } },
        /40 labeled training rows, fewer than the 100/,
      ],
      [
        policy,
        { ...evidence, current: { ...evidence.current, ece: 0.05 }, labelPsi: 0.02 },
        /ranking holds\), but neither the calibration nor the label mix moved/,
      ],
      [{ ...policy, recalibrate: 'off' }, evidence, /training\.recalibrate is off/],
      [policy, { ...evidence, reference: { rows: 0, auc: null, ece: null } }, /no labeled holdout/],
    ];
    for (const [p, e, why] of cases) {
      const d = decideRecalibration(p, e);
      expect(d.recalibrate).toBe(false);
      expect(d.reason).toMatch(/^retrained: /);
      expect(d.reason).toMatch(why);
    }
  });
});

describe('the evaluation policy a candidate is judged by', () => {
  const policy = { metric: 'accuracy' as const, minGain: 0.02, maxEce: 0.1 };
  const recal = (judgeOn?: 'logLoss' | 'policy') => ({
    trainer: 'recalibration',
    config: { recalibration: { aucTolerance: 0.02, ...(judgeOn ? { judgeOn, minLogLossGain: 0.03 } : {}) } },
  });

  it('given a recalibrated champion, then its log-loss reduction is judged against minLogLossGain', () => {
    expect(judgingPolicy(policy, recal('logLoss'))).toEqual({
      metric: 'logLoss',
      minGain: 0.03,
      maxEce: 0.1,
    });
  });

  it('given judgeOn policy, a retrained candidate, or a recalibration from before the setting, then the policy as is', () => {
    expect(judgingPolicy(policy, recal('policy'))).toBe(policy);
    expect(judgingPolicy(policy, { trainer: 'forest', config: {} })).toBe(policy);
    expect(judgingPolicy(policy, recal())).toBe(policy);
  });
});
