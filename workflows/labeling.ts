import {
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { describeZodError, durationMs, LabelAnswer } from '../core/schemas.js';
import { labelingStatusQuery, submitLabelUpdate, type LabelingStatus, type PendingItem } from './messages.js';
import { quickIo } from './presets.js';

const acts = proxyActivities<Activities>(quickIo);

export interface LabelingInput {
  campaignId: string;
  cycleId: string;
  modelId: string;
  datasetId: number;
  championVersion: number;
  labelSet: string[];
  budget: number;
  minLabels: number;
  deadline: string;
  reviewers: string[];
}

export interface LabelingResult {
  state: Exclude<LabelingStatus['state'], 'open'>;
  requested: number;
  answered: number;
  unlabeledRows: number;
}

/**
 * A labeling campaign: asks people for the labels the champion is least sure of, takes answers as
 * Updates, and always ends — complete, or at the deadline with whatever was answered.
 */
export async function labelingCampaign(input: LabelingInput): Promise<LabelingResult> {
  const deadlineAt = new Date(workflowInfo().startTime.getTime() + durationMs(input.deadline)).toISOString();
  const answers = new Map<string, string>();
  let items: PendingItem[] = [];
  let state: LabelingStatus['state'] = 'open';

  setHandler(labelingStatusQuery, () => ({
    campaignId: input.campaignId,
    labelSet: input.labelSet,
    requested: items.length,
    answered: answers.size,
    pending: items.filter((i) => !answers.has(i.recordKey)),
    deadlineAt,
    state,
  }));

  setHandler(
    submitLabelUpdate,
    async (raw) => {
      const answer = LabelAnswer.parse(raw);
      const stored = await acts.recordLabel({ campaignId: input.campaignId, ...answer });
      const duplicate = stored.duplicate || answers.has(answer.recordKey);
      answers.set(answer.recordKey, stored.label);
      return {
        recordKey: answer.recordKey,
        label: stored.label,
        duplicate,
        remaining: items.length - answers.size,
      };
    },
    {
      // Synchronous checks: a refused answer is never written to history, so the campaign is unchanged.
      validator: (raw) => {
        const parsed = LabelAnswer.safeParse(raw);
        if (!parsed.success) throw new Error(`label refused: ${describeZodError(parsed.error)}`);
        const answer = parsed.data;
        if (state !== 'open')
          throw new Error(`label refused: campaign ${input.campaignId} is closed (${state})`);
        if (!items.some((i) => i.recordKey === answer.recordKey)) {
          throw new Error(
            `label refused: recordKey "${answer.recordKey}" is not an item of campaign ${input.campaignId}; list pending items with "remedy pending"`,
          );
        }
        if (!input.labelSet.includes(answer.label)) {
          throw new Error(
            `label refused: label "${answer.label}" is not one of ${input.labelSet.join(', ')}`,
          );
        }
        if (input.reviewers.length > 0 && !input.reviewers.includes(answer.reviewer)) {
          throw new Error(`label refused: reviewer "${answer.reviewer}" may not label for this model`);
        }
      },
    },
  );

  const opened = await acts.openLabelTasks({
    campaignId: input.campaignId,
    modelId: input.modelId,
    datasetId: input.datasetId,
    championVersion: input.championVersion,
    budget: input.budget,
  });
  items = opened.items;
  log.info('labeling campaign open', {
    campaignId: input.campaignId,
    requested: items.length,
    deadline: input.deadline,
  });

  const remainingMs = Date.parse(deadlineAt) - Date.now();
  const complete = await condition(() => answers.size >= items.length, Math.max(remainingMs, 1));
  if (complete) state = 'complete';
  else state = answers.size >= input.minLabels ? 'deadline-partial' : 'deadline-insufficient';
  // Answers already accepted finish their write before the campaign reports.
  await condition(allHandlersFinished);
  return { state, requested: items.length, answered: answers.size, unlabeledRows: opened.unlabeledRows };
}
