// The fingerprint walk of a snapshot's extract (issue 16): the flow's last accepted snapshot, kept as a
// file of canonical rows in the order they arrived, is read alongside the new payload. A row whose key
// and values equal the old file's row is not staged; a row that differs, or is new, is. Old rows the new
// snapshot no longer holds become tombstones (the merge removes them by key). The new payload's rows are
// written to a file of their own, which becomes the flow's fingerprint when the run's merge commits.
//
// File format: a header line `#fp3<TAB>mapping signature`, then one line per row,
// `raw hash<TAB>part<TAB>item<TAB>value…<LF>`: the raw hash is 16 hex digits of a 64-bit hash of the
// record as the connector read it (before mapping), every other field is escaped as COPY text (so a line
// never holds a raw tab or newline and its key `part<TAB>item` is a tombstone line as it is).
//
// Two ways a row is found equal: by its raw record (same hash as the old row at the cursor, under the same
// mapping — then it is not even mapped: mapping is about half of the extract's cost per row), or by its
// canonical row after mapping (found at the cursor, a few rows ahead, or among rows passed over).
//
// Exports keep their order from one day to the next, so the walk is a merge of two sequences: the old
// row at the cursor is compared first; a row out of place is looked for a few rows ahead, and rows passed
// over wait in a map for their key to come. Both maps are bounded: a payload too far from the old
// order stops the walk (FingerprintOverflow) and the run is read again without a fingerprint.
import { closeSync, fsync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { Overflow } from './resolver.ts';
import type { RawLine } from '../../port/connector.ts';

const CHUNK = 1 << 20;
/** Old rows looked at past the cursor for a row out of place. */
const LOOKAHEAD = 64;
/** Old rows passed over plus new rows met early, at most (about 100 bytes each in the maps). */
export const WALK_MAX_PENDING = 200_000;

/** The payload's order is too far from the last snapshot's for the walk: read it again without one. */
export class FingerprintOverflow extends Overflow {}

/**
 * Lines of a file as byte ranges of a buffer, read synchronously in 1 MB pieces (the walk is called from a
 * synchronous formatter). A line is decoded only when asked (`str`): a row equal by its raw hash is copied
 * to the new file as bytes (a CPU profile of a 1M-row snapshot: decoding and splitting the old file into
 * strings took 0.6 s of the read's 2 s, and their garbage most of its GC).
 */
class LineReader {
  private readonly fd: number;
  buf = Buffer.allocUnsafe(CHUNK);
  private len = 0;
  private pos = 0;
  /** The current line: buf[s, e), without its newline. */
  s = 0;
  e = 0;
  private eof = false;
  /** Called before the buffer's bytes move (more are read): ranges of it held by the caller are used up then. */
  onMove: (() => void) | undefined;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }

  /** Moves to the next line; false at the end of the file. The previous line's bytes may be gone. */
  next(): boolean {
    for (;;) {
      const nl = this.pos < this.len ? this.buf.indexOf(10, this.pos) : -1;
      if (nl >= 0 && nl < this.len) {
        this.s = this.pos;
        this.e = nl;
        this.pos = nl + 1;
        return true;
      }
      if (this.eof) {
        if (this.pos >= this.len) return false;
        this.s = this.pos;
        this.e = this.len;
        this.pos = this.len;
        return true;
      }
      this.onMove?.();
      // The partial line to the front (the buffer doubled when one line fills it), then more bytes.
      const rest = this.len - this.pos;
      if (rest && this.pos) this.buf.copyWithin(0, this.pos, this.len);
      this.len = rest;
      this.pos = 0;
      if (this.len === this.buf.length) {
        const b = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(b, 0, 0, this.len);
        this.buf = b;
      }
      const n = readSync(this.fd, this.buf, this.len, this.buf.length - this.len, null);
      if (n === 0) this.eof = true;
      else this.len += n;
    }
  }

  str(): string {
    return this.buf.toString('utf8', this.s, this.e);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Characters before a line's canonical row: the raw hash and its tab. */
const RAW = 17;
/** The raw hash of a row whose record cannot be compared raw (never equal to a real one: not hex). */
export const NO_RAW_HASH = '-'.repeat(16);
// fp3: a plain line's raw hash is the line's, whole (RawHash.ofLine); fp2 hashed it field by field as its
// cut record, and fp1 mixed names and values: files of those are compared by key only.
const HEADER = '#fp3';

/** The key of a fingerprint line: the first two fields of its canonical row. */
function keyOf(line: string): string {
  const t = line.indexOf('\t', line.indexOf('\t', RAW) + 1);
  return t < 0 ? line.slice(RAW) : line.slice(RAW, t);
}

/** Whether fingerprint line `l` is of key `key` (its canonical row starts with key TAB). */
function isKey(l: string, key: string): boolean {
  return l.length > RAW + key.length && l.charCodeAt(RAW + key.length) === 9 && l.startsWith(key, RAW);
}

/**
 * 64 bits of hash (two 32-bit FNV-1a variants) of a raw record: its kind, field names and values in the
 * connector's order, with separators. A changed value changes it but with a chance of 2^-64. One object
 * is reused per sink: the walk compares the numbers with the old line's hex digits, and the hex string
 * is built only for rows that are written anew (a CPU profile of a 1M-row snapshot: building two hex
 * strings per row cost more than the hashing).
 */
interface LinePrefix { columns: readonly string[]; delimiter: number; a: number; b: number }

export class RawHash {
  a = 0;
  b = 0;
  /** The state a file's plain lines start from (and no kind), per columns array: the same for every line of the file. */
  private static readonly prefixes = new WeakMap<readonly string[], LinePrefix>();
  private lastPrefix: LinePrefix | undefined;

  /** The state after a record's kind and its keys' names (each ended by 0x1f) and 0x1d, left in a and b. */
  private names(keys: Record<string, unknown>, kind: string | undefined): void {
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    if (kind !== undefined) {
      for (let i = 0; i < kind.length; i++) {
        a = Math.imul(a ^ kind.charCodeAt(i), 0x01000193);
        b = Math.imul(b ^ kind.charCodeAt(i), 0x5bd1e995);
      }
    }
    for (const k in keys) {
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
      }
      a = Math.imul(a ^ 0x1f, 0x01000193);
      b = Math.imul(b ^ 0x1f, 0x5bd1e995);
    }
    this.a = Math.imul(a ^ 0x1d, 0x01000193);
    this.b = Math.imul(b ^ 0x1d, 0x5bd1e995);
  }

  /**
   * The record's kind, its field names (each ended by 0x1f), 0x1d, then its values (each ended by 0x1e),
   * in the record's key order.
   */
  of(data: Record<string, string>, kind: string | undefined): this {
    this.names(data, kind);
    let a = this.a;
    let b = this.b;
    for (const k in data) {
      const v = data[k]!;
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
      }
      a = Math.imul(a ^ 0x1e, 0x01000193);
      b = Math.imul(b ^ 0x1e, 0x5bd1e995);
    }
    this.a = a >>> 0;
    this.b = (b ^ (b >>> 15)) >>> 0;
    return this;
  }

  /**
   * The state a file's plain lines start from: its columns' names (each ended by 0x1f), 0x1d, then its
   * delimiter and 0x1d. Kept per columns array (one per file read) when there is no kind.
   */
  private linePrefix(columns: readonly string[], delimiter: number, kind: string | undefined): void {
    // The last file's state first: a WeakMap lookup a line was 4 % of the read (a profile at 2M lines).
    const known = kind !== undefined ? undefined : this.lastPrefix?.columns === columns ? this.lastPrefix : RawHash.prefixes.get(columns);
    if (known && known.delimiter === delimiter) {
      this.lastPrefix = known;
      this.a = known.a;
      this.b = known.b;
      return;
    }
    // The names as `of` takes them: from an object with the columns as its keys, in their order.
    this.names(Object.fromEntries(columns.map((c) => [c, ''])), kind);
    this.a = Math.imul(Math.imul(this.a ^ delimiter, 0x01000193) ^ 0x1d, 0x01000193);
    this.b = Math.imul(Math.imul(this.b ^ delimiter, 0x5bd1e995) ^ 0x1d, 0x5bd1e995);
    if (kind === undefined) RawHash.prefixes.set(columns, this.lastPrefix = { columns, a: this.a, b: this.b, delimiter });
  }

  /**
   * A plain line (fp3): the file's prefix (linePrefix), then every character of the line as it stands,
   * delimiters included. Not the hash `of` gives its cut record: a line is compared with lines, and a
   * record with records, so the two never meet; hashing the line whole lets the connector compare a line
   * by its bytes before it decodes it (ofBytes).
   */
  ofLine(r: RawLine, kind: string | undefined): this {
    this.linePrefix(r.columns, r.delimiter, kind);
    let a = this.a;
    let b = this.b;
    const s = r.text;
    for (let i = r.start, end = r.end; i < end; i++) {
      const ch = s.charCodeAt(i);
      a = Math.imul(a ^ ch, 0x01000193);
      b = Math.imul(b ^ ch, 0x5bd1e995);
    }
    this.a = a >>> 0;
    this.b = (b ^ (b >>> 15)) >>> 0;
    return this;
  }

  /**
   * The hash ofLine gives the line buf[start, end) once decoded, from its bytes: the same when every byte
   * is ASCII (one byte, one character, in UTF-8 and Windows-1251 alike). False, with no hash, when a byte
   * is not: such a line is decoded and hashed as text.
   */
  ofBytes(columns: readonly string[], delimiter: number, buf: Uint8Array, start: number, end: number): boolean {
    this.linePrefix(columns, delimiter, undefined);
    let a = this.a;
    let b = this.b;
    let high = 0;
    for (let i = start; i < end; i++) {
      const ch = buf[i]!;
      high |= ch;
      a = Math.imul(a ^ ch, 0x01000193);
      b = Math.imul(b ^ ch, 0x5bd1e995);
    }
    if (high & 0x80) return false;
    this.a = a >>> 0;
    this.b = (b ^ (b >>> 15)) >>> 0;
    return true;
  }

  /** Writes the 16 hex digits into buf at `at` (as `hex()` spells them); answers the offset after them. */
  writeHex(buf: Uint8Array, at: number): number {
    for (let i = 0; i < 8; i++) buf[at + i] = hexDigit(this.a, i);
    for (let i = 0; i < 8; i++) buf[at + 8 + i] = hexDigit(this.b, i);
    return at + 16;
  }

  /** The 16 hex digits a fingerprint line starts with. */
  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }

  /** Whether `line` starts with this hash's 16 hex digits (compared digit by digit, no string built). */
  starts(line: string): boolean {
    return hexInString(line, 0, this.a) && hexInString(line, 8, this.b);
  }

  /** The same for a line's bytes from `at`. */
  startsBytes(buf: Buffer, at: number): boolean {
    return hexInBytes(buf, at, this.a) && hexInBytes(buf, at + 8, this.b);
  }
}

