import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FeatureDrift } from '../../core/drift.js';
import {
  binLabel,
  cycleReportHtml,
  cycleReportMarkdown,
  distributionSvg,
  humanDuration,
  type CycleReportInput,
  type ReportStage,
} from '../../core/report.js';
import { compactText, stageBlocks } from '../../core/report-stages.js';
import { trainedNote } from '../../core/cycle-notes.js';
import { analyzeRegressionStep } from '../../core/regression-rollout.js';
import { Policy } from '../../core/schemas.js';

const feature = (over: Partial<FeatureDrift> = {}): FeatureDrift => ({
  feature: 'temp_max',
  type: 'numeric',
  test: 'wasserstein',
  statistic: 0.31,
  pValue: null,
  adjustedPValue: null,
  threshold: 0.1,
  thresholdSource: 'default',
  drifted: true,
  psi: 0.42,
  score: 3.1,
  region: [],
  distribution: [
    { kind: 'range', from: null, to: 5, referenceShare: 0.5, currentShare: 0.1 },
    { kind: 'range', from: 5, to: 12.25, referenceShare: 0.3, currentShare: 0.3 },
    { kind: 'range', from: 12.25, to: null, referenceShare: 0.2, currentShare: 0.6 },
  ],
  ksStatistic: null,
  ksPValue: null,
  ...over,
});

