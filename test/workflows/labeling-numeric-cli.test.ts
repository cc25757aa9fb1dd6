/**
 * A regression model's cycle asks for numbers: `openCycle` gives the cycle the range numeric answers
 * must fall in (the model's target, else the champion's reference target widened by the policy's range
 * margin; a classifier's cycle gets none), and a campaign started with it, as the cycle starts it, takes
 * numeric answers from `remedy label` and `remedy labels import`, refusing bad ones with the field named.
 * Real data: the champion is the forest regressor on vega-datasets' 1970–74 cars; the items are 1980s cars.
 */
import { describe, expect, it } from 'vitest';
import * as db from '../../db/index.js';
import { withTransaction } from '../../db/pool.js';
import { createCycleActivities } from '../../activities/cycle.js';
import { labelingInputOf } from '../../core/cycle-notes.js';
import { LabelingSettings } from '../../core/labeling-settings.js';
import { ModelDefinition } from '../../core/schemas.js';
import { CAR_FEATURES, labeledCars } from '../../dev/cars.js';
import { prepareWeatherModel } from '../../dev/scenario.js';
import { registerRegressionModel } from '../../ops/register-regression.js';
import { labelingWorkflowId } from '../../workflows/cycle.js';
import { labelingStatusQuery } from '../../workflows/messages.js';
import { cliRunner, until, useStack } from '../helpers.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const stack = useStack('numcli');
const remedy = cliRunner(() => ({ client: stack.h.client, queues: stack.h, pool: stack.pool }));
const cars = labeledCars();
const window = { start: '1980-01-01T00:00:00.000Z', end: '1983-01-01T00:00:00.000Z' };

describe('numeric answers in a regression model’s cycle', () => {
  it('given a classifier, then its cycle context has no numeric range', async () => {
    const prepared = await prepareWeatherModel(stack.pool, 'numcli-weather');
    const ctx = await createCycleActivities({ pool: stack.pool }).openCycle({
      cycleId: 'numcli-weather-1',
      modelId: prepared.modelId,
      window,
      trigger: 'manual',
    });
    expect(Object.keys(ctx).sort()).toEqual(['championVersion', 'labelSet', 'policy']);
  });

  it('given a regression model, then the cycle asks for numbers in its range, and the CLI and CSV import answer with them', async () => {
    const def = ModelDefinition.parse({
      modelId: 'numcli-mpg',
      task: 'regression',
      target: { min: 0 },
      features: CAR_FEATURES,
    });
    await registerRegressionModel(
      stack.pool,
      def,
      cars
        .filter((c) => c.year <= 1974)
        .map((c) => ({
          recordKey: c.recordKey,
          ts: `${c.year}-01-01T00:00:00.000Z`,
          features: c.features,
          label: String(c.value),
        })),
    );
    const cycleId = 'numcli-mpg-1';
    const ctx = await createCycleActivities({ pool: stack.pool }).openCycle({
      cycleId,
      modelId: def.modelId,
      window,
      trigger: 'manual',
    });
    // The low end is the model's target; the high end the reference's highest, widened by half its span.
    const target = (await db.getReferenceProfile(stack.pool, def.modelId, 1))!.target!;
    const high = target.max + (target.max - target.min) * def.policy.drift.dataQuality.rangeMargin;
    expect(ctx.numeric).toEqual({ min: 0, minFrom: 'target', max: high, maxFrom: 'reference' });

    // The campaign as the cycle starts it, on six 1980s cars.
    const items = cars.filter((c) => c.year >= 1980).slice(0, 6);
    const { datasetId } = await withTransaction(stack.pool, (client) =>
      db.insertDatasetVersion(client, {
        modelId: def.modelId,
        idempotencyKey: `${cycleId}:collected`,
        parentId: null,
        kind: 'collected',
        cycleId,
        windowStart: window.start,
        windowEnd: window.end,
        samplingPlan: { test: 'numeric answers from the CLI' },
        contentHash: 'numcli-6',
        rows: items.map((c) => ({
          recordKey: c.recordKey,
          ts: `${c.year}-01-01T00:00:00.000Z`,
          features: c.features,
          label: null,
          labelSource: null,
          split: 'train' as const,
        })),
      }),
    );
    const campaignId = labelingWorkflowId(cycleId);
    const settings = LabelingSettings.parse({ budget: 6, minLabels: 6, deadline: '24h' });
    const handle = await stack.h.client.workflow.start('labelingCampaign', {
      workflowId: campaignId,
      taskQueue: stack.h.taskQueue,
      args: [
        labelingInputOf(
          {
            campaignId,
            cycleId,
            modelId: def.modelId,
            datasetId,
            championVersion: ctx.championVersion,
            labelSet: ctx.labelSet,
            ...(ctx.numeric ? { numeric: ctx.numeric } : {}),
          },
          settings,
        ),
      ],
    });
    try {
      await until(
        () => handle.query(labelingStatusQuery),
        (s) => s.pending.length === 6,
      );
      const pending = await remedy('pending', cycleId);
      expect(pending.code).toBe(0);
      expect(pending.out).toContain(`0/6 answered`);
      expect(pending.out).toContain(`answers: a number from 0 to ${high}`);
      // Each item's guess is the champion's predicted miles per gallon, with no class confidence.
      expect(pending.out).toMatch(new RegExp(`${items[0]!.recordKey}\\tguess=\\d+(\\.\\d+)?\\t\\{`));

      const [a, b, c, d] = items.map((x) => x.recordKey);
      const labeled = await remedy('label', cycleId, a!, '31.50', '--reviewer', 'rita');
      expect(labeled).toEqual({ code: 0, out: `labeled ${a} = 31.5; 5 remaining\n`, err: '' });
      const text = await remedy('label', cycleId, b!, 'fast', '--reviewer', 'rita');
      expect(text.code).toBe(2);
      expect(text.err).toContain('label: "fast" is not a number; answer with a number such as 23.5');

      const dir = await mkdtemp(path.join(tmpdir(), 'remedy-numcli-'));
      const file = path.join(dir, 'answers.csv');
      await writeFile(file, `recordKey,label\n${b},27.40\n${c},n/a\n${d},${Math.ceil(high) + 1}\n`);
      const imported = await remedy('labels', 'import', cycleId, file, '--reviewer', 'rita');
      expect(imported.code).toBe(2);
      expect(imported.out).toContain('1 labeled, 0 already labeled, 2 refused');
      expect(imported.out).toContain(`line 3 (${c}): `);
      expect(imported.out).toContain('label: "n/a" is not a number');
      expect(imported.out).toContain(
        `label: ${Math.ceil(high) + 1} is above the highest value a label may take, ${high}`,
      );
      const stored = await db.campaignLabels(stack.pool, campaignId);
      expect(new Map(stored.map((l) => [l.record_key, l.label]))).toEqual(
        new Map([
          [a, '31.5'],
          [b, '27.4'],
        ]),
      );
    } finally {
      await handle.terminate('test over');
    }
  });
});
