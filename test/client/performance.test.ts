/**
 * `remedy performance` on a small fixture: what a person reads per chunk (estimate, band, realized where
 * labels exist) and the errors that say what to fix. The standalone entry is run as a process, as a
 * person would run it today.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runPerformance, type PerformanceRun } from '../../drift/performance.js';

const run = promisify(execFile);
const fixtures = path.resolve('test/fixtures/performance');
const reference = path.join(fixtures, 'reference.csv');
const current = path.join(fixtures, 'current.csv');
const base = {
  reference,
  current,
  probaColumns: ['proba'],
  predictionColumn: 'prediction',
  labelColumn: 'label',
  chunk: 20,
};

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'cli/main.ts', 'performance', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('remedy performance', () => {
  it('given a current file with half its labels, when run with --json, then each chunk has its estimate, band and realized value', async () => {
    const args = ['--reference', reference, '--current', current, '--proba-columns', 'proba'];
    const res = await cli([
      ...args,
      '--prediction-column',
      'prediction',
      '--label-column',
      'label',
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as PerformanceRun;
    // Default chunk of 5000 rows: the 40 current rows are one chunk.
    expect(out.chunks).toHaveLength(1);
    expect(out.current).toMatchObject({ rows: 40, labeled: 20 });

    const chunked = await cli([...args, '--label-column', 'label', '--chunk', '20', '--json']);
    const { chunks, calibration } = JSON.parse(chunked.stdout) as PerformanceRun;
    // The fixture's scores are left uncalibrated (isotonic does not lower the held-out error), so the
    // estimate is the mean of p over predicted positives and 1 − p over predicted negatives (Python check).
    expect(calibration.applied).toBe(false);
    expect(chunks.map((c) => [c.start, c.end, c.labeled])).toEqual([
      [0, 20, 8],
      [20, 40, 12],
    ]);
    expect(chunks[0]!.metrics.accuracy.estimate).toBeCloseTo(0.60095, 10);
    expect(chunks[1]!.metrics.accuracy.estimate).toBeCloseTo(0.5972, 10);
    expect(chunks[0]!.metrics.accuracy.realized).toBe(0.5);
    expect(chunks[1]!.metrics.accuracy.realized).toBeCloseTo(2 / 12, 12);
    for (const c of chunks) {
      const a = c.metrics.accuracy;
      expect(a.band![0]).toBeLessThan(a.estimate!);
      expect(a.band![1]).toBeGreaterThan(a.estimate!);
    }
  });

  it('given the same files, when printed as a table, then a chunk line shows estimate [band] and realized in percent', async () => {
    let text = '';
    await runPerformance(base, (t) => (text += t));
    expect(text).toContain('current');
    expect(text).toContain('40 rows, 20 labeled');
    const line = text.split('\n').find((l) => l.startsWith('0 '))!;
    expect(line).toMatch(/^0\s+0-19\s+8\s+60\.1 \[\d+\.\d, \d+\.\d\]\s+50\.0\s/);
  });

  it('given a three-class model, when run with class=column pairs, then accuracy and macro F1 are estimated per chunk', async () => {
    const res = await cli([
      '--reference',
      path.join(fixtures, 'multiclass-reference.csv'),
      '--current',
      path.join(fixtures, 'multiclass-current.csv'),
      '--proba-columns',
      'cat=p_cat,dog=p_dog,fox=p_fox',
      '--prediction-column',
      'predicted',
      '--label-column',
      'animal',
      '--chunk',
      '15',
      '--json',
    ]);
    expect(res.stderr).toBe('');
    const out = JSON.parse(res.stdout) as PerformanceRun;
    expect(out.kind).toBe('multiclass');
    expect(out.classes).toEqual(['cat', 'dog', 'fox']);
    // Realized values checked in Python on the fixture: 6 of 6 and 4 of 10 labeled rows right.
    expect(out.chunks.map((c) => [c.labeled, c.metrics.accuracy.realized])).toEqual([
      [6, 1],
      [10, 0.4],
    ]);
    for (const c of out.chunks) {
      const { estimate, band } = c.metrics.f1;
      expect(estimate).toBeGreaterThan(band![0]);
      expect(estimate).toBeLessThan(band![1]);
    }
  });

  it('given an incomplete class=column entry, when run, then it refuses with exit code 2 and says how to write it', async () => {
    const res = await cli([
      '--reference',
      reference,
      '--current',
      current,
      '--proba-columns',
      'cat=,dog=p_dog',
      '--label-column',
      'label',
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      '--proba-columns entry "cat=" is incomplete: write class=column or a column name',
    );
  });

  it('given a reference with a missing label or a bad probability, then the error names the file, line and column', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-performance-'));
    const noLabel = path.join(dir, 'ref.csv');
    await writeFile(noLabel, 'proba,prediction,label\n0.2,0,0\n0.9,1,\n');
    await expect(runPerformance({ ...base, reference: noLabel }, () => {})).rejects.toThrow(
      `${noLabel} line 3: no label in "label"; every reference row needs one`,
    );
    const badProba = path.join(dir, 'cur.csv');
    await writeFile(badProba, 'proba,prediction,label\n0.2,0,0\n1.5,1,1\n');
    await expect(runPerformance({ ...base, current: badProba }, () => {})).rejects.toThrow(
      `${badProba} line 3: "proba" is 1.5; probabilities must lie in [0, 1]`,
    );
    await expect(runPerformance({ ...base, labelColumn: 'truth' }, () => {})).rejects.toThrow(
      `has no column "truth" (--label-column): the reference needs labels to calibrate on`,
    );
  });
});
