// The XML tokenizer of the connector kit: a streaming scanner over raw bytes that reports element
// opens and closes with interned names, attributes on demand and the direct text of chosen elements.
//
// Made for multi-gigabyte files: it finds tags with byte searches (`<`, `>`, quotes and `=` are ASCII
// in UTF-8 and windows-1251) and decodes only the values its handler asks for. Memory stays bounded
// whatever the file size: only the unfinished token at a chunk's end is kept. What it refuses, with
// file, line and column: DOCTYPE / ENTITY declarations (XXE), mismatched or unclosed tags, a truncated
// file, bad attribute syntax, bytes invalid in the declared encoding, unknown entities, text values
// over the size cap. Namespaces are ignored: names are reported by their local part (`cml:Цена` → `Цена`).
import { isUtf8 } from 'node:buffer';
import { PayloadError } from '../../../src/port/index.ts';
import { completeUtf8Length, firstInvalidUtf8, hexBytes } from '../utf8.ts';
import { detectXmlEncoding, type XmlEncoding } from './encoding.ts';
import { CACHE_VALUE_BYTES, CP1251_INVALID, ShortValueCache, decodeBytes, decodeName, decodeValue, encodeName } from './values.ts';

export interface ScanHandler {
  /**
   * An element opens (its attributes are readable through the scanner until this returns).
   * Return true to receive the element's own decoded text content when it closes.
   */
  open(name: number, depth: number): boolean;
  /** An element closes; `text` is its direct text content if open() asked for it, else ''. */
  close(name: number, depth: number, text: string): void;
  /**
   * Offered the raw content of the element just opened, when open() asked for it (XmlScanner.offerContent)
   * and its end tag is in the bytes at hand: `buf[start, end)`, up to the `</name>` that ends it (UTF-8 only).
   * True: the handler took it whole — the scanner goes on after the end tag, reporting the element's close
   * and nothing inside. False: the content is scanned as usual. A handler takes only content it fully
   * understands (the first `</name>` found ends the element only where nothing in between can hide one).
   */
  content?(name: number, depth: number, buf: Buffer, start: number, end: number): boolean;
  /**
   * With contentNames: where the content of element `name`, from `buf[start]` (bytes up to `limit` at
   * hand), ends — the offset of its end tag — found by reading it as content() would take it; -1 when
   * the handler cannot tell (content it would not take, or cut off by `limit`): the scanner then searches
   * for the end tag itself. Measured (bench:onec, 1M prices): that search over every offer's `<Цены>`
   * was 0.35–0.4 s of the worker's CPU, a read the handler does anyway.
   */
  measure?(name: number, buf: Buffer, start: number, limit: number): number;
}

export interface XmlScannerOptions {
  /** Named in every error. */
  fileName: string;
  /** Element and attribute names the handler cares about: name ids 0…n-1 are their indices. */
  names: readonly string[];
  /** Largest text value (or comment, CDATA section, tag) kept while waiting for its end. @defaultValue 16 MiB */
  maxTextBytes?: number;
  /** Deepest element nesting accepted. @defaultValue 256 */
  maxDepth?: number;
  /** The document format, named where a refusal explains what such files hold (e.g. CommerceML). */
  format?: string;
  /**
   * Names (ids) whose content the handler may take (ScanHandler.content): such an element is reported only
   * once its end tag has arrived too (up to CONTENT_WAIT bytes), so that its content can be offered whole.
   */
  contentNames?: readonly number[];
}

/** Content of a `contentNames` element waited for, at most: a longer one is scanned as it comes. */
const CONTENT_WAIT = 1 << 20;

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QMARK = 0x3f;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;
const COLON = 0x3a;
const NL = 0x0a;

