import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { driftReportParallel } from '../../drift/parallel.js';
import { driftReportColumns, profileColumns, type Column } from '../../core/drift.js';
import { Policy } from '../../core/schemas.js';

const sample = JSON.parse(
  readFileSync(new URL('../fixtures/drift-numeric-sample.json', import.meta.url), 'utf8'),
) as { reference: number[]; current: number[] };
const policy = Policy.parse({}).drift;

// Six numeric features from the fixture (shifted and scaled copies) plus a categorical one.
const make = (values: number[], k: number) => values.map((v) => v * (1 + k / 10) + k);
const refColumns: Record<string, Column> = {};
const curColumns: Record<string, Column> = {};
for (let k = 0; k < 6; k++) {
  refColumns[`x${k}`] = { type: 'numeric', values: make(sample.reference.slice(0, 1500), k) };
  curColumns[`x${k}`] = { type: 'numeric', values: make(sample.current, k % 2 ? 0 : k) };
}
refColumns.c = {
  type: 'categorical',
  values: sample.reference.slice(0, 1500).map((v) => (v > 10 ? 'hi' : 'lo')),
};
curColumns.c = { type: 'categorical', values: sample.current.map((v) => (v > 10 ? 'hi' : 'lo')) };

describe('drift report on several threads', () => {
  const profile = profileColumns(refColumns, { typedSample: true, maxSample: Number.MAX_SAFE_INTEGER });
  const single = driftReportColumns(profile, curColumns, [], policy);

  it('given worker threads, then the report is identical to the single-threaded one', async () => {
    expect(
      await driftReportParallel(profile, curColumns, [], policy, { threads: 3, minValuesPerWorker: 0 }),
    ).toEqual(single);
  });

  it('given features streamed from float64 files, then the report is identical too', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'remedy-lazy-'));
    const names = Object.keys(refColumns).filter((n) => n !== 'c');
    const write = async (file: string, arrays: ArrayLike<number>[]) => {
      const all = new Float64Array(arrays.reduce((a, x) => a + x.length, 0));
      let at = 0;
      const slices = arrays.map((a) => {
        all.set(a, at);
        at += a.length;
        return { file, offset: at - a.length, length: a.length };
      });
      await writeFile(file, new Uint8Array(all.buffer));
      return slices;
    };
    const refSlices = await write(
      path.join(dir, 'ref.f64'),
      names.map((n) => (profile.features[n] as { sorted: Float64Array }).sorted),
    );
    const curSlices = await write(
      path.join(dir, 'cur.f64'),
      names.map((n) => curColumns[n]!.values as number[]),
    );
    const lazy = {
      reference: Object.fromEntries(names.map((n, i) => [n, refSlices[i]!])),
      current: Object.fromEntries(names.map((n, i) => [n, curSlices[i]!])),
    };
    const stripped = {
      ...profile,
      features: Object.fromEntries(
        Object.entries(profile.features).map(([n, f]) => [
          n,
          f.type === 'numeric' ? { ...f, sorted: new Float64Array(0) } : f,
        ]),
      ),
    };
    const report = await driftReportParallel(stripped, { c: curColumns.c! }, [], policy, {
      threads: 2,
      lazy,
      minValuesPerWorker: 0,
    });
    expect(report).toEqual(single);
  });
});
