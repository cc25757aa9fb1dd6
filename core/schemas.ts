/**
 * Remedy's core types and the zod schemas that guard every boundary.
 *
 * Terminology
 * - model: a named production classifier (`modelId`) with a label set, a feature spec and a policy.
 * - champion / candidate: the version serving production, and the retrained version trying to replace it.
 * - window: a time range of the production log (`records`) that a drift check looks at.
 * - reference: the profile of the champion's training data that windows are compared with.
 * - drift: a window whose feature distributions or measured performance moved past the policy's thresholds.
 * - cycle: one remediation run for one model (a `remediationCycle` workflow), from confirm to close.
 * - campaign: the labeling child workflow of a cycle: items people must label before a deadline.
 * - step: one stage of the staged rollout (a share of traffic to the candidate, then an analysis).
 */
import { z } from 'zod';
import { DurationString, durationMs, ModelId } from './inputs.js';
import { LabelingSettings } from './labeling-settings.js';
import { LogSourcePolicy, unmappedFeatures } from './log-source.js';
import { NotificationSettings } from './notifications.js';
import { CLASSIFICATION_METRICS, isRegressionMetric, REGRESSION_METRICS } from './performance-metrics.js';
import {
  CLASSIFICATION_QUERIES,
  REGRESSION_QUERIES,
  RolloutMetrics,
  TrafficRouter,
} from './rollout-adapters.js';

export {
  CLASSIFICATION_METRICS,
  isRegressionMetric,
  REGRESSION_METRICS,
  type RegressionMetric,
} from './performance-metrics.js';

export * from './inputs.js';
export * from './labeling-settings.js';

/**
 * A rollout's history grows by about ten events per step analysis (a dwell timer, the analysis, their
 * workflow tasks): each step analyses until it passes, up to failureLimit + 1 failures, and re-analyses
 * an inconclusive step every dwell until sampleWait has passed. This bound keeps it near 6,000 events.
 */
export const MAX_ROLLOUT_ANALYSES = 600;

/** The most analyses a rollout policy allows (Infinity: no dwell between analyses that repeat). */
export function rolloutAnalysesAtMost(r: {
  steps: readonly number[];
  failureLimit: number;
  dwell: string;
  sampleWait: string;
  bakeTime?: string;
}): number {
  // A malformed duration is reported by its own field; here it counts as none.
  const ms = (d: string | undefined) =>
    d !== undefined && DurationString.safeParse(d).success ? durationMs(d) : 0;
  const dwell = ms(r.dwell);
  const wait = ms(r.sampleWait);
  const inconclusive = wait === 0 ? 0 : dwell === 0 ? Infinity : Math.ceil(wait / dwell);
  // After 100%, one analysis per dwell while the new champion bakes.
  const bake = ms(r.bakeTime);
  const baking = bake === 0 ? 0 : dwell === 0 ? Infinity : Math.ceil(bake / dwell);
  return r.steps.length * (r.failureLimit + 1 + inconclusive) + baking;
}

export const FeatureSpec = z.object({
  numeric: z.array(z.string().min(1)).default([]),
  categorical: z.array(z.string().min(1)).default([]),
});
export type FeatureSpec = z.infer<typeof FeatureSpec>;

/** Remedy's own secrets, never passed to a training program: DATABASE_URL, REMEDY_*, libpq's PG*. */
export function isWorkerSecret(name: string): boolean {
  return name === 'DATABASE_URL' || name.startsWith('REMEDY_') || name.startsWith('PG');
}

