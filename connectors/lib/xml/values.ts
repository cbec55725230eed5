// Value decoding for the XML tokenizer: bytes to strings (UTF-8, windows-1251), line-end and
// attribute white-space normalisation, entity and character references, and a cache of short values.
import iconv from 'iconv-lite';

/** Windows-1251 bytes 0x80…0xFF as UTF-16 code units; 0x98 is unassigned. */
const CP1251_HIGH: Uint16Array = (() => {
  const bytes = Buffer.alloc(128);
  for (let i = 0; i < 128; i++) bytes[i] = 0x80 + i;
  const s = iconv.decode(bytes, 'win1251');
  const t = new Uint16Array(128);
  for (let i = 0; i < 128; i++) t[i] = s.charCodeAt(i);
  return t;
})();

/** The one byte that is no character in windows-1251. */
export const CP1251_INVALID = 0x98;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Reusable scratch for decoding windows-1251 text. */
let scratch16 = new Uint16Array(4096);

/** Windows-1251 bytes to a string: ASCII runs through latin1, the rest through the table. */
export function decode1251(buf: Buffer, s: number, e: number): string {
  let i = s;
  while (i < e && buf[i]! < 0x80) i++;
  if (i === e) return buf.toString('latin1', s, e);
  const n = e - s;
  if (scratch16.length < n) scratch16 = new Uint16Array(Math.max(n, scratch16.length * 2));
  const out = scratch16;
  for (let k = 0; k < n; k++) {
    const b = buf[s + k]!;
    out[k] = b < 0x80 ? b : CP1251_HIGH[b - 0x80]!;
  }
  return Buffer.from(out.buffer, out.byteOffset, n * 2).toString('utf16le');
}

/** buf[s, e) as a string, without any XML processing. */
export function decodeBytes(buf: Buffer, s: number, e: number, utf8: boolean): string {
  return utf8 ? buf.toString('utf8', s, e) : decode1251(buf, s, e);
}

/** A name or other short piece of markup as a string (bytes already valid in the encoding). */
export function decodeName(bytes: Buffer, utf8: boolean): string {
  return utf8 ? bytes.toString('utf8') : iconv.decode(bytes, 'win1251');
}

/** A string as bytes in the encoding (for matching names against the input). */
export function encodeName(s: string, utf8: boolean): Buffer {
  return utf8 ? Buffer.from(s, 'utf8') : iconv.encode(s, 'win1251');
}

function validCodePoint(cp: number): boolean {
  return Number.isInteger(cp) && (cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff));
}

/**
 * Resolves the five predefined entities and character references in v. An unknown entity, a bare `&`
 * or a reference to a character XML forbids goes to `invalid` with the text shown in the error.
 */
export function resolveReferences(v: string, invalid: (shown: string) => never): string {
  let out = '';
  let from = 0;
  for (let amp = v.indexOf('&'); amp >= 0; amp = v.indexOf('&', from)) {
    out += v.slice(from, amp);
    const semi = v.indexOf(';', amp + 1);
    const ref = semi > amp && semi - amp <= 12 ? v.slice(amp + 1, semi) : '';
    let ch: string | undefined;
    if (ref.startsWith('#x') || ref.startsWith('#X')) {
      const cp = /^[0-9a-fA-F]{1,6}$/.test(ref.slice(2)) ? parseInt(ref.slice(2), 16) : NaN;
      ch = validCodePoint(cp) ? String.fromCodePoint(cp) : undefined;
    } else if (ref.startsWith('#')) {
      const cp = /^[0-9]{1,7}$/.test(ref.slice(1)) ? parseInt(ref.slice(1), 10) : NaN;
      ch = validCodePoint(cp) ? String.fromCodePoint(cp) : undefined;
    } else {
      ch = ENTITIES[ref];
    }
    if (ch === undefined) invalid(v.slice(amp, Math.min(v.length, amp + 14)));
    out += ch;
    from = semi + 1;
  }
  return out + v.slice(from);
}

/**
 * A text or attribute value as XML defines it: line ends normalised to \n, attribute tabs and line
 * breaks turned to spaces, references resolved.
 */
export function decodeValue(buf: Buffer, s: number, e: number, utf8: boolean, attribute: boolean, invalid: (shown: string) => never): string {
  let v = decodeBytes(buf, s, e, utf8);
  if (v.indexOf('\r') >= 0) v = v.replace(/\r\n?/g, '\n');
  if (attribute && /[\n\t]/.test(v)) v = v.replace(/[\n\t]/g, ' ');
  if (v.indexOf('&') >= 0) v = resolveReferences(v, invalid);
  return v;
}

// Short text values repeat a lot (price type ids, currencies, units, factors): a direct-mapped cache
// keyed by their bytes hands out the string decoded last time instead of decoding it again.
const CACHE_SLOTS = 4096;
/** Longest value the cache keeps. */
export const CACHE_VALUE_BYTES = 48;

export class ShortValueCache {
  private readonly len = new Int32Array(CACHE_SLOTS).fill(-1);
  private readonly bytes = new Uint8Array(CACHE_SLOTS * CACHE_VALUE_BYTES);
  private readonly str: string[] = new Array<string>(CACHE_SLOTS).fill('');

  /**
   * The text buf[s, e) (at most CACHE_VALUE_BYTES) decoded, from the cache when the same bytes came
   * before; undefined when it holds `&` or a carriage return, which need the full decodeValue.
   */
  text(buf: Buffer, s: number, e: number, utf8: boolean): string | undefined {
    const n = e - s;
    let h = n | 0;
    for (let i = s; i < e; i++) {
      const b = buf[i]!;
      if (b === 0x26 || b === 0x0d) return undefined;
      h = Math.imul(h ^ b, 16777619);
    }
    const slot = (h ^ (h >>> 15)) & (CACHE_SLOTS - 1);
    const off = slot * CACHE_VALUE_BYTES;
    const cb = this.bytes;
    if (this.len[slot] === n) {
      let k = 0;
      while (k < n && cb[off + k] === buf[s + k]) k++;
      if (k === n) return this.str[slot]!;
    }
    const str = decodeBytes(buf, s, e, utf8);
    for (let k = 0; k < n; k++) cb[off + k] = buf[s + k]!;
    this.len[slot] = n;
    this.str[slot] = str;
    return str;
  }
}
