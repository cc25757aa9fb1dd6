/**
 * A worker reads a model's artifact from Postgres and checks it once per content hash: later reads of the
 * same version (or any version with the same content) get the parsed, frozen artifact without moving it
 * again, and a version whose artifact changed is read anew.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, train } from '../../core/model.js';
import * as db from '../../db/index.js';
import { replaceArtifact } from '../../db/bench.js';
import { loadWeather, weatherModel } from '../../dev/weather.js';
import { registerModelWithChampion } from '../../ops/setup.js';
import { freshDatabase, recordingQueryable } from '../helpers.js';

let pool: pg.Pool;

beforeAll(async () => {
  ({ pool } = await freshDatabase('artifactcache'));
});
afterAll(async () => {
  await pool?.end();
});

const recording = () => recordingQueryable(pool);

const readsArtifact = (statements: string[]) => statements.some((s) => /SELECT artifact,/.test(s));

describe('artifacts cached by content hash', () => {
  it('given a version read twice, then its artifact moves and is checked once, and nobody can change it', async () => {
    const rows = await loadWeather();
    const reference = rows
      .filter((r) => r.date < '2013-01-01')
      .map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, label: r.label }));
    await registerModelWithChampion(pool, weatherModel('cache-weather'), reference);

    const first = recording();
    const a = await db.getModelVersion(first.q, 'cache-weather', 1);
    expect(readsArtifact(first.statements)).toBe(true);

    const second = recording();
    const b = await db.getModelVersion(second.q, 'cache-weather', 1);
    expect(readsArtifact(second.statements)).toBe(false);
    expect(b.artifact).toBe(a.artifact);
    expect(b.artifactSha256).toBe(a.artifactSha256);
    expect(createHash('sha256').update(canonicalJson(b.artifact)).digest('hex')).toBe(a.artifactSha256);

    // A reader that changes what it got would change every later reader's model: it cannot.
    expect(() => (a.artifact as { classes: string[] }).classes.push('hail')).toThrow(TypeError);
    expect((await db.getModelVersion(pool, 'cache-weather', 1)).artifact).toEqual(b.artifact);
  });

  it('given a version whose artifact was replaced, then the next read gets the new one', async () => {
    const before = await db.getModelVersion(pool, 'cache-weather', 1);
    const rows = await loadWeather();
    const other = train(
      { numeric: ['temp_max'], categorical: [] },
      rows.slice(0, 200).map((r) => ({ features: r.features, label: r.label })),
      { epochs: 3, learningRate: 0.1, l2: 0 },
    );
    const json = canonicalJson(other);
    const sha = createHash('sha256').update(json).digest('hex');
    await replaceArtifact(pool, 'cache-weather', 1, json, sha);

    const read = recording();
    const after = await db.getModelVersion(read.q, 'cache-weather', 1);
    expect(readsArtifact(read.statements)).toBe(true);
    expect(after.artifactSha256).toBe(sha);
    expect(after.artifact).not.toEqual(before.artifact);
    expect(canonicalJson(after.artifact)).toBe(json);
  });
});