export const Policy = z.object({
  drift: z
    .object({
      /** Threshold of the PSI test where a feature uses it (PSI is reported for every feature). */
      psiThreshold: z.number().positive().default(0.2),
      /** Bins of the PSI (edges at reference quantiles). */
      psiBins: z.number().int().min(2).max(100).default(10),
      /** Dataset drift when at least this share of features drifted. */
      driftedShare: z.number().gt(0).max(1).default(0.5),
      /** Multiple-testing correction over the features tested by p-value. */
      correction: z.enum(['none', 'bonferroni', 'benjamini-hochberg']).default('none'),
      /** fixed: the tests' thresholds (default or per feature); learned: mean + 3σ over reference chunks. */
      thresholds: z.enum(['fixed', 'learned']).default('fixed'),
      /** Per feature: force a test and/or a threshold. */
      features: z
        .record(
          z.string().min(1),
          z
            .object({
              test: z.enum(['ks', 'wasserstein', 'psi', 'jensenshannon', 'chisquare', 'ztest']).optional(),
              threshold: z.number().positive().optional(),
            })
            .strict(),
        )
        .default({}),
      /** A drift is persistent (and acted on) after this many consecutive drifted windows. */
      persistence: z.number().int().min(1).max(100).default(3),
      /** What feature drift alone does while measured performance holds: observe (default) or act. */
      featureDriftAlone: z.enum(['observe', 'act']).default('observe'),
      /**
       * What the performance signal judges: accuracy, macroF1, auc or logLoss for a classifier (default
       * accuracy); mae, rmse, r2 or mape for a regression model (default mae, set by ModelDefinition).
       */
      performanceMetric: z.enum([...CLASSIFICATION_METRICS, ...REGRESSION_METRICS]).default('accuracy'),
      performanceTolerance: z.number().min(0).max(1).default(0.05),
      severeDrop: z.number().min(0).max(1).default(0.15),
      minLabeledRows: z.number().int().positive().default(30),
      /**
       * Test a uniform random sample of at most this many of the window's records (seeded by the model
       * and the window, so a check repeats exactly). Unset: every record of the window is tested. The
       * performance signal always uses every labeled record of the window.
       */
      maxWindowRows: z.number().int().positive().optional(),
      /**
       * The production span a promoted champion's reference covers, e.g. '365d' for yearly seasons: the
       * last that much up to the cycle's window end. Unset (the default): the previous reference's span
       * combined with the cycle's window, so no season the old champion was checked against is lost.
       */
      referenceSpan: DurationString.refine(
        (v) => !/^\d+(ms|s|m|h|d)$/.test(v) || durationMs(v) > 0,
        'must be longer than 0',
      ).optional(),
      dataQuality: z
        .object({
          /** Share of rows whose value is of the wrong type or absent (not null) above which it is an incident. */
          maxSchemaViolationShare: z.number().min(0).max(1).default(0),
          /** Increase of the missing share over the reference's. */
          maxMissingIncrease: z.number().min(0).max(1).default(0.1),
          /** Numeric values beyond the reference range widened by this share of it count as out of range. */
          rangeMargin: z.number().min(0).default(0.5),
          maxOutOfRangeShare: z.number().min(0).max(1).default(0.05),
          /** Rows carrying categories never seen in the reference. */
          maxNewCategoryShare: z.number().min(0).max(1).default(0.01),
        })
        .prefault({}),
    })
    .prefault({}),
  collection: z
    .object({
      maxRows: z.number().int().positive().max(1_000_000).default(5000),
      holdoutShare: z.number().gt(0).lt(1).default(0.25),
      /** Gates: at most this share of the window's records may break the schema… */
      maxSchemaDropShare: z.number().min(0).max(1).default(0.05),
      /** …at least this many complete records… */
      minRows: z.number().int().min(1).default(20),
      /** …at most this share of exact duplicates… */
      maxDuplicateShare: z.number().min(0).max(1).default(0.2),
      /** …and when features drifted, at least this share of the collected rows lies in the drifted region. */
      minDriftedShare: z.number().min(0).max(1).default(0.1),
      /** Over `maxRows`, this share of the dataset comes from the stable region, as a control. */
      controlShare: z.number().min(0).max(1).default(0.2),
      /** Personal data in the log (fields that are not features): dropped, or masked by a salted digest. */
      pii: z
        .object({
          drop: z.array(z.string().min(1)).default([]),
          mask: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
    })
    .prefault({}),
  labeling: LabelingSettings.prefault({}),
  training: z
    .object({
      /**
       * forest: the built-in random forest (below 50 labeled rows it falls back to softmax regression);
       * softmax: softmax regression; command: an external program (see `command`); python: the Python
       * training worker (workers/python) on its own task queue, which returns an ONNX model (see `python`).
       */
      trainer: z.enum(['forest', 'softmax', 'command', 'python']).default('forest'),
      seed: z.number().int().default(7),
      // softmax regression
      epochs: z.number().int().positive().max(100_000).default(400),
      learningRate: z.number().positive().default(0.5),
      l2: z.number().min(0).default(0.001),
      checkpointEvery: z.number().int().positive().default(25),
      // random forest, with a bounded search over depth and leaf size
      trees: z.number().int().min(1).max(1000).default(60),
      maxDepth: z.number().int().min(1).max(30).default(10),
      minSamplesLeaf: z.number().int().min(1).default(2),
      searchDepths: z.array(z.number().int().min(1).max(30)).max(6).default([6, 10]),
      searchLeaves: z.array(z.number().int().min(1)).max(6).default([1, 4]),
      // retraining scope (core/training-scope.ts): a severe drift also trains on this share of the
      // champion's training data, and rows from the drifted window weigh this much more than history
      historyShare: z.number().min(0).max(1).default(0.3),
      driftedWeight: z.number().min(1).max(100).default(2),
      /**
       * A mild drift trains on all of the champion's training rows plus the window's labels; a champion row
       * weighs 2^(−age / recencyHalfLife), its age counted back from the window's newest labeled row.
       */
      recencyHalfLife: DurationString.refine((d) => !/^\d+(ms|s|m|h|d)$/.test(d) || durationMs(d) > 0, {
        message: 'must be longer than zero, e.g. "365d"',
      }).default('365d'),
      /**
       * auto: when the champion still ranks the cycle's new labels as well as its reference (one-vs-one
       * AUC within recalibration.aucTolerance) but its calibration or the label mix moved, the candidate is
       * the champion with a calibrator fitted on the new labels instead of a retrained model (built-in and
       * command trainers; the Python trainer always retrains). off: always retrain.
       */
      recalibrate: z.enum(['off', 'auto']).default('auto'),
      recalibration: z
        .object({
          /** The largest drop of the champion's AUC (new labels vs its reference holdout) that still counts as holding. */
          aucTolerance: z.number().min(0).max(0.5).default(0.02),
          /** Fewer labeled training rows than this: retrain (a calibrator on a handful of rows is noise). */
          minRows: z.number().int().min(10).default(100),
          /** Calibration moved: the champion's ECE on the new labels this much above its reference's. */
          minEceIncrease: z.number().min(0).max(1).default(0.05),
          /** The label mix moved: PSI of the window's labels against the reference's at least this. */
          minLabelPsi: z.number().min(0).default(0.1),
          /** vector: temperature and a bias per class (prior shift and confidence); temperature: T only. */
          method: z.enum(['vector', 'temperature']).default('vector'),
          /**
           * logLoss: a recalibrated candidate's gain is judged as the lower bound of its log-loss reduction
           * (what a calibrator improves; it hardly moves accuracy) against minLogLossGain, in nats;
           * policy: on evaluation.metric and evaluation.minGain like a retrained candidate.
           */
          judgeOn: z.enum(['logLoss', 'policy']).default('logLoss'),
          minLogLossGain: z.number().min(0).default(0.01),
        })
        .prefault({}),
      // an external trainer: argv, run with the JSON contract documented in README (Training)
      command: z.array(z.string().min(1)).min(1).optional(),
      commandTimeout: DurationString.default('30m'),
      /**
       * Worker environment variables the command may see, besides PATH, the locale and TZ. Remedy's own
       * secrets (DATABASE_URL, REMEDY_*, PG*) are refused: a training program never reads them.
       */
      env: z
        .array(
          z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name, e.g. "OMP_NUM_THREADS"')
            .refine((n) => !isWorkerSecret(n), {
              message: "Remedy's own secrets (DATABASE_URL, REMEDY_*, PG*) are never passed to a trainer",
            }),
        )
        .max(64)
        .default([]),
      /** Kernel limits on the command's process (prlimit): memory (RLIMIT_DATA) and CPU time. */
      limits: z
        .object({
          memoryMb: z.number().int().min(64).max(1_048_576).default(4096),
          cpuSeconds: z
            .number()
            .int()
            .min(1)
            .max(7 * 24 * 3600)
            .default(4 * 3600),
        })
        .prefault({}),
      heartbeatTimeout: DurationString.default('30s'),
      /** The Python worker's trainer (scikit-learn gradient boosting unless the team replaces build_model). */
      python: z
        .object({
          estimators: z.number().int().min(1).max(5000).default(100),
          learningRate: z.number().positive().max(1).default(0.1),
          maxDepth: z.number().int().min(1).max(20).default(3),
          /** Estimators fitted between two checkpoints (what a crash can lose). */
          stageSize: z.number().int().min(1).max(1000).default(10),
          /** One attempt's limit; a trainer that hangs past it is retried, then the cycle closes. */
          timeout: DurationString.default('1h'),
          maxAttempts: z.number().int().min(1).max(10).default(3),
        })
        .prefault({}),
    })
    .prefault({})
    .refine((t) => t.trainer !== 'command' || t.command !== undefined, {
      message: 'trainer "command" needs training.command, e.g. ["python3", "train.py"]',
      path: ['command'],
    }),
  evaluation: z
    .object({
      /** The candidate must beat the champion by this much at the LOWER bound of the gain's interval. */
      minGain: z.number().min(-1).max(1).default(0.02),
      /** The metric the gain is measured in: accuracy (points), macroF1, or logLoss (its reduction). */
      metric: z.enum(['accuracy', 'macroF1', 'logLoss']).default('accuracy'),
      /** Two-sided coverage of the paired bootstrap intervals; 0.9 makes the lower bound a one-sided 95% bound. */
      confidence: z.number().min(0.5).max(0.999).default(0.9),
      /** Paired bootstrap resamples (seeded: the same holdout gives the same interval). */
      resamples: z.number().int().min(100).max(100_000).default(2000),
      /** Fewer labeled holdout rows than this fail the min-holdout gate. */
      minHoldout: z.number().int().min(1).default(30),
      /**
       * Which rows of the window are held out: a share chosen by record key (random), or the window's
       * latest share by record time (latest), which judges the candidate on the period after its training.
       */
      holdout: z.enum(['random', 'latest']).default('random'),
      /** Largest accuracy drop vs the champion on the champion's reference holdout (the backtest). */
      maxForgetting: z.number().min(0).max(1).default(0.05),
      /**
       * Whether the backtest decides: auto (unless the window's labels moved away from the reference's,
       * the drift report's label shift, when the old labels no longer describe what the model serves),
       * enforce (always) or report (never; shown on the card only).
       */
      backtest: z.enum(['auto', 'enforce', 'report']).default('auto'),
      /** No slice may be worse than the champion's by more than this (accuracy, 0..1). */
      maxSliceDrop: z.number().min(0).max(1).default(0.05),
      /** The feature whose values define slices (e.g. location); none when unset. */
      sliceBy: z.string().min(1).optional(),
      minSliceRows: z.number().int().min(1).default(20),
      maxEce: z.number().min(0).max(1).default(0.15),
      maxLatencyMs: z.number().positive().default(20),
      /**
       * Regression models: the level of the prediction interval a version is calibrated for on rows it did
       * not train on (split conformal, core/regression-interval.ts), e.g. 0.9 (unset: 0.9).
       */
      intervalLevel: z.number().min(0.5).max(0.99).optional(),
    })
    .prefault({}),
  rollout: z
    .object({
      steps: z
        .array(z.number().int().min(1).max(100))
        .min(1)
        .default([10, 25, 50, 100])
        .refine((s) => s.every((w, i) => i === 0 || w > s[i - 1]!) && s[s.length - 1] === 100, {
          message: 'steps must increase and end at 100',
        }),
      dwell: DurationString.default('5s'),
      minSamples: z.number().int().positive().default(15),
      /**
       * A fixed sample per analysis: each arm is judged on its first this many predictions with feedback
       * in serving order since the step began (the champion's since the rollout began at 100%, where it
       * serves nothing), the step dwelling until both have them; an analysis after a failed one takes the
       * next this many. Unset: every prediction with feedback so far, at least minSamples.
       */
      stepSamples: z.number().int().positive().optional(),
      maxDegradation: z.number().min(0).max(1).default(0.02),
      alpha: z.number().gt(0).lt(1).default(0.05),
      maxLatencyP95Ms: z.number().positive().default(50),
      maxCalibrationGap: z.number().min(0).max(1).default(0.2),
      /** Failed analyses tolerated in a row before rolling back (Argo's failureLimit). */
      failureLimit: z.number().int().min(0).default(0),
      /** Ask an approver before the last (100%) step. */
      approveBeforeFull: z.boolean().default(false),
      /**
       * After the 100% step the candidate is promoted and watched this long (Argo Rollouts' post-promotion
       * analysis): the same analysis every dwell, against the old champion's numbers from the rollout; a
       * breach (more failures than failureLimit) gives production back to the old champion. "0s": none.
       */
      bakeTime: DurationString.default('0s'),
      /** How long a step keeps dwelling for enough samples before it pauses as inconclusive. */
      sampleWait: DurationString.default('1m'),
      decisionTimeout: DurationString.default('1h'),
      requireApproval: z.boolean().default(false),
      approvalTimeout: DurationString.default('24h'),
      approvers: z.array(z.string().min(1)).default([]),
      /** Who moves the traffic: Remedy's gateway, or the team's endpoint (core/rollout-adapters.ts). */
      router: TrafficRouter.default({ kind: 'gateway' }),
      /** What each step is judged on: Remedy's prediction log and feedback, or Prometheus. */
      metrics: RolloutMetrics.default({ kind: 'prediction-log' }),
    })
    .refine((r) => r.stepSamples === undefined || r.stepSamples >= r.minSamples, {
      message: 'rollout.stepSamples must be at least rollout.minSamples',
      path: ['stepSamples'],
    })
    .refine((r) => r.stepSamples === undefined || r.metrics.kind === 'prediction-log', {
      message:
        'rollout.stepSamples needs the prediction log: Prometheus counters cannot be cut at a sample count (drop stepSamples, or use metrics.kind "prediction-log")',
      path: ['stepSamples'],
    })
    .refine((r) => rolloutAnalysesAtMost(r) <= MAX_ROLLOUT_ANALYSES, {
      message: `a rollout may analyse at most ${MAX_ROLLOUT_ANALYSES} times (steps × (failureLimit + 1 + sampleWait / dwell) + bakeTime / dwell), so its history stays far below Temporal's limits: use fewer steps, a longer dwell or a shorter sampleWait or bakeTime`,
    })
    .prefault({}),
  /** What the gateway and feedback flag as failure cases, and how cases group into patterns. */
  failures: z
    .object({
      /** A prediction less confident than this is flagged (low-confidence). */
      lowConfidence: z.number().min(0).max(1).default(0.5),
      /** Numeric values below this reference quantile or above 1 − it are out of distribution. */
      oodQuantile: z.number().gt(0).lt(0.5).default(0.005),
      /** The multivariate score (sum of squared z-scores) flags above this chi-square quantile. */
      oodScore: z.number().gt(0.5).lt(1).default(0.999),
      /** Predictions slower than this are flagged as a deployment problem. */
      slowMs: z.number().positive().default(250),
      /** Categorical features that name a pattern's slice (default: all of them). */
      sliceBy: z.array(z.string().min(1)).max(5).optional(),
      /** A cycle targets this many of the window's most frequent model-error patterns. */
      targets: z.number().int().min(1).max(20).default(3),
      /**
       * Regression models: a prediction whose error exceeds this multiple of the champion's holdout MAE is
       * a failure case (unset: 2).
       */
      largeErrorMultiple: z.number().positive().optional(),
    })
    .prefault({}),
  triggers: z
    .object({
      volume: z
        .object({
          /** Start a cycle after this many labeled failures since the last cycle closed… */
          newLabeledFailures: z.number().int().positive().default(200),
          /** …or when one pattern makes up this share of the labeled failures in the trailing window. */
          patternShare: z.number().gt(0).max(1).default(0.4),
          minPatternCases: z.number().int().positive().default(30),
          window: DurationString.default('90d'),
        })
        .prefault({}),
      /** Schedule-based cycles look at this much of the log, ending at its latest record. */
      scheduleWindow: DurationString.default('30d'),
      /**
       * After a cycle closes, drift and volume triggers start no new cycle for this long unless their
       * severity is higher than the closed cycle's ("0s" turns the cooldown off). Suppressed triggers
       * are recorded with the reason. Manual and scheduled cycles are never suppressed.
       */
      cooldown: DurationString.default('0s'),
      /** At most this many cycles start per `budgetPeriod`; drift and volume triggers past it are suppressed. */
      maxCycles: z.number().int().positive().optional(),
      budgetPeriod: DurationString.refine(
        (v) => !/^\d+(ms|s|m|h|d)$/.test(v) || durationMs(v) > 0,
        'must be longer than zero, e.g. "30d"',
      ).default('30d'),
    })
    .prefault({}),
  /** Where windows of the production log are read from (core/log-source.ts); unset: the records table. */
  logSource: LogSourcePolicy.optional(),
  /** Where Remedy's events go: webhook, Slack and PagerDuty channels (core/notifications.ts). */
  notifications: NotificationSettings.prefault({}),
});
export type Policy = z.infer<typeof Policy>;

/** What a model predicts: one of its `labelSet` (classification) or a number (regression). */
export const ModelTask = z.enum(['classification', 'regression']);
export type ModelTask = z.infer<typeof ModelTask>;

/**
 * The range a regression model's target may take (both ends included), e.g. miles per gallon ≥ 0.
 * Numeric labels outside it are refused; an end left unset is derived from the reference where a check
 * needs one (core/regression-labels.ts).
 */
export const TargetRange = z
  .object({ min: z.number().finite().optional(), max: z.number().finite().optional() })
  .strict()
  .refine((t) => t.min === undefined || t.max === undefined || t.min < t.max, {
    message: 'target.min must be below target.max',
    path: ['max'],
  });
export type TargetRange = z.infer<typeof TargetRange>;

/** The trainers a regression model takes (softmax regression and the command contract are for classes). */
export const REGRESSION_TRAINERS: readonly Policy['training']['trainer'][] = ['forest', 'python'];

const DefinitionFields = z
  .object({
    modelId: ModelId,
    /** Unset: classification, as every model was before regression models. */
    task: ModelTask.default('classification'),
    /** The classes of a classification model; a regression model has none. */
    labelSet: z.array(z.string().min(1)).min(2).optional(),
    /** A regression model's target range (optional); a classification model has none. */
    target: TargetRange.optional(),
    features: FeatureSpec,
    policy: Policy.prefault({}),
  })
  .superRefine((d, ctx) => {
    if (d.task === 'classification' && d.labelSet === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['labelSet'],
        message:
          'a classification model needs labelSet, its classes (e.g. ["no", "yes"]); for a model that predicts a number set "task": "regression"',
      });
    if (d.task === 'regression' && d.labelSet !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['labelSet'],
        message:
          'a regression model predicts a number and has no labelSet: remove it (give the numeric range as "target": { "min", "max" }), or set "task": "classification"',
      });
    if (d.task === 'classification' && d.target !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message:
          'target is the numeric range of a regression model: remove it, or set "task": "regression" (and drop labelSet)',
      });
    if (d.task === 'regression' && !REGRESSION_TRAINERS.includes(d.policy.training.trainer))
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'training', 'trainer'],
        message: `a regression model is retrained by the built-in forest regressor ("forest") or the Python worker's gradient boosting ("python"): set training.trainer to one of them (a ${d.policy.training.trainer} trainer cannot train a regression model yet)`,
      });
    const features = new Set([...d.features.numeric, ...d.features.categorical]);
    const unmapped = d.policy.logSource ? unmappedFeatures(d.policy.logSource, [...features]) : [];
    if (unmapped.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'logSource', 'columns', 'features'],
        message: `the log source gives no column for the model's feature${unmapped.length > 1 ? 's' : ''} ${unmapped.join(', ')}: add ${unmapped.length > 1 ? 'them' : 'it'} to columns.features`,
      });
    for (const kind of ['drop', 'mask'] as const) {
      for (const column of d.policy.collection.pii[kind]) {
        if (features.has(column))
          ctx.addIssue({
            code: 'custom',
            path: ['policy', 'collection', 'pii', kind],
            message: `"${column}" is a feature of the model: it cannot be ${kind === 'drop' ? 'dropped' : 'masked'} as personal data; take it out of the features first`,
          });
      }
    }
  })
  .superRefine((d, ctx) => {
    const metric = d.policy.drift.performanceMetric;
    if (d.task === 'regression' && !isRegressionMetric(metric))
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'drift', 'performanceMetric'],
        message: `"${metric}" judges a classifier; a regression model's performance is one of ${REGRESSION_METRICS.join(', ')} (default mae): change it or leave it unset`,
      });
    if (d.task === 'classification' && isRegressionMetric(metric))
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'drift', 'performanceMetric'],
        message: `"${metric}" is an error metric of a regression model; a classifier's performance is one of ${CLASSIFICATION_METRICS.join(', ')} (default accuracy): change it, or set "task": "regression"`,
      });
    const metrics = d.policy.rollout.metrics;
    if (metrics?.kind === 'prometheus') {
      const [needs, other] =
        d.task === 'regression'
          ? [REGRESSION_QUERIES, CLASSIFICATION_QUERIES]
          : [CLASSIFICATION_QUERIES, REGRESSION_QUERIES];
      const missing = needs.filter((q) => metrics.queries[q] === undefined);
      const foreign = other.filter((q) => metrics.queries[q] !== undefined);
      const path = ['policy', 'rollout', 'metrics', 'queries'];
      if (missing.length > 0)
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            d.task === 'regression'
              ? `a regression model's rollout on Prometheus is judged on its errors: add ${missing.join(', ')} (each version's count of answers whose true value arrived, the sum of their absolute errors, the sum of their squared errors; README "Rollout metrics" has the queries for Remedy's gateway)`
              : `a classifier's rollout on Prometheus is judged on its requests and errors: add ${missing.join(', ')}`,
        });
      if (foreign.length > 0)
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            d.task === 'regression'
              ? `${foreign.join(', ')} judge a classifier; a regression model's rollout reads errorCount, absoluteErrorSum, squaredErrorSum and latencyP95Ms: remove ${foreign.length > 1 ? 'them' : 'it'}`
              : `${foreign.join(', ')} measure a regression model's errors; a classifier's rollout is judged on requests, errors and latencyP95Ms: remove ${foreign.length > 1 ? 'them' : 'it'}`,
        });
    }
  })
  // Inside Remedy a regression model's labelSet is empty, so code written for classes sees none.
  .transform(({ labelSet, ...d }) => ({ ...d, labelSet: labelSet ?? [] }));

