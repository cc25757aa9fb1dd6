import { describe, expect, it } from 'vitest';
import type { FeatureDrift } from '../../core/drift.js';
import {
  binLabel,
  cycleReportHtml,
  cycleReportMarkdown,
  distributionSvg,
  humanDuration,
  type CycleReportInput,
} from '../../core/report.js';

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
