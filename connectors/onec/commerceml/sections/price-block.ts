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
const OPEN = Buffer.from('<Цена>', 'utf8');
const CLOSE = Buffer.from('</Цена>', 'utf8');
const NF = PRICE_FIELDS.length;

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;

function at(buf: Uint8Array, i: number, bytes: Buffer, end: number): boolean {
  if (i + bytes.length > end) return false;
  for (let k = 0; k < bytes.length; k++) if (buf[i + k] !== bytes[k]) return false;
  return true;
}

export class PriceBlock {
  /** Per price and field: start and end of its text, -1 when absent. */
  pos = new Int32Array(2 * NF * 128);

  /** Reads buf[s, e) (a `<Цены>` content); answers how many prices it holds, or -1 when it is not the plain shape. */
  read(buf: Uint8Array, s: number, e: number): number {
    let i = s;
    let n = 0;
    for (;;) {
      while (i < e && isSpace(buf[i]!)) i++;
      if (i === e) return n;
      if (!at(buf, i, OPEN, e)) return -1;
      i += OPEN.length;
      if (2 * NF * (n + 1) > this.pos.length) {
        const grown = new Int32Array(this.pos.length * 2);
        grown.set(this.pos);
        this.pos = grown;
      }
      const base = 2 * NF * n;
      this.pos.fill(-1, base, base + 2 * NF);
      for (;;) {
        while (i < e && isSpace(buf[i]!)) i++;
        if (at(buf, i, CLOSE, e)) {
          i += CLOSE.length;
          break;
        }
        if (i + 1 >= e || buf[i] !== 0x3c) return -1;
        // The field by its name's second byte (all six begin with 0xD0 and differ there), then compared whole.
        const f = i + 2 < e && buf[i + 1] === 0xd0 ? BY_SECOND[buf[i + 2]!]! : -1;
        if (f < 0 || !at(buf, i + 1, NAMES[f]!, e) || buf[i + 1 + NAMES[f]!.length] !== 0x3e || this.pos[base + 2 * f]! >= 0) return -1;
        const vs = i + 2 + NAMES[f]!.length;
        let ve = vs;
        while (ve < e) {
          const b = buf[ve]!;
          if (b === 0x3c) break;
          if (b < 0x20 || b === 0x26 || b === 0x3e) return -1;
          ve++;
        }
        // `</name>` closes it.
        if (ve + 3 + NAMES[f]!.length > e || buf[ve + 1] !== 0x2f || !at(buf, ve + 2, NAMES[f]!, e) || buf[ve + 2 + NAMES[f]!.length] !== 0x3e) return -1;
        this.pos[base + 2 * f] = vs;
        this.pos[base + 2 * f + 1] = ve;
        i = ve + 3 + NAMES[f]!.length;
      }
      // A price without Валюта has its price type's currency (OffersSection.leave): read as a record.
      if (this.pos[base + 2 * CURRENCY]! < 0 || this.pos[base + 2 * CURRENCY + 1] === this.pos[base + 2 * CURRENCY]) return -1;
      n++;
    }
  }
}
