/**
 * `remedy drift`: the offline report between two files, no server. The numbers are pinned to Evidently
 * 0.7.23's DataDriftPreset on the same weather data (reference 2012, current April–December 2013).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../cli/main.js';
import { weatherCsvPath } from '../../dev/weather.js';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
// Evidently 0.7.23 DataDriftPreset, reference 732 rows (<= 1000: p-value tests).
const EVIDENTLY = {
  precipitation: ['ks', 0.00394760112696708],
  temp_max: ['ks', 1.8398216427466541e-7],
  temp_min: ['ks', 3.8647669363717946e-8],
  wind: ['ks', 0.11382711997656407],
  location: ['ztest', 1.0],
  weather: ['chisquare', 0.0],
} as const;

let dir: string;
let refCsv: string;
let curCsv: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'remedy-drift-'));
  const lines = (await readFile(weatherCsvPath(), 'utf8')).trim().split('\n');
  const header = lines[0]!;
  const rows = lines.slice(1);
  refCsv = path.join(dir, 'ref.csv');
  curCsv = path.join(dir, 'cur.csv');
  await writeFile(refCsv, [header, ...rows.filter((l) => l.includes(',2012-'))].join('\n'));
  await writeFile(curCsv, [header, ...rows.filter((l) => /,2013-(0[4-9]|1[0-2])-/.test(l))].join('\n'));
});

async function remedy(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    connect: () => Promise.reject(new Error('remedy drift must not need Temporal')),
    database: () => Promise.reject(new Error('remedy drift must not need a database')),
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}

type Json = { features: Record<string, unknown>[]; dataset: { drifted: boolean; share: number } };

function expectEvidentlyNumbers(doc: Json): void {
  expect(doc.features.map((f) => f.feature).sort()).toEqual(Object.keys(EVIDENTLY).sort());
  for (const f of doc.features) {
    const [test, p] = EVIDENTLY[f.feature as keyof typeof EVIDENTLY];
    expect(f.test).toBe(test);
    expect(Math.abs((f.pValue as number) - p)).toBeLessThan(1e-9);
  }
}

describe('remedy drift', () => {
  it('given two CSV files, then --json prints one document with Evidently’s tests and p-values', async () => {
    const r = await remedy('drift', '--reference', refCsv, '--current', curCsv, '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as Json;
    expect(Object.keys(doc)).toEqual(['features', 'dataset']);
    expect(Object.keys(doc.features[0]!)).toEqual([
      'feature',
      'type',
      'test',
      'statistic',
      'pValue',
      'threshold',
      'drifted',
    ]);
    expectEvidentlyNumbers(doc);
    // precipitation, temp_max, temp_min and weather drift; wind and location do not: 4 of 6.
    expect(
      doc.features
        .filter((f) => f.drifted)
        .map((f) => f.feature)
        .sort(),
    ).toEqual(['precipitation', 'temp_max', 'temp_min', 'weather']);
    expect(doc.dataset).toEqual({ drifted: true, share: 4 / 6 });
  });

  it('given the same data as Parquet (zstd and snappy), then the numbers are the same', async () => {
    const r = await remedy(
      'drift',
      '--reference',
      fixture('weather-2012.parquet'),
      '--current',
      fixture('weather-2013q2q4.parquet'),
      '--json',
    );
    expect(r.err).toBe('');
    expectEvidentlyNumbers(JSON.parse(r.out) as Json);
  });

  it('given a table run, then each feature is a row and the dataset verdict and the skipped date are shown', async () => {
    const r = await remedy('drift', '--reference', refCsv, '--current', curCsv);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^temp_min\s+numeric\s+ks\s+0\.1671\s+3\.865e-8\s+<= 0\.05\s+DRIFT$/m);
    expect(r.out).toMatch(/^wind\s+numeric\s+ks\s+.*ok$/m);
    expect(r.out).toMatch(/dataset: DRIFT \(4 of 6 features, share 0\.667; drift at >= 0\.5\)/);
    expect(r.out).toMatch(/not tested: date \(timestamp column: not a feature\)/);
  });

  it('given --test wasserstein, then numeric features use it (p-value null) and the others keep theirs', async () => {
    const r = await remedy(
      'drift',
      '--reference',
      refCsv,
      '--current',
      curCsv,
      '--test',
      'wasserstein',
      '--json',
    );
    const doc = JSON.parse(r.out) as Json;
    const byName: Record<string, Record<string, unknown>> = Object.fromEntries(
      doc.features.map((f) => [String(f.feature), f]),
    );
    for (const n of ['precipitation', 'temp_max', 'temp_min', 'wind']) {
      expect(byName[n]).toMatchObject({ test: 'wasserstein', pValue: null, threshold: 0.1 });
    }
    expect(byName.location).toMatchObject({ test: 'ztest' });
    expect(byName.weather).toMatchObject({ test: 'chisquare' });
  });

  it('given --fail-on-drift and a drifted dataset, then the exit code is 3', async () => {
    expect((await remedy('drift', '--reference', refCsv, '--current', curCsv, '--fail-on-drift')).code).toBe(
      3,
    );
    expect((await remedy('drift', '--reference', refCsv, '--current', refCsv, '--fail-on-drift')).code).toBe(
      0,
    );
  });

  it.each([
    [
      ['--reference', '/nonexistent/ref.csv', '--current', 'CUR'],
      /cannot read \/nonexistent\/ref\.csv: no such file/,
    ],
    [
      ['--reference', 'REF', '--current', 'REF', '--test', 'ttest'],
      /argument 'ttest' is invalid\. Allowed choices are ks, wasserstein/,
    ],
    [['--reference', 'REF', '--current', 'CUR', '--drift-share', '2'], /"2" is not a share in \(0, 1\]/],
  ])('given bad arguments %j, then exit 2 with a message saying what to fix', async (args, message) => {
    const argv = args.map((a) => (a === 'REF' ? refCsv : a === 'CUR' ? curCsv : a));
    const r = await remedy('drift', ...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it.each([
    [
      'mismatched columns',
      'location,date,precipitation,temp_max\nSeattle,2013-05-01,1,2\n',
      /different columns \(only in .*ref\.csv: temp_min, wind, weather\)/,
    ],
    [
      'an empty window',
      'location,date,precipitation,temp_max,temp_min,wind,weather\n',
      /has no rows: the current window is empty/,
    ],
    [
      'text in a numeric column',
      'location,date,precipitation,temp_max,temp_min,wind,weather\nSeattle,2013-05-01,0,20,10,3,sun\nSeattle,2013-05-02,abc,20,10,3,sun\n',
      /bad\.csv line 3: column "precipitation" is numeric, but the value is "abc"; fix the value or declare the column with --categorical precipitation/,
    ],
    [
      'Infinity in a numeric column',
      'location,date,precipitation,temp_max,temp_min,wind,weather\nSeattle,2013-05-01,Infinity,20,10,3,sun\n',
      /line 2: column "precipitation" is numeric, but the value is "Infinity"/,
    ],
    ['an unknown file type', null, /unknown file type "\.json"; use \.csv or \.parquet/],
  ])('given %s, then exit 2 and a message that says what is wrong', async (_name, content, message) => {
    const file = path.join(dir, content === null ? 'bad.json' : 'bad.csv');
    await writeFile(file, content ?? '{}');
    const r = await remedy('drift', '--reference', refCsv, '--current', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('given --help, then the tests and an example are explained', async () => {
    const r = await remedy('drift', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--test <name>/);
    expect(r.out).toMatch(/Example: remedy drift --reference jan\.parquet --current feb\.parquet --json/);
  });
});
