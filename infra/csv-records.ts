/**
 * A streaming CSV reader (RFC 4180: fields separated by commas, records by LF, CRLF or CR, a field in
 * double quotes may hold commas, line breaks and doubled quotes) for files of any size: text goes in a
 * chunk at a time and each complete record comes out as its fields with the line it ends on. Written here
 * because ingest spends most of its time splitting lines: measured by `npm run bench:ingest`, it splits a
 * weather log several times faster than the general-purpose parser it replaced, with the same records
 * (`test/core/csv-records.test.ts` compares the two on generated files, malformed ones included).
 * Empty lines are skipped; a UTF-8 byte order mark at the start is dropped.
 */

/** A file that breaks CSV's rules; the message says where and how. */
export class CsvError extends Error {
  override name = 'CsvError';
}

export interface CsvRecord {
  fields: string[];
  /** The line the record ends on, 1-based (a quoted field may span lines). */
  line: number;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/**
 * Splits text into records as it arrives. `push` returns the records completed by a chunk; `end` returns
 * the last one (a file need not end with a line break) and throws if a quoted field is still open.
 */
export class CsvSplitter {
  private rest = '';
  private line = 1;
  private started = false;

  push(chunk: string): CsvRecord[] {
    let text = this.rest + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const { records, consumed, line } = split(text, this.line, false);
    this.rest = text.slice(consumed);
    this.line = line;
    return records;
  }

  end(): CsvRecord[] {
    const text = this.rest;
    this.rest = '';
    const { records } = split(text, this.line, true);
    return records;
  }
}

/**
 * The complete records of `text` from its start; `line` is the line `text` starts on. Without `final`, a
 * record that may go on in the next chunk (no line break after it yet) is left for then: `consumed` says
 * where the records taken end.
 */
function split(
  text: string,
  startLine: number,
  final: boolean,
): { records: CsvRecord[]; consumed: number; line: number } {
  const records: CsvRecord[] = [];
  const n = text.length;
  let line = startLine;
  let pos = 0; // start of the record being read
  let consumed = 0;
  let consumedLine = line;
  record: while (pos < n) {
    const fields: string[] = [];
    let i = pos;
    const recordLine = line;
    for (;;) {
      // One field, starting at i.
      if (i < n && text.charCodeAt(i) === QUOTE) {
        let value = '';
        let from = i + 1;
        for (;;) {
          const close = text.indexOf('"', from);
          if (close < 0) {
            if (!final) break record; // the closing quote may be in the next chunk
            throw new CsvError(`a quoted field opened on line ${recordLine} is never closed`);
          }
          value += text.slice(from, close);
          // Line breaks inside the quotes count as lines of the file.
          for (let k = from; k < close; k++) {
            const c = text.charCodeAt(k);
            if (c === LF) line++;
            else if (c === CR && text.charCodeAt(k + 1) !== LF) line++;
          }
          if (text.charCodeAt(close + 1) === QUOTE) {
            value += '"';
            from = close + 2;
            continue;
          }
          i = close + 1;
          break;
        }
        fields.push(value);
        const c = i < n ? text.charCodeAt(i) : -1;
        if (c === COMMA) {
          i++;
          continue;
        }
        if (c === -1) {
          if (!final) break record; // a comma or line end may come in the next chunk
          break;
        }
        if (c === LF || c === CR) {
          i = endOfLine(text, i);
          if (i < 0) {
            if (!final) break record; // a CR that may be the start of a CRLF
            i = n;
          }
          break;
        }
        throw new CsvError(
          `line ${line}: a quoted field must be followed by a comma or the end of the line, found ${JSON.stringify(text[i])}`,
        );
      }
      // An unquoted field: up to the next comma or line break.
      let j = i;
      let c = -1;
      while (j < n) {
        c = text.charCodeAt(j);
        if (c === COMMA || c === LF || c === CR) break;
        if (c === QUOTE)
          throw new CsvError(
            `line ${line}: a quote inside an unquoted field (${JSON.stringify(text.slice(i, j + 1))}); put the field in quotes and double the quote`,
          );
        j++;
      }
      if (j >= n) {
        if (!final) break record;
        fields.push(text.slice(i, j));
        i = n;
        break;
      }
      fields.push(text.slice(i, j));
      if (c === COMMA) {
        i = j + 1;
        continue;
      }
      i = endOfLine(text, j);
      if (i < 0) {
        if (!final) break record;
        i = n;
      }
      break;
    }
    // A record complete from pos to i; an empty line is no record.
    if (!(fields.length === 1 && fields[0] === '' && text.charCodeAt(pos) !== QUOTE))
      records.push({ fields, line });
    line++;
    pos = i;
    consumed = i;
    consumedLine = line;
  }
  return { records, consumed, line: consumedLine };
}

/** The position after the line break at `i` (LF, CRLF or CR); -1 when a CR ends the text (LF may follow). */
function endOfLine(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === LF) return i + 1;
  if (i + 1 >= text.length) return -1;
  return text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
}
