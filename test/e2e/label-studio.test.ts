/**
 * Labeling in Label Studio, against a real Label Studio (PyPI `label-studio`, SQLite) started here: a
 * campaign's items become tasks of a project with the model's guess pre-selected; annotators who
 * signed up through Label Studio's own form annotate through its API in their own name, and each
 * annotation lands in Remedy's database as their answer, verified by `label-studio`: through the
 * webhook to the review page, and, with no webhook, by polling. A label outside the set, a person who
 * may not label and a webhook without the shared secret are refused with the campaign's message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelStudioApi, type LabelStudioApi } from '../../activities/label-studio.js';
import { cycleAudit } from '../../db/cycles.js';
import { campaignAnswersByItem } from '../../db/labeling.js';
import { signUpAnnotator, startLabelStudio, type LabelStudioProcess } from '../../dev/label-studio.js';
import { CARS_DEMO_POLICY, CARS_SCENARIO, prepareCarsModel } from '../../dev/cars-scenario.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { pendingLabels, startCycle } from '../../ops/cycles.js';
import { pollLabelStudio, syncLabelStudio, type AnnotationOutcome } from '../../ops/label-studio.js';
import { startReviewServer, type ReviewServer } from '../../review/server.js';
import { labelingWorkflowId } from '../../workflows/cycle.js';
import { cliRunner, recordHistoryOf, until, useStack } from '../helpers.js';

const stack = useStack('labelstudio');
const TOKEN_ENV = 'REMEDY_TEST_LABEL_STUDIO_TOKEN';
const SECRET_ENV = 'REMEDY_TEST_LABEL_STUDIO_SECRET';
const SECRET = 'a-shared-secret-for-the-webhook';
const ANN = 'ann@example.com';
const BOB = 'bob@example.com';

let ls: LabelStudioProcess;
let admin: LabelStudioApi;
let review: ReviewServer;
/** Each annotator's own API client (their legacy token from their session). */
const as: Record<string, LabelStudioApi> = {};

beforeAll(async () => {
  ls = await startLabelStudio({ log: (l) => process.stderr.write(`[label-studio] ${l}\n`) });
  process.stderr.write(`[label-studio] started in ${ls.startMs} ms\n`);
  admin = labelStudioApi(ls.url, ls.token);
  for (const email of [ANN, BOB]) {
    const { token } = await signUpAnnotator(ls.url, email, `${email.split('@')[0]}-pass-123`);
    as[email] = labelStudioApi(ls.url, token);
  }
  process.env[TOKEN_ENV] = ls.token;
  process.env[SECRET_ENV] = SECRET;
  review = await startReviewServer(stack.h.client, { labelStudio: { api: admin, secret: SECRET } });
}, 600_000);
afterAll(async () => {
  await review?.close();
  await ls?.stop();
  delete process.env[TOKEN_ENV];
  delete process.env[SECRET_ENV];
});

/**
 * A started cycle whose campaign of `budget` items for Ann is open, labeled in Label Studio: the weather
 * classifier's, or the cars regressor's (answers are miles per gallon).
 */
async function openCampaign(
  modelId: string,
  budget: number,
  labelStudio: Record<string, unknown>,
  task: 'classification' | 'regression' = 'classification',
) {
  const [prepare, policy, window] =
    task === 'regression'
      ? [prepareCarsModel, CARS_DEMO_POLICY, CARS_SCENARIO.window]
      : [prepareWeatherModel, DEMO_POLICY, SCENARIO.window];
  const prepared = await prepare(stack.pool, modelId, {
    ...policy,
    labeling: {
      budget,
      minLabels: budget,
      deadline: '24h',
      reviewers: [ANN],
      tool: 'label-studio',
      labelStudio,
    },
  });
  const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
  const { cycleId } = await startCycle(stack.h.client, stack.h, { modelId, window: { ...window } });
  const status = await until(
    () => pendingLabels(stack.h.client, cycleId),
    (s) => s.requested === budget,
  );
  return { cycleId, status, truth };
}

interface Task {
  id: number;
  data: {
    remedy_cycle: string;
    remedy_record_key: string;
    remedy_summary: string;
    features: Record<string, string>;
  };
  predictions: {
    model_version: string;
    score: number;
    result: { value: { choices?: string[]; number?: number } }[];
  }[];
}

