/**
 * The streaming CSV splitter ingest reads files with gives the records csv-parse gives, on thousands of
 * generated files (quoted fields with commas, quotes and line breaks, empty fields, empty lines, a byte
 * order mark, LF, CRLF or CR line ends, no line break at the end) cut into chunks at random places; it
 * refuses the malformed files csv-parse refuses; and `openRowFile` turns a file into rows with the line
 * each ends on, refusing a short row or a header that names a column twice.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/seeded-random.js';
import { CsvError, CsvSplitter, type CsvRecord } from '../../infra/csv-records.js';
import { openRowFile, RowFileError } from '../../infra/row-files.js';

/** The same seed, the same file: a failure names a seed that reproduces it. */
const rng = seededRandom;

const PLAIN = ['a', 'b', '7', '-1.5', ' ', 'é', '日', 'x y', '2013-04-01T00:00:00Z'];

/** A random file of `rows` records of `cols` fields with one line end throughout. */
function generate(random: () => number, eol: string): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const cols = 1 + Math.floor(random() * 5);
  const rows = Math.floor(random() * 8);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    if (random() < 0.1) lines.push(''); // an empty line
    const fields: string[] = [];
    for (let c = 0; c < cols; c++) {
      const kind = random();
      if (kind < 0.15) fields.push('');
      else if (kind < 0.6) fields.push(pick(PLAIN) + (random() < 0.3 ? pick(PLAIN) : ''));
      else {
        // Quoted: commas, doubled quotes and a line break inside (in a CRLF file, a bare LF: csv-parse
        // counts a quoted CRLF as two lines, the splitter as one, as an editor does; tested below).
        const inner = Array.from({ length: Math.floor(random() * 4) }, () =>
          pick([...PLAIN, ',', '""', eol === '\r\n' ? '\n' : eol, '']),
        ).join('');
        fields.push(`"${inner}"`);
      }
    }
    // A record of one empty field would be an empty line; csv-parse and the splitter both skip it.
    lines.push(fields.join(','));
  }
  const bom = random() < 0.1 ? '\ufeff' : '';
  const last = random() < 0.7 ? eol : '';
  return bom + lines.join(eol) + (lines.length ? last : '');
}

/** Spoils a file the way people do: a stray quote, an unclosed quote, text after a closing quote. */
function spoil(random: () => number, text: string): string {
  const at = Math.floor(random() * (text.length + 1));
  const how = random();
  if (how < 0.34) return `${text.slice(0, at)}x"y${text.slice(at)}`;
  if (how < 0.67) return `${text}\n"unclosed,1`;
  return `${text}\n"closed"after,1`;
}

