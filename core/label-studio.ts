/**
 * Labeling in Label Studio (the policy's `labeling.tool: label-studio`): a campaign's items become tasks
 * of a Label Studio project, and each annotation comes back as the same `submitLabel` answer the review
 * page sends. Pure: the policy block, the project's labeling config, a task's body (Remedy's ids in its
 * data, the champion's guess as a prediction), and reading one annotation back as an answer. The HTTP
 * calls live in activities/label-studio.ts; the webhook and the polling in ops/label-studio.ts.
 */
import { z } from 'zod';
import { EnvName, HttpUrl } from './notifications.js';
import { canonicalNumericLabel, type NumericLabelRange } from './regression-labels.js';

export const LabelStudioSettings = z.object({
  /** Label Studio's base URL, e.g. http://label-studio:8080 (its HTTP API is under /api). */
  url: HttpUrl,
  /** The NAME of the worker's environment variable holding the API token (never the token itself). */
  tokenEnv: EnvName,
  /** An existing project to add the tasks to; unset: one project per campaign, titled after it. */
  project: z.number().int().positive().optional(),
  /**
   * Where Label Studio sends each annotation as it is submitted: Remedy's review page's
   * /label-studio/webhook, with the shared secret (from the worker's environment variable `secretEnv`)
   * in the X-Remedy-Secret header. Unset: no webhook is registered; answers come back by polling only.
   */
  webhook: z.object({ url: HttpUrl, secretEnv: EnvName }).optional(),
});
export type LabelStudioSettings = z.infer<typeof LabelStudioSettings>;

/** The header a Label Studio webhook carries the shared secret in (Label Studio sends custom headers as set). */
export const WEBHOOK_SECRET_HEADER = 'X-Remedy-Secret';
/** The labeling config's control and object names, as an annotation's result names them. */
export const CHOICES_NAME = 'label';
export const ITEM_NAME = 'item';

/** One item of a campaign, as the labeling activities hold it. */
export interface LabelStudioItem {
  recordKey: string;
  features: Record<string, unknown>;
  guess: string;
  confidence: number;
}

/** What a task's data holds: Remedy's ids, a line to read, and the features as a table. */
export interface RemedyTaskData {
  remedy_cycle: string;
  remedy_campaign: string;
  remedy_record_key: string;
  remedy_summary: string;
  features: Record<string, string>;
}

export function projectTitle(campaignId: string): string {
  // Label Studio keeps titles to 50 characters.
  const title = `Remedy ${campaignId}`;
  return title.length <= 50 ? title : `Remedy …${campaignId.slice(-(50 - 'Remedy …'.length))}`;
}

function xmlAttr(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;');
}

/**
 * The project's labeling config: a line about the item, the features as a table, and the answer: one
 * choice per label, or, for a regression model's campaign, a number within the campaign's range.
 */
export function labelConfig(labelSet: readonly string[], numeric?: NumericLabelRange): string {
  if (!numeric && labelSet.length === 0) throw new Error('a Label Studio project needs at least one label');
  const answer = numeric
    ? [
        `  <Number name="${CHOICES_NAME}" toName="${ITEM_NAME}"${numeric.min === null ? '' : ` min="${numeric.min}"`}${numeric.max === null ? '' : ` max="${numeric.max}"`} step="${numberStep(numeric)}" required="true" requiredMessage="Answer with a number${rangeText(numeric)}"/>`,
      ]
    : [
        `  <Choices name="${CHOICES_NAME}" toName="${ITEM_NAME}" choice="single-radio" showInline="true" required="true">`,
        ...labelSet.map((l) => `    <Choice value="${xmlAttr(l)}"/>`),
        '  </Choices>',
      ];
  return [
    '<View>',
    `  <Text name="${ITEM_NAME}" value="$remedy_summary"/>`,
    '  <Table name="features" value="$features"/>',
    ...answer,
    '</View>',
  ].join('\n');
}

/** The input's step: a thousandth of the range's order of magnitude (0.01 for miles per gallon of 9 to 47). */
export function numberStep(range: NumericLabelRange): number {
  const span = range.min !== null && range.max !== null ? range.max - range.min : 0;
  if (!(span > 0)) return 0.001;
  return Number((10 ** (Math.floor(Math.log10(span)) - 3)).toPrecision(1));
}

const rangeText = (r: NumericLabelRange) =>
  r.min !== null && r.max !== null
    ? ` from ${r.min} to ${r.max}`
    : r.min !== null
      ? ` of at least ${r.min}`
      : r.max !== null
        ? ` of at most ${r.max}`
        : '';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, '');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The task body Label Studio imports for one item: its data, and the champion's guess as a prediction. */