/**
 * A regression definition's drift defaults where it leaves them unset: it judges on MAE (the Policy's own
 * default, accuracy, is a classifier's), with a relative tolerance of 0.25 and a severe drop of 0.75.
 * Anything that is not a regression definition passes unchanged.
 */
function regressionDefaults(raw: z.input<typeof DefinitionFields>): z.input<typeof DefinitionFields> {
  if (typeof raw !== 'object' || raw === null || raw.task !== 'regression') return raw;
  const policy: unknown = raw.policy ?? {};
  if (typeof policy !== 'object' || policy === null) return raw;
  const drift: unknown = (policy as { drift?: unknown }).drift ?? {};
  if (typeof drift !== 'object' || drift === null) return raw;
  const given = drift as {
    performanceMetric?: unknown;
    performanceTolerance?: unknown;
    severeDrop?: unknown;
  };
  // An error metric is judged on its relative increase, and a window's MAE swings more than its accuracy:
  // on the cars, bootstrapped windows of a champion that is no worse exceed its holdout MAE by 5 % in
  // 28–37 % of windows of 30–120 rows, by 25 % in 0.3–7 %. So a regressor's defaults are 25 % and 75 %.
  const defaults = {
    ...(given.performanceMetric === undefined ? { performanceMetric: 'mae' as const } : {}),
    ...(given.performanceTolerance === undefined ? { performanceTolerance: 0.25 } : {}),
    ...(given.severeDrop === undefined ? { severeDrop: 0.75 } : {}),
  };
  return { ...raw, policy: { ...policy, drift: { ...drift, ...defaults } } };
}

export const ModelDefinition = z.preprocess(regressionDefaults, DefinitionFields);
export type ModelDefinition = z.infer<typeof ModelDefinition>;
/** A definition as a person writes it (defaults not yet applied). */
export type ModelDefinitionInput = z.input<typeof ModelDefinition>;

/** Whether a model predicts a number (its labels are numeric answers, not one of a label set). */
export function isRegression(def: Pick<ModelDefinition, 'task'>): boolean {
  return def.task === 'regression';
}
