// Incremental RFC 4180 parser over decoded text: fed chunk by chunk, it keeps only the unfinished
// record, counts physical lines (also inside quoted newlines) and hands out records in batches.
import { PayloadError, type SourceRecord } from '../../src/port/index.ts';
import { RecordBatcher } from '../lib/index.ts';

export interface CsvParserOptions {
  fileName: string;
  /** One character, or undefined to detect it from the header line. */
  delimiter: string | undefined;
  quote: string;
  skipEmptyLines: boolean;
  batchSize: number;
  /** Longest record kept while waiting for its end (an unterminated quote would otherwise eat memory). */
  maxRecordChars: number;
}

/** Delimiters tried by detection, in order of preference when counts tie. */
const CANDIDATES = [';', '\t', ',', '|'];
const NONE = Number.MAX_SAFE_INTEGER;

interface SlowRecord {
  fields: string[];
  /** Index just after the record's line break. */
  next: number;
  /** Line breaks consumed, including those inside quoted fields. */
  newlines: number;
}

export class CsvParser {
  private readonly o: CsvParserOptions;
  private rest = '';
  /** Physical line (1-based) at the start of `rest`. */
  private line = 1;
  private delim: string | undefined;
  private header: string[] | undefined;
  /** A copy source with the header's keys laid out once, so records share one hidden class. */
  private template: Record<string, string> = {};
  private readonly batcher: RecordBatcher<SourceRecord>;

  constructor(o: CsvParserOptions) {
    this.o = o;
    this.batcher = new RecordBatcher(o.batchSize);
    this.delim = o.delimiter;
  }

  get columns(): readonly string[] | undefined {
    return this.header;
  }

  get delimiter(): string | undefined {
    return this.delim;
  }

  /** The line on which the text fed so far ends (used to place errors found while decoding). */
  lineAtEnd(): number {
    let n = this.line;
    for (let i = this.rest.indexOf('\n'); i >= 0; i = this.rest.indexOf('\n', i + 1)) n++;
    return n;
  }

  /** Full batches, taken out. */
  take(): SourceRecord[][] {
    return this.batcher.take();
  }

  /** What is left after the end of the payload. */
  flush(): SourceRecord[] {
    return this.batcher.flush();
  }

  push(text: string, final: boolean): void {
    const s = this.rest.length ? this.rest + text : text;
    let pos = 0;
    if (!this.header) {
      pos = this.readHeader(s, final);
      if (!this.header) {
        this.keep(s, pos, final);
        return;
      }
    }
    pos = this.readRecords(s, pos, final);
    this.keep(s, pos, final);
  }