/** The character code of `x`'s i-th hex digit (lower case, most significant first). */
function hexDigit(x: number, i: number): number {
  const n = (x >>> (28 - 4 * i)) & 15;
  return n < 10 ? 48 + n : 87 + n;
}

function hexInString(line: string, at: number, x: number): boolean {
  for (let i = 0; i < 8; i++) if (line.charCodeAt(at + i) !== hexDigit(x, i)) return false;
  return true;
}

function hexInBytes(buf: Buffer, at: number, x: number): boolean {
  for (let i = 0; i < 8; i++) if (buf[at + i] !== hexDigit(x, i)) return false;
  return true;
}

/** The hex raw hash of a record (tests and one-off use; the walk takes a RawHash). */
export function rawHash(data: Record<string, string>, kind: string | undefined): string {
  return new RawHash().of(data, kind).hex();
}

export interface WalkResult {
  /** Rows equal to the old file's, not staged. */
  skipped: number;
  /** Rows written to the new file. */
  written: number;
  /** Old rows the payload no longer holds (tombstones handed to `gone`). */
  gone: number;
}

export class FingerprintWalk {
  skipped = 0;
  written = 0;
  private readonly old: LineReader | undefined;
  /**
   * The old row at the cursor: a string, or (`curRaw`) the reader's current line not decoded yet; rows read
   * past it by a look-ahead are served first, in order.
   */
  private cur: string | undefined;
  private curRaw = false;
  private ahead: string[] = [];
  private aheadAt = 0;
  /** Old rows passed over by a look-ahead, by key: a row of the payload may still name them. */
  private readonly passed = new Map<string, string>();
  /** Keys of the payload met before their old row (staged): that old row is not a tombstone. */
  private readonly early = new Set<string>();
  private readonly out: number;
  /** The new file's next bytes (utf8), written out when full. */
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private at = 0;
  /** Old rows copied but not written yet: old.buf[runS, runE) (runS < 0: none). */
  private runS = -1;
  private runE = -1;
  private closed = false;
  /** The old file was written under the same mapping signature: a raw record equal to the old one maps the same. */
  readonly rawComparable: boolean;

