/**
 * The Label Studio adapter's pure parts: the policy block and its refusals, the labeling config a
 * project gets, a task's body, and reading an annotation back as a label.
 */
import { describe, expect, it } from 'vitest';
import { describeZodError } from '../../core/inputs.js';
import {
  chosenLabel,
  labelConfig,
  LsAnnotation,
  numberStep,
  projectTitle,
  remedyIdsOf,
  taskOf,
} from '../../core/label-studio.js';
import { LabelingSettings } from '../../core/labeling-settings.js';

const refusal = (raw: unknown) => {
  const r = LabelingSettings.safeParse(raw);
  return r.success ? null : describeZodError(r.error);
};

describe('Label Studio policy block', () => {
  it('given no tool, then the review page is the default and no Label Studio block is needed', () => {
    expect(LabelingSettings.parse({})).toMatchObject({ tool: 'review-page' });
    expect(LabelingSettings.parse({}).labelStudio).toBeUndefined();
  });

  it('given tool label-studio without its block, then it is refused saying what to add', () => {
    expect(refusal({ tool: 'label-studio' })).toMatch(
      /labelStudio: tool "label-studio" needs a "labelStudio" block: \{ url, tokenEnv \}/,
    );
  });

  it('given a token in place of the variable’s name, or a URL that is not http, then each is refused', () => {
    const block = { url: 'http://ls:8080', tokenEnv: 'LABEL_STUDIO_API_KEY' };
    expect(refusal({ tool: 'label-studio', labelStudio: block })).toBeNull();
    expect(refusal({ tool: 'label-studio', labelStudio: { ...block, tokenEnv: '0123-abcd-token' } })).toMatch(
      /labelStudio\.tokenEnv: the NAME of an environment variable/,
    );
    expect(refusal({ tool: 'label-studio', labelStudio: { ...block, url: 'ftp://ls' } })).toMatch(
      /labelStudio\.url: an http:\/\/ or https:\/\/ URL/,
    );
    expect(
      refusal({
        tool: 'label-studio',
        labelStudio: { ...block, webhook: { url: 'http://r/hook', secretEnv: 'a b' } },
      }),
    ).toMatch(/labelStudio\.webhook\.secretEnv: the NAME of an environment variable/);
  });
});

describe('Label Studio project and tasks', () => {
  it('given a label set, then the config has one choice per label, escaped, over the item line', () => {
    const xml = labelConfig(['rain', 'a "quoted" <label>']);
    expect(xml).toContain('<Choices name="label" toName="item" choice="single-radio"');
    expect(xml).toContain('<Choice value="rain"/>');
    expect(xml).toContain('<Choice value="a &quot;quoted&quot; &lt;label&gt;"/>');
    expect(xml).toContain('<Table name="features" value="$features"/>');
    expect(() => labelConfig([])).toThrow(/at least one label/);
  });

  it('given a long campaign ID, then the project title keeps to Label Studio’s 50 characters', () => {
    expect(projectTitle('remediation-weather-1-labeling')).toBe('Remedy remediation-weather-1-labeling');
    const long = projectTitle(`remediation-${'x'.repeat(60)}-1-labeling`);
    expect(long.length).toBe(50);
    expect(long.endsWith('-1-labeling')).toBe(true);
  });

  it('given an item, then its task carries Remedy’s ids, the features as text, and the guess as a prediction', () => {
    const task = taskOf(
      { cycleId: 'c-1', campaignId: 'c-1-labeling', championVersion: 3 },
      {
        recordKey: 'r-7',
        features: { temp: 12.345678, wind: 4, sky: 'grey' },
        guess: 'rain',
        confidence: 0.815,
      },
    );
    expect(task.data).toEqual({
      remedy_cycle: 'c-1',
      remedy_campaign: 'c-1-labeling',
      remedy_record_key: 'r-7',
      remedy_summary: 'Record r-7: the model says "rain" (82 % sure)',
      features: { temp: '12.35', wind: '4', sky: 'grey' },
    });
    expect(task.predictions).toEqual([
      {
        model_version: 'champion v3',
        score: 0.815,
        result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['rain'] } }],
      },
    ]);
    expect(remedyIdsOf({ id: 1, data: task.data as unknown as Record<string, unknown> })).toEqual({
      cycleId: 'c-1',
      campaignId: 'c-1-labeling',
      recordKey: 'r-7',
    });
    expect(remedyIdsOf({ id: 2, data: { text: 'someone else’s task' } })).toBeNull();
  });
});

describe('an annotation as a label', () => {
  const annotation = (result: unknown[], extra: Record<string, unknown> = {}) =>
    LsAnnotation.parse({ id: 9, completed_by: 4, result, ...extra });
  const choice = (label: string) => ({ from_name: 'label', type: 'choices', value: { choices: [label] } });

  it('given one choice, then that is the label', () => {
    expect(chosenLabel(annotation([choice('fog')]))).toEqual({ label: 'fog' });
  });

  it('given no choice, two, or a skipped task, then there is no label and it says why', () => {
    expect(chosenLabel(annotation([]))).toEqual({
      error: 'annotation 9 has no choice for "label": choose exactly one label',
    });
    expect(chosenLabel(annotation([choice('fog'), choice('sun')]))).toEqual({
      error: 'annotation 9 has 2 choices for "label": choose exactly one label',
    });
    expect(chosenLabel(annotation([], { was_cancelled: true }))).toEqual({
      error: 'annotation 9 skipped the task: no label to take',
    });
  });

  const number = (n: unknown) => ({ from_name: 'label', type: 'number', value: { number: n } });
  it("given a number (a regression model's campaign), then its decimal text is the label; two, or not a number, say why", () => {
    expect(chosenLabel(annotation([number(23.5)]))).toEqual({ label: '23.5' });
    expect(chosenLabel(annotation([number(-4)]))).toEqual({ label: '-4' });
    expect(chosenLabel(annotation([number(1), number(2)]))).toEqual({
      error: 'annotation 9 has 2 numbers for "label": enter one',
    });
    expect(chosenLabel(annotation([number('fast')]))).toEqual({
      error: 'annotation 9 has "fast" for "label", not a number: enter one',
    });
  });
});

describe("a regression model's project", () => {
  it('given a range, then the config asks for one number within it, in steps fine enough for the range', () => {
    const config = labelConfig([], { min: 9, max: 47 });
    expect(config).toContain(
      '<Number name="label" toName="item" min="9" max="47" step="0.01" required="true" requiredMessage="Answer with a number from 9 to 47"/>',
    );
    expect(config).not.toContain('<Choices');
    expect(labelConfig([], { min: 0, max: null })).toContain(
      'min="0" step="0.001" required="true" requiredMessage="Answer with a number of at least 0"',
    );
    expect([numberStep({ min: 0, max: 1 }), numberStep({ min: 0, max: 250_000 })]).toEqual([0.001, 100]);
  });

  it("given an item, then its task pre-fills the champion's value and says the range", () => {
    const task = taskOf(
      { cycleId: 'c', campaignId: 'l', championVersion: 2, numeric: { min: 9, max: 47 } },
      { recordKey: 'car-7', features: { weight: 3504 }, guess: '17.25', confidence: 0 },
    );
    expect(task.data.remedy_summary).toBe(
      'Record car-7: the model predicts 17.25; enter the true value from 9 to 47',
    );
    expect(task.predictions).toEqual([
      {
        model_version: 'champion v2',
        score: 0,
        result: [{ from_name: 'label', to_name: 'item', type: 'number', value: { number: 17.25 } }],
      },
    ]);
  });
});
