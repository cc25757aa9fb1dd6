/**
 * A promoted regressor's reference from its training rows (when no production rows are known): the cars'
 * features without class labels, and the target with the holdout errors the evaluation recorded.
 */
import { describe, expect, it } from 'vitest';
import { regressionTrainingProfile } from '../../core/regression-reference.js';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_MEASUREMENTS, labeledCars } from '../../dev/cars.js';

const def = ModelDefinition.parse({ modelId: 'mpg', task: 'regression', features: CAR_MEASUREMENTS });
const train = labeledCars()
  .filter((c) => c.year >= 1975 && c.year <= 1978)
  .map((c) => ({ features: c.features, label: String(c.value) }));
const values = train.map((r) => Number(r.label));

describe('a promoted regressor’s reference from its training rows', () => {
  it('given the candidate’s holdout errors, then the target holds the training values and those errors', () => {
    const holdoutErrors = { rows: 28, mae: 2.7, rmse: 3.4, r2: 0.76, mape: 0.11, meanError: -1.03 };
    const p = regressionTrainingProfile(def, train, holdoutErrors);
    expect(p.labels).toEqual({});
    expect(p.target).toMatchObject({
      rows: train.length,
      min: Math.min(...values),
      max: Math.max(...values),
      holdout: { rows: 28, mae: 2.7, rmse: 3.4, r2: 0.76, mape: 0.11 },
    });
  });

  it('given no recorded holdout errors or a label that is not a number, then the target says no holdout and skips it', () => {
    const p = regressionTrainingProfile(
      def,
      [...train, { features: train[0]!.features, label: 'n/a' }],
      undefined,
    );
    expect(p.target).toMatchObject({ rows: train.length, holdout: null });
  });
});
