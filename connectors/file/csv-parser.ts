// Incremental RFC 4180 parser over decoded text: fed chunk by chunk, it keeps only the unfinished
// record, counts physical lines (also inside quoted newlines) and hands out records in batches.
import { PayloadError, type RawLine, type SourceRecord } from '../../src/port/index.ts';
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
  /**
   * Records of lines with no quote are handed out as CsvLineRecord: the line is checked for its column
   * count now and cut into `data` only when `data` is first read (ParseContext.rawLines).
   */
  lazy?: boolean;
}

/** What every lazy record of a file shares: the header, the delimiter and the shape of `data`. */
interface LineShape {
  columns: readonly string[];
  delimiter: number;
  delimiterChar: string;
  template: Record<string, string>;
}

/**
 * A record of a plain line (no quote), cut into fields when `data` is first read. A snapshot's read that
 * finds 99 % of its lines equal to the last snapshot's by their hash (src/pipeline/extract/fingerprint-sink.ts)
 * never cuts them: the eager record cost an object and a string per column for every line.
 */
export class CsvLineRecord implements SourceRecord, RawLine {
  private built: Record<string, string> | undefined;

  constructor(readonly text: string, readonly start: number, readonly end: number, readonly line: number, private readonly shape: LineShape) {}

  get columns(): readonly string[] {
    return this.shape.columns;
  }

  get delimiter(): number {
    return this.shape.delimiter;
  }

  get rawLine(): RawLine {
    return this;
  }

  get data(): Record<string, string> {
    if (this.built) return this.built;
    const { columns, delimiterChar, template } = this.shape;
    const data = { ...template };
    const s = this.text;
    let from = this.start;
    const last = columns.length - 1;
    for (let c = 0; c < last; c++) {
      const d = s.indexOf(delimiterChar, from);
      data[columns[c]!] = s.slice(from, d);
      from = d + 1;
    }
    data[columns[last]!] = s.slice(from, this.end);
    this.built = data;
    return data;
  }
}

/** Delimiters tried by detection, in order of preference when counts tie. */
const CANDIDATES = [';', '\t', ',', '|'];
const NONE = Number.MAX_SAFE_INTEGER;

/**
 * A record the text so far ended in (a quoted field open, or between fields): what was read of it. The
 * next push resumes where this one stopped instead of reading the record again from its start — a field
 * of megabytes arriving in small chunks was read again at every chunk (measured: an unterminated 8 MB
 * field in 4 KiB chunks took 9.2 s, quadratic in its length).
 */
