/**
 * A mild drift on real data: what a fine-tune keeps and what it learns. The champion is trained on 2012
 * (Seattle + New York weather, 80 % of the days by record key; the other 20 % are the pre-drift holdout).
 * From April 2013 the source labels wet days differently (dev/weather.ts). Each quarter from 2013-Q2 to
 * 2015-Q2 is a drift window in which only a few days are labeled (a budget, chosen by record key); the
 * candidate is judged on the following quarter (all its days) and on the pre-drift holdout (forgetting).
 *
 * Compared, with the product's own code (core/training-scope.ts weights, activities/trainers.ts trainer):
 * the window's labels alone (the fine-tune before it kept the reference), and the reference plus the
 * window with recency weights at a few half-lives.
 */
import { fnv1a } from '../core/hash.js';
import { predict, type JsonArtifact } from '../core/model.js';
import { durationMs, type Policy } from '../core/schemas.js';
import { scopeTrainingRows, type TrainingSetSummary } from '../core/training-scope.js';
import { runTrainer } from '../activities/trainers.js';
import { weatherModel, type WeatherRow } from '../dev/weather.js';

const QUARTERS = [
  '2013-04',
  '2013-07',
  '2013-10',
  '2014-01',
  '2014-04',
  '2014-07',
  '2014-10',
  '2015-01',
  '2015-04',
];
const BUDGETS = [40, 120];
const HALF_LIVES = ['90d', '180d', '365d', '3650d'];

export interface FineTuneVariant {
  variant: string;
  /** Means over the windows. */
  nextQuarterAccuracy: number;
  preDriftAccuracy: number;
  windowWeightShare: number;
  trainRows: number;
}

export interface FineTuneResult {
  data: string;
  windows: string[];
  budgets: number[];
  preDriftHoldoutRows: number;
  byBudget: { labels: number; variants: FineTuneVariant[] }[];
  perWindow: { window: string; labels: number; variant: string; next: number; preDrift: number }[];
}

const quarterEnd = (start: string): string => {
  const [y, m] = start.split('-').map(Number) as [number, number];
  const end =
    m + 3 > 12 ? `${y + 1}-${String(m + 3 - 12).padStart(2, '0')}` : `${y}-${String(m + 3).padStart(2, '0')}`;
  return end;
};
const inMonths = (r: WeatherRow, start: string, end: string) =>
  r.date >= `${start}-01` && r.date < `${end}-01`;
const scoped = (r: WeatherRow) => ({ features: r.features, label: r.label, ts: new Date(r.ts) });

function accuracyOn(artifact: JsonArtifact, rows: readonly WeatherRow[]): number {
  return rows.filter((r) => predict(artifact, r.features).label === r.label).length / rows.length;
}

async function train(
  config: Policy['training'],
  rows: { features: WeatherRow['features']; label: string; weight: number }[],
): Promise<JsonArtifact> {
  const definition = weatherModel();
  const controller = new AbortController();
  const out = await runTrainer(definition.features, definition.labelSet, rows, config, {
    checkpoint: undefined,
    save: async () => {},
    heartbeat: () => {},
    cancelled: () => false,
    signal: controller.signal,
  });
  return out.artifact;
}

