/**
 * Runs the efficacy benchmark on a running system (the bench harness's, or a test's): every policy of a
 * dataset on its own model ID over the same stream, side by side, then the summaries, the targets and
 * the files of the report (Markdown, SVG chart, JSON) in the out dir.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DATASETS,
  isRegressionDataset,
  POLICY_NAMES,
  unitOf,
  type Dataset,
  type PolicyName,
} from './efficacy-data.js';
import {
  checkRegressionTargets,
  maeChart,
  regressionTable,
  summarizeRegression,
} from './efficacy-regression.js';
import type { ReviewerSettings } from './efficacy-cycle.js';
import { labelFreeRefusal } from './efficacy-label-free.js';
import { sklearnLines, sklearnReference, type SklearnReference } from './efficacy-sklearn.js';
import { replayPolicy, type ReplayEnv, type ReplayResult } from './efficacy-replay.js';
import {
  accuracyChart,
  checkTargets,
  markdownTable,
  summarize,
  type PolicySummary,
  type TargetCheck,
} from './efficacy-report.js';

export interface EfficacyOptions {
  datasets: string[];
  quick: boolean;
  reviewer: ReviewerSettings;
  /** Model IDs are `<prefix>-<dataset>-<policy>`: distinct per run on a shared database. */
  prefix: string;
  outDir: string;
  machine: Record<string, unknown>;
  log: (msg: string) => void;
  /** Adds the `label-free` policy: Remedy's default with no feedback (classifiers only). */
  labelFree?: boolean;
  /** A fifth policy, `custom`: these policy sections on top of the shared ones (monitored like the default). */
  custom?: Record<string, unknown>;
}

export interface DatasetRun {
  dataset: Dataset;
  results: ReplayResult[];
  summaries: PolicySummary[];
  targets: TargetCheck[];
  table: string;
  chartFile: string;
  /** A regression dataset's scikit-learn reference on the same windows (or why it was skipped). */
  sklearn?: SklearnReference;
}

export function parseDatasets(raw: string): string[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(n in DATASETS));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(
      `--dataset ${raw}: ${unknown.length ? `unknown dataset ${unknown.join(', ')}` : 'none named'}; choose from ${Object.keys(DATASETS).join(', ')}`,
    );
  return names;
}

/** The summaries, targets, table and chart of a dataset: on accuracy, or on MAE for a regression. */
function score(
  d: Dataset,
  results: ReplayResult[],
): { summaries: PolicySummary[]; targets: TargetCheck[]; table: string; chart: string } {
  if (isRegressionDataset(d)) {
    const summaries = results.map((r) => summarizeRegression(d, r));
    return {
      summaries,
      targets: checkRegressionTargets(d, summaries, results),
      table: regressionTable(summaries, d),
      chart: maeChart(d, summaries),
    };
  }
  const summaries = results.map((r) => summarize(d, r));
  return {
    summaries,
    targets: checkTargets(d, summaries, results),
    table: markdownTable(summaries, d),
    chart: accuracyChart(d, summaries),
  };
}

export async function runEfficacy(env: ReplayEnv, o: EfficacyOptions): Promise<DatasetRun[]> {
  const refused = o.labelFree ? labelFreeRefusal(o.datasets) : null;
  if (refused) throw new Error(refused);
  await mkdir(o.outDir, { recursive: true });
  const runs: DatasetRun[] = [];
  for (const name of o.datasets) {
    const dataset = await DATASETS[name]!(o.quick);
    o.log(
      `${name}: ${dataset.stream.length} stream rows, ${dataset.windows} windows of ${dataset.windowDays} days`,
    );
    // The policies run side by side (each on its own model): most of a cycle's time is waiting.
    const policies: PolicyName[] = [
      ...POLICY_NAMES,
      ...(o.labelFree ? (['label-free'] as const) : []),
      ...(o.custom ? (['custom'] as const) : []),
    ];
    const results = await Promise.all(
      policies.map((policy) =>
        replayPolicy(env, dataset, policy, {
          modelId: `${o.prefix}-${name}-${policy}`,
          quick: o.quick,
          reviewer: o.reviewer,
          log: o.log,
          ...(o.custom ? { custom: o.custom } : {}),
        }),
      ),
    );
    const scored = score(dataset, results);
    const { summaries, targets, table } = scored;
    const chartFile = path.join(o.outDir, `efficacy-${name}.svg`);
    await writeFile(chartFile, scored.chart);
    const sklearn = isRegressionDataset(dataset)
      ? await sklearnReference(
          dataset,
          results.find((r) => r.policy === 'remedy-default'),
        )
      : undefined;
    runs.push({ dataset, results, summaries, targets, table, chartFile, ...(sklearn ? { sklearn } : {}) });
  }
  await writeFile(path.join(o.outDir, 'efficacy.md'), reportMarkdown(runs, o));
  await writeFile(
    path.join(o.outDir, 'efficacy.json'),
    `${JSON.stringify(
      {
        benchmark: 'efficacy',
        machine: o.machine,
        quick: o.quick,
        reviewer: o.reviewer,
        custom: o.custom ?? null,
        ...(o.labelFree ? { labelFree: true } : {}),
        datasets: runs.map((r) => ({
          dataset: r.dataset.name,
          summaries: r.summaries,
          targets: r.targets,
          ...(r.sklearn ? { sklearn: r.sklearn } : {}),
          results: r.results,
        })),
      },
      null,
      2,
    )}\n`,
  );
  return runs;
}

export function targetLines(targets: TargetCheck[]): string[] {
  return targets.map(
    (t) => `- ${t.met ? 'met' : 'MISSED'}: ${t.target}: ${t.detail}${t.why ? `. Why: ${t.why}` : ''}`,
  );
}

function reportMarkdown(runs: DatasetRun[], o: EfficacyOptions): string {
  const m = o.machine;
  const lines = [
    `# Efficacy (${o.quick ? 'quick' : 'full'} run)`,
    '',
    `${String(m.date)}, ${String(m.cpus)} × ${String(m.cpuModel)}, ${String(m.memoryGiB)} GiB, Node ${String(m.node)}. ` +
      `Reviewer: ${o.reviewer.delayMs} ms per answer, ${(o.reviewer.errorRate * 100).toFixed(0)} % wrong answers.`,
  ];
  for (const r of runs) {
    lines.push(
      '',
      `## ${r.dataset.name}`,
      '',
      r.dataset.description,
      `${r.dataset.windows} windows of ${r.dataset.windowDays} days from ${r.dataset.start.slice(0, 10)}; ` +
        `${r.summaries[0]?.records ?? 0} records per policy` +
        (r.dataset.shiftOnset
          ? `; shift onset ${r.dataset.shiftOnset.slice(0, 10)}.`
          : '; a stable control.'),
      '',
      r.table,
      '',
      `![prequential ${isRegressionDataset(r.dataset) ? 'MAE' : 'accuracy'} per window](${path.basename(r.chartFile)})`,
      '',
      ...targetLines(r.targets),
      ...(r.sklearn ? ['', ...sklearnLines(r.sklearn, unitOf(r.dataset).short)] : []),
    );
  }
  return lines.join('\n') + '\n';
}