function input(over: Partial<CycleReportInput> = {}): CycleReportInput {
  return {
    generatedAt: '2026-01-02T00:00:00.000Z',
    cycle: {
      cycleId: 'remediation-m-1',
      modelId: 'm',
      window: { start: '2013-04-01T00:00:00Z', end: '2014-01-01T00:00:00Z' },
      stage: 'label',
      outcome: null,
      reason: null,
      severity: 'severe',
      trigger: 'drift',
      championVersion: 1,
      candidateVersion: null,
      stages: [
        { stage: 'confirm', startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:00:00.250Z' },
        { stage: 'label', startedAt: '2026-01-01T00:00:00.250Z', summary: { requested: 40 } },
      ],
    },
    drift: null,
    labeling: null,
    card: null,
    rollout: [],
    audit: [],
    ...over,
  };
}

describe('cycle report', () => {
  it('given durations from milliseconds to days, then each reads at a glance', () => {
    expect(humanDuration(250)).toBe('250 ms');
    expect(humanDuration(12_400)).toBe('12.4 s');
    expect(humanDuration(200_000)).toBe('3 min 20 s');
    expect(humanDuration(2 * 3600_000 + 5 * 60_000)).toBe('2 h 05 min');
    expect(humanDuration(3 * 86_400_000 + 4 * 3600_000)).toBe('3 d 4 h');
    expect(humanDuration(-1)).toBe('—');
  });

  it('given bins and categories, then their labels name the range', () => {
    expect(binLabel({ kind: 'range', from: null, to: 4.2, referenceShare: 0, currentShare: 0 })).toBe(
      '< 4.2',
    );
    expect(binLabel({ kind: 'range', from: 4.2, to: 7.91234, referenceShare: 0, currentShare: 0 })).toBe(
      '4.2 – 7.91',
    );
    expect(binLabel({ kind: 'range', from: 12, to: null, referenceShare: 0, currentShare: 0 })).toBe('≥ 12');
    expect(binLabel({ kind: 'category', value: 'seattle', referenceShare: 0, currentShare: 0 })).toBe(
      'seattle',
    );
  });

  it('given a feature, then its chart has a reference and a window bar per bin, taller where the share is larger', () => {
    const svg = distributionSvg(feature()).markup;
    expect(svg.match(/class="ref"/g)).toHaveLength(3);
    expect(svg.match(/class="cur"/g)).toHaveLength(3);
    const heights = [
      ...svg.matchAll(/class="cur" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g),
    ].map((m) => Number(m[1]));
    expect(heights[2]).toBeGreaterThan(heights[1]!);
    expect(heights[1]).toBeGreaterThan(heights[0]!);
    expect(svg).toContain('≥ 12.3: reference 20.0%, window 60.0%');
  });

  it('given data holding markup, then the page shows it as text and runs no script', () => {
    const page = cycleReportHtml(
      input({
        cycle: { ...input().cycle, trigger: '<script>alert(1)</script>' },
        drift: {
          reportId: 1,
          referenceVersion: 1,
          window: { start: 'a', end: 'b' },
          report: {
            windowRows: 10,
            referenceRows: 10,
            features: [feature({ feature: '<img src=x onerror=alert(1)>' })],
            skipped: [],
            driftedShare: 1,
            datasetDrifted: true,
            correction: 'none',
            thresholds: 'fixed',
            dataQuality: { issues: [] } as never,
            labelShiftPsi: null,
            performance: { labeledRows: 0, currentAccuracy: null, baselineAccuracy: 0.7 } as never,
          },
        },
      }),
    );
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('given a running cycle, then the report says so and its open stage runs to the report time', () => {
    const md = cycleReportMarkdown(input());
    expect(md).toContain('| Outcome | running (label) |');
    expect(md).toMatch(/\| label \| 2026-01-01T00:00:00.250Z \| 23 h 59 min \(running\) \| requested: 40 \|/);
    expect(md).toContain('This cycle asked no one for labels.');
    const html = cycleReportHtml(input());
    expect(html.match(/class="stage-bar"/g)).toHaveLength(2);
    expect(html).toContain('250 ms');
  });
});

/** The stage notes of the README walkthrough's cycle, as its recorded history closed it (real numbers). */
function walkthroughStages(): ReportStage[] {
  const history = JSON.parse(readFileSync('test/histories/remediation-weather-walk-1.json', 'utf8')) as {
    events: {
      activityTaskScheduledEventAttributes?: {
        activityType: { name: string };
        input: { payloads: { data: string }[] };
      };
    }[];
  };
  const close = history.events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'closeCycle',
  )!.activityTaskScheduledEventAttributes!;
  const input = JSON.parse(Buffer.from(close.input.payloads[0]!.data, 'base64').toString()) as {
    summary: { stages: ReportStage[] };
  };
  return input.summary.stages;
}

const visible = (html: string): string =>
  html
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"');

describe('stage notes in the report', () => {
  it('given the walkthrough cycle notes (written before notes named their tests), then no stage shows JSON and the numbers read in tables', () => {
    const stages = walkthroughStages();
    const report = input({
      cycle: { ...input().cycle, stage: 'closed', outcome: 'promoted', policyVersion: 3, stages },
    });
    const markdown = cycleReportMarkdown(report);
    const html = cycleReportHtml(report);
    for (const shown of [markdown, visible(html)]) {
      expect(shown).not.toContain('{"');
      expect(shown).not.toContain('[{');
    }
    // confirm: the top features with the KS p-value the old note kept.
    expect(markdown).toContain('| season\\_sin | ks | — | 1.04e-33 | — | 3.788 |');
    expect(markdown).toContain('Measured accuracy 43.3% on 60 labeled rows against the baseline 70.3%.');
    // diagnose, retrain, evaluate, rollout.
    expect(markdown).toContain('Severity severe, route full-cycle, on performance, features, label-shift.');
    expect(markdown).toContain('| season\\_cos | ks | 0.500 | 23.46 | 3.811 |');
    expect(markdown).toContain(
      'Candidate v2 trained by forest on 230 rows (159 rows from the history before the window), from scratch; training accuracy 85.2%.',
    );
    expect(markdown).toContain('| search | maxDepth 6, minSamplesLeaf 4, validationAccuracy 0.6818 |');
    expect(markdown).toContain('| Accuracy | 63.2% | 42.1% | +21.1 pts |');
    expect(markdown).toContain('| min-gain | pass | 0.2105 | 0.02 |');
    expect(markdown).toContain('| 1 | 10% | pass | 63.9% (n=36) | 40.9% (n=325) | +23.0 pts |');
    expect(markdown).toContain('| Policy | v3 (as when the cycle started) |');
    // The HTML puts the same tables in the timeline's cells.
    expect(html).toMatch(/<tr data-stage="rollout">[\s\S]*<caption>Rollout steps<\/caption>/);
  });

  it('given fields the report does not know, then they show as "name value" text', () => {
    expect(compactText({ gain: { low: 0.012, high: 0.2 }, method: 'bootstrap', ok: true })).toBe(
      'gain (low 0.012, high 0.2), method bootstrap, ok yes',
    );
    expect(compactText([{ a: 1 }, { a: 2 }])).toBe('(a 1); (a 2)');
    expect(compactText([])).toBe('none');
    const blocks = stageBlocks({ intervals: { accuracy: [0.1, 0.3] }, approver: 'carol', approved: false });
    expect(blocks).toEqual([
      { kind: 'line', text: 'Denied by carol.' },
      {
        kind: 'table',
        caption: 'Other details',
        head: ['Detail', 'Value'],
        rows: [['intervals', 'accuracy 0.1, 0.3']],
        numeric: [],
      },
    ]);
  });

  it('given a drift report whose performance was estimated, then the report says CBPE and names the reference', () => {
    const report = cycleReportMarkdown(
      input({
        drift: {
          reportId: 1,
          referenceVersion: 1,
          window: { start: '2013-12-01T00:00:00Z', end: '2014-01-01T00:00:00Z' },
          report: {
            windowRows: 62,
            referenceRows: 540,
            features: [feature()],
            skipped: [],
            driftedShare: 1,
            datasetDrifted: true,
            correction: 'none',
            thresholds: 'fixed',
            dataQuality: { incident: false, issues: [] },
            labelShiftPsi: null,
            performance: {
              metric: 'accuracy',
              labeledRows: 0,
              baseline: 0.703,
              current: null,
              drop: null,
              judged: false,
              degraded: false,
              metrics: {},
              baselineAccuracy: 0.703,
              currentAccuracy: null,
              basis: 'estimated',
              estimate: {
                method: 'cbpe',
                metric: 'accuracy',
                accuracy: { estimate: 0.618, band: [0.444, 0.792] },
                macroF1: { estimate: 0.3, band: [0.2, 0.4] },
                rows: 62,
                windowRows: 62,
                calibrationRows: 192,
                calibrationSource: 'the holdout',
                baseline: 0.703,
                drop: 0.085,
              },
            },
          },
        },
        reference: {
          version: 1,
          rows: 540,
          span: {
            start: '2012-01-01T00:00:00.000Z',
            end: '2012-12-31T00:00:00.001Z',
            rule: "the registration's reference data",
          },
          baselineAccuracy: 0.703,
        },
      }),
    );
    expect(report).toContain(
      '**Performance:** Estimated accuracy 61.8% (CBPE, no labels) vs baseline 70.3%, band 44.4%–79.2% on 62 rows.',
    );
    expect(report).toContain(
      "**Reference:** v1's reference: 2012-01-01 to 2012-12-31 (the registration's reference data), 540 rows; baseline accuracy 70.3%",
    );
  });
});

describe('cycle report of a regressor’s rollout', () => {
  it('given a failed step of a regressor, then each arm shows its MAE and the reason its Welch test', () => {
    const arm = (errors: number[]) => ({
      pairs: errors.map((e, i) => ({ predicted: 20 + i + e, actual: 20 + i })),
      p95LatencyMs: 3,
    });
    const worse = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 6 : -5) + i / 10);
    const better = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 1 : -2) + i / 20);
    const analysis = analyzeRegressionStep(arm(worse), arm(better), Policy.parse({}).rollout);
    expect(analysis.decision).toBe('fail');
    const step = {
      stepIndex: 0,
      attempt: 0,
      weight: 10,
      decision: 'fail',
      decidedAt: '2026-01-01T00:00:01.000Z',
      analysis,
    };
    const html = cycleReportHtml(input({ rollout: [step] }));
    expect(html).toContain(`MAE ${analysis.candidate.mae!.toPrecision(3)} (n=20)`);
    expect(html).toContain(`MAE ${analysis.champion.mae!.toPrecision(3)} (n=20)`);
    expect(cycleReportMarkdown(input({ rollout: [step] }))).toMatch(/Welch p=\S+: significantly worse/);
  });
});

describe("a regressor's retrain line", () => {
  it('given a regression candidate (no accuracy, its training MAE in the details), then the line gives the MAE', () => {
    const note = trainedNote({
      version: 2,
      trainer: 'forest-regressor',
      trainRows: 140,
      historyRows: 0,
      resumedFrom: 0,
      trainAccuracy: NaN,
      artifactSha256: 'a'.repeat(64),
      configHash: 'b'.repeat(64),
      details: { trainMae: 1.0512 },
      trainErrors: { mae: 1.0512 },
    });
    const lines = stageBlocks(note).flatMap((b) => (b.kind === 'line' ? [b.text] : []));
    expect(lines[0]).toMatch(
      /^Candidate v2 trained by forest-regressor on 140 rows .*; training MAE 1\.051\.$/,
    );
    expect(lines.join(' ')).not.toMatch(/accuracy/i);
  });
});