export function taskOf(
  ids: { cycleId: string; campaignId: string; championVersion: number; numeric?: NumericLabelRange },
  item: LabelStudioItem,
): { data: RemedyTaskData; predictions: object[] } {
  const pct = `${(item.confidence * 100).toFixed(0)} %`;
  const guess = ids.numeric
    ? { type: 'number', value: { number: Number(item.guess) } }
    : { type: 'choices', value: { choices: [item.guess] } };
  return {
    data: {
      remedy_cycle: ids.cycleId,
      remedy_campaign: ids.campaignId,
      remedy_record_key: item.recordKey,
      remedy_summary: ids.numeric
        ? `Record ${item.recordKey}: the model predicts ${item.guess}; enter the true value${rangeText(ids.numeric)}`
        : `Record ${item.recordKey}: the model says "${item.guess}" (${pct} sure)`,
      features: Object.fromEntries(Object.entries(item.features).map(([k, v]) => [k, cell(v)])),
    },
    predictions: [
      {
        model_version: `champion v${ids.championVersion}`,
        score: item.confidence,
        result: [{ from_name: CHOICES_NAME, to_name: ITEM_NAME, ...guess }],
      },
    ],
  };
}

const TaskData = z.object({
  remedy_cycle: z.string().min(1),
  remedy_campaign: z.string().min(1),
  remedy_record_key: z.string().min(1),
});
const ResultItem = z.looseObject({
  from_name: z.string().optional(),
  type: z.string().optional(),
  value: z
    .looseObject({ choices: z.array(z.string()).optional(), number: z.unknown().optional() })
    .optional(),
});
/** One annotation as Label Studio's API and webhooks give it (only what Remedy reads). */
export const LsAnnotation = z.looseObject({
  id: z.number().int(),
  result: z.array(ResultItem).default([]),
  was_cancelled: z.boolean().optional(),
  /** A user's id, or the user itself in some payloads. */
  completed_by: z.union([
    z.number().int(),
    z.looseObject({ id: z.number().int(), email: z.string().optional() }),
  ]),
  task: z.union([z.number().int(), z.looseObject({ id: z.number().int() })]).optional(),
});
export type LsAnnotation = z.infer<typeof LsAnnotation>;
export const LsTask = z.looseObject({ id: z.number().int(), data: z.record(z.string(), z.unknown()) });
export type LsTask = z.infer<typeof LsTask>;

/** The webhook's body for ANNOTATION_CREATED and ANNOTATION_UPDATED. */
export const LsWebhookBody = z.looseObject({
  action: z.string(),
  annotation: LsAnnotation.optional(),
  task: LsTask.optional(),
});

/** Remedy's ids in a task's data; null for a task Remedy did not create. */
export function remedyIdsOf(task: LsTask): { cycleId: string; campaignId: string; recordKey: string } | null {
  const d = TaskData.safeParse(task.data);
  if (!d.success) return null;
  return {
    cycleId: d.data.remedy_cycle,
    campaignId: d.data.remedy_campaign,
    recordKey: d.data.remedy_record_key,
  };
}

export function annotatorIdOf(a: LsAnnotation): number {
  return typeof a.completed_by === 'number' ? a.completed_by : a.completed_by.id;
}

/**
 * The label an annotation gave: its one choice of the `label` control, or its one number (a regression
 * model's campaign), as decimal text. A cancelled (skipped) task or an annotation without exactly one
 * answer is no answer, and says why; whether the number is within range is the campaign's to say.
 */
export function chosenLabel(a: LsAnnotation): { label: string } | { error: string } {
  if (a.was_cancelled) return { error: `annotation ${a.id} skipped the task: no label to take` };
  const ours = a.result.filter((r) => (r.from_name ?? CHOICES_NAME) === CHOICES_NAME);
  const numbers = ours.filter((r) => r.type === 'number').map((r) => r.value?.number);
  if (numbers.length > 0) {
    if (numbers.length !== 1)
      return { error: `annotation ${a.id} has ${numbers.length} numbers for "${CHOICES_NAME}": enter one` };
    const n = numbers[0];
    if (typeof n !== 'number' || !Number.isFinite(n))
      return {
        error: `annotation ${a.id} has ${JSON.stringify(n ?? null)} for "${CHOICES_NAME}", not a number: enter one`,
      };
    return { label: canonicalNumericLabel(n) };
  }
  const choices = ours.filter((r) => r.type === 'choices').flatMap((r) => r.value?.choices ?? []);
  if (choices.length !== 1)
    return {
      error: `annotation ${a.id} has ${choices.length === 0 ? 'no choice' : `${choices.length} choices`} for "${CHOICES_NAME}": choose exactly one label`,
    };
  return { label: choices[0]! };
}
