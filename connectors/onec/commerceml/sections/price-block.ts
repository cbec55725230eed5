// An offer's `<Цены>` content as byte ranges (port RecordTake): what a first load takes without a record
// per price. Only the plain shape 1C writes is read here — `<Цена>` elements holding the known fields,
// each `<Поле>text</Поле>` with text free of markup, references and control bytes, white space between
// them. Anything else (a comment, CDATA, a prefix, an attribute, an unknown or repeated field, a price
// without Валюта, whose currency comes from its price type) answers -1: the scanner reads the content as
// usual, and the prices come as records.

/** Record fields of a price, in the order of NAMES (see OffersSection.field). */
export const PRICE_FIELDS = ['presentation', 'priceType', 'price', 'currency', 'unit', 'factor'] as const;
const NAMES = ['Представление', 'ИдТипаЦены', 'ЦенаЗаЕдиницу', 'Валюта', 'Единица', 'Коэффициент'].map((n) => Buffer.from(n, 'utf8'));
const CURRENCY = 3;
/** Field index by the second byte of its name's UTF-8 (-1: none). */
const BY_SECOND: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  NAMES.forEach((n, f) => {
    if (n[0] !== 0xd0 || t[n[1]!] !== -1) throw new Error('price field names must differ in their second byte');
    t[n[1]!] = f;
  });
  return t;
})();
/** Per field, its name's bytes as little-endian 32-bit words (the bytes past the last whole word compared one by one). */
const WORDS = NAMES.map((n) => Uint32Array.from({ length: n.length >> 2 }, (_, k) => n.readUInt32LE(4 * k)));
const LENS = Int32Array.from(NAMES, (n) => n.length);
const OPEN = Buffer.from('<Цена>', 'utf8');
const CLOSE = Buffer.from('</Цена>', 'utf8');
/** Both tags by their first and last four bytes (they are 10 and 12 bytes long: the two words overlap or meet). */
const OPEN_HEAD = OPEN.readUInt32LE(0);
const OPEN_TAIL = OPEN.readUInt32LE(OPEN.length - 4);
const CLOSE_HEAD = CLOSE.readUInt32LE(0);
const CLOSE_TAIL = CLOSE.readUInt32LE(CLOSE.length - 4);
const NF = PRICE_FIELDS.length;

/**
 * Measured (a block of 100 prices as 1C writes them, 417 bytes a price, read 10,000 times): comparing the
 * names byte by byte took 1.1–1.5 µs a price, four bytes at a time through a DataView 0.55–0.94 µs.
 */
