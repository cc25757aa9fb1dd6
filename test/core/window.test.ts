import { describe, expect, it } from 'vitest';
import { buildReferenceProfile, driftReport, driftReportColumns } from '../../core/drift.js';
import { describeSelection, WindowColumns, windowPredictor } from '../../core/window.js';
import { trainForest } from '../../core/forest.js';
import { encode, fitEncoder, predict, type ForestArtifact } from '../../core/model.js';
import { Policy, type Features } from '../../core/schemas.js';

const spec = { numeric: ['x'], categorical: ['c'] };
const reference: Features[] = Array.from({ length: 300 }, (_, i) => ({ x: i % 50, c: `v${i % 3}` }));
const profile = buildReferenceProfile(
  spec,
  reference,
  reference.map((_, i) => (i % 2 ? 'a' : 'b')),
  0.9,
);
const policy = Policy.parse({}).drift;

describe('window columns', () => {
  it('given rows with missing values and values of the wrong type, then the streamed columns give the same report as the rows', () => {
    // Missing values are absent keys; a few values have the wrong type.
    const window: Features[] = Array.from({ length: 3000 }, (_, i) => {
      const row: Features = {};
      if (i % 97 === 0) row.x = 'seven';
      else if (i % 89 !== 0) row.x = (i % 50) + (i > 1500 ? 20 : 0);
      if (i % 83 === 0) row.c = 3;
      else if (i % 79 !== 0) row.c = `v${i % (i > 1500 ? 4 : 3)}`;
      return row;
    });
    const columns = new WindowColumns(profile.features);
    for (const row of window) columns.add(row);
    const streamed = driftReportColumns(profile, columns.columns(), [], policy, {
      schemaViolations: columns.schemaViolations(),
    });
    expect(columns.rows).toBe(3000);
    expect(streamed).toEqual(driftReport(profile, window, [], policy));
    expect(streamed.dataQuality.issues.map((i) => i.kind)).toContain('schema');
  });

  it("given each row as its features' JSON text, then the columns and violations are the ones of the parsed rows", () => {
    // Every kind of JSON value a feature can hold, in both kinds of column, absent keys, other keys
    // whose values hold quotes, commas and brackets, and keys in a different order now and then.
    const odd: unknown[] = [
      7,
      -2.5,
      1e21,
      0,
      'v1',
      'say "hi", ok',
      'back\\',
      'é ✓',
      'tab\tline',
      true,
      null,
      { a: '}' },
      [1, ']'],
    ];
    const rows: Record<string, unknown>[] = Array.from({ length: 400 }, (_, i) => {
      const row: Record<string, unknown> = {};
      if (i % 13 === 0) row['"quoted", key'] = { nested: ['", "x": 1', { '}': '\\"' }] };
      if (i % 7 !== 0) row.x = i % 3 === 0 ? odd[i % odd.length] : i % 50;
      if (i % 11 !== 0) row.c = i % 2 === 0 ? odd[(i * 5) % odd.length] : `v${i % 3}`;
      if (i % 5 === 0) row.zz = 'other';
      return row;
    });
    // jsonb's text: keys sorted by length then bytes, ", " and ": " between them.
    const jsonbText = (row: Record<string, unknown>) =>
      `{${Object.keys(row)
        .sort((a, b) => a.length - b.length || (a < b ? -1 : 1))
        .map((k) => `${JSON.stringify(k)}: ${JSON.stringify(row[k])}`)
        .join(', ')}}`;
    const parsed = new WindowColumns(profile.features);
    const fromText = new WindowColumns(profile.features);
    rows.forEach((row, i) => {
      parsed.add(row as Features);
      fromText.addJsonText(i % 2 ? JSON.stringify(row) : jsonbText(row));
    });
    expect(fromText.rows).toBe(400);
    expect(fromText.columns()).toEqual(parsed.columns());
    expect(fromText.schemaViolations()).toEqual(parsed.schemaViolations());
    expect(Object.keys(fromText.schemaViolations()).sort()).toEqual(['c', 'x']);
    expect(() => fromText.addJsonText('[1, {"x": 2}]')).toThrow('features that are not a JSON object');
  });

  it("given integers and short strings in every form the fast paths read, then the columns are the parsed rows' to the bit", () => {
    // Numbers read from their digits (up to 15, a minus sign) or by Number() (16 digits, fractions,
    // exponents, -0); categories found by their packed characters (0 to 5 printable ASCII characters) or
    // by their text (longer, escaped, non-ASCII, control characters), the same value reached both ways.
    const numbers = ['0', '-0', '7', '-12', '123456789012345', '-999999999999999', '1234567890123456'];
    const more = [
      '9007199254740993',
      '12345678901234567891',
      '-98765432109876543210',
      '1.0',
      '2.50',
      '1e2',
      '-1E-3',
      '0.1',
      '"7"',
      'null',
      'true',
      '""',
    ];
    const strings = [
      '',
      'a',
      'ab',
      // Two strings a weaker packing (16 a character) would confuse.
      'a1',
      'b!',
      'v1',
      'abcde',
      'abcdef',
      ' x ',
      '~}{|',
      'a\\b',
      'q"',
      'é',
      'tab\t',
      '\u0001',
    ];
    const stringTexts = strings.map((v) => JSON.stringify(v));
    const categoryTexts = [...stringTexts, '"\\u0061"', '7', '-1.5', 'null', 'false', '{"k": "v"}'];
    let seed = 1;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const texts = Array.from({ length: 3000 }, () => {
      const parts: string[] = [];
      if (next(9) > 0) parts.push(`"x": ${[...numbers, ...more][next(numbers.length + more.length)]}`);
      if (next(9) > 0) parts.push(`"c": ${categoryTexts[next(categoryTexts.length)]}`);
      if (next(2) === 0) parts.reverse();
      return `{${parts.join(', ')}}`;
    });
    const parsed = new WindowColumns(profile.features);
    const fromText = new WindowColumns(profile.features);
    for (const text of texts) {
      parsed.add(JSON.parse(text) as Features);
      fromText.addJsonText(text);
    }
    const x = (c: WindowColumns) =>
      Array.from((c.columns().x as { values: Float64Array }).values, (v) => (Object.is(v, -0) ? '-0' : v));
    expect(x(fromText)).toEqual(x(parsed));
    expect(fromText.columns()).toEqual(parsed.columns());
    expect(fromText.schemaViolations()).toEqual(parsed.schemaViolations());
  });

  it("given rows of every form, then the last row read is JSON.parse's object exactly, or null when it is not clean", () => {
    // Clean rows (every feature present and of its type, no other key) come back as JSON.parse gives
    // them, keys in the text's order; any other row is null, and the caller parses its text.
    const values = {
      x: [
        '0',
        '-0',
        '42',
        '-12',
        '123456789012345',
        '1234567890123456',
        '2.50',
        '-1E-3',
        '1e400',
        '"7"',
        'null',
        'true',
      ],
      c: ['"v1"', '"abcdef"', '"a\\b"', '"\\u0061"', '"é"', '""', '7', 'null', '{"k": "v"}'],
    };
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const columns = new WindowColumns(profile.features);
    let clean = 0;
    for (let i = 0; i < 3000; i++) {
      const parts: string[] = [];
      if (next(12) > 0) parts.push(`"x": ${values.x[next(values.x.length)]}`);
      if (next(12) > 0) parts.push(`"c": ${values.c[next(values.c.length)]}`);
      if (next(10) === 0) parts.push(`"other": ${values.c[next(values.c.length)]}`);
      if (next(20) === 0) parts.push(`"x": ${values.x[next(4)]}`); // a repeated key: the last value counts
      if (next(2) === 0) parts.reverse();
      const text = `{${parts.join(', ')}}`;
      columns.addJsonText(text);
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const wanted =
        Object.keys(parsed).every((k) => k === 'x' || k === 'c') &&
        typeof parsed.x === 'number' &&
        Number.isFinite(parsed.x) &&
        typeof parsed.c === 'string';
      const row = columns.lastRow();
      if (!wanted) {
        expect(row, text).toBeNull();
        continue;
      }
      clean++;
      expect(row, text).toEqual(parsed);
      expect(Object.keys(row!), text).toEqual(Object.keys(parsed));
      expect(Object.is(row!.x, -0), text).toBe(Object.is(parsed.x, -0));
    }
    // Both kinds of row were seen, many of each.
    expect(clean).toBeGreaterThan(400);
    expect(clean).toBeLessThan(2600);
  });

  it('given a sample, then the phrase says how many of how many records were tested', () => {
    expect(describeSelection({ held: 24_000, tested: 24_000, selection: 'all' })).toBe(
      'all 24,000 records of the window tested',
    );
    expect(describeSelection({ held: 300_000, tested: 5000, selection: 'uniform-sample', seed: 's' })).toBe(
      "a uniform sample of 5,000 of the window's 300,000 records tested",
    );
  });
});

