/**
 * How a labeling campaign runs: one schema for the model policy's `labeling` section and for the
 * settings a campaign workflow receives, so every default is written here and nowhere else.
 */
import { z } from 'zod';
import { DurationString } from './inputs.js';
import { LabelStudioSettings } from './label-studio.js';
import type { NumericLabelRange } from './regression-labels.js';

/**
 * What people are asked first (after flagged failure cases): uncertainty (the champion's lowest top
 * probability), margin (the smallest gap between its two most likely labels), random, or candidate:
 * batch by batch, a quick forest retrained on the labels so far picks what it is least sure of,
 * with 30 % of each batch at random; or disagreement: batch by batch, the rows that quick forest and
 * the champion label differently first (core/active-learning.ts; batches of `batchSize`, 10 if unset).
 */
export const LabelingStrategy = z.enum(['uncertainty', 'margin', 'random', 'candidate', 'disagreement']);
export type LabelingStrategy = z.infer<typeof LabelingStrategy>;

/** A campaign run continues as new at this many history events at most (Temporal warns at 10,240). */
export const MAX_HISTORY_EVENTS = 8_000;

/**
 * The most items a campaign asks for. Its items travel whole in Temporal payloads (the opening
 * activity's result, and the state a run carries to the next when the campaign continues as new), and
 * Temporal refuses a payload over 2 MB: 6,000 weather items with their answers make 1.4 MB.
 */
export const MAX_BUDGET = 7_500;

export const LabelingSettings = z
  .object({
    budget: z.number().int().min(0).max(MAX_BUDGET).default(40),
    minLabels: z.number().int().min(0).default(20),
    deadline: DurationString.default('24h'),
    reviewers: z.array(z.string().min(1)).default([]),
    strategy: LabelingStrategy.default('uncertainty'),
    /** Items the champion is at least this sure of are labeled automatically, recorded as such (off when unset). */
    autoLabelAbove: z.number().gt(0).max(1).optional(),
    /** Remind the reviewers when this share of the deadline has passed (0: no reminder). */
    reminderAt: z.number().min(0).lt(1).default(0.5),
    /** At the deadline, this second pool may label too, for `escalationGrace` more (none: no escalation). */
    escalationReviewers: z.array(z.string().min(1)).default([]),
    escalationGrace: DurationString.default('12h'),
    /** Too few labels after all that: the campaign parks for a person's decision, at most this long. */
    decisionTimeout: DurationString.default('72h'),
    /** Who may extend, proceed or abort a parked campaign (empty: anyone). */
    deciders: z.array(z.string().min(1)).default([]),
    /**
     * Share of people's items answered by two reviewers (0: one each). Two answers that agree settle the
     * item; two that disagree send it to a third reviewer, whose answer settles it (majority of three).
     */
    overlap: z.number().min(0).max(1).default(0),
    /**
     * The agreement gate: Cohen's kappa of the first two answers on overlapped items, once at least
     * `minOverlapItems` have both. Below it, the campaign parks for a person (proceed or abort).
     */
    minKappa: z.number().min(-1).max(1).default(0.6),
    /**
     * A regression model's campaign: the agreement gate is Krippendorff's alpha (interval) instead of
     * kappa, and two answers agree when within `agreeWithin` target units (unset: 5 % of the campaign's
     * range; equal answers only when the range is open).
     */
    minAlpha: z.number().min(-1).max(1).default(0.667),
    agreeWithin: z.number().finite().min(0).optional(),
    minOverlapItems: z.number().int().min(1).default(5),
    /** Requests go out in batches of this many; the next batch when the current one is answered (0: all at once). */
    batchSize: z.number().int().min(0).default(0),
    /**
     * A campaign's history grows by about 11 events per label; once a run's history has this many events
     * (or Temporal suggests it earlier), the campaign continues as new, carrying its whole state, so no
     * run nears Temporal's limits (a warning at 10,240 events, the run ended at 51,200). Lower only to test.
     */
    maxHistoryEvents: z.number().int().min(200).max(MAX_HISTORY_EVENTS).default(MAX_HISTORY_EVENTS),
    /**
     * Where people label: Remedy's review page (the default; the CLI and the API always work too), or a
     * Label Studio project (`labelStudio`: core/label-studio.ts), whose annotations come back as answers.
     */
    tool: z.enum(['review-page', 'label-studio']).default('review-page'),
    labelStudio: LabelStudioSettings.optional(),
  })
  .refine((l) => l.tool !== 'label-studio' || l.labelStudio !== undefined, {
    message:
      'tool "label-studio" needs a "labelStudio" block: { url, tokenEnv } (and optionally project, webhook)',
    path: ['labelStudio'],
  });
/** The settings with every default filled in. */
export type LabelingSettings = z.infer<typeof LabelingSettings>;
/** The settings as given: anything left out takes its default (campaigns started before a setting existed). */
export type LabelingSettingsInput = z.input<typeof LabelingSettings>;

/** Who a campaign is for: fixed for its whole life. */
export interface CampaignIdentity {
  campaignId: string;
  cycleId: string;
  modelId: string;
  datasetId: number;
  championVersion: number;
  labelSet: string[];
  /**
   * A regression model's campaign: answers are numbers within this range (core/regression-labels.ts)
   * instead of one of labelSet. Absent: a classification campaign.
   */
  numeric?: NumericLabelRange;
}

/** What a labeling campaign workflow is started with: who it is for, and its settings as given. */
export type LabelingCampaignInput = CampaignIdentity & LabelingSettingsInput;
