/**
 * Each file is named <workflowId>.json or <workflowId>@<runId>.json (the official CLI's
 * `workflow show --output json`).
 * Replay safety: every committed history must replay against today's workflow code, and a history
 * whose recorded steps differ from the code must fail, proving the check can fail at all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { temporal } from '@temporalio/proto';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import * as workflows from '../workflows/index.js';
import { workflowSpanSinks } from '../workers/workers.js';

const EventType = temporal.api.enums.v1.EventType;
const dir = path.join(import.meta.dirname, 'histories');
const histories = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: readFileSync(path.join(dir, file), 'utf8') }))
  .map(({ file, json }) => ({ file, json, history: historyFromJSON(JSON.parse(json)) }));
/** The workflow types the worker registers: the async functions workflows/index.ts exports. */
const workflowTypes = Object.entries(workflows)
  .filter(([, fn]) => fn.constructor.name === 'AsyncFunction')
  .map(([name]) => name);
const typeOf = (h: (typeof histories)[number]) =>
  h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
const options = () => ({
  workflowBundle: { codePath: inject('workflowBundlePath') },
  sinks: workflowSpanSinks(null),
});

describe('replay of committed histories', () => {
  it('given the committed histories, then there is at least one completed cycle among them', () => {
    expect(histories.map((h) => h.file)).toContain('remediation-weather-full-1.json');
  });

  it('given the committed histories, then a labeling campaign run that continued as new, and the run that continued it, are among them', () => {
    const last = (h: (typeof histories)[number]) => h.history.events?.at(-1)?.eventType;
    const continued = histories.filter(
      (h) =>
        typeOf(h) === 'labelingCampaign' &&
        last(h) === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    );
    expect(continued.length).toBeGreaterThan(0);
    const carried = histories.filter(
      (h) =>
        typeOf(h) === 'labelingCampaign' &&
        h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId,
    );
    expect(carried.length).toBeGreaterThan(0);
  });

  it('given the workflow types the worker registers, then each has at least one committed history', () => {
    expect(workflowTypes).toEqual(
      expect.arrayContaining(['remediationCycle', 'labelingCampaign', 'stagedRollout', 'driftCheck']),
    );
    const recorded = new Set(histories.map(typeOf));
    expect(workflowTypes.filter((t) => !recorded.has(t))).toEqual([]);
  });

  it.each(histories.map((h) => [h.file, h.history] as const))(
    'given %s, when replayed with the current code, then it replays',
    async (file, history) => {
      await expect(
        // <workflowId>.json or <workflowId>@<runId>.json
        Worker.runReplayHistory(options(), history, file.replace(/\.json$/, '').split('@')[0]),
      ).resolves.toBeUndefined();
    },
  );

  it('given a history whose first activity differs from the code, when replayed, then it fails as non-deterministic', async () => {
    const original = histories.find((h) => h.file === 'remediation-weather-full-1.json')!;
    const json = JSON.parse(original.json) as {
      events: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[];
    };
    const scheduled = json.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'someOtherActivity';
    await expect(
      Worker.runReplayHistory(options(), historyFromJSON(json), 'remediation-weather-full-1'),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