export async function fineTuneScenario(
  all: readonly WeatherRow[],
  log: (m: string) => void,
): Promise<FineTuneResult> {
  const config = weatherModel().policy.training;
  const y2012 = all.filter((r) => r.date.startsWith('2012'));
  const isHoldout = (r: WeatherRow) => fnv1a(`holdout:${r.recordKey}`) % 100 < 20;
  const reference = y2012.filter((r) => !isHoldout(r));
  const preDrift = y2012.filter(isHoldout);
  const champion = await train(
    config,
    reference.map((r) => ({ features: r.features, label: r.label, weight: 1 })),
  );
  const variants = [
    'champion (no retraining)',
    'window only (before)',
    ...HALF_LIVES.map((h) => `reference + window, half-life ${h}`),
  ];
  const perWindow: FineTuneResult['perWindow'] = [];
  const shares = new Map<string, number[]>();
  const sizes = new Map<string, number[]>();
  for (const labels of BUDGETS) {
    for (const start of QUARTERS) {
      const end = quarterEnd(start);
      const windowRows = all
        .filter((r) => inMonths(r, start, end))
        .sort(
          (a, b) =>
            fnv1a(`label:${a.recordKey}`) - fnv1a(`label:${b.recordKey}`) ||
            a.recordKey.localeCompare(b.recordKey),
        )
        .slice(0, labels);
      const next = all.filter((r) => inMonths(r, end, quarterEnd(end)));
      const scored = (
        variant: string,
        artifact: JsonArtifact,
        summary: TrainingSetSummary | null,
        n: number,
      ) => {
        perWindow.push({
          window: start,
          labels,
          variant,
          next: accuracyOn(artifact, next),
          preDrift: accuracyOn(artifact, preDrift),
        });
        const key = `${labels}:${variant}`;
        shares.set(key, [...(shares.get(key) ?? []), summary?.windowWeightShare ?? 0]);
        sizes.set(key, [...(sizes.get(key) ?? []), n]);
      };
      scored(variants[0]!, champion, null, reference.length);
      const scratch = scopeTrainingRows({
        severity: 'mild',
        window: windowRows.map(scoped),
        history: [],
        driftedWeight: config.driftedWeight,
        halfLife: { ms: durationMs(config.recencyHalfLife), text: config.recencyHalfLife },
      });
      scored(variants[1]!, await train(config, scratch.rows), scratch.summary, scratch.rows.length);
      for (const [i, h] of HALF_LIVES.entries()) {
        const kept = scopeTrainingRows({
          severity: 'mild',
          window: windowRows.map(scoped),
          history: reference.map(scoped),
          driftedWeight: config.driftedWeight,
          halfLife: { ms: durationMs(h), text: h },
        });
        scored(variants[2 + i]!, await train(config, kept.rows), kept.summary, kept.rows.length);
      }
      log(`fine-tune: window ${start} with ${labels} labels done`);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    data: 'champion fit on 2012 (80 % by key); windows: quarters 2013-Q2 … 2015-Q2, a few labels each; judged on the next quarter and the 2012 holdout',
    windows: QUARTERS,
    budgets: BUDGETS,
    preDriftHoldoutRows: preDrift.length,
    byBudget: BUDGETS.map((labels) => ({
      labels,
      variants: variants.map((variant) => {
        const rows = perWindow.filter((p) => p.labels === labels && p.variant === variant);
        return {
          variant,
          nextQuarterAccuracy: mean(rows.map((p) => p.next)),
          preDriftAccuracy: mean(rows.map((p) => p.preDrift)),
          windowWeightShare: mean(shares.get(`${labels}:${variant}`) ?? [0]),
          trainRows: mean(sizes.get(`${labels}:${variant}`) ?? [0]),
        };
      }),
    })),
    perWindow,
  };
}

/** The scenario's lines for the benchmark's printout. */
export function fineTuneLines(r: FineTuneResult): string[] {
  const width = Math.max(...r.byBudget[0]!.variants.map((v) => v.variant.length));
  return [
    `Mild drift on weather: ${r.data}`,
    ...r.byBudget.flatMap((b) => [
      `  ${b.labels} labels per window (means over ${r.windows.length} windows)`,
      `    ${'candidate'.padEnd(width)}  next quarter  pre-drift  rows   window weight`,
      ...b.variants.map(
        (v) =>
          `    ${v.variant.padEnd(width)}  ${(v.nextQuarterAccuracy * 100).toFixed(2).padStart(11)}%  ${(v.preDriftAccuracy * 100).toFixed(2).padStart(8)}%  ${v.trainRows.toFixed(0).padStart(5)}  ${(v.windowWeightShare * 100).toFixed(0).padStart(5)} %`,
      ),
    ]),
  ];
}
