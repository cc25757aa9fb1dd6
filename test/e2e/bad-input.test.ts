/**
 * The bad-input matrix: wrong types, missing fields, huge payloads, unknown labels, wrong models, stale
 * campaigns, SQL-looking strings and path traversal, sent through every way in — Updates from any
 * client, the CLI, the review page, the gateway, policy files and the environment. Each case must be
 * refused with a message that says what is wrong; nothing crashes; a refused Update adds nothing to the
 * workflow's history; the database is unchanged. The matrix is printed with every refusal.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingLabels, startCycle, submitLabel } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { parseCodecKeys } from '../../codec/codec.js';
import { loadTemporalConfig } from '../../infra/config.js';
import { startReviewServer, type ReviewServer } from '../../review/server.js';
import {
  approveRolloutUpdate,
  decideCampaignUpdate,
  extendDeadlineUpdate,
  submitLabelUpdate,
} from '../../workflows/messages.js';
import * as db from '../../db/index.js';
import { cliRunner, until, useStack } from '../helpers.js';
import { fingerprint, historyLength, policyError, printMatrix, refusal } from './bad-input-shared.js';

const stack = useStack('badinput', { gateway: true });
let review: ReviewServer;
let cycleId: string;
let campaign: WorkflowHandle;
let cycle: WorkflowHandle;
let item: { recordKey: string };
let servedKey: string;
let dir: string;

const run = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));

/** A CLI case: it must be refused (exit 2); its message is what the matrix shows. */
async function cli(...argv: string[]): Promise<string> {
  const { code, out, err } = await run(...argv);
  if (code === 0) throw new Error(`remedy ${argv.join(' ')} was accepted: ${out}`);
  if (code !== 2) throw new Error(`remedy ${argv.join(' ')} exited ${code}, not 2 (a refusal): ${err}`);
  return err.trim();
}

async function http(url: string, init: RequestInit, expectStatus: number): Promise<string> {
  const res = await fetch(url, init);
  const body = await res.text();
  if (res.status !== expectStatus)
    throw new Error(`${url} answered ${res.status}, not ${expectStatus}: ${body}`);
  try {
    return (JSON.parse(body) as { error: string }).error;
  } catch {
    return /<p class="error">([^<]*)</.exec(body)?.[1] ?? body.slice(0, 120);
  }
}

const post = (body: unknown, raw = false): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: raw ? (body as string) : JSON.stringify(body),
});

beforeAll(async () => {
  await prepareWeatherModel(stack.pool, 'weather-bad', DEMO_POLICY);
  ({ cycleId } = await startCycle(stack.h.client, stack.h, {
    modelId: 'weather-bad',
    window: SCENARIO.window,
  }));
  const status = await until(
    () => pendingLabels(stack.h.client, cycleId),
    (s) => s.requested > 0,
  );
  item = status.pending[0]!;
  campaign = stack.h.client.workflow.getHandle(`${cycleId}-labeling`);
  cycle = stack.h.client.workflow.getHandle(cycleId);
  const { rows } = await stack.pool.query<{ record_key: string }>(
    "SELECT record_key FROM predictions WHERE model_id = 'weather-bad' ORDER BY prediction_id LIMIT 1",
  );
  servedKey = rows[0]!.record_key;
  review = await startReviewServer(stack.h.client);
  // Files for the ingest and registration cases.
  dir = await mkdtemp(path.join(tmpdir(), 'remedy-bad-'));
  const row = {
    record_key: 'bad-1',
    ts: '2015-03-01T00:00:00Z',
    location: 'Seattle',
    precipitation: 0,
    temp_max: 10,
    temp_min: 2,
    wind: 3,
    season_sin: 0.5,
    season_cos: 0.8,
  };
  await writeFile(
    path.join(dir, 'bad.ndjson'),
    [
      JSON.stringify(row),
      JSON.stringify({ ...row, record_key: 'bad-2', temp_max: 'NaN' }),
      JSON.stringify({ ...row, record_key: 'bad-3', ts: 'last tuesday' }),
      JSON.stringify({ ...row, record_key: 'bad-4', feedback: 'hail' }),
      JSON.stringify(row),
    ].join('\n'),
  );
  await writeFile(path.join(dir, 'not-json.json'), 'modelId: weather\n');
  await writeFile(
    path.join(dir, 'bad-policy.json'),
    JSON.stringify({
      modelId: 'weather-x',
      labelSet: ['rain', 'sun'],
      features: { numeric: ['wind'], categorical: [] },
      policy: { rollout: { steps: [50, 10] } },
    }),
  );
  // weather-bad registered again with another policy and an ONNX file that is not its champion's.
  const def = (await db.getModel(stack.pool, 'weather-bad'))!;
  const { modelId, labelSet, features, policy } = def;
  await writeFile(
    path.join(dir, 'weather-bad.json'),
    JSON.stringify({
      modelId,
      labelSet,
      features,
      policy: { ...policy, rollout: { ...policy.rollout, dwell: '9m' } },
    }),
  );
  const good = Array.from({ length: 12 }, (_, i) => ({ ...row, record_key: `ref-${i}`, label: 'rain' }));
  await writeFile(path.join(dir, 'reference.ndjson'), good.map((r) => JSON.stringify(r)).join('\n'));
  await writeFile(path.join(dir, 'other-model.onnx'), 'bytes that are not the champion');
});
afterAll(async () => {
  await review?.close();
});