  /**
   * `oldFile`: the flow's fingerprint to compare with (none: every row is staged); `newFile` is written as
   * `newFile.tmp` until finish. `mapping`: the signature of the mappings the rows go through (raw records
   * are compared only under the same one; none: never).
   */
  constructor(oldFile: string | undefined, private readonly newFile: string, mapping: string | undefined, private readonly maxPending = WALK_MAX_PENDING) {
    this.old = oldFile ? new LineReader(oldFile) : undefined;
    const header = this.old?.next() ? this.old.str() : undefined;
    this.rawComparable = mapping !== undefined && header === `${HEADER}\t${mapping}`;
    this.advance();
    this.out = openSync(`${newFile}.tmp`, 'w');
    this.put(`${HEADER}\t${mapping ?? '-'}\n`);
    if (this.old) this.old.onMove = () => this.emitRun();
  }

  /** The cursor to the next old row. */
  private advance(): void {
    if (this.aheadAt < this.ahead.length) {
      this.cur = this.ahead[this.aheadAt++]!;
      this.curRaw = false;
      if (this.aheadAt === this.ahead.length) {
        this.ahead = [];
        this.aheadAt = 0;
      }
      return;
    }
    this.cur = undefined;
    this.curRaw = !!this.old?.next();
  }

  /** The old row at the cursor as a string (decoded now if it was not). */
  private curLine(): string | undefined {
    if (this.curRaw) {
      this.cur = this.old!.str();
      this.curRaw = false;
    }
    return this.cur;
  }