interface OpenField {
  /** The record's fields before the open one. */
  fields: string[];
  /** The open field's value so far, in pieces (joined once it closes: appending to one string made V8 copy it again and again). */
  parts: string[];
  /** Line breaks of the record so far, and the line the quote opened on. */
  newlines: number;
  openedAt: number;
  /** Characters of the record consumed into this state (for the record length limit). */
  chars: number;
  /** Where the record stands: at a field's start, inside a quoted field, or just after its closing quote. */
  mode: 'start' | 'quoted' | 'after';
}

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
  /** Set when the text ended inside a quoted field: `rest` then holds only what follows the scanned part. */
  private open: OpenField | undefined;
  /** With `open`: where in the last text the unscanned part starts (what `rest` keeps). */
  private resumeAt = 0;
  /** Characters at the start of `rest` known to hold no line break and no quote (a long plain record). */
  private known = 0;
  /** Set once the header is read, when plain lines become lazy records (options.lazy). */
  private shape: LineShape | undefined;

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
    let n = this.line + (this.open?.newlines ?? 0);
    for (let i = this.rest.indexOf('\n'); i >= 0; i = this.rest.indexOf('\n', i + 1)) n++;
    return n;
  }

  /**
   * The header is read, plain lines become lazy records, and nothing is pending: the next byte of the
   * payload starts a record (a connector may pass over a whole line then, see skipLines).
   */
  idle(): boolean {
    return this.shape !== undefined && this.rest === '' && this.open === undefined;
  }

  /** The file's lines passed over unread while idle (ParseContext.lineSkip): counted, so later lines keep their numbers. */
  skipLines(n: number): void {
    if (!this.idle()) throw new Error('CsvParser.skipLines: a record is pending');
    this.line += n;
  }

  /** The header's shape, once plain lines become lazy records. */
  get lineShape(): { columns: readonly string[]; delimiter: number } | undefined {
    return this.shape;
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
    const from = this.open ? this.resumeAt : pos;
    this.rest = from < s.length ? s.slice(from) : '';
    if (!final && (this.open?.chars ?? 0) + this.rest.length > this.o.maxRecordChars) {
      throw new PayloadError('MAG_ERR_PAYLOAD_TOO_LARGE', { file: this.o.fileName, line: this.line }, `the record starting here is longer than ${this.o.maxRecordChars} characters (an unterminated quote?)`);
    }
    if (final && !this.header) {
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: 1 }, 'the file is empty: a header row is required');
    }
  }

  /** Skips leading empty lines, detects the delimiter, reads and checks the header. Returns the new position. */
  private readHeader(s: string, final: boolean): number {
    let pos = 0;
    // The header's quoted field was open at the end of the last text: go on with it, nothing to skip.
    for (; !this.open;) {
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
    // A raw line is hashed as `data` is, key by key in iteration order: only where that is the header's
    // order (a column named like an array index, "1", would be iterated first).
    const keys = Object.keys(template);
    if (this.o.lazy && this.delim.length === 1 && keys.every((k, i) => k === names[i])) {
      this.shape = { columns: names, delimiter: this.delim.charCodeAt(0), delimiterChar: this.delim, template };
    }
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
    // A record whose quoted field was open at the end of the last text goes on at the start of this one.
    if (this.open) {
      const rec = this.readSlow(s, pos, final, line);
      if (!rec) return pos;
      if (rec.fields.length !== ncols) throw this.columnMismatch(line, rec.fields.length);
      const data = { ...template };
      for (let c = 0; c < ncols; c++) data[names[c]!] = rec.fields[c]!;
      batcher.push({ data, line });
      pos = rec.next;
      line += rec.newlines;
    }
    // The start of the text that the last push already searched: no line break, no quote in it.
    const known = pos === 0 ? this.known : 0;
    this.known = 0;
    let nq = s.indexOf(q, pos + known);
    if (nq < 0) nq = NONE;
    let nd = -1;
    while (pos < n) {
      let nl = s.indexOf('\n', pos === 0 ? known : pos);
      if (nl < 0) {
        if (!final) {
          if (nq < pos) {
            nq = s.indexOf(q, pos);
            if (nq < 0) nq = NONE;
          }
          // The record goes on in the next text. A quoted one is read now, so that a long open field
          // keeps its place; a plain one remembers how far it has no line break. Either way the next
          // push does not search the record again from its start (quadratic for a long record in small
          // chunks: an 8 MB field in 4 KiB chunks took 9.2 s).
          if (nq !== NONE) this.readSlow(s, pos, false, line);
          else this.known = n - pos;
          break;
        }
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
      if (nq >= nl && this.shape) {
        // No quote on this line, cut later if at all: its column count is checked now, as an eager cut does.
        let found = 0;
        for (let d = s.indexOf(delim, pos); d >= 0 && d < end; d = s.indexOf(delim, d + 1)) found++;
        if (found !== ncols - 1) throw this.columnCount(s, pos, line);
        batcher.push(new CsvLineRecord(s, pos, end, at, this.shape));
        pos = nl + 1;
        line++;
        continue;
      }
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
   * Returns undefined when the text ends before the record does and more text is coming; what was read
   * of the record is then kept (`open`, `resumeAt`) and the next call with `pos` 0 goes on from there.
   */
  private readSlow(s: string, pos: number, final: boolean, line: number): SlowRecord | undefined {
    const q = this.o.quote;
    const delim = this.delim!;
    const n = s.length;
    const r = pos === 0 ? this.open : undefined;
    this.open = undefined;
    const fields = r ? r.fields : [];
    let newlines = r ? r.newlines : 0;
    let mode: OpenField['mode'] = r ? r.mode : 'start';
    let parts: string[] = r ? r.parts : [];
    let openedAt = r ? r.openedAt : line;
    const before = r ? r.chars : 0;
    let i = pos;
    const pause = (at: number): undefined => {
      this.open = { fields, parts, newlines, openedAt, chars: before + (at - pos), mode };
      this.resumeAt = at;
      return undefined;
    };
    for (;;) {
      if (mode === 'start') {
        if (i < n && s[i] === q) {
          mode = 'quoted';
          openedAt = line + newlines;
          parts = [];
          i++;
          continue;
        }
        const nl = s.indexOf('\n', i);
        const d = s.indexOf(delim, i);
        if (nl < 0 && !final) {
          // The line goes on in the next text: a field that ends here is read, the rest waits.
          if (d < 0) return pause(i);
          fields.push(s.slice(i, d));
          i = d + 1;
          continue;
        }
        const lineEnd = nl < 0 ? n : nl;
        if (d >= 0 && d < lineEnd) {
          fields.push(s.slice(i, d));
          i = d + 1;
          continue;
        }
        const end = lineEnd > i && s.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
        fields.push(s.slice(i, end));
        return nl < 0 ? { fields, next: n, newlines } : { fields, next: nl + 1, newlines: newlines + 1 };
      }
      if (mode === 'quoted') {
        const k = s.indexOf(q, i);
        if (k < 0 && final) throw this.malformed(openedAt, `unterminated quoted field: the quote opened on line ${openedAt} is never closed`);
        // No closing quote yet, or one at the very end (a doubled quote may straddle the chunk end).
        const stop = k < 0 || (k + 1 >= n && !final) ? (k < 0 ? n : k) : -1;
        for (let x = s.indexOf('\n', i); x >= 0 && x < (stop >= 0 ? stop : k); x = s.indexOf('\n', x + 1)) newlines++;
        if (stop >= 0) {
          parts.push(s.slice(i, stop));
          return pause(stop);
        }
        if (s[k + 1] === q) {
          parts.push(s.slice(i, k + 1));
          i = k + 2;
          continue;
        }
        parts.push(s.slice(i, k));
        fields.push(parts.length === 1 ? parts[0]! : parts.join(''));
        parts = [];
        i = k + 1;
        mode = 'after';
        continue;
      }
      // After a closing quote: a delimiter, the line's end, or the text's end.
      if (i >= n) return final ? { fields, next: n, newlines } : pause(i);
      const c = s[i];
      if (c === delim) {
        i++;
        mode = 'start';
        continue;
      }
      if (c === '\n') return { fields, next: i + 1, newlines: newlines + 1 };
      if (c === '\r') {
        if (i + 1 >= n) return final ? { fields, next: n, newlines } : pause(i);
        if (s[i + 1] === '\n') return { fields, next: i + 2, newlines: newlines + 1 };
      }
      throw this.malformed(line + newlines, `unexpected ${JSON.stringify(c)} after the closing quote of column ${fields.length}`);
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