type Case = [surface: string, name: string, run: () => Promise<string>, expected: RegExp];
const label = (args: Record<string, unknown>) =>
  campaign.executeUpdate(submitLabelUpdate, { args: [args as never] });
const ok = () => ({ recordKey: item.recordKey, label: 'rain', reviewer: 'scripted-reviewer' });

const cases: Case[] = [
  // Updates from any client (raw handles, no client-side checks): the workflow's validators decide.
  [
    'update',
    'label of the wrong type',
    () => refusal(label({ ...ok(), label: 42 })),
    /label refused: label: Invalid input: expected string/,
  ],
  [
    'update',
    'label without a recordKey',
    () => refusal(label({ label: 'rain', reviewer: 'scripted-reviewer' })),
    /label refused: recordKey:/,
  ],
  [
    'update',
    'label outside the label set',
    () => refusal(label({ ...ok(), label: 'hail' })),
    /label "hail" is not one of drizzle, fog, rain, snow, sun/,
  ],
  [
    'update',
    'item not in the campaign',
    () => refusal(label({ ...ok(), recordKey: 'seattle:1999-01-01' })),
    /recordKey "seattle:1999-01-01" is not an item of campaign/,
  ],
  [
    'update',
    'reviewer who may not label',
    () => refusal(label({ ...ok(), reviewer: 'mallory' })),
    /reviewer "mallory" may not label/,
  ],
  [
    'update',
    'huge label (100 kB)',
    () => refusal(label({ ...ok(), label: 'x'.repeat(100_000) })),
    /label refused: label: Too big/,
  ],
  [
    'update',
    'SQL-looking label',
    () => refusal(label({ ...ok(), label: "rain'; DROP TABLE labels; --" })),
    /is not one of drizzle/,
  ],
  ['update', 'null label', () => refusal(label({ ...ok(), label: null })), /label refused: label:/],
  ['update', 'unknown "via"', () => refusal(label({ ...ok(), via: 'fax' })), /label refused: via:/],
  [
    'update',
    'approval while not waiting for one',
    () =>
      refusal(
        cycle.executeUpdate(approveRolloutUpdate, {
          args: [{ approver: 'scripted-approver', approve: true }],
        }),
      ),
    /not waiting for approval \(stage label\)/,
  ],
  [
    'update',
    'approval without an approver',
    () => refusal(cycle.executeUpdate(approveRolloutUpdate, { args: [{ approve: true } as never] })),
    /approval refused: approver:/,
  ],
  [
    'update',
    'deadline extension by "tomorrow"',
    () => refusal(campaign.executeUpdate(extendDeadlineUpdate, { args: [{ actor: 'bob', by: 'tomorrow' }] })),
    /extension refused: by: must be a duration/,
  ],
  [
    'update',
    'deadline extension by a negative duration',
    () => refusal(campaign.executeUpdate(extendDeadlineUpdate, { args: [{ actor: 'bob', by: '-5h' }] })),
    /extension refused: by: must be a duration/,
  ],
  [
    'update',
    'decision on a campaign that is not parked',
    () =>
      refusal(
        campaign.executeUpdate(decideCampaignUpdate, { args: [{ actor: 'bob', decision: 'proceed' }] }),
      ),
    /is not parked \(it is open\)/,
  ],
  [
    'update',
    'unknown decision',
    () =>
      refusal(
        campaign.executeUpdate(decideCampaignUpdate, {
          args: [{ actor: 'bob', decision: 'maybe' } as never],
        }),
      ),
    /decision refused: decision:/,
  ],
  // The same through Remedy's client functions (stale or unknown campaigns).
  [
    'client',
    'label for a cycle that does not exist',
    () => refusal(submitLabel(stack.h.client, 'remediation-nope-1', ok())),
    /no cycle "remediation-nope-1" was ever started/,
  ],
  // The CLI.
  [
    'cli',
    'start with a date that is not one',
    () => cli('start', 'weather-bad', '--from', 'yesterday', '--to', '2015-01-01'),
    /"yesterday" is not a date: use YYYY-MM-DD/,
  ],
  [
    'cli',
    'start with a model ID that is not one',
    () => cli('start', "weather'; DROP TABLE cycles; --", '--from', '2013-01-01', '--to', '2014-01-01'),
    /modelId: use lowercase letters/,
  ],
  [
    'cli',
    'labels import of a path outside the project',
    () => cli('labels', 'import', cycleId, '../../../../etc/passwd', '--reviewer', 'scripted-reviewer'),
    /cannot read|not valid CSV|has no "recordKey" column/,
  ],
  [
    'cli',
    'labels import of a missing file',
    () => cli('labels', 'import', cycleId, '/nonexistent/answers.csv', '--reviewer', 'x'),
    /cannot read \/nonexistent\/answers\.csv: no such file/,
  ],
  [
    'cli',
    'ingest of a file with NaN, a bad date, an unknown label and a repeated key',
    () => cli('ingest', 'weather-bad', path.join(dir, 'bad.ndjson')),
    /4 of 5 rows refused; nothing was written[\s\S]*bad\.ndjson:2: temp_max "NaN" is not a finite number[\s\S]*bad\.ndjson:3: ts "last tuesday" is not a date[\s\S]*bad\.ndjson:4: feedback "hail" is not one of the model's labels[\s\S]*bad\.ndjson:5: record_key "bad-1" repeats line 1/,
  ],
  [
    'cli',
    'ingest of a path outside the project',
    () => cli('ingest', 'weather-bad', '../../../../etc/passwd'),
    /unknown file type "\(none\)"; use \.csv, \.ndjson, \.jsonl or \.parquet/,
  ],
  [
    'cli',
    'ingest into a model that does not exist',
    () => cli('ingest', 'weather-none', path.join(dir, 'bad.ndjson')),
    /no model "weather-none": register it first/,
  ],
  [
    'cli',
    'models register with a definition that is not JSON',
    () =>
      cli('models', 'register', path.join(dir, 'not-json.json'), '--reference', path.join(dir, 'bad.ndjson')),
    /not-json\.json is not JSON \(.*\): a definition is one JSON object/,
  ],
  [
    'cli',
    'models register with rollout steps that go down',
    () =>
      cli(
        'models',
        'register',
        path.join(dir, 'bad-policy.json'),
        '--reference',
        path.join(dir, 'bad.ndjson'),
      ),
    /bad-policy\.json is not a valid model definition: policy\.rollout\.steps: steps must increase and end at 100/,
  ],
  [
    'cli',
    'models register --artifact on a model that has a champion',
    () =>
      cli(
        'models',
        'register',
        path.join(dir, 'weather-bad.json'),
        '--artifact',
        path.join(dir, 'other-model.onnx'),
        '--reference',
        path.join(dir, 'reference.ndjson'),
      ),
    /weather-bad already has champion v1, and .*other-model\.onnx is a different model \(sha256 [0-9a-f]{12}, the champion's [0-9a-f]{12}\): registering again does not replace a champion, nothing was written\. Add the file as a candidate version with "remedy models add-version weather-bad .*other-model\.onnx", then evaluate and roll it out with "remedy start weather-bad --from <date> --to <date> --candidate <version>"/,
  ],
  [
    'cli',
    'drift with a missing reference',
    () => cli('drift', '--reference', '/nonexistent.csv', '--current', '/nonexistent.csv'),
    /cannot read \/nonexistent\.csv: no such file/,
  ],
  [
    'cli',
    'drift with an unknown test',
    () => cli('drift', '--reference', 'a.csv', '--current', 'b.csv', '--test', 'ttest'),
    /argument 'ttest' is invalid/,
  ],
  [
    'cli',
    'monitor with an interval that is not a duration',
    () => cli('monitor', 'create', 'weather-bad', '--every', 'often'),
    /every: must be a duration/,
  ],
  [
    'cli',
    'trigger without its kind',
    () => cli('triggers', 'create', 'weather-bad'),
    /required option '--kind <kind>' not specified/,
  ],
  [
    'cli',
    'failures with a limit of 0',
    () => cli('failures', 'list', 'weather-bad', '--limit', '0'),
    /"0" is not a number in 1\.\.1000/,
  ],
  [
    'cli',
    'extend a deadline by a word',
    () => cli('labels', 'extend', cycleId, '--by', 'soon', '--actor', 'bob'),
    /extension refused: by: must be a duration/,
  ],
  // The review page.
  [
    'review page',
    'answer without a reviewer',
    () =>
      http(`${review.url}/review/${cycleId}/label`, post({ recordKey: item.recordKey, label: 'rain' }), 401),
    /who is reviewing\?/,
  ],
  [
    'review page',
    'body that is not JSON',
    () =>
      http(`${review.url}/review/${cycleId}/label?reviewer=scripted-reviewer`, post('{not json', true), 400),
    /not valid JSON/,
  ],
  [
    'review page',
    'body over 16 kB',
    () =>
      http(
        `${review.url}/review/${cycleId}/label?reviewer=scripted-reviewer`,
        post('x'.repeat(20_000), true),
        413,
      ),
    /request body over 16384 bytes/,
  ],
  [
    'review page',
    'label outside the label set',
    () =>
      http(
        `${review.url}/review/${cycleId}/label?reviewer=scripted-reviewer`,
        post({ recordKey: item.recordKey, label: 'hail' }),
        422,
      ),
    /label "hail" is not one of/,
  ],
  [
    'review page',
    'script in the cycle ID',
    () => http(`${review.url}/review/%3Cscript%3E`, { method: 'GET' }, 404),
    /is not a cycle ID/,
  ],
  [
    'review page',
    'a malformed escape in the path',
    () => http(`${review.url}/review/%E0%A4%A`, { method: 'GET' }, 404),
    /is not a valid path segment/,
  ],
  [
    'review page',
    'a report of a path outside the reports',
    () => http(`${review.url}/reports/..%2F..%2Fetc%2Fpasswd`, { method: 'GET' }, 404),
    /is not a cycle ID/,
  ],
  [
    'review page',
    'reviewer name with markup',
    () => http(`${review.url}/review?reviewer=%3Cb%3E`, { method: 'GET' }, 400),
    /reviewer: use letters, digits/,
  ],
  // The serving gateway.
  [
    'gateway',
    'feature of the wrong type',
    () =>
      http(
        `${stack.gateway.url}/v1/models/weather-bad/predict`,
        post({
          features: {
            location: 'Seattle',
            precipitation: 'lots',
            temp_max: 1,
            temp_min: 1,
            wind: 1,
            season_sin: 0,
            season_cos: 1,
          },
        }),
        422,
      ),
    /features\.precipitation: expected a finite number/,
  ],
  [
    'gateway',
    'feature the model does not have',
    () =>
      http(
        `${stack.gateway.url}/v1/models/weather-bad/predict`,
        post({
          features: {
            location: 'Seattle',
            precipitation: 1,
            temp_max: 1,
            temp_min: 1,
            wind: 1,
            season_sin: 0,
            season_cos: 1,
            ssn: '123',
          },
        }),
        422,
      ),
    /features\.ssn: not a feature of this model/,
  ],
  [
    'gateway',
    'unknown model',
    () => http(`${stack.gateway.url}/v1/models/nope/predict`, post({ features: {} }), 404),
    /no model "nope": register it first/,
  ],
  [
    'gateway',
    'feedback with an unknown label',
    () =>
      http(
        `${stack.gateway.url}/v1/models/weather-bad/feedback`,
        post({ requestId: servedKey, label: 'hail' }),
        422,
      ),
    /label "hail" is not one of/,
  ],
  [
    'gateway',
    'correction that repeats the answer',
    async () => {
      const { rows } = await stack.pool.query<{ predicted: string }>(
        "SELECT predicted FROM predictions WHERE model_id = 'weather-bad' AND record_key = $1 ORDER BY prediction_id DESC LIMIT 1",
        [servedKey],
      );
      return http(
        `${stack.gateway.url}/v1/models/weather-bad/corrections`,
        post({ requestId: servedKey, label: rows[0]!.predicted }),
        422,
      );
    },
    /a correction needs another label/,
  ],
  [
    'gateway',
    'request body over 64 kB',
    () => http(`${stack.gateway.url}/v1/models/weather-bad/predict`, post('x'.repeat(70_000), true), 413),
    /request body over 65536 bytes/,
  ],
  // Policy files and the environment.
  [
    'policy',
    'unknown drift test',
    () => Promise.resolve(policyError({ drift: { features: { temp_max: { test: 'ttest' } } } })),
    /drift\.features\.temp_max\.test/,
  ],
  [
    'policy',
    'personal-data rule on a feature',
    () => Promise.resolve(policyError({ collection: { pii: { drop: ['location'] } } })),
    /"location" is a feature of the model/,
  ],
  [
    'policy',
    'rollout steps that do not end at 100',
    () => Promise.resolve(policyError({ rollout: { steps: [10, 50] } })),
    /steps must increase and end at 100/,
  ],
  [
    'policy',
    'a fixed rollout sample smaller than the minimum',
    () => Promise.resolve(policyError({ rollout: { minSamples: 30, stepSamples: 20 } })),
    /rollout\.stepSamples: rollout\.stepSamples must be at least rollout\.minSamples/,
  ],
  [
    'policy',
    'a fixed rollout sample on Prometheus counters',
    () =>
      Promise.resolve(
        policyError({
          rollout: {
            stepSamples: 40,
            metrics: {
              kind: 'prometheus',
              url: 'http://127.0.0.1:9090',
              queries: {
                requests: 'served{version="{{version}}"}',
                errors: 'wrong{version="{{version}}"}',
                latencyP95Ms: 'p95{version="{{version}}"}',
              },
            },
          },
        }),
      ),
    /^policy\.rollout\.stepSamples: rollout\.stepSamples needs the prediction log/,
  ],
  [
    'env',
    'Temporal address without a port',
    () => refusal(Promise.resolve().then(() => loadTemporalConfig({ TEMPORAL_ADDRESS: 'localhost' }))),
    /TEMPORAL_ADDRESS/,
  ],
  [
    'env',
    'encryption key of the wrong size',
    () => refusal(Promise.resolve().then(() => parseCodecKeys('k:c2hvcnQ='))),
    /it must be 32/,
  ],
];

describe('bad-input matrix', () => {
  const seen: [string, string, string][] = [];
  afterAll(() => printMatrix('bad-input matrix', seen));

  it('has at least 30 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('%s: %s is refused and changes nothing', async (surface, name, run, expected) => {
    const before = await fingerprint(stack.pool);
    const events = [await historyLength(campaign), await historyLength(cycle)];
    const message = await run();
    expect(message).toMatch(expected);
    expect(await fingerprint(stack.pool)).toEqual(before);
    expect([await historyLength(campaign), await historyLength(cycle)]).toEqual(events);
    seen.push([surface, name, message]);
  });

  it('after all of that, the campaign still takes a good answer', async () => {
    const r = await submitLabel(stack.h.client, cycleId, { ...ok(), label: 'rain' });
    expect(r).toMatchObject({ recordKey: item.recordKey, label: 'rain', duplicate: false });
  });
});