function viaCsvParse(text: string): { fields: string[]; line: number }[] | 'error' {
  try {
    const records = parse(text, {
      skip_empty_lines: true,
      bom: true,
      info: true,
      relax_column_count: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
    return records.map((r) => ({ fields: r.record, line: r.info.lines }));
  } catch {
    return 'error';
  }
}

function viaSplitter(text: string, cuts: number[]): CsvRecord[] | 'error' {
  const splitter = new CsvSplitter();
  const out: CsvRecord[] = [];
  try {
    let from = 0;
    for (const cut of [...cuts, text.length]) {
      out.push(...splitter.push(text.slice(from, cut)));
      from = cut;
    }
    out.push(...splitter.end());
    return out;
  } catch (err) {
    if (err instanceof CsvError) return 'error';
    throw err;
  }
}

function randomCuts(random: () => number, length: number): number[] {
  const n = Math.floor(random() * 6);
  return Array.from({ length: n }, () => Math.floor(random() * (length + 1))).sort((a, b) => a - b);
}

describe('the CSV splitter against csv-parse', () => {
  it('given 3,000 generated files cut into random chunks, then it gives the same records and lines', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const random = rng(seed);
      const eol = ['\n', '\r\n', '\r'][seed % 3]!;
      const text = generate(random, eol);
      const expected = viaCsvParse(text);
      const got = viaSplitter(text, randomCuts(random, text.length));
      expect({ seed, text, records: got }).toEqual({ seed, text, records: expected });
    }
  });

  it('given 3,000 malformed files, then it refuses every one csv-parse refuses and reads the rest alike', () => {
    let refused = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const random = rng(10_000 + seed);
      const eol = ['\n', '\r\n'][seed % 2]!;
      const text = spoil(random, generate(random, eol));
      const expected = viaCsvParse(text);
      if (expected === 'error') refused++;
      const got = viaSplitter(text, randomCuts(random, text.length));
      expect({ seed, text, records: got }).toEqual({ seed, text, records: expected });
    }
    expect(refused).toBeGreaterThan(2000);
  });

  it('given files cut in two at every place (inside quotes, between a CR and its LF, in a doubled quote), then the records are the same', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = rng(50_000 + seed);
      const eol = ['\n', '\r\n', '\r'][seed % 3]!;
      const text = generate(random, eol);
      const expected = viaCsvParse(text);
      for (let cut = 0; cut <= text.length; cut++)
        expect({ seed, cut, records: viaSplitter(text, [cut]) }).toEqual({ seed, cut, records: expected });
    }
  });

  it('given a quoted field holding a CRLF, then the lines after it are counted as an editor counts them', () => {
    const splitter = new CsvSplitter();
    const records = [
      ...splitter.push('a,b\r\n"x\r\ny",1\r'),
      ...splitter.push('\nc,2\r\n'),
      ...splitter.end(),
    ];
    expect(records).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['x\r\ny', '1'], line: 3 },
      { fields: ['c', '2'], line: 4 },
    ]);
  });

  it('given a field that never closes, then the message names the line it opened on', () => {
    const splitter = new CsvSplitter();
    splitter.push('a,b\n1,2\n3,"four\n');
    expect(() => splitter.end()).toThrow('a quoted field opened on line 3 is never closed');
  });
});

describe('openRowFile on CSV', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'remedy-csv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function rows(name: string, text: string, batchRows = 3) {
    const file = path.join(dir, name);
    await writeFile(file, text);
    const source = await openRowFile(file, { batchRows });
    const batches: { line: number; values: Record<string, unknown> }[][] = [];
    for await (const b of source.batches) batches.push(b);
    return batches;
  }

  it('given a header and rows, then each row is keyed by the header, with its line, in batches of the size asked', async () => {
    const batches = await rows('ok.csv', '\ufeffkey,note\nk1,"one, two"\n\nk2,"multi\nline"\nk3,\nk4,x\n');
    expect(batches.map((b) => b.length)).toEqual([3, 1]);
    expect(batches.flat()).toEqual([
      { line: 2, values: { key: 'k1', note: 'one, two' } },
      { line: 5, values: { key: 'k2', note: 'multi\nline' } },
      { line: 6, values: { key: 'k3', note: '' } },
      { line: 7, values: { key: 'k4', note: 'x' } },
    ]);
  });

  it('given a row with fewer values than the header, then the file is refused naming the line', async () => {
    await expect(rows('short.csv', 'key,note,ts\nk1,a,b\nk2,a\n')).rejects.toThrow(
      /short\.csv:3: 2 fields where the header has 3 columns/,
    );
  });

  it('given a header that names a column twice, then the file is refused naming it', async () => {
    await expect(rows('twice.csv', 'key,note,note\nk1,a,b\n')).rejects.toThrow(RowFileError);
    await expect(rows('twice2.csv', 'key,note,note\nk1,a,b\n')).rejects.toThrow(
      'the header names column "note" twice',
    );
  });

  it('given a stray quote, then the file is refused as not valid CSV with the line', async () => {
    await expect(rows('quote.csv', 'key,note\nk1,a"b\n')).rejects.toThrow(
      /not a valid CSV file: line 2: a quote inside an unquoted field/,
    );
  });
});
