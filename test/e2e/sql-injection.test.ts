/**
 * SQL injection sweep: hostile strings through every text input a person or a client controls — the
 * gateway's path, request IDs, routing keys, categorical features, feedback and corrections; the CLI's
 * model IDs, cycle IDs and filters; ingested files; label imports; the review page's reviewer and item;
 * Updates from a raw client. Where an input is accepted it is stored exactly as sent (it is data, never
 * SQL); where it is refused the refusal says why. Afterwards every table is still there and nothing else
 * changed. test/repo/sql-params.test.ts checks statically that every query text is parameterised.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { escapeIdentifier } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingLabels, startCycle, submitLabel } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { startReviewServer, type ReviewServer } from '../../review/server.js';
import { cliRunner, until, useStack } from '../helpers.js';

const HOSTILE = [
  "'; DROP TABLE records; --",
  '" OR "1"="1',
  "1'; TRUNCATE labels, predictions; --",
  "x') OR ('a'='a",
  '$1',
  "\\'; DELETE FROM models; --",
  'Robert\u2019); DROP TABLE cycles;--',
];
const MODEL = 'weather-inject';

const stack = useStack('inject', { gateway: true });
let review: ReviewServer;
let dir: string;

beforeAll(async () => {
  review = await startReviewServer(stack.h.client, { pool: stack.pool });
  dir = await mkdtemp(path.join(tmpdir(), 'remedy-inject-'));
});
afterAll(async () => {
  await review?.close();
});

const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));

async function tables(): Promise<string[]> {
  const { rows } = await stack.pool.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  return rows.map((r) => r.tablename);
}

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of await tables()) {
    const { rows } = await stack.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${escapeIdentifier(t)}`,
    );
    out[t] = Number(rows[0]!.n);
  }
  return out;
}

const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('SQL injection sweep', () => {
  it('given hostile strings in every text input, then each is stored as sent or refused, and no table is harmed', async () => {
    const prepared = await prepareWeatherModel(stack.pool, MODEL, {
      ...DEMO_POLICY,
      labeling: { budget: 3, minLabels: 3, deadline: '24h', reviewers: ['alice'] },
    });
    const { cycleId } = await startCycle(stack.h.client, stack.h, {
      modelId: MODEL,
      window: SCENARIO.window,
    });
    const pending = await until(
      () => pendingLabels(stack.h.client, cycleId),
      (s) => s.requested === 3,
    );
    const before = await counts();
    const beforeTables = await tables();
    const features = prepared.rows[0]!.features;
    const gw = (model: string, what: string) =>
      `${stack.gateway.url}/v1/models/${encodeURIComponent(model)}/${what}`;
    let served = 0;
    const log: string[] = [];

    for (const [i, bad] of HOSTILE.entries()) {
      // Gateway: a hostile model in the path is an unknown model.
      const wrongModel = await post(gw(bad, 'predict'), { features });
      expect(wrongModel.status, bad).toBeGreaterThanOrEqual(400);
      expect(wrongModel.status).toBeLessThan(500);
      // Request ID, routing key and a category: data, served and stored as sent.
      const requestId = `${bad}#${i}`;
      const ok = await post(gw(MODEL, 'predict'), {
        requestId,
        routingKey: bad,
        features: { ...features, location: bad },
      });
      expect(ok.status, bad).toBe(200);
      expect(ok.body.requestId).toBe(requestId);
      served++;
      await stack.gateway.log.flush(); // prediction rows are written in batches
      const stored = await stack.pool.query<{ location: string }>(
        "SELECT features->>'location' AS location FROM records WHERE model_id = $1 AND record_key = $2",
        [MODEL, requestId],
      );
      expect(stored.rows).toEqual([{ location: bad }]);
      // Feedback with a hostile label is refused (not a label of the model); an unknown request is too.
      const badLabel = await post(gw(MODEL, 'feedback'), { requestId, label: bad });
      expect(badLabel.status).toBe(422);
      expect(String(badLabel.body.error)).toContain('is not one of');
      const unknown = await post(gw(MODEL, 'corrections'), {
        requestId: `${bad}-unknown`,
        label: 'rain',
        by: bad,
      });
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.status).toBeLessThan(500);

      // CLI reads: a hostile model or cycle is simply not found; filters match nothing.
      expect((await remedy('models', 'show', bad)).err).toMatch(/no model/);
      expect((await remedy('failures', 'list', bad)).out).toBe('no cases\n');
      expect((await remedy('failures', 'patterns', bad)).out).toBe(`no failure cases for ${bad}\n`);
      expect((await remedy('monitor', 'checks', bad)).code).toBe(0);
      expect((await remedy('list', '--model', bad)).out).toBe('no cycles\n');
      expect((await remedy('report', bad)).err).toMatch(/is not a cycle ID/);
      expect((await remedy('card', bad, '1')).err).toMatch(/no model card/);
      // CLI writes: a hostile model ID is refused by the schema before anything runs.
      expect((await remedy('start', bad, '--from', '2013-01-01', '--to', '2014-01-01')).err).toMatch(
        /modelId: use lowercase letters/,
      );

      // Labels: a hostile item or reviewer is refused by the campaign; the review page says so too.
      await expect(
        submitLabel(stack.h.client, cycleId, { recordKey: bad, label: 'rain', reviewer: 'alice' }),
      ).rejects.toThrow(/is not an item of campaign/);
      await expect(
        submitLabel(stack.h.client, cycleId, {
          recordKey: pending.pending[0]!.recordKey,
          label: 'rain',
          reviewer: bad,
        }),
      ).rejects.toThrow(/may not label|reviewer/);
      const page = await post(`${review.url}/review/${cycleId}/label?reviewer=alice`, {
        recordKey: bad,
        label: 'rain',
      });
      expect(page.status).toBe(422);
      const reviewer = await post(
        `${review.url}/review/${cycleId}/label?reviewer=${encodeURIComponent(bad)}`,
        {
          recordKey: pending.pending[0]!.recordKey,
          label: 'rain',
        },
      );
      expect(reviewer.status).toBe(400);
      const report = await fetch(`${review.url}/reports/${encodeURIComponent(bad)}`);
      expect(report.status).toBe(404);
      log.push(
        `${JSON.stringify(bad)}: gateway stored it as data; CLI, Updates and pages refused or found nothing`,
      );
    }

    // Files: a label import naming hostile items is refused line by line; an ingest stores hostile keys as data.
    const answers = path.join(dir, 'answers.csv');
    await writeFile(
      answers,
      ['recordKey,label', ...HOSTILE.map((b) => `"${b.replace(/"/g, '""')}",rain`)].join('\n'),
    );
    const imported = await remedy('labels', 'import', cycleId, answers, '--reviewer', 'alice');
    expect(imported.code).toBe(2);
    expect(imported.out).toContain(`0 labeled, 0 already labeled, ${HOSTILE.length} refused`);
    const log2 = path.join(dir, 'hostile.ndjson');
    const row = prepared.rows.find((r) => r.ts >= SCENARIO.window.end)!;
    await writeFile(
      log2,
      HOSTILE.map((b, i) =>
        JSON.stringify({ record_key: `${b}@${i}`, ts: row.ts, ...row.features, location: b, feedback: null }),
      ).join('\n'),
    );
    const ingested = await remedy('ingest', MODEL, log2);
    expect(ingested.code).toBe(0);
    expect(ingested.out).toContain(`${HOSTILE.length} rows added`);
    for (const [i, b] of HOSTILE.entries()) {
      const { rows } = await stack.pool.query<{ location: string }>(
        "SELECT features->>'location' AS location FROM records WHERE model_id = $1 AND record_key = $2",
        [MODEL, `${b}@${i}`],
      );
      expect(rows).toEqual([{ location: b }]);
    }

    // Every table is still there; only the accepted rows were added.
    expect(await tables()).toEqual(beforeTables);
    const after = await counts();
    const changed = Object.keys(after).filter((t) => after[t] !== before[t]);
    expect(changed.sort()).toEqual(
      changed
        .filter((t) => ['records', 'predictions', 'failure_cases', 'failure_patterns'].includes(t))
        .sort(),
    );
    expect(after.records! - before.records!).toBe(served + HOSTILE.length);
    expect(after.models).toBe(before.models);
    expect(after.labels).toBe(before.labels);
    expect(after.cycles).toBe(before.cycles);
    console.log(`SQL injection sweep: ${HOSTILE.length} hostile strings\n  ${log.join('\n  ')}`);
    await stack.h.client.workflow.getHandle(cycleId).cancel();
  });
});
