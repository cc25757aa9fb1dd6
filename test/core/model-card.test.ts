import { describe, it, expect } from 'vitest';
import { pairedBootstrap } from '../../core/bootstrap.js';
import { evaluationGates, type CalibrationBin, type ModelMetrics } from '../../core/evaluation.js';
import { calibrationSvg, modelCardHtml } from '../../core/model-card-html.js';
import { modelCardMarkdown, type ModelCardInput } from '../../core/model-card.js';

const MALICIOUS = '<script>alert(1)</script>';

const bin = (lower: number, count: number, meanConfidence: number, acc: number): CalibrationBin => ({
  lower,
  upper: lower + 0.1,
  count,
  meanConfidence,
  accuracy: acc,
});

const metrics = (overrides: Partial<ModelMetrics>): ModelMetrics => ({
  rows: 400,
  accuracy: 0.7,
  macroF1: 0.68,
  macroAuc: 0.81,
  logLoss: 0.65,
  ece: 0.03,
  calibration: [],
  p95LatencyMs: 0.02,
  ...overrides,
});

function cardInput(): ModelCardInput {
  const candidate = {
    overall: metrics({
      accuracy: 0.75,
      macroF1: 0.74,
      macroAuc: 0.86,
      logLoss: 0.58,
      ece: 0.081,
      calibration: [bin(0.4, 100, 0.45, 0.5), bin(0.6, 150, 0.66, 0.7), bin(0.9, 150, 0.95, 0.9)],
    }),
    slices: {
      Boston: metrics({ rows: 200, accuracy: 0.8 }),
      [MALICIOUS]: metrics({ rows: 200, accuracy: 0.61 }),
    },
  };
  const champion = {
    overall: metrics({ calibration: [bin(0.5, 200, 0.55, 0.6), bin(0.7, 200, 0.77, 0.8)] }),
    slices: {
      Boston: metrics({ rows: 200, accuracy: 0.71 }),
      [MALICIOUS]: metrics({ rows: 200, accuracy: 0.7 }),
    },
  };
  return {
    modelId: 'loan-risk',
    candidateVersion: 4,
    championVersion: 3,
    cycleId: 'cycle-42',
    createdAt: '2024-06-01T12:00:00Z',
    trainer: {
      name: 'softmax-regression',
      config: { lr: 0.05, epochs: 40, note: MALICIOUS },
      configHash: 'cfg0123abcd',
      codeVersion: '821ec82',
      artifactSha256: 'a1b2c3d4e5f6',
    },
    data: {
      datasetId: 17,
      contentHash: 'sha256:feedbeef',
      trainRows: 3600,
      holdoutRows: 400,
      labelSources: { human: 3100, heuristic: 900 },
      window: { start: '2024-05-01', end: '2024-05-31' },
      parentDatasetId: 12,
    },
    candidate,
    champion,
    gates: evaluationGates(candidate, champion, {
      minGain: 0.02,
      maxSliceDrop: 0.05,
      maxEce: 0.05,
      maxLatencyMs: 5,
      minSliceRows: 30,
    }),
    lineage: { driftReportId: 88, campaignId: 'camp-9' },
  };
}