export class PriceBlock {
  /** Per price and field: start and end of its text, -1 when absent. */
  pos = new Int32Array(2 * NF * 128);
  /** Line breaks in the content read last, and the offset of the last one (-1: none). */
  lines = 0;
  lastBreak = -1;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(8));

  /** Whether field f's name is at buf[i] (i + its length is within the content). */
  private nameAt(buf: Uint8Array, o: number, i: number, f: number): boolean {
    const w = WORDS[f]!;
    const v = this.view;
    let k = 0;
    for (; k < w.length; k++) if (v.getUint32(o + i + 4 * k, true) !== w[k]) return false;
    const nb = NAMES[f]!;
    for (let j = 4 * k; j < nb.length; j++) if (buf[i + j] !== nb[j]) return false;
    return true;
  }

  /** Skips white space from i; counts its line breaks. */
  private space(buf: Uint8Array, i: number, e: number): number {
    while (i < e) {
      const b = buf[i]!;
      if (b === 0x0a) {
        this.lines++;
        this.lastBreak = i;
      } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) break;
      i++;
    }
    return i;
  }

  /** The content measure() read last: reading the same range again answers from it. */
  private readonly measured: { buf: Uint8Array | undefined; s: number; end: number; n: number } = { buf: undefined, s: 0, end: 0, n: 0 };

  /**
   * Reads a `<Цены>` content from buf[s] up to the first end tag before `limit` (ScanHandler.measure):
   * answers the end tag's offset, or -1 when the content is not the plain shape or `limit` comes first.
   */
  measure(buf: Uint8Array, s: number, limit: number): number {
    this.measured.buf = undefined;
    const n = this.scan(buf, s, limit, true);
    if (n <= 0) return -1;
    const m = this.measured;
    m.buf = buf;
    m.s = s;
    m.end = this.end;
    m.n = n;
    return this.end;
  }

  /** Reads buf[s, e) (a `<Цены>` content); answers how many prices it holds, or -1 when it is not the plain shape. */
  read(buf: Uint8Array, s: number, e: number): number {
    // Once only: the scanner's buffers are read into again (ChunkRing), the same range may hold other bytes later.
    const m = this.measured;
    const hit = m.buf === buf && m.s === s && m.end === e;
    m.buf = undefined;
    return hit ? m.n : this.scan(buf, s, e, false);
  }

  /** Where the end tag is, after scan() with `untilClose`. */
  private end = -1;

  private scan(buf: Uint8Array, s: number, e: number, untilClose: boolean): number {
    if (this.view.buffer !== buf.buffer) this.view = new DataView(buf.buffer);
    const v = this.view;
    const o = buf.byteOffset;
    this.lines = 0;
    this.lastBreak = -1;
    let i = s;
    let n = 0;
    for (;;) {
      i = this.space(buf, i, e);
      if (untilClose) {
        if (i + 1 >= e) return -1;
        // An end tag where the next price would begin: the scanner checks it is `</Цены>`.
        if (buf[i] === 0x3c && buf[i + 1] === 0x2f) {
          this.end = i;
          return n;
        }
      } else if (i === e) return n;
      if (i + OPEN.length > e || v.getUint32(o + i, true) !== OPEN_HEAD || v.getUint32(o + i + OPEN.length - 4, true) !== OPEN_TAIL) return -1;
      i += OPEN.length;
      if (2 * NF * (n + 1) > this.pos.length) {
        const grown = new Int32Array(this.pos.length * 2);
        grown.set(this.pos);
        this.pos = grown;
      }
      const pos = this.pos;
      const base = 2 * NF * n;
      for (let k = base; k < base + 2 * NF; k++) pos[k] = -1;
      for (;;) {
        i = this.space(buf, i, e);
        if (i + CLOSE.length <= e && v.getUint32(o + i, true) === CLOSE_HEAD && v.getUint32(o + i + CLOSE.length - 4, true) === CLOSE_TAIL) {
          i += CLOSE.length;
          break;
        }
        if (i + 1 >= e || buf[i] !== 0x3c) return -1;
        // The field by its name's second byte (all six begin with 0xD0 and differ there), then compared whole.
        const f = i + 2 < e && buf[i + 1] === 0xd0 ? BY_SECOND[buf[i + 2]!]! : -1;
        if (f < 0) return -1;
        const len = LENS[f]!;
        if (i + 2 + len > e || !this.nameAt(buf, o, i + 1, f) || buf[i + 1 + len] !== 0x3e || pos[base + 2 * f]! >= 0) return -1;
        const vs = i + 2 + len;
        let ve = vs;
        while (ve < e) {
          const b = buf[ve]!;
          if (b === 0x3c) break;
          if (b < 0x20 || b === 0x26 || b === 0x3e) return -1;
          ve++;
        }
        // `</name>` closes it.
        if (ve + 3 + len > e || buf[ve + 1] !== 0x2f || !this.nameAt(buf, o, ve + 2, f) || buf[ve + 2 + len] !== 0x3e) return -1;
        pos[base + 2 * f] = vs;
        pos[base + 2 * f + 1] = ve;
        i = ve + 3 + len;
      }
      // A price without Валюта has its price type's currency (OffersSection.leave): read as a record.
      if (pos[base + 2 * CURRENCY]! < 0 || pos[base + 2 * CURRENCY + 1] === pos[base + 2 * CURRENCY]) return -1;
      n++;
    }
  }
}