describe('window predictor', () => {
  it('given a forest with repeated and unseen categories, then it predicts exactly what predict does', () => {
    const spec = { numeric: ['x'], categorical: ['c'] };
    const rows: Features[] = Array.from({ length: 200 }, (_, i) => ({ x: (i * 7) % 31, c: `v${i % 4}` }));
    const encoder = fitEncoder(spec, rows);
    // A duplicated category value encodes to two one-hot positions; both must be set.
    encoder.categorical[0]!.values.push('v1');
    const x = rows.map((r) => encode(encoder, r));
    const y = rows.map((r) => ((r.x as number) > 15 || r.c === 'v1' ? 1 : 0));
    const config = { trees: 5, maxDepth: 4, minSamplesLeaf: 2, maxFeatures: 'all' as const, seed: 3 };
    const model: ForestArtifact = {
      kind: 'random-forest',
      classes: ['no', 'yes'],
      encoder,
      config,
      trees: trainForest(x, y, null, 2, config),
    };
    const score = windowPredictor(model);
    for (const row of [...rows, { x: 3, c: 'unseen' }, { x: 40, c: 'v1' }])
      expect(score(row)).toEqual(predict(model, row));
    expect(() => score({ c: 'v1' })).toThrow('feature "x" must be a finite number');
  });

  it('given a forest that splits on a feature its encoder does not have, then the scorer is refused with the feature', () => {
    const encoder = fitEncoder({ numeric: ['x'], categorical: [] }, [{ x: 1 }, { x: 2 }]);
    const leaf = { f: 0, t: 0, l: 0, r: 0, p: [1, 0] };
    const model = (f: number): ForestArtifact => ({
      kind: 'random-forest',
      classes: ['no', 'yes'],
      encoder,
      config: { trees: 1, maxDepth: 1, minSamplesLeaf: 1, maxFeatures: 'all', seed: 1 },
      trees: [{ nodes: [{ f, t: 0.5, l: 1, r: 2, p: null }, leaf, { ...leaf, p: [0, 1] }] }],
    });
    expect(windowPredictor(model(0))({ x: 2 })).toEqual(predict(model(0), { x: 2 }));
    expect(() => windowPredictor(model(3))).toThrow('the tree splits on feature 3 but the row has 1');
    expect(() => windowPredictor(model(-1))).toThrow('the tree splits on feature -1 but the row has 1');
  });
});
