/**
 * What a model predicts: `task` in the model definition. Unset, a model is a classifier exactly as before;
 * a regression model has no labelSet and may give its target's range. Mixed-up definitions are refused
 * with the field named and what to do.
 */
import { describe, expect, it } from 'vitest';
import { describeZodError, isRegression, ModelDefinition } from '../../core/schemas.js';

const features = { numeric: ['Weight_in_lbs', 'Horsepower'], categorical: ['Origin'] };

function refusal(raw: unknown): string {
  const parsed = ModelDefinition.safeParse(raw);
  if (parsed.success) throw new Error('expected the definition to be refused');
  return describeZodError(parsed.error);
}

describe('model task', () => {
  it('given a definition without task, then it is a classifier with its labelSet, as before', () => {
    const def = ModelDefinition.parse({ modelId: 'churn', labelSet: ['no', 'yes'], features });
    expect(def.task).toBe('classification');
    expect(def.labelSet).toEqual(['no', 'yes']);
    expect(def.target).toBeUndefined();
    expect(isRegression(def)).toBe(false);
  });

  it('given a regression definition with a target range, then it parses with no labels', () => {
    const def = ModelDefinition.parse({
      modelId: 'cars-mpg',
      task: 'regression',
      target: { min: 0, max: 100 },
      features,
    });
    expect(def.task).toBe('regression');
    expect(def.target).toEqual({ min: 0, max: 100 });
    expect(def.labelSet).toEqual([]);
    expect(isRegression(def)).toBe(true);
    // The rest of the definition gets its defaults as for a classifier.
    expect(def.policy.training.trainer).toBe('forest');
  });

  it('given a regression definition with only one end of the range or none, then it parses', () => {
    expect(
      ModelDefinition.parse({ modelId: 'a', task: 'regression', target: { min: 0 }, features }).target,
    ).toEqual({
      min: 0,
    });
    expect(ModelDefinition.parse({ modelId: 'b', task: 'regression', features }).target).toBeUndefined();
  });

  it('given a regression definition with a labelSet, then it is refused naming labelSet', () => {
    const message = refusal({ modelId: 'cars-mpg', task: 'regression', labelSet: ['low', 'high'], features });
    expect(message).toContain('labelSet: a regression model predicts a number and has no labelSet');
    expect(message).toContain('"task": "classification"');
  });

  it('given a regression definition whose policy names a trainer for classes, then it is refused saying which trainers a regressor takes', () => {
    for (const trainer of ['softmax', 'command'] as const) {
      const message = refusal({
        modelId: 'cars-mpg',
        task: 'regression',
        features,
        policy: {
          training: { trainer, ...(trainer === 'command' ? { command: ['python3', 'train.py'] } : {}) },
        },
      });
      expect(message).toContain(
        `policy.training.trainer: a regression model is retrained by the built-in forest regressor ("forest") or the Python worker's gradient boosting ("python"): set training.trainer to one of them (a ${trainer} trainer cannot train a regression model yet)`,
      );
    }
  });

  it('given a regression definition whose policy names the Python trainer, then it is taken', () => {
    const def = ModelDefinition.parse({
      modelId: 'cars-mpg',
      task: 'regression',
      features,
      policy: { training: { trainer: 'python', python: { estimators: 40 } } },
    });
    expect(def.policy.training).toMatchObject({ trainer: 'python', python: { estimators: 40 } });
    expect(def.labelSet).toEqual([]);
  });

  it('given a classifier without a labelSet, then it is refused saying how to declare a regression model', () => {
    const message = refusal({ modelId: 'churn', features });
    expect(message).toContain('labelSet: a classification model needs labelSet');
    expect(message).toContain('"task": "regression"');
  });

  it('given a classifier with a target range, then it is refused naming target', () => {
    const message = refusal({ modelId: 'churn', labelSet: ['no', 'yes'], target: { min: 0 }, features });
    expect(message).toContain('target: target is the numeric range of a regression model');
  });

  it('given an unknown task, a reversed range or a non-number end, then each is refused by field', () => {
    expect(refusal({ modelId: 'x', task: 'ranking', features })).toMatch(/^task: /);
    expect(refusal({ modelId: 'x', task: 'regression', target: { min: 5, max: 1 }, features })).toContain(
      'target.max: target.min must be below target.max',
    );
    expect(refusal({ modelId: 'x', task: 'regression', target: { min: 'zero' }, features })).toMatch(
      /^target\.min: /,
    );
    expect(refusal({ modelId: 'x', task: 'regression', target: { low: 0 }, features })).toMatch(/^target: /);
  });

  it('given a regression definition without a performance metric, then it judges on MAE; a classifier still on accuracy', () => {
    expect(
      ModelDefinition.parse({ modelId: 'a', task: 'regression', features }).policy.drift.performanceMetric,
    ).toBe('mae');
    const def = ModelDefinition.parse({
      modelId: 'a',
      task: 'regression',
      features,
      policy: { drift: { persistence: 2 } },
    });
    expect(def.policy.drift).toMatchObject({ performanceMetric: 'mae', persistence: 2 });
    for (const metric of ['mae', 'rmse', 'r2', 'mape'])
      expect(
        ModelDefinition.parse({
          modelId: 'a',
          task: 'regression',
          features,
          policy: { drift: { performanceMetric: metric } },
        }).policy.drift.performanceMetric,
      ).toBe(metric);
    expect(
      ModelDefinition.parse({ modelId: 'c', labelSet: ['no', 'yes'], features }).policy.drift
        .performanceMetric,
    ).toBe('accuracy');
  });

  it('given a classifier’s metric on a regression model, or an error metric on a classifier, then it is refused naming the field', () => {
    expect(
      refusal({
        modelId: 'a',
        task: 'regression',
        features,
        policy: { drift: { performanceMetric: 'accuracy' } },
      }),
    ).toBe(
      'policy.drift.performanceMetric: "accuracy" judges a classifier; a regression model\'s performance is one of mae, rmse, r2, mape (default mae): change it or leave it unset',
    );
    expect(
      refusal({
        modelId: 'c',
        labelSet: ['no', 'yes'],
        features,
        policy: { drift: { performanceMetric: 'rmse' } },
      }),
    ).toBe(
      'policy.drift.performanceMetric: "rmse" is an error metric of a regression model; a classifier\'s performance is one of accuracy, macroF1, auc, logLoss (default accuracy): change it, or set "task": "regression"',
    );
    expect(
      refusal({
        modelId: 'a',
        task: 'regression',
        features,
        policy: { drift: { performanceMetric: 'median' } },
      }),
    ).toMatch(/^policy\.drift\.performanceMetric: /);
  });
});