const MAX_NAMES = 65536;
const MAX_NAME_BYTES = 1024;
/** Byte classes inside a tag: 0 part of a name, 1 ends a name, 2 never in a name. */
const NAME_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 0x20; b++) t[b] = 2;
  for (const b of [0x20, 0x09, 0x0a, 0x0d, GT, SLASH, EQ]) t[b] = 1;
  for (const b of [LT, DQ, SQ, 0x26]) t[b] = 2;
  return t;
})();
/** How far to look for `<` byte by byte before asking the native search (short runs are the norm). */
const SHORT_RUN = 24;

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
/** Bytes that cannot start a name: ASCII other than letters, `_` and `:`. Bytes ≥ 0x80 belong to non-ASCII letters. */
const isNameStart = (b: number): boolean => (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || b === 0x5f || b === COLON || b >= 0x80;

export class XmlScanner {
  private readonly fileName: string;
  private readonly vocabulary: readonly string[];
  private readonly maxText: number;
  private readonly maxDepth: number;
  private readonly handler: ScanHandler;
  private readonly format: string | undefined;

  /** Encoding, once read from the BOM or declaration. */
  private enc: XmlEncoding | undefined;
  private utf8 = true;

  // Name table: qualified name id → bytes, decoded text, local name id; open addressing by hash.
  private nameBytes: Buffer[] = [];
  private nameText: string[] = [];
  private localOf: number[] = [];
  private slots: Int32Array = new Int32Array(1 << 12);
  private slotMask = (1 << 12) - 1;

  // The bytes not yet consumed: `pend` holds a copied tail when a token spans chunks.
  private pend: Buffer = Buffer.alloc(0);
  private pendLen = 0;
  /** The buffer being scanned and the absolute file offset of its first byte. */
  private buf: Buffer = Buffer.alloc(0);
  /** Whether buf is a view of pend (else it is the caller's chunk). */
  private inPend = false;
  private base = 0;
  private started = false;
  private bomSkip = 0;

  // Lines are counted lazily (only for record positions and errors) with byte searches.
  private line = 1;
  private lineStart = 0;
  /** Characters of the current line that lie before `base` (already discarded). */
  private lineChars0 = 0;
  private nlFrom = 0;
  private nl = -1;

  // Encoding validation across chunk boundaries.
  private utf8Tail: Buffer | null = null;
  /** An invalid UTF-8 sequence that began in the previous chunk: how many of its bytes, and all of them. */
  private badBack = 0;
  private badJoint: Buffer | undefined;

  // Element stack: qualified name id per depth, whether its text is captured, and the text so far.
  private readonly stackName: Int32Array;
  private readonly capture: Uint8Array;
  private readonly capText: string[];
  private depth = 0;
  private rootSeen = false;
  private rootClosed = false;
  private stopped = false;

  // Attributes of the tag being opened: name id, value start and end (relative to buf).
  private attrCount = 0;
  private attrName: Int32Array = new Int32Array(16);
  /** Qualified name id of each attribute (for namespace declarations, `xmlns:p`). */
  private attrQName: Int32Array = new Int32Array(16);
  private attrStart: Int32Array = new Int32Array(16);
  private attrEnd: Int32Array = new Int32Array(16);

  /** Absolute offset of the `<` of the tag being reported. */
  private tagAt = 0;

  private readonly cache = new ShortValueCache();
  /** Absolute offset of the value being decoded, where an invalid reference in it is reported. */
  private valueAt = 0;
  private readonly invalidReference = (shown: string): never =>
    this.fail(this.valueAt, 'MAG_ERR_PAYLOAD_MALFORMED', `invalid entity reference ${JSON.stringify(shown)} (a raw & must be written &amp;)`);

  // Element names repeat in fixed patterns (…</ИдТипаЦены><ЦенаЗаЕдиницу>…): the name that opened after
  // the previous event last time is compared first, which saves hashing and the table probe.
  private predict: Int32Array = new Int32Array(1024);
  /** The previous event: qualified name id × 2, + 1 for a close. */
  private lastEvent = 0;

  constructor(o: XmlScannerOptions, handler: ScanHandler) {
    this.fileName = o.fileName;
    this.vocabulary = o.names;
    this.maxText = o.maxTextBytes ?? 16 * 1024 * 1024;
    this.maxDepth = o.maxDepth ?? 256;
    this.handler = handler;
    this.format = o.format;
    this.stackName = new Int32Array(this.maxDepth + 1);
    this.capture = new Uint8Array(this.maxDepth + 1);
    this.capText = new Array<string>(this.maxDepth + 1).fill('');
    this.contentNames = new Set(o.contentNames ?? []);
  }

  private readonly contentNames: ReadonlySet<number>;
  /** The scan under way is the last (end()): nothing more will come to wait for. */
  private finalScan = false;

  /** The encoding in use, once known. */
  get encoding(): XmlEncoding | undefined {
    return this.enc;
  }

  /** Bytes consumed so far (a progress measure). */
  get offset(): number {
    return this.base;
  }

  /** Inside open(): offer the element's raw content to the handler's content() (see ScanHandler.content). */
  offerContent(): void {
    this.contentOffered = true;
  }

  /**
   * Inside content(): the handler that takes buf[from, to) counted its line breaks (`n`, the last at
   * `last`), so the line count need not search for them one at a time (a 1C price has eight lines: 8M
   * searches for 1M prices, 0.3–0.5 s of a worker profile). Ignored when the count has already passed `from`.
   */
  linesCounted(from: number, to: number, n: number, last: number): void {
    const abs = this.base + from;
    this.countTo(abs);
    if (n === 0 || (this.nl < 0 ? this.nlFrom > abs : this.nl < abs)) return;
    this.line += n;
    this.lineStart = this.base + last + 1;
    this.lineChars0 = 0;
    this.nlFrom = this.base + to;
    this.nl = -1;
  }

  private contentOffered = false;
  /** Where the end tag of the element being opened was found (-1: not in the buffer; -2: not looked for). */
  private contentEnd = -2;
  /** `</name>` as bytes, by qualified name id (see endTag). */
  private readonly endTags = new Map<number, Buffer>();

  /** Stops scanning: later input is ignored and end() checks nothing (the handler saw all it needs). */
  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The decoded name of a name id (for paths and messages). */
  nameOf(id: number): string {
    return this.nameText[id] ?? this.vocabulary[id] ?? `#${id}`;
  }

  /** 1-based line of the tag being reported to open()/close(). */
  currentLine(): number {
    this.countTo(this.tagAt);
    return this.line;
  }

  /** Whether the tag being opened has attributes. */
  get hasAttributes(): boolean {
    return this.attrCount > 0;
  }

  /** The decoded value of an attribute (by local name id) of the tag being opened, or undefined. */
  attr(name: number): string | undefined {
    for (let i = 0; i < this.attrCount; i++) {
      if (this.attrName[i] === name) return this.decodeValue(this.attrStart[i]!, this.attrEnd[i]!, true);
    }
    return undefined;
  }

  /**
   * The qualified name (with its prefix, e.g. `soapenv:Envelope`) of the element being opened. For
   * readers that must resolve namespaces themselves (a SOAP envelope); callable inside open() only.
   */
  qualifiedName(): string {
    return this.nameOf(this.stackName[this.depth]!);
  }

  /** Every attribute of the tag being opened as [qualified name, decoded value] (namespace declarations included). */
  attributes(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.attrCount; i++) out.push([this.nameOf(this.attrQName[i]!), this.decodeValue(this.attrStart[i]!, this.attrEnd[i]!, true)]);
    return out;
  }

  /** Feeds the next chunk of the file. */
  write(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (!this.started) {
      // Gather the BOM and XML declaration before anything else.
      this.append(chunk);
      const head = this.pend.subarray(0, this.pendLen);
      if (!this.sniff(head, false)) return;
      const all = Buffer.from(head);
      this.pendLen = 0;
      this.feed(all);
      return;
    }
    this.feed(chunk);
  }

  /** The end of the file: everything must be closed. */
  end(): void {
    if (this.stopped) return;
    if (!this.started) {
      const head = Buffer.from(this.pend.subarray(0, this.pendLen));
      this.pendLen = 0;
      this.sniff(head, true);
      this.feed(head);
      if (this.stopped) return;
    }
    if (this.utf8Tail) {
      const at = this.base + this.pendLen - this.utf8Tail.length;
      this.fail(at, 'MAG_ERR_PAYLOAD_ENCODING', `invalid UTF-8: the file ends inside a multi-byte character`);
    }
    this.buf = this.pend.subarray(0, this.pendLen);
    this.inPend = true;
    const pos = this.parse(true);
    if (this.stopped) return;
    const endAt = this.base + this.buf.length;
    if (pos < this.buf.length && this.buf[pos] === LT) {
      // parse(true) only leaves something when a token is unfinished.
      this.fail(this.base + pos, 'MAG_ERR_PAYLOAD_MALFORMED', `unexpected end of file inside ${this.describeToken(pos)} (the file is truncated)`);
    }
    if (this.depth > 0) {
      this.fail(endAt, 'MAG_ERR_PAYLOAD_MALFORMED', `unexpected end of file: element ${this.openPath()} is not closed (the file is truncated)`);
    }
    if (!this.rootSeen) this.fail(endAt, 'MAG_ERR_PAYLOAD_MALFORMED', 'no root element: the file holds no XML document');
  }

  // ----- input plumbing -------------------------------------------------------------------------

  private append(chunk: Buffer): void {
    const need = this.pendLen + chunk.length;
    if (need > this.pend.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pend.length * 2, 64 * 1024));
      this.pend.copy(grown, 0, 0, this.pendLen);
      this.pend = grown;
    }
    chunk.copy(this.pend, this.pendLen);
    this.pendLen = need;
  }

  /** Reads the BOM and the XML declaration; returns false while more bytes are needed. */
  private sniff(head: Buffer, final: boolean): boolean {
    const found = detectXmlEncoding(head, final, this.fileName, this.format);
    if (!found) return false;
    this.enc = found.encoding;
    this.utf8 = this.enc === 'utf-8';
    this.bomSkip = found.bomLength;
    this.started = true;
    for (const n of this.vocabulary) {
      const bytes = encodeName(n, this.utf8);
      this.intern(bytes, 0, bytes.length);
    }
    return true;
  }

  /** Validates the chunk's encoding, then scans as much as it completes. */
  private feed(chunk: Buffer): void {
    let usable = chunk;
    let bad = -1;
    if (this.utf8) bad = this.checkUtf8(chunk);
    else bad = chunk.indexOf(CP1251_INVALID);
    if (bad >= 0) usable = chunk.subarray(0, bad);

    if (this.pendLen === 0) {
      this.buf = usable;
      this.inPend = false;
    } else {
      this.append(usable);
      this.buf = this.pend.subarray(0, this.pendLen);
      this.inPend = true;
    }
    let pos = 0;
    if (this.bomSkip && this.base === 0) {
      pos = this.bomSkip;
      this.bomSkip = 0;
      this.base = 0;
      this.lineChars0 = 0;
      this.nlFrom = 3;
      this.lineStart = 3;
    }
    pos = this.parse(false, pos);
    if (this.stopped) return;
    if (bad >= 0) {
      const at = this.base + this.buf.length - this.badBack;
      const b = chunk[bad]!;
      if (this.utf8) {
        const bytes = hexBytes(this.badJoint ?? chunk.subarray(bad, bad + 4));
        this.fail(at, 'MAG_ERR_PAYLOAD_ENCODING', `invalid UTF-8 byte sequence (${bytes}) at byte offset ${at}: the file declares UTF-8`);
      }
      this.fail(at, 'MAG_ERR_PAYLOAD_ENCODING', `byte 0x${b.toString(16).toUpperCase()} at byte offset ${at} is not a character in windows-1251`);
    }
    this.keep(pos);
  }

  /** Returns the index of the first byte of an invalid UTF-8 sequence in chunk, or -1. */
  private checkUtf8(chunk: Buffer): number {
    let from = 0;
    if (this.utf8Tail) {
      const tail = this.utf8Tail;
      const lead = tail[0]!;
      const need = (lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2) - tail.length;
      const joint = Buffer.concat([tail, chunk.subarray(0, need)]);
      if (joint.length < tail.length + need) {
        this.utf8Tail = joint;
        return -1;
      }
      this.utf8Tail = null;
      if (!isUtf8(joint)) {
        this.badBack = tail.length;
        this.badJoint = joint;
        return 0;
      }
      from = need;
    }
    const end = completeUtf8Length(chunk, from);
    if (!isUtf8(chunk.subarray(from, end))) return firstInvalidUtf8(chunk, from, end);
    if (end < chunk.length) this.utf8Tail = Buffer.from(chunk.subarray(end));
    return -1;
  }

  /** Discards buf[0, pos) after counting its lines; keeps the rest for the next chunk. */
  private keep(pos: number): void {
    const buf = this.buf;
    this.countTo(this.base + pos);
    if (this.lineStart < this.base + pos) {
      const from = Math.max(this.lineStart - this.base, 0);
      this.lineChars0 += this.chars(buf, from, pos);
    }
    const rest = buf.length - pos;
    if (rest > this.maxText + 2 * MAX_NAME_BYTES) {
      this.fail(this.base + pos, 'MAG_ERR_PAYLOAD_TOO_LARGE', `${this.describeToken(pos)} is longer than ${this.maxText} bytes`);
    }
    if (this.inPend) {
      buf.copy(this.pend, 0, pos, buf.length);
      this.pendLen = rest;
    } else {
      this.pendLen = 0;
      if (rest) this.append(buf.subarray(pos));
    }
    this.base += pos;
    this.buf = this.pend.subarray(0, this.pendLen);
    this.inPend = true;
  }

  // ----- positions ---------------------------------------------------------------------------------

  /** Counts the line breaks before absolute offset abs (never backwards). */
  private countTo(abs: number): void {
    const buf = this.buf;
    const base = this.base;
    for (;;) {
      if (this.nl < 0) {
        if (this.nlFrom >= abs) return;
        const i = buf.indexOf(NL, this.nlFrom - base);
        if (i < 0) {
          this.nlFrom = base + buf.length;
          return;
        }
        this.nl = base + i;
      }
      if (this.nl >= abs) return;
      this.line++;
      this.lineStart = this.nl + 1;
      this.lineChars0 = 0;
      this.nlFrom = this.nl + 1;
      this.nl = -1;
    }
  }

  private chars(buf: Buffer, from: number, to: number): number {
    if (!this.utf8) return to - from;
    let n = 0;
    for (let i = from; i < to; i++) if ((buf[i]! & 0xc0) !== 0x80) n++;
    return n;
  }

  private position(abs: number): { line: number; column: number } {
    this.countTo(abs);
    const from = Math.max(this.lineStart - this.base, 0);
    const to = Math.min(Math.max(abs - this.base, from), this.buf.length);
    const before = this.lineStart < this.base ? this.lineChars0 : 0;
    return { line: this.line, column: before + this.chars(this.buf, from, to) + 1 };
  }

  private fail(abs: number, code: 'MAG_ERR_PAYLOAD_MALFORMED' | 'MAG_ERR_PAYLOAD_ENCODING' | 'MAG_ERR_PAYLOAD_TOO_LARGE', detail: string): never {
    const { line, column } = this.position(abs);
    throw new PayloadError(code, { file: this.fileName, line, column }, detail);
  }

  private openPath(): string {
    const parts: string[] = [];
    for (let d = 1; d <= this.depth; d++) parts.push(this.nameOf(this.stackName[d]!));
    return `<${parts[parts.length - 1]}> (/${parts.join('/')})`;
  }

  private describeToken(pos: number): string {
    const buf = this.buf;
    if (buf[pos] !== LT) return 'a text value';
    const c = buf[pos + 1];
    if (c === BANG) return buf.toString('latin1', pos, pos + 4) === '<!--' ? 'a comment' : 'a CDATA section or declaration';
    if (c === QMARK) return 'a processing instruction';
    return 'a tag';
  }

  // ----- names --------------------------------------------------------------------------------------

  /** Interns the name in buf[s, e); returns its qualified name id. */
  private intern(buf: Buffer, s: number, e: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 16777619);
    return this.lookup(buf, s, e, h);
  }

  private lookup(buf: Buffer, s: number, e: number, h: number): number {
    const len = e - s;
    let slot = h & this.slotMask;
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) break;
      const id = v - 1;
      const nb = this.nameBytes[id]!;
      if (nb.length === len) {
        let same = true;
        for (let i = 0; i < len; i++) {
          if (nb[i] !== buf[s + i]) {
            same = false;
            break;
          }
        }
        if (same) return id;
      }
      slot = (slot + 1) & this.slotMask;
    }
    return this.addName(buf, s, e, slot);
  }

  private addName(buf: Buffer, s: number, e: number, slot: number): number {
    const id = this.nameBytes.length;
    if (id >= MAX_NAMES) this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_TOO_LARGE', `more than ${MAX_NAMES} distinct element and attribute names`);
    const bytes = Buffer.from(buf.subarray(s, e));
    this.nameBytes.push(bytes);
    const text = decodeName(bytes, this.utf8);
    this.nameText.push(text);
    this.slots[slot] = id + 1;
    // Local name: the part after the prefix, itself interned (vocabulary names come first).
    const colon = bytes.lastIndexOf(COLON);
    this.localOf.push(id);
    if (colon >= 0 && id >= this.vocabulary.length) this.localOf[id] = this.intern(bytes, colon + 1, bytes.length);
    if (this.nameBytes.length * 2 > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size);
    this.slotMask = size - 1;
    for (let id = 0; id < this.nameBytes.length; id++) {
      const nb = this.nameBytes[id]!;
      let h = 0x811c9dc5 | 0;
      for (let i = 0; i < nb.length; i++) h = Math.imul(h ^ nb[i]!, 16777619);
      let slot = h & this.slotMask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.slotMask;
      this.slots[slot] = id + 1;
    }
  }

  // ----- the scanner --------------------------------------------------------------------------------

  /**
   * Scans buf from pos; returns where the first unfinished token starts (or buf.length). With final,
   * an unfinished token is left for end() to report.
   */
  private parse(final: boolean, start = 0): number {
    this.finalScan = final;
    const buf = this.buf;
    const len = buf.length;
    let pos = start;
    while (pos < len) {
      if (this.stopped) return len;
      let lt = pos;
      if (buf[pos] !== LT) {
        // Most text between tags is a short run of white space or an id: look byte by byte first.
        const stop = pos + SHORT_RUN < len ? pos + SHORT_RUN : len;
        lt = pos + 1;
        while (lt < stop && buf[lt] !== LT) lt++;
        if (lt === stop) lt = stop < len ? buf.indexOf(LT, stop) : -1;
        if (lt < 0) {
          // Text runs past the buffer: keep it if captured (it is decoded whole), else drop it.
          if (this.capture[this.depth] === 1) return pos;
          this.text(pos, len);
          return len;
        }
        this.text(pos, lt);
      }
      if (lt + 1 >= len) return lt;
      const c = buf[lt + 1]!;
      let next: number;
      if (c === SLASH) next = this.closeTag(lt);
      else if (c === BANG) next = this.bang(lt, final);
      else if (c === QMARK) next = this.pi(lt);
      else next = this.openTag(lt);
      if (next < 0) return lt;
      pos = next;
    }
    return pos;
  }

  /** A text segment [s, e) between markup. */
  private text(s: number, e: number): void {
    const d = this.depth;
    if (this.capture[d] === 1) {
      this.capText[d] += (e - s <= CACHE_VALUE_BYTES ? this.cache.text(this.buf, s, e, this.utf8) : undefined) ?? this.decodeValue(s, e, false);
      if (this.capText[d]!.length > this.maxText) this.fail(this.base + s, 'MAG_ERR_PAYLOAD_TOO_LARGE', `text of <${this.nameOf(this.stackName[d]!)}> is longer than ${this.maxText} characters`);
      return;
    }
    if (d === 0) {
      const buf = this.buf;
      for (let i = s; i < e; i++) {
        if (!isSpace(buf[i]!)) {
          this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', this.rootClosed ? 'text after the end of the root element' : 'text before the root element');
        }
      }
    }
  }

  /** `</name>` at lt; returns the position after it, or -1 when the buffer ends first. */
  private closeTag(lt: number): number {
    const buf = this.buf;
    const d0 = this.depth;
    if (d0 > 0) {
      // Fast path: the bytes of the open element's name, then >.
      const id = this.stackName[d0]!;
      const nb = this.nameBytes[id]!;
      const n = nb.length;
      const s = lt + 2;
      if (s + n < buf.length && buf[s + n] === GT) {
        let k = 0;
        while (k < n && buf[s + k] === nb[k]) k++;
        if (k === n) {
          this.tagAt = this.base + lt;
          this.closeElement(d0, id);
          return s + n + 1;
        }
      }
    }
    const gt = buf.indexOf(GT, lt + 2);
    if (gt < 0) {
      if (buf.length - lt > MAX_NAME_BYTES + 2) this.fail(this.base + lt, 'MAG_ERR_PAYLOAD_MALFORMED', 'closing tag without >');
      return -1;
    }
    this.tagAt = this.base + lt;
    let e = gt;
    while (e > lt + 2 && isSpace(buf[e - 1]!)) e--;
    const d = this.depth;
    if (d === 0) this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', `closing tag </${this.decodeName(lt + 2, e)}> without an open element`);
    const id = this.stackName[d]!;
    const nb = this.nameBytes[id]!;
    const n = e - (lt + 2);
    let same = n === nb.length;
    if (same) {
      const s = lt + 2;
      for (let i = 0; i < n; i++) {
        if (nb[i] !== buf[s + i]) {
          same = false;
          break;
        }
      }
    }
    if (!same) {
      this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', `closing tag </${this.decodeName(lt + 2, e)}> does not match the open element ${this.openPath()}`);
    }
    this.closeElement(d, id);
    return gt + 1;
  }

  private closeElement(d: number, id: number): void {
    this.lastEvent = id * 2 + 1;
    let text = '';
    if (this.capture[d] === 1) {
      text = this.capText[d]!;
      this.capText[d] = '';
      this.capture[d] = 0;
    }
    this.depth = d - 1;
    if (d === 1) this.rootClosed = true;
    this.handler.close(this.localOf[id]!, d, text);
  }

  private decodeName(s: number, e: number): string {
    return decodeName(this.buf.subarray(s, Math.min(e, s + 200)), this.utf8);
  }

  /** `<name attr="v"…>` or `<name…/>` at lt; returns the position after it, or -1 when the buffer ends first. */
  private openTag(lt: number): number {
    const buf = this.buf;
    const len = buf.length;
    const s = lt + 1;
    let i = s;
    let b = buf[i]!;
    let qid = -1;
    const guess = this.predict[this.lastEvent]! - 1;
    if (guess >= 0) {
      const nb = this.nameBytes[guess]!;
      const n = nb.length;
      if (s + n < len && NAME_CLASS[buf[s + n]!] === 1) {
        let k = 0;
        while (k < n && buf[s + k] === nb[k]) k++;
        if (k === n) {
          qid = guess;
          i = s + n;
          b = buf[i]!;
        }
      }
    }
    if (qid < 0) {
      qid = this.scanName(lt);
      if (qid < 0) return -1;
      i = this.nameEndAt;
      b = buf[i]!;
      if (this.lastEvent >= this.predict.length) this.growPredict();
      this.predict[this.lastEvent] = qid + 1;
    }
    if (b === EQ) {
      this.tagAt = this.base + lt;
      this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', 'unexpected = in element name');
    }
    // Attributes, then > or />.
    this.attrCount = 0;
    let selfClosing = false;
    for (;;) {
      if (i >= len) return -1;
      b = buf[i]!;
      if (b === GT) break;
      if (b === SLASH) {
        if (i + 1 >= len) return -1;
        if (buf[i + 1] !== GT) {
          this.tagAt = this.base + lt;
          this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', 'expected > after / in a tag');
        }
        selfClosing = true;
        i++;
        break;
      }
      if (!isSpace(b)) {
        this.tagAt = this.base + lt;
        this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', 'expected white space, > or /> after the element name or an attribute');
      }
      while (i < len && isSpace(buf[i]!)) i++;
      if (i >= len) return -1;
      b = buf[i]!;
      if (b === GT || b === SLASH) continue;
      const r = this.attribute(lt, i);
      if (r < 0) return -1;
      i = r;
    }
    const gt = i;
    this.tagAt = this.base + lt;
    if (this.rootClosed) this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', 'a second root element after the end of the first');
    const d = this.depth + 1;
    if (d > this.maxDepth) this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', `elements nested deeper than ${this.maxDepth} levels`);
    // An element whose content may be taken: reported once its end tag is here too (the bytes from its `<`
    // are kept for the next chunk meanwhile), so that the content can be offered whole.
    this.contentEnd = -2;
    if (!selfClosing && this.contentNames.size && this.utf8 && this.contentNames.has(this.localOf[qid]!)) {
      const tag = this.endTag(qid);
      const m = this.handler.measure ? this.handler.measure(this.localOf[qid]!, buf, gt + 1, len) : -1;
      this.contentEnd = m >= 0 && m + tag.length <= len && buf.compare(tag, 0, tag.length, m, m + tag.length) === 0 ? m : buf.indexOf(tag, gt + 1);
      if (this.contentEnd < 0 && !this.finalScan && len - gt < CONTENT_WAIT) return -1;
    }
    this.depth = d;
    this.rootSeen = true;
    this.stackName[d] = qid;
    this.lastEvent = qid * 2;
    const local = this.localOf[qid]!;
    this.contentOffered = false;
    const want = this.handler.open(local, d);
    this.attrCount = 0;
    if (this.contentOffered && !selfClosing && this.utf8) {
      this.contentOffered = false;
      const taken = this.offer(qid, local, d, gt + 1);
      if (taken >= 0) return taken;
    }
    if (selfClosing) {
      this.capture[d] = 0;
      this.depth = d - 1;
      if (d === 1) this.rootClosed = true;
      this.lastEvent = qid * 2 + 1;
      this.handler.close(local, d, '');
    } else {
      this.capture[d] = want ? 1 : 0;
    }
    return gt + 1;
  }

  /** `</name>` of qualified name `qid`, as bytes. */
  private endTag(qid: number): Buffer {
    let tag = this.endTags.get(qid);
    if (!tag) {
      const nb = this.nameBytes[qid]!;
      tag = Buffer.alloc(nb.length + 3);
      tag[0] = LT;
      tag[1] = SLASH;
      nb.copy(tag, 2);
      tag[tag.length - 1] = GT;
      this.endTags.set(qid, tag);
    }
    return tag;
  }

  /**
   * The content of element `qid` (opened at depth `d`, content from `from`) offered to the handler when its
   * end tag is in the buffer; answers the position after the end tag when taken, else -1.
   */
  private offer(qid: number, local: number, d: number, from: number): number {
    const tag = this.endTag(qid);
    const end = this.contentEnd !== -2 ? this.contentEnd : this.buf.indexOf(tag, from);
    if (end < 0 || !this.handler.content!(local, d, this.buf, from, end)) return -1;
    this.tagAt = this.base + end;
    this.capture[d] = 0;
    this.closeElement(d, qid);
    return end + tag.length;
  }

  private growPredict(): void {
    const g = new Int32Array(Math.max(this.predict.length * 2, this.lastEvent + 2));
    g.set(this.predict);
    this.predict = g;
  }

  /** End of the name read by scanName. */
  private nameEndAt = 0;

  /** Reads and interns the element name after the < at lt; -1 when the buffer ends first. */
  private scanName(lt: number): number {
    const buf = this.buf;
    const len = buf.length;
    const s = lt + 1;
    let i = s;
    let h = 0x811c9dc5 | 0;
    let b = buf[i]!;
    if (!isNameStart(b)) {
      this.tagAt = this.base + lt;
      this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', `invalid character ${JSON.stringify(String.fromCharCode(b))} after <: not an element name`);
    }
    for (;;) {
      if (i >= len) {
        if (i - s > MAX_NAME_BYTES) this.fail(this.base + lt, 'MAG_ERR_PAYLOAD_MALFORMED', 'element name too long');
        return -1;
      }
      b = buf[i]!;
      const cls = NAME_CLASS[b]!;
      if (cls !== 0) {
        if (cls === 1) break;
        this.tagAt = this.base + lt;
        this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', `invalid character ${JSON.stringify(String.fromCharCode(b))} in element name`);
      }
      h = Math.imul(h ^ b, 16777619);
      i++;
    }
    this.nameEndAt = i;
    return this.lookup(buf, s, i, h);
  }

  /** One `name="value"` at i; returns the position after it, or -1 when the buffer ends first. */
  private attribute(lt: number, i: number): number {
    const buf = this.buf;
    const len = buf.length;
    const s = i;
    const b0 = buf[i]!;
    if (!isNameStart(b0)) {
      this.tagAt = this.base + lt;
      this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', `invalid character ${JSON.stringify(String.fromCharCode(b0))} where an attribute name should start`);
    }
    let h = 0x811c9dc5 | 0;
    for (;;) {
      if (i >= len) return -1;
      const b = buf[i]!;
      const cls = NAME_CLASS[b]!;
      if (cls !== 0) {
        if (cls === 1) break;
        this.tagAt = this.base + lt;
        this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', `invalid character ${JSON.stringify(String.fromCharCode(b))} in an attribute name`);
      }
      h = Math.imul(h ^ b, 16777619);
      i++;
    }
    const nameEnd = i;
    while (i < len && isSpace(buf[i]!)) i++;
    if (i >= len) return -1;
    if (buf[i] !== EQ) {
      this.tagAt = this.base + lt;
      this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', `attribute ${this.decodeName(s, nameEnd)} has no value (expected =)`);
    }
    i++;
    while (i < len && isSpace(buf[i]!)) i++;
    if (i >= len) return -1;
    const q = buf[i]!;
    if (q !== DQ && q !== SQ) {
      this.tagAt = this.base + lt;
      this.fail(this.base + i, 'MAG_ERR_PAYLOAD_MALFORMED', `the value of attribute ${this.decodeName(s, nameEnd)} is not quoted`);
    }
    const vs = i + 1;
    const ve = buf.indexOf(q, vs);
    if (ve < 0) {
      if (len - lt > this.maxText) this.fail(this.base + lt, 'MAG_ERR_PAYLOAD_TOO_LARGE', `a tag longer than ${this.maxText} bytes`);
      return -1;
    }
    const ltIn = buf.indexOf(LT, vs);
    if (ltIn >= 0 && ltIn < ve) {
      this.tagAt = this.base + lt;
      this.fail(this.base + ltIn, 'MAG_ERR_PAYLOAD_MALFORMED', `< in the value of attribute ${this.decodeName(s, nameEnd)} (an unclosed quote?)`);
    }
    const qid = this.lookup(buf, s, nameEnd, h);
    const id = this.localOf[qid]!;
    const n = this.attrCount;
    for (let k = 0; k < n; k++) {
      if (this.attrName[k] === id) {
        this.tagAt = this.base + lt;
        this.fail(this.base + s, 'MAG_ERR_PAYLOAD_MALFORMED', `attribute ${this.decodeName(s, nameEnd)} appears twice`);
      }
    }
    if (n === this.attrName.length) {
      const grow = (a: Int32Array): Int32Array => {
        const g = new Int32Array(a.length * 2);
        g.set(a);
        return g;
      };
      this.attrName = grow(this.attrName);
      this.attrQName = grow(this.attrQName);
      this.attrStart = grow(this.attrStart);
      this.attrEnd = grow(this.attrEnd);
    }
    this.attrName[n] = id;
    this.attrQName[n] = qid;
    this.attrStart[n] = vs;
    this.attrEnd[n] = ve;
    this.attrCount = n + 1;
    return ve + 1;
  }

  /** `<!--…-->`, `<![CDATA[…]]>`; refuses `<!DOCTYPE` and `<!ENTITY`. */
  private bang(lt: number, final: boolean): number {
    const buf = this.buf;
    const len = buf.length;
    if (len - lt < 9 && !final) {
      // Not enough bytes to tell which construct this is.
      if (!(len - lt >= 4 && buf[lt + 2] === 0x2d && buf[lt + 3] === 0x2d)) return -1;
    }
    this.tagAt = this.base + lt;
    if (buf[lt + 2] === 0x2d && buf[lt + 3] === 0x2d) {
      const end = buf.indexOf('-->', lt + 4, 'latin1');
      if (end < 0) return this.unfinished(lt, 'comment');
      return end + 3;
    }
    const head = buf.toString('latin1', lt, Math.min(len, lt + 9));
    if (head === '<![CDATA[') {
      const end = buf.indexOf(']]>', lt + 9, 'latin1');
      if (end < 0) return this.unfinished(lt, 'CDATA section');
      const d = this.depth;
      if (d === 0) this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', 'CDATA section outside the root element');
      if (this.capture[d] === 1) this.capText[d] += decodeBytes(this.buf, lt + 9, end, this.utf8);
      return end + 3;
    }
    if (head.startsWith('<!DOCTYPE') || head.startsWith('<!ENTITY')) {
      this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', `DOCTYPE and ENTITY declarations are not accepted (they enable external entity attacks, XXE); ${this.format ?? 'the document'} needs none`);
    }
    if (len - lt < 9 && !final) return -1;
    this.fail(this.tagAt, 'MAG_ERR_PAYLOAD_MALFORMED', `unexpected markup ${JSON.stringify(head)}`);
  }

  /** `<?…?>` (the XML declaration included). */
  private pi(lt: number): number {
    const end = this.buf.indexOf('?>', lt + 2, 'latin1');
    if (end < 0) return this.unfinished(lt, 'processing instruction');
    return end + 2;
  }

  private unfinished(lt: number, what: string): number {
    if (this.buf.length - lt > this.maxText) this.fail(this.base + lt, 'MAG_ERR_PAYLOAD_TOO_LARGE', `${what} longer than ${this.maxText} bytes`);
    return -1;
  }

  // ----- decoding ---------------------------------------------------------------------------------

  /** Decodes a text or attribute value: line ends normalised, entities resolved. */
  private decodeValue(s: number, e: number, attribute: boolean): string {
    this.valueAt = this.base + s;
    return decodeValue(this.buf, s, e, this.utf8, attribute, this.invalidReference);
  }
}
