/**
 * The stable control: NannyML 0.13.1's ACS employment split for Massachusetts (real census rows; the
 * wheel is downloaded from PyPI once with `pip download nannyml==0.13.1 --no-deps`). The champion is
 * trained on the 2015 reference split; the stream is the 2016 analysis split with its targets. The rows
 * carry no timestamps: they are spread evenly over 2016 in file order, the order NannyML chunks them in.
 * Nothing shifts that a retrained model would fix, so every cycle counts as a false alarm.
 */
import path from 'node:path';
import { ModelDefinition } from '../core/schemas.js';
import { hasFeedback } from '../dev/weather.js';
import { dataDir } from '../infra/paths.js';
import type { Dataset } from './efficacy-data.js';
import {
  CATEGORICAL,
  employmentFiles,
  labelOf,
  NUMERIC,
  readParquet,
  toFeatures,
} from './employment-data.js';

/** Reference rows the champion trains on (every k-th of 68,785), and the stream's share of 208,892. */
const REFERENCE_ROWS = 6000;
const STREAM_EVERY = { quick: 20, full: 5 };

export async function employmentDataset(quick: boolean): Promise<Dataset> {
  const files = await employmentFiles(path.join(dataDir(), 'bench', 'nannyml'));
  const ref = await readParquet(files.reference);
  const refEvery = Math.max(1, Math.floor(ref.length / REFERENCE_ROWS));
  const reference = ref
    .filter((_, i) => i % refEvery === 0)
    .map((r, i) => ({
      recordKey: `ref-${i}`,
      // Spread over 2015: the reference's span, before the stream.
      ts: new Date(Date.parse('2015-01-01T00:00:00Z') + i * 5_000_000).toISOString(),
      features: toFeatures(r),
      label: labelOf(r.employed),
    }));
  const truth = new Map((await readParquet(files.target)).map((t) => [Number(t.id), labelOf(t.employed)]));
  const every = quick ? STREAM_EVERY.quick : STREAM_EVERY.full;
  const analysis = (await readParquet(files.analysis)).filter((_, i) => i % every === 0);
  const start = Date.parse('2016-01-01T00:00:00Z');
  const span = 12 * 30 * 86_400_000;
  const stream = analysis.map((r, i) => {
    const recordKey = `acs-${Number(r.id)}`;
    const label = truth.get(Number(r.id));
    if (label === undefined) throw new Error(`${files.target} has no target for id ${String(r.id)}`);
    return {
      recordKey,
      ts: new Date(start + Math.floor(((i + 0.5) * span) / analysis.length)).toISOString(),
      features: toFeatures(r),
      label,
      feedback: hasFeedback(recordKey),
    };
  });
  return {
    name: 'employment',
    description: `NannyML 0.13.1 ACS employment, Massachusetts (${reference.length} reference rows of 2015; every ${every}th of the 208,892 rows of 2016, spread over the year in file order): a stable control`,
    reference,
    stream,
    start: new Date(start).toISOString(),
    windowDays: 30,
    windows: 12,
    shiftOnset: null,
    model: (modelId, policy) =>
      ModelDefinition.parse({
        modelId,
        labelSet: ['employed', 'not-employed'],
        features: { numeric: NUMERIC, categorical: CATEGORICAL },
        policy,
      }),
  };
}
