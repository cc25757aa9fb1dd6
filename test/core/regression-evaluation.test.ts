/**
 * The holdout measures of a regression evaluation on real data: per-slice errors and the p95 one-row
 * latency, pinned to scikit-learn and numpy. Reference values: test/fixtures/regression_evaluation_reference.py,
 * run from the repository root with a Python that has scikit-learn and numpy
 * (`/work/main/.remedy/bench-venv/bin/python test/fixtures/regression_evaluation_reference.py`).
 */
import { describe, expect, it } from 'vitest';
import {
  evaluatedSide,
  measureRegression,
  type RegressionScoredRow,
} from '../../core/regression-evaluation.js';
import { loadCars } from '../../dev/cars.js';

const REFERENCE = {
  slices: {
    Europe: {
      rows: 70,
      candidateMae: 4.66066,
      championMae: 4.508272428571427,
      candidateRmse: 5.703393589434276,
    },
    Japan: {
      rows: 79,
      candidateMae: 4.0437291139240505,
      championMae: 4.136507721518988,
      candidateRmse: 5.104095517190838,
    },
    USA: {
      rows: 249,
      candidateMae: 2.7863060240963855,
      championMae: 2.6827577911646583,
      candidateRmse: 3.5984267629107207,
    },
  },
  p95LatencyMs: 0.548,
};

const rows: RegressionScoredRow[] = loadCars()
  .filter((c) => c.Miles_per_Gallon !== null)
  .map((c) => ({
    actual: c.Miles_per_Gallon!,
    candidate: 48.0 - 0.0082 * c.Weight_in_lbs,
    champion: 46.3 - 0.00767 * c.Weight_in_lbs,
    slice: c.Origin,
    candidateLatencyUs: (c.Horsepower ?? 0) * 3 + c.Cylinders,
  }));

describe('measureRegression on the cars', () => {
  const m = measureRegression(rows, { resamples: 200, confidence: 0.9, seed: 7 });

  it('given slices by origin, then each slice has the MAE and RMSE scikit-learn computes', () => {
    expect(m.slices.map((s) => s.slice)).toEqual(['Europe', 'Japan', 'USA']);
    for (const s of m.slices) {
      const ref = REFERENCE.slices[s.slice as keyof typeof REFERENCE.slices];
      expect(s.rows).toBe(ref.rows);
      expect(s.candidate.mae).toBeCloseTo(ref.candidateMae, 12);
      expect(s.champion.mae).toBeCloseTo(ref.championMae, 12);
      expect(s.candidate.rmse).toBeCloseTo(ref.candidateRmse, 12);
    }
  });

  it('given per-row latencies, then p95 is numpy.percentile(·, 95) in milliseconds, and null where none was timed', () => {
    expect(m.candidate.p95LatencyMs).toBeCloseTo(REFERENCE.p95LatencyMs, 12);
    expect(m.champion.p95LatencyMs).toBeNull();
  });

  it('given the measures, then the gates see each slice and the point errors', () => {
    const side = evaluatedSide(m, 'candidate');
    expect(side.overall.mae).toBe(m.candidate.errors.mae.estimate);
    expect(side.overall.p95LatencyMs).toBe(m.candidate.p95LatencyMs);
    expect(side.slices['USA']!.mae).toBe(m.slices[2]!.candidate.mae);
    expect(m.residualBias.candidate).toHaveLength(10);
  });
});