  /** Old rows at the cursor whose key the payload already brought out of place are no tombstones. */
  private skipEarly(): void {
    if (!this.early.size) return;
    for (let l = this.curLine(); l !== undefined && this.early.delete(keyOf(l)); l = this.curLine()) this.advance();
  }

  /** The old row of `key`, consumed (undefined: the payload brings the key new, or far out of place). */
  private take(key: string): string | undefined {
    if (!this.old) return undefined;
    this.skipEarly();
    const cur = this.curLine();
    if (cur !== undefined && isKey(cur, key)) {
      this.advance();
      return cur;
    }
    if (this.passed.size) {
      const p = this.passed.get(key);
      if (p !== undefined) {
        this.passed.delete(key);
        return p;
      }
    }
    if (cur === undefined) return this.missing(key);
    // A few rows ahead: the rows before it were removed from the payload, or come later.
    // (The cursor's row is a string by now: reading on does not lose it.)
    while (this.ahead.length - this.aheadAt < LOOKAHEAD) {
      if (!this.old.next()) break;
      if (this.aheadAt) {
        this.ahead = this.ahead.slice(this.aheadAt);
        this.aheadAt = 0;
      }
      this.ahead.push(this.old.str());
    }
    for (let j = this.aheadAt; j < this.ahead.length; j++) {
      const l = this.ahead[j]!;
      if (isKey(l, key)) {
        this.pass(cur);
        for (let k = this.aheadAt; k < j; k++) this.pass(this.ahead[k]!);
        this.aheadAt = j + 1;
        if (this.aheadAt === this.ahead.length) {
          this.ahead = [];
          this.aheadAt = 0;
        }
        this.advance();
        return l;
      }
    }
    return this.missing(key);
  }

  private pass(line: string): void {
    this.passed.set(keyOf(line), line);
    this.bound();
  }

  private missing(key: string): undefined {
    this.early.add(key);
    this.bound();
    return undefined;
  }

  private bound(): void {
    if (this.passed.size + this.early.size > this.maxPending) {
      throw new FingerprintOverflow(`the payload's rows are too far from the order of the last snapshot (over ${this.maxPending} rows out of place)`);
    }
  }

  /**
   * A raw record whose hash equals the old row's at the cursor (under the same mapping): that row again,
   * recorded as it was, not staged — and the record need not be mapped. False: map it and call `stage`.
   */
  sameRaw(hash: RawHash): boolean {
    if (!this.rawComparable) return false;
    this.skipEarly();
    if (this.curRaw) {
      const r = this.old!;
      if (!hash.startsBytes(r.buf, r.s)) return false;
      this.recordBytes(r.buf, r.s, r.e);
    } else {
      const cur = this.cur;
      if (cur === undefined || !hash.starts(cur)) return false;
      this.recordLine(cur);
    }
    this.advance();
    this.skipped++;
    return true;
  }

  /**
   * A payload row, `row` = key TAB values: whether it must be staged (false: equal to the last
   * snapshot's row). The caller records the row with `record` once it is sure the row is accepted.
   */
  stage(key: string, row: string): boolean {
    const old = this.take(key);
    if (old !== undefined && old.length === row.length + RAW && old.endsWith(row)) {
      this.skipped++;
      return false;
    }
    return true;
  }

  /** A rejected row's key: its live row is kept (not a tombstone), and it is not recorded. */
  seen(key: string): void {
    this.take(key);
  }

  /** Whether rows are compared with an old fingerprint (false: a first load's, every row is new). */
  get comparing(): boolean {
    return this.old !== undefined;
  }