  private keep(s: string, pos: number, final: boolean): void {
    this.rest = pos < s.length ? s.slice(pos) : '';
    if (!final && this.rest.length > this.o.maxRecordChars) {
      throw new PayloadError('MAG_ERR_PAYLOAD_TOO_LARGE', { file: this.o.fileName, line: this.line }, `the record starting here is longer than ${this.o.maxRecordChars} characters (an unterminated quote?)`);
    }
    if (final && !this.header) {
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: 1 }, 'the file is empty: a header row is required');
    }
  }

  /** Skips leading empty lines, detects the delimiter, reads and checks the header. Returns the new position. */
  private readHeader(s: string, final: boolean): number {
    let pos = 0;
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl < 0 && !final) return pos;
      const end = nl < 0 ? s.length : nl;
      const blank = end === pos || (end === pos + 1 && s.charCodeAt(pos) === 13);
      if (!blank) break;
      if (nl < 0) return s.length;
      pos = nl + 1;
      this.line++;
    }
    if (!this.delim) this.delim = detectDelimiter(s, pos, this.o.quote);
    const rec = this.readSlow(s, pos, final, this.line);
    if (!rec) return pos;
    const names = rec.fields.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f).trim());
    const seen = new Map<string, number>();
    names.forEach((n, i) => {
      if (n === '') throw this.malformed(this.line, `column ${i + 1} of the header has no name`);
      const before = seen.get(n);
      if (before !== undefined) throw this.malformed(this.line, `column "${n}" appears twice in the header (columns ${before + 1} and ${i + 1})`);
      seen.set(n, i);
    });
    this.header = names;
    const template: Record<string, string> = {};
    // defineProperty, not assignment: a column named __proto__ must stay a plain field.
    for (const n of names) Object.defineProperty(template, n, { value: '', writable: true, enumerable: true, configurable: true });
    this.template = template;
    this.line += rec.newlines;
    return rec.next;
  }

  private readRecords(s: string, pos: number, final: boolean): number {
    const names = this.header!;
    const ncols = names.length;
    const lastCol = names[ncols - 1]!;
    const delim = this.delim!;
    const q = this.o.quote;
    const skipEmpty = this.o.skipEmptyLines;
    const template = this.template;
    const n = s.length;
    let line = this.line;
    const batcher = this.batcher;
    let nq = s.indexOf(q, pos);
    if (nq < 0) nq = NONE;
    let nd = -1;
    while (pos < n) {
      let nl = s.indexOf('\n', pos);
      if (nl < 0) {
        if (!final) break;
        nl = n;
      }
      let end = nl;
      if (end > pos && s.charCodeAt(end - 1) === 13) end--;
      if (end === pos && skipEmpty) {
        pos = nl + 1;
        line++;
        continue;
      }
      if (nq < pos) {
        nq = s.indexOf(q, pos);
        if (nq < 0) nq = NONE;
      }
      let data: Record<string, string>;
      let next: number;
      const at = line;
      if (nq >= nl) {
        // No quote on this line: cut it at the delimiters directly.
        data = { ...template };
        let start = pos;
        for (let c = 0; c < ncols - 1; c++) {
          if (nd < start) {
            nd = s.indexOf(delim, start);
            if (nd < 0) nd = NONE;
          }
          if (nd >= end) throw this.columnCount(s, pos, line);
          data[names[c]!] = s.slice(start, nd);
          start = nd + 1;
        }
        if (nd < start) {
          nd = s.indexOf(delim, start);
          if (nd < 0) nd = NONE;
        }
        if (nd < end) throw this.columnCount(s, pos, line);
        data[lastCol] = s.slice(start, end);
        next = nl + 1;
        line++;
      } else {
        const rec = this.readSlow(s, pos, final, line);
        if (!rec) break;
        if (rec.fields.length !== ncols) throw this.columnMismatch(line, rec.fields.length);
        data = { ...template };
        for (let c = 0; c < ncols; c++) data[names[c]!] = rec.fields[c]!;
        next = rec.next;
        line += rec.newlines;
      }
      batcher.push({ data, line: at });
      pos = next;
    }
    this.line = line;
    return pos;
  }

  /**
   * Reads one record that may hold quoted fields (delimiters, doubled quotes and line breaks inside).
   * Returns undefined when the text ends before the record does and more text is coming.
   */
  private readSlow(s: string, pos: number, final: boolean, line: number): SlowRecord | undefined {
    const q = this.o.quote;
    const delim = this.delim!;
    const n = s.length;
    const fields: string[] = [];
    let i = pos;
    let newlines = 0;
    for (;;) {
      if (s[i] === q) {
        const openedAt = line + newlines;
        let value = '';
        let j = i + 1;
        for (;;) {
          const k = s.indexOf(q, j);
          if (k < 0) {
            if (!final) return undefined;
            throw this.malformed(openedAt, `unterminated quoted field: the quote opened on line ${openedAt} is never closed`);
          }
          for (let x = s.indexOf('\n', j); x >= 0 && x < k; x = s.indexOf('\n', x + 1)) newlines++;
          if (k + 1 >= n && !final) return undefined; // a doubled quote may straddle the chunk end
          if (s[k + 1] === q) {
            value += s.slice(j, k + 1);
            j = k + 2;
            continue;
          }
          value += s.slice(j, k);
          i = k + 1;
          break;
        }
        fields.push(value);
        const c = s[i];
        if (c === delim) {
          i++;
          continue;
        }
        if (i >= n) return { fields, next: n, newlines };
        if (c === '\n') return { fields, next: i + 1, newlines: newlines + 1 };
        if (c === '\r') {
          if (i + 1 >= n && !final) return undefined;
          if (s[i + 1] === '\n') return { fields, next: i + 2, newlines: newlines + 1 };
          if (i + 1 >= n) return { fields, next: n, newlines };
        }
        throw this.malformed(line + newlines, `unexpected ${JSON.stringify(c)} after the closing quote of column ${fields.length}`);
      }
      const nl = s.indexOf('\n', i);
      if (nl < 0 && !final) return undefined;
      const lineEnd = nl < 0 ? n : nl;
      const d = s.indexOf(delim, i);
      if (d >= 0 && d < lineEnd) {
        fields.push(s.slice(i, d));
        i = d + 1;
        continue;
      }
      const end = lineEnd > i && s.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
      fields.push(s.slice(i, end));
      return nl < 0 ? { fields, next: n, newlines } : { fields, next: nl + 1, newlines: newlines + 1 };
    }
  }

  private columnCount(s: string, pos: number, line: number): PayloadError {
    const rec = this.readSlow(s, pos, true, line);
    return this.columnMismatch(line, rec ? rec.fields.length : 0);
  }

  private columnMismatch(line: number, found: number): PayloadError {
    const names = this.header!;
    const shown = names.join(this.delim === '\t' ? ', ' : this.delim);
    return this.malformed(line, `expected ${names.length} columns (${shown}), found ${found}`);
  }

  private malformed(line: number, detail: string): PayloadError {
    return new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line }, detail);
  }
}

/** Picks the candidate delimiter found most often outside quotes on the header line. */
export function detectDelimiter(s: string, pos: number, quote: string): string {
  const counts = new Map<string, number>(CANDIDATES.map((c) => [c, 0]));
  let quoted = false;
  for (let i = pos; i < s.length; i++) {
    const c = s[i]!;
    if (c === quote) quoted = !quoted;
    else if (!quoted && c === '\n') break;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = CANDIDATES[0]!;
  for (const c of CANDIDATES) if (counts.get(c)! > counts.get(best)!) best = c;
  return best;
}