describe('modelCardMarkdown', () => {
  const markdown = modelCardMarkdown(cardInput());

  it('given a candidate card, when rendered as Markdown, then every section appears in order', () => {
    const headings = markdown.split('\n').filter((line) => line.startsWith('#'));
    expect(headings).toEqual([
      '# Model card: loan-risk v4',
      '## Data',
      '## Training',
      '## Metrics vs champion',
      '## Backtest on the reference',
      '## Slices',
      '## Calibration',
      '## Gates',
      '## Lineage',
    ]);
    expect(markdown).toContain('Cycle cycle-42 · created 2024-06-01T12:00:00Z · candidate v4 vs champion v3');
  });

  it('given the data and trainer, when rendered as Markdown, then hashes, rows, sources and config appear', () => {
    expect(markdown).toContain('| Content hash | `sha256:feedbeef` |');
    expect(markdown).toContain('| Rows | 3600 train, 400 holdout |');
    expect(markdown).toContain('| Label sources | heuristic 900, human 3100 |');
    expect(markdown).toContain('| Window | 2024-05-01 → 2024-05-31 |');
    expect(markdown).toContain('| Parent dataset | #12 |');
    expect(markdown).toContain('| Artifact SHA-256 | `a1b2c3d4e5f6` |');
    // config keys are sorted, the order the config hash is computed over
    expect(markdown).toContain('```json\n{\n  "epochs": 40,\n  "lr": 0.05,');
  });

  it('given a fine-tune on the reference plus the window, when rendered, then both formats state the rows and their weights', () => {
    const input = cardInput();
    input.trainer.trainingSet = {
      scope: 'window+reference',
      windowRows: 40,
      windowWeight: 2,
      referenceRows: 579,
      referenceWeight: { min: 0.3981, mean: 0.5728, max: 0.7935 },
      halfLife: '365d',
      windowWeightShare: 0.1943,
    };
    const sentence =
      "40 rows of the window weighing 2 each, plus all 579 rows of the champion's training data weighted by recency (half-life 365d: 0.40 for the oldest to 0.79 for the newest, mean 0.57); the window carries 19 % of the total weight.";
    expect(modelCardMarkdown(input)).toContain(`| Training set | ${sentence} |`);
    expect(modelCardHtml(input)).toContain(
      `<dt>Training set</dt><dd>${sentence.replace(/'/g, '&#39;')}</dd>`,
    );
    // A card from before the training set was recorded has no such row.
    expect(markdown).not.toContain('Training set');
  });

  it('given candidate and champion metrics, when rendered as Markdown, then each metric has both values and a signed delta', () => {
    expect(markdown).toContain('| Accuracy | 75.0% | 70.0% | +5.0 pts |');
    expect(markdown).toContain('| Macro F1 | 0.740 | 0.680 | +0.060 |');
    expect(markdown).toContain('| Macro AUC (OvR) | 0.860 | 0.810 | +0.050 |');
    expect(markdown).toContain('| Log-loss | 0.580 | 0.650 | −0.070 |');
    expect(markdown).toContain('| ECE | 0.081 | 0.030 | +0.051 |');
    expect(markdown).toContain('| p95 latency | 0.02 ms | 0.02 ms | 0.00 ms |');
  });

  it('given slices and calibration bins, when rendered as Markdown, then each slice and each bin has a row', () => {
    expect(markdown).toContain('| Boston | 200 | 80.0% | 71.0% | +9.0 pts | 0.680 | 0.030 |');
    expect(markdown).toContain('| 0.4–0.5 | 100 | 0.450 | 0.500 | — | — | — |');
    expect(markdown).toContain('| 0.5–0.6 | — | — | — | 200 | 0.550 | 0.600 |');
    expect(markdown.match(/^\| 0\.\d–(0\.\d|1\.0) \|/gm)).toHaveLength(5);
  });

  it('given passing and failing gates, when rendered as Markdown, then each gate has its mark, measure and limit', () => {
    expect(markdown).toContain('| min-gain | ✅ pass | 5.0 pts | ≥ 2.0 pts |');
    expect(markdown).toMatch(/\| slice-drop \| ❌ fail \| 9\.0 pts \| ≤ 5\.0 pts \|/);
    expect(markdown).toContain('| calibration | ❌ fail | 0.081 | ≤ 0.050 | ECE 0.081 > 0.050 |');
    expect(markdown).toContain('| latency | ✅ pass | 0.02 ms | ≤ 5.00 ms | p95 0.02 ms ≤ 5.00 ms |');
    expect(markdown).toContain('**Decision: NO-GO** ❌ — failed slice-drop:');
  });

  it('given lineage ids, when rendered as Markdown, then the chain runs drift report → dataset → campaign → version', () => {
    expect(markdown).toContain(
      'drift report #88 → dataset #17 (from #12) → labeling campaign camp-9 → loan-risk v4',
    );
  });

  it('given a malicious slice name, when rendered as Markdown, then it is escaped and cannot open a tag', () => {
    // the only literal copy is the config value inside the JSON code fence, where Markdown shows it as code
    const [beforeFence, fenced, afterFence] = markdown.split(/^```.*$/m);
    expect(fenced).toContain(`"note": "${MALICIOUS}"`);
    expect(beforeFence + afterFence!).not.toContain(MALICIOUS);
    expect(markdown).toContain('| \\<script>alert(1)\\</script> | 200 | 61.0% | 70.0% | −9.0 pts |');
  });

  it('given a slice name with a pipe and no lineage, when rendered as Markdown, then the table holds and nulls read plainly', () => {
    const input = cardInput();
    input.candidate.slices = { 'a|b': metrics({}) };
    input.champion.slices = {};
    input.lineage = { driftReportId: null, campaignId: null };
    input.candidate.overall.macroAuc = null;
    const md = modelCardMarkdown(input);
    expect(md).toContain('| a\\|b | 400 | 70.0% | — | — |');
    expect(md).toContain('| Macro AUC (OvR) | — | 0.810 | — |');
    expect(md).toContain('no drift report → dataset #17 (from #12) → no labeling campaign → loan-risk v4');
  });
});

describe('modelCardHtml', () => {
  const page = modelCardHtml(cardInput());

  it('given a malicious slice name and config value, when rendered as HTML, then no script tag survives', () => {
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain('<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>');
    // the config value is escaped inside <pre>, JSON quotes included
    expect(page).toContain('&quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
  });

  it('given a card, when rendered as HTML, then the page is self-contained with every section', () => {
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain('<meta charset="utf-8">');
    expect(page).toContain('<style>');
    expect(page).not.toMatch(/<link|\ssrc=|@import|url\(/);
    for (const heading of [
      'Data',
      'Training',
      'Metrics vs champion',
      'Slices',
      'Calibration',
      'Gates',
      'Lineage',
    ]) {
      expect(page).toContain(`<h2>${heading}</h2>`);
    }
    expect(page).toContain('<svg');
  });

  it('given a failing gate, when rendered as HTML, then the decision says NO-GO and each gate has a mark', () => {
    expect(page).toContain('<span class="word">NO-GO</span>');
    expect(page.match(/class="pill pass"/g)).toHaveLength(2);
    expect(page.match(/class="pill fail"/g)).toHaveLength(2);
  });

  it('given deltas, when rendered as HTML, then they are coloured by whether the change is an improvement', () => {
    // lower log-loss is better; higher ECE is worse
    expect(page).toContain('<td class="num better">−0.070</td>');
    expect(page).toContain('<td class="num worse">+0.051</td>');
    expect(page).toContain('<td class="num same">0.00 ms</td>');
  });
});

describe('a recalibration candidate', () => {
  it('given the remedy sentence, when the card is rendered, then both forms show it beside the trainer, escaped', () => {
    const input = cardInput();
    const remedy = `recalibration of v1 (vector scaling: temperature 1.05, biases a +0.48, b −0.97): champion AUC 0.778 on 493 new labels vs 0.771 on 384 reference rows ${MALICIOUS}`;
    input.trainer = { ...input.trainer, name: 'recalibration', remedy };
    const md = modelCardMarkdown(input);
    expect(md).toMatch(
      /\| Trainer \| recalibration \|\n\| Remedy \| recalibration of v1 \(vector scaling: temperature 1\.05/,
    );
    const html = modelCardHtml(input);
    expect(html).toContain('<dt>Remedy</dt><dd>recalibration of v1 (vector scaling: temperature 1.05');
    expect(html).not.toMatch(/<script/i);
  });
});

describe('calibrationSvg', () => {
  const candidate = [bin(0.4, 100, 0.45, 0.5), bin(0.6, 150, 0.66, 0.7), bin(0.9, 150, 0.95, 0.9)];
  const champion = [bin(0.5, 200, 0.55, 0.6)];
  const svg = calibrationSvg(candidate, champion);

  it('given non-empty bins, when the diagram is drawn, then there is one point per bin and model', () => {
    expect(svg.match(/class="point candidate"/g)).toHaveLength(3);
    expect(svg.match(/class="point champion"/g)).toHaveLength(1);
    // a single point has no line to draw
    expect(svg.match(/<polyline/g)).toHaveLength(1);
  });

  it('given the default size, when the diagram is drawn, then it is a labelled square with the diagonal', () => {
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="320" height="320"/);
    expect(svg).toContain('>confidence</text>');
    expect(svg).toContain('>accuracy</text>');
    expect(svg).toContain('stroke-dasharray="4 3"/>');
  });

  it('given a bin, when the diagram is drawn, then its point sits at (confidence, accuracy) in plot coordinates', () => {
    // plot spans x 46..308 and y 30..278 at size 320: (0.45, 0.5) -> (163.9, 154)
    expect(svg).toContain('cx="163.9" cy="154"');
    expect(svg).toContain('<title>candidate 0.4–0.5: 100 rows, confidence 0.450, accuracy 0.500</title>');
  });

  it('given no bins, when the diagram is drawn, then it draws the empty axes', () => {
    const empty = calibrationSvg([], [], 200);
    expect(empty).toContain('width="200" height="200"');
    expect(empty).not.toContain('class="point');
  });
});

describe('a card with intervals and a backtest', () => {
  // Paired rows: the candidate is right on 34 of 40, the champion on 30 (both right on 28).
  const truth = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'yes' : 'no'));
  const p = (label: string, right: boolean) =>
    right
      ? { [label]: 0.8, [label === 'yes' ? 'no' : 'yes']: 0.2 }
      : { [label]: 0.3, [label === 'yes' ? 'no' : 'yes']: 0.7 };
  const candidateRows = truth.map((t, i) => p(t, i >= 6));
  const championRows = truth.map((t, i) => p(t, i < 2 || i >= 12));
  const difference = pairedBootstrap(truth, candidateRows, championRows, {
    resamples: 2000,
    confidence: 0.9,
    seed: 5,
  });
  const backtestDifference = pairedBootstrap(truth, championRows, candidateRows, {
    resamples: 2000,
    confidence: 0.9,
    seed: 5,
  });
  const base = cardInput();
  const policy = {
    minGain: 0.02,
    maxSliceDrop: 0.05,
    maxEce: 0.05,
    maxLatencyMs: 5,
    minSliceRows: 30,
    minHoldout: 30,
    maxForgetting: 0.05,
  };
  const backtest = {
    datasetId: 2,
    rows: 40,
    candidateAccuracy: 0.75,
    championAccuracy: 0.85,
    difference: backtestDifference,
  };
  const input: ModelCardInput = {
    ...base,
    data: { ...base.data, holdoutRows: 40, holdout: 'latest' },
    gates: evaluationGates(base.candidate, base.champion, policy, {
      difference,
      backtest,
      labelShiftPsi: 0.01,
    }),
    evidence: { difference, backtest, minHoldout: 30, metric: 'accuracy' },
  };
  const markdown = modelCardMarkdown(input);
  const html = modelCardHtml(input);
  const lo = (x: number) => (x * 100).toFixed(1).replace('-', '\u2212');

  it('given the intervals, when rendered, then the metrics table gives each difference with its interval and the holdout is described', () => {
    expect(difference.accuracy.estimate).toBeCloseTo(0.1, 12);
    expect(markdown).toContain('| Metric | Candidate v4 | Champion v3 | Δ | Δ 90% interval |');
    const a = difference.accuracy;
    expect(markdown).toContain(
      `| Accuracy | 75.0% | 70.0% | +5.0 pts | [${a.lower > 0 ? '+' : ''}${lo(a.lower)}, +${lo(a.upper)}] pts |`,
    );
    expect(markdown).toContain(
      "On 40 labeled holdout rows (the window's latest rows by record time); at least 30 are required. Intervals: paired bootstrap of candidate − champion, 2000 resamples (seed 5), 90% percentile interval",
    );
    expect(markdown).toContain("| Holdout | the window's latest rows by record time |");
    expect(html).toContain('Δ 90% interval');
    expect(html).toContain('at least 30 are required');
  });

  it('given a backtest where the candidate forgets 10 pts, when rendered, then the card shows both accuracies, the interval and the failed gate', () => {
    expect(markdown).toContain(
      "Both models on the champion's reference holdout (dataset #2, data from before the drift)",
    );
    expect(markdown).toMatch(
      /\| 40 \| 75\.0% \| 85\.0% \| −10\.0 pts \| \[−\d+\.\d, [−+]?\d+\.\d\] pts \| fail \|/,
    );
    expect(markdown).toContain('| backtest | ❌ fail | 10.0 pts | ≤ 5.0 pts |');
    expect(html).toContain('Backtest on the reference');
    expect(html).toMatch(/<td class="num">85\.0%<\/td>/);
  });

  it('given a card written before the intervals existed, when rendered, then it says no backtest was run and leaves the interval column empty', () => {
    const old = modelCardMarkdown(base);
    expect(old).toContain('No backtest was run for this card.');
    expect(old).toContain('| Accuracy | 75.0% | 70.0% | +5.0 pts | — |');
  });
});