  /**
   * Room for a line of up to `max` bytes (its newline not counted) in the new file's buffer, for a writer
   * that puts its bytes there itself (line-take.ts): answers where to write in `lineBuffer()`. `max` must
   * be under 1 MB. `wroteLine(end)` ends the line.
   */
  lineRoom(max: number): number {
    this.emitRun();
    if (this.at + max + 1 > CHUNK) this.flush();
    return this.at;
  }

  lineBuffer(): Buffer {
    return this.buf;
  }

  wroteLine(end: number): void {
    this.at = end;
    this.buf[this.at++] = 10;
    this.written++;
  }

  /** Appends an accepted row (its raw hash, NO_RAW_HASH if none, and its canonical row) to the new file. */
  record(hash: string, row: string): void {
    this.recordLine(`${hash}\t${row}`);
  }

  private recordLine(line: string): void {
    this.put(line);
    this.buf[this.at++] = 10;
    this.written++;
  }

  /**
   * An old row again, copied as bytes: old rows that follow one another are copied as one range, when
   * something else is written or the old file's buffer moves on (a CPU profile of 2M lines: one
   * Buffer#copy a line was 0.25 s of the read's 2.9 s).
   */
  private recordBytes(src: Buffer, s: number, e: number): void {
    if (this.runS >= 0 && s === this.runE + 1) this.runE = e;
    else {
      this.emitRun();
      this.runS = s;
      this.runE = e;
    }
    this.written++;
  }

  /** The pending range of old rows (rows and the line breaks between them), to the new file. */
  private emitRun(): void {
    if (this.runS < 0) return;
    const s = this.runS;
    const e = this.runE;
    this.runS = -1;
    this.copyBytes(this.old!.buf, s, e);
  }

  private copyBytes(src: Buffer, s: number, e: number): void {
    if (this.at + (e - s) + 1 > CHUNK) {
      this.flush();
      if (e - s + 1 > CHUNK) {
        writeSync(this.out, src, s, e - s);
        writeSync(this.out, '\n');
        return;
      }
    }
    this.at += src.copy(this.buf, this.at, s, e);
    this.buf[this.at++] = 10;
  }

  /** Appends a string's utf8 bytes (a profile: joining the lines of a megabyte and writing the string took 16 ns a byte). */
  private put(s: string): void {
    this.emitRun();
    // Three bytes a UTF-16 unit at most, and room for the newline.
    if (this.at + s.length * 3 + 1 > CHUNK) {
      this.flush();
      if (s.length * 3 + 1 > CHUNK) {
        writeSync(this.out, s);
        return;
      }
    }
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  private flush(): void {
    if (!this.at) return;
    writeSync(this.out, this.buf, 0, this.at);
    this.at = 0;
  }

  /**
   * The rows written so far to disk, in the background (the read is over): a first load's file of 10M
   * rows is 450 MB, and its fsync in `finish` came after the load's COPY and index build instead of beside
   * them. `finish` waits for it.
   */
  syncSoon(): void {
    if (this.closed || this.syncing) return;
    this.emitRun();
    this.flush();
    const fd = this.out;
    this.syncing = new Promise<void>((resolve) => fsync(fd, () => resolve()));
  }

  private syncing: Promise<void> | undefined;

  /**
   * Ends the walk: the old rows never named go to `gone` as tombstone lines (`part TAB item LF`, in
   * pieces), and the new file is made durable under its final name.
   */
  async finish(gone: (lines: string) => Promise<void>): Promise<WalkResult> {
    let n = 0;
    let buf: string[] = [];
    const push = async (line: string) => {
      buf.push(keyOf(line), '\n');
      n++;
      if (buf.length >= 100_000) {
        await gone(buf.join(''));
        buf = [];
      }
    };
    if (this.old) {
      for (let l = this.curLine(); l !== undefined; this.advance(), l = this.curLine()) {
        if (!this.early.delete(keyOf(l))) await push(l);
      }
      this.cur = undefined;
      for (const l of this.passed.values()) await push(l);
      this.passed.clear();
      if (buf.length) await gone(buf.join(''));
    }
    this.emitRun();
    this.flush();
    // Whatever syncSoon left (nothing, or rows after it) — its fsync is waited for first, on the same file.
    await this.syncing;
    fsyncSync(this.out);
    this.closeFiles();
    renameSync(`${this.newFile}.tmp`, this.newFile);
    return { skipped: this.skipped, written: this.written, gone: n };
  }

  /** Closes the files; an unfinished new file is removed. */
  close(): void {
    if (this.closeFiles()) rmSync(`${this.newFile}.tmp`, { force: true });
  }

  private closeFiles(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.old?.close();
    closeSync(this.out);
    return true;
  }
}
