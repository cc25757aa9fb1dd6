/**
 * Errors that tell the truth, and the audit check, as a person meets them at the terminal and on the
 * review page: a closed cycle says it is closed, with its outcome and when; an ID never started says so;
 * `remedy audit verify` passes a whole chain and exits 1 naming the event that was edited.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { atStage, waitForStatus } from '../../dev/reviewer.js';
import { abortCycle, startCycle, waitForCycle } from '../../ops/cycles.js';
import { startReviewServer } from '../../review/server.js';
import {
  cliRunner,
  freshDatabase,
  startTestWorkers,
  temporalHarness,
  type TemporalHarness,
} from '../helpers.js';

let pool: pg.Pool;
let h: TemporalHarness;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;
let closedCycle: string;

beforeAll(async () => {
  ({ pool } = await freshDatabase('cli_closed'));
  h = await temporalHarness('cli-closed');
  workers = await startTestWorkers(h, pool);
  // A cycle that reached labeling and was aborted: closed as "aborted", its campaign closed with it.
  await prepareWeatherModel(pool, 'weather-closed', DEMO_POLICY);
  ({ cycleId: closedCycle } = await startCycle(h.client, h, {
    modelId: 'weather-closed',
    window: SCENARIO.window,
  }));
  await waitForStatus(h.client, closedCycle, atStage('label'));
  await abortCycle(h.client, closedCycle);
  await waitForCycle(h.client, closedCycle).catch(() => undefined);
});
afterAll(async () => {
  await workers?.stop();
  await h?.close();
  await pool?.end();
});

const remedy = cliRunner(() => ({ client: h.client, queues: h, pool }));
const WHEN = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';

describe('commands on a closed cycle', () => {
  it('given an aborted cycle, when approving it, then the CLI says it is closed as aborted and when (exit 2)', async () => {
    const r = await remedy('approve', closedCycle, '--approver', 'dana');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`cycle ${closedCycle} is closed as aborted at ${WHEN}`));
    expect(r.err).not.toMatch(/no workflow/);
  });

  it('given an aborted cycle, when asking for its pending labels, then it says the campaign is closed and the cycle closed as aborted', async () => {
    const r = await remedy('pending', closedCycle);
    expect(`${r.out}${r.err}`).toMatch(
      new RegExp(
        `labeling campaign of cycle ${closedCycle} closed \\(\\w[\\w-]*\\) at ${WHEN}; the cycle is closed as aborted at ${WHEN}`,
      ),
    );
  });

  it('given an aborted cycle, when labeling an item, then it is refused as closed (exit 2)', async () => {
    const r = await remedy('label', closedCycle, 'any-record', 'sunny', '--reviewer', 'dana');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`labeling campaign of cycle ${closedCycle} closed .* at ${WHEN}`));
  });

  it('given an ID never started, when approving, labeling or listing its labels, then each says no such cycle was ever started', async () => {
    for (const argv of [
      ['approve', 'remediation-nosuch-9', '--approver', 'dana'],
      ['pending', 'remediation-nosuch-9'],
      ['label', 'remediation-nosuch-9', 'r1', 'sunny', '--reviewer', 'dana'],
    ]) {
      const r = await remedy(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain('no cycle "remediation-nosuch-9" was ever started');
    }
  });

  it('given the review page, then a closed campaign answers 410 with how and when it closed, and an unknown cycle 404', async () => {
    const review = await startReviewServer(h.client);
    try {
      const closed = await fetch(`${review.url}/review/${closedCycle}?reviewer=dana`);
      expect(closed.status).toBe(410);
      expect(await closed.text()).toMatch(new RegExp(`the cycle is closed as aborted at ${WHEN}`));
      const post = await fetch(`${review.url}/review/${closedCycle}/label?reviewer=dana`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ recordKey: 'any-record', label: 'sunny' }),
      });
      expect(post.status).toBe(410);
      expect(((await post.json()) as { error: string }).error).toMatch(/closed/);
      const unknown = await fetch(`${review.url}/review/remediation-nosuch-9?reviewer=dana`);
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).toContain('was ever started');
    } finally {
      await review.close();
    }
  });
});

describe('remedy audit verify', () => {
  it('given a whole chain, then it reports the events checked, ok and the head hash (exit 0)', async () => {
    const r = await remedy('audit', 'verify', 'weather-closed');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/audit chain of weather-closed: [1-9]\d* events checked/);
    expect(r.out).toContain('ok: every hash and link verifies');
    expect(r.out).toMatch(/head hash: [0-9a-f]{64}/);
    const j = await remedy('audit', 'verify', 'weather-closed', '--json');
    expect(JSON.parse(j.out)).toMatchObject({ modelId: 'weather-closed', ok: true, problems: [] });
  });

  it('given an event edited with the triggers off, then it names that event and exits 1', async () => {
    const client = await pool.connect();
    let edited: string;
    try {
      edited = (
        await client.query<{ event_id: string }>(
          "SELECT min(event_id) AS event_id FROM audit_events WHERE model_id = 'weather-closed'",
        )
      ).rows[0]!.event_id;
      await client.query('SET session_replication_role = replica');
      await client.query("UPDATE audit_events SET actor = 'mallory' WHERE event_id = $1", [edited]);
    } finally {
      await client.query('RESET session_replication_role');
      client.release();
    }
    const r = await remedy('audit', 'verify', 'weather-closed');
    expect(r.code).toBe(1);
    expect(r.out).toContain(`event #${edited}: its content does not match its hash: the event was edited`);
    expect(r.err).toMatch(/audit chain of weather-closed has 1 problem/);
    const j = await remedy('audit', 'verify', 'weather-closed', '--json');
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, problems: [{ eventId: Number(edited) }] });
  });

  it('given a model never registered, then it says so (exit 2)', async () => {
    const r = await remedy('audit', 'verify', 'no-such-model');
    expect(r.code).toBe(2);
    expect(r.err).toContain('model "no-such-model" is not registered');
  });
});
