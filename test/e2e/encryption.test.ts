/**
 * Payload encryption end to end: with keys configured, the history Temporal stores (read with the
 * official `temporal` CLI, no codec) holds no plaintext features, labels or failure messages; the codec
 * server gives them back to whoever may read them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AesGcmCodec, dataConverterFor } from '../../codec/codec.js';
import { startCodecServer } from '../../codec/server.js';
import { pendingLabels, startCycle, submitLabel, waitForCycle } from '../../ops/cycles.js';
import { DEMO_POLICY, prepareWeatherModel, SCENARIO } from '../../dev/scenario.js';
import { resolveTemporalCli } from '../../infra/temporal-install.js';
import { freshDatabase, startTestWorkers, temporalHarness, until, type TemporalHarness } from '../helpers.js';

const keys = [{ id: 'test-key', key: randomBytes(32) }];
const dataConverter = dataConverterFor(keys)!;
let pool: pg.Pool;
let h: TemporalHarness;
let client: Client;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;

beforeAll(async () => {
  ({ pool } = await freshDatabase('enc'));
  h = await temporalHarness('enc');
  client = new Client({ connection: h.connection, dataConverter });
  workers = await startTestWorkers(h, pool, { dataConverter });
});
afterAll(async () => {
  await workers?.stop();
  await h?.close();
  await pool?.end();
});

async function historyJson(workflowId: string): Promise<string> {
  const cli = (await resolveTemporalCli({ install: false }))!.path;
  const { stdout } = await promisify(execFile)(
    cli,
    ['workflow', 'show', '-w', workflowId, '--address', inject('temporalAddress'), '--output', 'json'],
    { maxBuffer: 64 << 20 },
  );
  return stdout;
}

/** Every payload's data in a history, decoded from base64 (what anyone reading the store would see). */
function payloadTexts(history: string): string[] {
  const out: string[] = [];
  JSON.parse(history, (key, value: unknown) => {
    if (key === 'data' && typeof value === 'string')
      out.push(Buffer.from(value, 'base64').toString('latin1'));
    return value;
  });
  return out;
}

describe('payload encryption', () => {
  it('given keys, then the stored history shows no plaintext, and the codec server reads it', async () => {
    const prepared = await prepareWeatherModel(pool, 'weather-enc', DEMO_POLICY);
    const truth = new Map(prepared.rows.map((r) => [r.recordKey, r.label]));
    const { cycleId } = await startCycle(client, h, { modelId: 'weather-enc', window: SCENARIO.window });
    const status = await until(
      () => pendingLabels(client, cycleId),
      (s) => s.requested > 0,
    );
    const item = status.pending[0]!;
    // The worker and this client share the keys: queries and updates work as usual.
    expect(item.features.location).toMatch(/Seattle|New York/);
    await submitLabel(client, cycleId, {
      recordKey: item.recordKey,
      label: truth.get(item.recordKey)!,
      reviewer: 'scripted-reviewer',
    });

    const labeling = await historyJson(`${cycleId}-labeling`);
    const cycle = await historyJson(cycleId);
    for (const history of [labeling, cycle]) {
      expect(history).toContain(Buffer.from('binary/encrypted').toString('base64'));
      const texts = payloadTexts(history).join('\n');
      // Search attributes (ModelId, stage, outcome) stay readable by design: Temporal filters on them.
      for (const secret of ['Seattle', 'New York', 'scripted-reviewer', item.recordKey, '"modelId"'])
        expect(texts, `"${secret}" must not be readable in the stored history`).not.toContain(secret);
    }

    // The codec server decodes a payload of that history for a person who may read it.
    const server = await startCodecServer(new AesGcmCodec(keys), { token: 't0ken' });
    try {
      const started = (
        JSON.parse(labeling) as {
          events: { workflowExecutionStartedEventAttributes?: { input: { payloads: unknown[] } } }[];
        }
      ).events.find((e) => e.workflowExecutionStartedEventAttributes)!
        .workflowExecutionStartedEventAttributes!.input;
      const res = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer t0ken' },
        body: JSON.stringify(started),
      });
      const decoded = (await res.json()) as { payloads: { data: string }[] };
      expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString('utf8')).toContain(
        '"modelId":"weather-enc"',
      );
    } finally {
      await server.close();
    }
    await client.workflow.getHandle(cycleId).cancel();
  });

  it('given a failure, then its message is encrypted too', async () => {
    const { cycleId } = await startCycle(client, h, { modelId: 'nope-enc', window: SCENARIO.window });
    await expect(waitForCycle(client, cycleId)).rejects.toThrow();
    const history = await historyJson(cycleId);
    expect(history).not.toContain('is not registered');
    expect(payloadTexts(history).join('\n')).not.toContain('is not registered');
    expect(history).toContain('Encoded failure');
  });
});