/** A campaign of `budget` items for Ann, labeled in Label Studio; open, with its tasks there. */
async function campaignInLabelStudio(
  modelId: string,
  budget: number,
  webhook: boolean,
  task: 'classification' | 'regression' = 'classification',
) {
  const { cycleId, status, truth } = await openCampaign(
    modelId,
    budget,
    {
      url: ls.url,
      tokenEnv: TOKEN_ENV,
      ...(webhook ? { webhook: { url: `${review.url}/label-studio/webhook`, secretEnv: SECRET_ENV } } : {}),
    },
    task,
  );
  const title = `Remedy ${labelingWorkflowId(cycleId)}`;
  const project = await until(
    async () =>
      (
        await admin.call<{ results: { id: number; title: string }[] }>('GET', '/api/projects?page_size=100')
      ).results.find((p) => p.title === title),
    (p) => p !== undefined,
  );
  const tasks = await until(
    async () =>
      (
        await admin.call<{ tasks: Task[] }>(
          'GET',
          `/api/tasks?project=${project!.id}&page_size=100&fields=all`,
        )
      ).tasks,
    (t) => t.length === budget,
  );
  return { cycleId, status, truth, projectId: project!.id, tasks };
}

/** The webhook's POST for one annotation of a task, as Label Studio sends it (with or without the secret). */
async function sendHook(annotationId: number, taskId: number, secret = SECRET) {
  const annotation = await admin.call('GET', `/api/annotations/${annotationId}/`);
  const task = await admin.call('GET', `/api/tasks/${taskId}`);
  const res = await fetch(`${review.url}/label-studio/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-remedy-secret': secret },
    body: JSON.stringify({ action: 'ANNOTATION_CREATED', annotation, task }),
  });
  return { status: res.status, body: (await res.json()) as { error?: string } };
}

const annotate = (who: string, taskId: number, label: string) =>
  as[who]!.call<{ id: number }>('POST', `/api/tasks/${taskId}/annotations/`, {
    result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: [label] } }],
  });

describe('Label Studio', () => {
  it('given a campaign with tool label-studio, then its items are tasks with the guess pre-selected, and annotations come back through the webhook in the annotator’s name', async () => {
    const { cycleId, status, truth, tasks } = await campaignInLabelStudio('weather-ls-hook', 3, true);
    const campaignId = labelingWorkflowId(cycleId);

    // One task per item: Remedy's ids, the features as a table, the model's guess as the prediction.
    const byKey = new Map(tasks.map((t) => [t.data.remedy_record_key, t]));
    expect([...byKey.keys()].sort()).toEqual(status.pending.map((p) => p.recordKey).sort());
    for (const item of status.pending) {
      const task = byKey.get(item.recordKey)!;
      expect(task.data.remedy_cycle).toBe(cycleId);
      expect(Object.keys(task.data.features)).toEqual(Object.keys(item.features));
      expect(task.data.remedy_summary).toContain(`the model says "${item.guess}"`);
      expect(task.predictions).toHaveLength(1);
      expect(task.predictions[0]!.result[0]!.value.choices).toEqual([item.guess]);
      expect(task.predictions[0]!.score).toBeCloseTo(item.confidence, 6);
    }
    const [a, b, c] = status.pending.map((p) => byKey.get(p.recordKey)!);
    const labelOf = (t: Task) => truth.get(t.data.remedy_record_key)!;

    // Ann's annotation arrives as her answer, verified by Label Studio.
    await annotate(ANN, a!.id, labelOf(a!));
    const first = await until(
      () => campaignAnswersByItem(stack.pool, campaignId),
      (rows) => rows.length === 1,
    );
    expect(first).toEqual([
      {
        record_key: a!.data.remedy_record_key,
        label: labelOf(a!),
        reviewer: ANN,
        via: 'label-studio',
        verified_by: 'label-studio',
      },
    ]);

    // A label outside the set, and a person who may not label: refused with the campaign's message.
    const outside = await annotate(ANN, b!.id, 'banana');
    const notAllowed = await annotate(BOB, b!.id, labelOf(b!));
    const send = (annotationId: number, secret = SECRET) => sendHook(annotationId, b!.id, secret);
    expect(await send(outside.id)).toMatchObject({
      status: 422,
      body: { error: `label refused: label "banana" is not one of ${status.labelSet.join(', ')}` },
    });
    expect(await send(notAllowed.id)).toMatchObject({
      status: 422,
      body: { error: `label refused: reviewer "${BOB}" may not label for this model` },
    });
    const forged = await send(outside.id, 'not-the-secret');
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatch(/^wrong or missing X-Remedy-Secret/);

    // Ann labels the rest; the first answer per item is kept, so the refused ones changed nothing.
    await annotate(ANN, b!.id, labelOf(b!));
    await annotate(ANN, c!.id, labelOf(c!));
    const all = await until(
      () => campaignAnswersByItem(stack.pool, campaignId),
      (rows) => rows.length === 3,
    );
    expect(all.map((r) => [r.record_key, r.label, r.reviewer, r.verified_by])).toEqual(
      [a!, b!, c!]
        .map((t) => [t.data.remedy_record_key, labelOf(t), ANN, 'label-studio'])
        .sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    );
    const done = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.state !== 'open',
    );
    expect(done).toMatchObject({ state: 'complete', answered: 3, requested: 3 });
    await recordHistoryOf(stack.h.client.workflow.getHandle(campaignId));
  });

  it("given a regression model's campaign, then its tasks take a number within the range, with the champion's value pre-filled, and a number out of range is refused", async () => {
    const { cycleId, status, truth, projectId, tasks } = await campaignInLabelStudio(
      'cars-ls-hook',
      3,
      true,
      'regression',
    );
    const campaignId = labelingWorkflowId(cycleId);
    const range = status.numeric!;
    expect(range.min).not.toBeNull();
    expect(range.max).not.toBeNull();
    const project = await admin.call<{ label_config: string }>('GET', `/api/projects/${projectId}`);
    expect(project.label_config).toContain(
      `<Number name="label" toName="item" min="${range.min}" max="${range.max}" step="0.01" required="true"`,
    );
    expect(project.label_config).not.toContain('<Choices');
    const byKey = new Map(tasks.map((t) => [t.data.remedy_record_key, t]));
    for (const item of status.pending) {
      const task = byKey.get(item.recordKey)!;
      expect(task.data.remedy_summary).toBe(
        `Record ${item.recordKey}: the model predicts ${item.guess}; enter the true value from ${range.min} to ${range.max}`,
      );
      expect(task.predictions[0]!.result[0]!.value).toEqual({ number: Number(item.guess) });
    }
    const [a, b] = status.pending.map((p) => byKey.get(p.recordKey)!);
    const value = (t: Task) => Number(truth.get(t.data.remedy_record_key));
    const enter = (who: string, taskId: number, number: number) =>
      as[who]!.call<{ id: number }>('POST', `/api/tasks/${taskId}/annotations/`, {
        result: [{ from_name: 'label', to_name: 'item', type: 'number', value: { number } }],
      });

    // Ann's number arrives through the webhook as her answer, in one form.
    await enter(ANN, a!.id, value(a!));
    expect(
      await until(
        () => campaignAnswersByItem(stack.pool, campaignId),
        (rows) => rows.length === 1,
      ),
    ).toEqual([
      {
        record_key: a!.data.remedy_record_key,
        label: String(value(a!)),
        reviewer: ANN,
        via: 'label-studio',
        verified_by: 'label-studio',
      },
    ]);
    // A number above the range: refused with the campaign's message, and the item stays unanswered.
    const tooHigh = await enter(ANN, b!.id, range.max! + 100);
    const refused = await sendHook(tooHigh.id, b!.id);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe(
      `label refused: label: ${range.max! + 100} is above the highest value a label may take, ${range.max} (the reference's labels widened by the policy's drift.dataQuality.rangeMargin)`,
    );
    expect((await campaignAnswersByItem(stack.pool, campaignId)).map((r) => r.record_key)).toEqual([
      a!.data.remedy_record_key,
    ]);
    expect((await pendingLabels(stack.h.client, cycleId)).answered).toBe(1);
  });

  it('given no webhook, then polling since a cursor brings the annotations back, each once', async () => {
    const { cycleId, truth, projectId, tasks } = await campaignInLabelStudio('weather-ls-poll', 3, false);
    const campaignId = labelingWorkflowId(cycleId);
    // Two of three answered at first: the campaign stays open, so a repeat reaches it.
    const [a, b, c] = tasks;
    const labelOf = (t: Task) => truth.get(t.data.remedy_record_key)!;
    const hooks = await admin.call<unknown[]>('GET', `/api/webhooks?project=${projectId}`);
    expect(hooks).toEqual([]);

    await annotate(ANN, a!.id, labelOf(a!));
    await annotate(BOB, b!.id, labelOf(b!));
    const first = await syncLabelStudio(stack.h.client, admin, { projectId });
    expect(first.outcomes.map((o) => [o.recordKey, o.reviewer, o.result, o.message ?? null])).toEqual([
      [a!.data.remedy_record_key, ANN, 'labeled', null],
      [
        b!.data.remedy_record_key,
        BOB,
        'refused',
        `label refused: reviewer "${BOB}" may not label for this model`,
      ],
    ]);
    expect(await campaignAnswersByItem(stack.pool, campaignId)).toEqual([
      {
        record_key: a!.data.remedy_record_key,
        label: labelOf(a!),
        reviewer: ANN,
        via: 'label-studio',
        verified_by: 'label-studio',
      },
    ]);

    // From the cursor (the command line, as a person polls): only what is new. From the start again:
    // the same answers, counted once, and the refusal again (exit 2, as for a CSV import with refusals).
    await annotate(ANN, b!.id, labelOf(b!));
    const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }), {
      ...process.env,
      LABEL_STUDIO_URL: ls.url,
      LABEL_STUDIO_API_KEY: ls.token,
    });
    const next = await remedy(
      'labels',
      'sync-label-studio',
      cycleId,
      '--since',
      String(first.cursor),
      '--json',
    );
    expect(next.code).toBe(0);
    const synced = JSON.parse(next.out) as Awaited<ReturnType<typeof syncLabelStudio>>;
    expect(synced.outcomes.map((o) => [o.recordKey, o.reviewer, o.result])).toEqual([
      [b!.data.remedy_record_key, ANN, 'labeled'],
    ]);
    const again = await remedy('labels', 'sync-label-studio', cycleId);
    expect(again.code).toBe(2);
    expect(again.out.split('\n').map((l) => l.replace(/^annotation \d+ /, ''))).toEqual([
      `(${a!.data.remedy_record_key}, ${labelOf(a!)}, ${ANN}): duplicate`,
      `(${b!.data.remedy_record_key}, ${labelOf(b!)}, ${BOB}): refused: label refused: reviewer "${BOB}" may not label for this model`,
      `(${b!.data.remedy_record_key}, ${labelOf(b!)}, ${ANN}): duplicate`,
      `cursor: ${synced.cursor} (next time: --since ${synced.cursor})`,
      '',
    ]);
    expect((await campaignAnswersByItem(stack.pool, campaignId)).map((r) => r.reviewer)).toEqual([ANN, ANN]);

    // Polling in a loop (what --watch runs): the last item answered, the campaign completes.
    const stop = new AbortController();
    const seen: AnnotationOutcome[] = [];
    const loop = pollLabelStudio(stack.h.client, admin, {
      projectId,
      since: synced.cursor,
      cycleId,
      intervalMs: 200,
      signal: stop.signal,
      onOutcome: (o) => seen.push(o),
    });
    const last = await annotate(ANN, c!.id, labelOf(c!));
    await until(
      () => Promise.resolve(seen.length),
      (n) => n > 0,
    );
    stop.abort();
    expect(await loop).toBe(last.id);
    expect(seen.map((o) => [o.recordKey, o.reviewer, o.result])).toEqual([
      [c!.data.remedy_record_key, ANN, 'labeled'],
    ]);
    const done = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.state !== 'open',
    );
    expect(done).toMatchObject({ state: 'complete', answered: 3 });
  });

  it('given a worker without the token, then the failure is recorded naming the variable, and the campaign stays open for the review page', async () => {
    const { cycleId } = await openCampaign('weather-ls-notoken', 2, {
      url: ls.url,
      tokenEnv: 'REMEDY_TEST_LABEL_STUDIO_UNSET',
    });
    const audit = await until(
      () => cycleAudit(stack.pool, cycleId),
      (rows) => rows.some((r) => r.action === 'labeling.label-studio-failed'),
    );
    expect(audit.find((r) => r.action === 'labeling.label-studio-failed')).toMatchObject({
      actor: 'remedy',
      details: {
        reason:
          "labeling.labelStudio: REMEDY_TEST_LABEL_STUDIO_UNSET is not set in the worker's environment: set it to a Label Studio API token (the policy names the variable, never the value)",
        url: ls.url,
      },
    });
    expect((await pendingLabels(stack.h.client, cycleId)).state).toBe('open');
  });
});
