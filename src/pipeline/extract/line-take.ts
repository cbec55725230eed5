// Lines taken as bytes (issue 16, first load): a CSV line whose every value the mapping would pass on as
// it stands (trim, upper and decimal leave it unchanged, its field's canonical check accepts it) needs no
// record, no mapping and no string per value: its values are byte ranges of the payload, written to the
// COPY and the fingerprint as they are. Any other line (a value to change, an empty one, a quote, a byte
// outside printable ASCII, a backslash that COPY would escape, a wrong number of fields) is not taken and
// goes through the connector's record, the mapping and its checks as before: it gets the same row or the
// same reject it always got.
//
// Measured (bench:ingest --snapshot-only, 1M rows, CPU profile of the worker): the record, mapping,
// checks, key strings and COPY text of a row cost the worker 4–5 µs of CPU, while PostgreSQL took 1.2 µs
// a row for the `\copy` floor of the same file; the worker, not the database, set the first load's pace.
import type { Mapping } from '../../schemas/index.ts';
import { fieldSchemas, fieldValueChecks } from '../../mapping/index.ts';

/** Transforms that leave a value of printable ASCII as it stands under the conditions LineCutter checks. */
const STEPS = new Set(['trim', 'upper', 'decimal']);
/** Keys a mapping field may have and still be read as bytes. */
/** The keys of a mapping field that reads one source field and nothing else. */
export const FIELD_KEYS: ReadonlySet<string> = new Set(['from', 'transforms', 'default', 'optional', 'description']);
/** Longer lines go the general way (they are rare; the buffers are sized for this). */
export const MAX_TAKEN_LINE = 4096;

export interface PlainField {
  name: string;
  from: string;
  upper: boolean;
  decimal: boolean;
  optional: boolean;
  def: string | undefined;
  check: (value: string) => boolean;
  /** The same check made on the bytes, when the field's schema is one this module reads (else undefined: `check`). */
  bytes: ByteCheck | undefined;
}

/** A canonical check on a value of printable ASCII bytes without a backslash (what LineCutter lets through). */
export type ByteCheck = (buf: Uint8Array, s: number, e: number) => boolean;

/** Patterns of defs.schema.json read as bytes: digits before and after an optional dot, and whether one must be 1–9. */
const DECIMAL_PATTERNS: Record<string, { int: number; frac: number; nonZero: boolean }> = {
  '^[0-9]{1,14}(\\.[0-9]{1,6})?$': { int: 14, frac: 6, nonZero: false },
  '^(?=.*[1-9])[0-9]{1,14}(\\.[0-9]{1,6})?$': { int: 14, frac: 6, nonZero: true },
};
/** No control character: printable ASCII always passes. */
const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f]+$';

/**
 * A field's schema as a check on bytes: a string with a pattern of the above, minLength and maxLength
 * (one character a byte in printable ASCII). Undefined for anything else (an enum, another pattern).
 * The price's decimal pattern through ajv was 0.18 µs of a line's 1 µs (a profile of 2M lines).
 */
export function byteCheck(schema: Record<string, unknown> | undefined): ByteCheck | undefined {
  if (!schema || schema.type !== 'string') return undefined;
  if (Object.keys(schema).some((k) => !['type', 'pattern', 'minLength', 'maxLength', 'description'].includes(k))) return undefined;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  const pattern = schema.pattern;
  if (pattern === undefined || pattern === NO_CONTROL) {
    return (_buf, s, e) => e - s >= min && e - s <= max;
  }
  const d = typeof pattern === 'string' ? DECIMAL_PATTERNS[pattern] : undefined;
  if (!d) return undefined;
  return (buf, s, e) => {
    if (e - s < min || e - s > max) return false;
    let dot = -1;
    let nonZero = false;
    for (let i = s; i < e; i++) {
      const b = buf[i]!;
      if (b >= 0x31 && b <= 0x39) nonZero = true;
      else if (b === 0x2e && dot < 0) dot = i;
      else if (b !== 0x30) return false;
    }
    const intLen = (dot < 0 ? e : dot) - s;
    const fracLen = dot < 0 ? 0 : e - dot - 1;
    if (intLen < 1 || intLen > d.int) return false;
    if (dot >= 0 && (fracLen < 1 || fracLen > d.frac)) return false;
    return !d.nonZero || nonZero;
  };
}

/** A mapping every field of which reads one column, through transforms that may leave it unchanged. */
export interface PlainMapping {
  fields: PlainField[];
}

/** The mapping as plain fields, or undefined when one of its fields does more (concat, const, other transforms, lookups). */
export function plainMapping(m: Mapping): PlainMapping | undefined {
  const checks = fieldValueChecks(m.target);
  const schemas = fieldSchemas(m.target);
  if (!checks || !schemas) return undefined;
  const fields: PlainField[] = [];
  for (const [name, f] of Object.entries(m.fields)) {
    const p = plainField(name, f, checks, schemas);
    if (!p) return undefined;
    fields.push(p);
  }
  return { fields };
}

/** One field of a mapping as a plain field, or undefined when it does more (see plainMapping). */
export function plainField(
  name: string, f: Mapping['fields'][string], checks: (name: string) => (v: string) => boolean, schemas: (name: string) => Record<string, unknown> | undefined,
): PlainField | undefined {
  if (Object.keys(f).some((k) => !FIELD_KEYS.has(k)) || typeof f.from !== 'string') return undefined;
  const steps = f.transforms ?? [];
  if (!steps.every((t) => typeof t === 'string' && STEPS.has(t))) return undefined;
  if (f.default !== undefined && typeof f.default !== 'string') return undefined;
  return {
    name, from: f.from, upper: steps.includes('upper'), decimal: steps.includes('decimal'),
    optional: f.optional === true, def: f.default, check: checks(name), bytes: byteCheck(schemas(name)),
  };
}

/** Whether `v` is a value printable ASCII may hold that COPY text writes as it stands (no backslash). */
function copyPlain(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
  }
  return true;
}

/**
 * The values of one file's lines (header `columns`, delimiter byte `delimiter`) as byte ranges. `cut`
 * says whether a line can be taken as bytes; then `s[f]`/`e[f]` are the range of plain field f, or -1 when
 * the field's column is not in the file (its value is then `konst[f]`, or absent when that is undefined).
 */
export class LineCutter {
  readonly s: Int32Array;
  readonly e: Int32Array;
  /** A field whose column the file lacks: its default (checked once here), or undefined (optional, left out). */
  readonly konst: Array<string | undefined>;
  private readonly col: Int32Array;
  private readonly bs: Int32Array;
  private readonly be: Int32Array;
  private readonly ncols: number;
  /** Per field: the last value found valid, as bytes (exports repeat a price type or currency line after line). */
  private readonly last: Buffer[];
  private readonly lastLen: Int32Array;
  /** False: no line of this file can be taken (a required column missing, a default its check refuses, duplicate names). */
  readonly usable: boolean;

  /**
   * `unchecked`: fields whose canonical check the caller makes itself (key codes it looks up by their
   * bytes: checked once, when a code is first met, instead of on every line).
   */
  constructor(readonly plan: PlainMapping, columns: readonly string[], private readonly delimiter: number, private readonly unchecked: readonly number[] = []) {
    const n = plan.fields.length;
    this.s = new Int32Array(n);
    this.e = new Int32Array(n);
    this.col = new Int32Array(n);
    this.konst = new Array<string | undefined>(n);
    this.ncols = columns.length;
    this.bs = new Int32Array(this.ncols);
    this.be = new Int32Array(this.ncols);
    this.last = plan.fields.map(() => Buffer.alloc(MAX_TAKEN_LINE));
    this.lastLen = new Int32Array(n).fill(-1);
    // Duplicate names: which of the values a record's name reads is the parser's business, not this one's.
    let usable = new Set(columns).size === columns.length;
    for (let f = 0; f < n && usable; f++) {
      const pf = plan.fields[f]!;
      // A record's values are read by name (`data[column]`): a name Object.prototype has reads otherwise.
      const c = Object.prototype.hasOwnProperty.call(Object.prototype, pf.from) ? -2 : columns.indexOf(pf.from);
      if (c === -2) usable = false;
      this.col[f] = c;
      if (c < 0) {
        // The column is not in the file: every line's value is empty — the default, left out, or a reject.
        if (pf.def !== undefined && pf.def !== '') {
          if (!pf.check(pf.def) || !copyPlain(pf.def)) usable = false;
          this.konst[f] = pf.def;
        } else if (!pf.optional) usable = false;
      }
    }
    this.usable = usable;
  }

  /** Cuts buf[start, end) into values; false when the line must go the general way. */
  cut(buf: Uint8Array, start: number, end: number): boolean {
    if (end - start > MAX_TAKEN_LINE || !this.usable) return false;
    const d = this.delimiter;
    const last = this.ncols - 1;
    const bs = this.bs;
    const be = this.be;
    let c = 0;
    let from = start;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (b === d) {
        if (c === last) return false;
        bs[c] = from;
        be[c++] = i;
        from = i + 1;
      } else if (b - 0x20 >>> 0 > 0x5e || b === 0x5c) return false; // outside 0x20–0x7e, or a backslash
    }
    if (c !== last) return false;
    bs[c] = from;
    be[c] = end;
    const fields = this.plan.fields;
    for (let f = 0; f < fields.length; f++) {
      const k = this.col[f]!;
      if (k < 0) {
        this.s[f] = -1;
        this.e[f] = -1;
        continue;
      }
      const s = bs[k]!;
      const e = be[k]!;
      // Empty: default, optional or required decide — the general way. Edge spaces: trim would cut them.
      if (s === e || buf[s] === 0x20 || buf[e - 1] === 0x20) return false;
      const pf = fields[f]!;
      if (pf.upper) for (let i = s; i < e; i++) if (buf[i]! >= 0x61 && buf[i]! <= 0x7a) return false;
      if (pf.decimal && !decimalAsItStands(buf, s, e)) return false;
      if (!this.unchecked.includes(f) && !this.valid(f, pf, buf, s, e)) return false;
      this.s[f] = s;
      this.e[f] = e;
    }
    return true;
  }

  /** The field's canonical check: on the bytes, or asked only when the value differs from the last one it accepted. */
  private valid(f: number, pf: PlainField, buf: Uint8Array, s: number, e: number): boolean {
    if (pf.bytes) return pf.bytes(buf, s, e);
    const len = e - s;
    const mem = this.last[f]!;
    if (this.lastLen[f] === len) {
      let i = 0;
      while (i < len && mem[i] === buf[s + i]) i++;
      if (i === len) return true;
    }
    if (!pf.check(latin1(buf, s, e))) return false;
    copyBytes(mem, 0, buf, s, e);
    this.lastLen[f] = len;
    return true;
  }
}

/** The line's bytes as a string: one character a byte (printable ASCII here, so the same as UTF-8 or Windows-1251). */
export function latin1(buf: Uint8Array, s: number, e: number): string {
  // latin1Slice: toString('latin1', s, e) checks its arguments and was 40 % of the cost (a profile at 1M lines).
  const b = (Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)) as Buffer & { latin1Slice(s: number, e: number): string };
  return b.latin1Slice(s, e);
}

/** Copies src[s, e) to dst at `at`, byte by byte (values are short: a call of Buffer#copy or subarray costs more); answers the offset after. */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, s: number, e: number): number {
  for (let i = s; i < e; i++) dst[at++] = src[i]!;
  return at;
}

/**
 * Codes as bytes → numbers (ids), without a string per lookup: an open-addressing table over an arena of
 * the codes' bytes. A code is a few bytes; a string made and hashed per line, then a Map lookup, cost
 * 0.3 µs a line (a profile at 1M lines), most of a taken line's cost.
 */
export class CodeTable {
  private slots = new Int32Array(1 << 12);
  private hashes = new Int32Array(1 << 11);
  private offs = new Int32Array(1 << 11);
  private lens = new Int32Array(1 << 11);
  private vals = new Float64Array(1 << 11);
  private arena = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  size = 0;

  private static hash(buf: Uint8Array, s: number, e: number): number {
    let h = 0x811c9dc5;
    for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    return h | 1; // never 0
  }

  /** The entry found last: exports repeat the codes in the same order (each price type lists the products anew). */
  private last = -1;

  /** Whether entry k holds the bytes buf[s, e). */
  private holds(k: number, buf: Uint8Array, s: number, e: number): boolean {
    const len = e - s;
    if (this.lens[k] !== len) return false;
    const o = this.offs[k]!;
    let i = 0;
    while (i < len && this.arena[o + i] === buf[s + i]) i++;
    return i === len;
  }

  /**
   * The number kept for the bytes buf[s, e), or -1. The entry after the last one found is tried first:
   * codes met in the order they were kept need no hash (a profile of 2M lines: the hash and probe were
   * 0.13 µs of a line's 0.7).
   */
  get(buf: Uint8Array, s: number, e: number): number {
    const next = this.last + 1;
    if (next < this.size && this.holds(next, buf, s, e)) {
      this.last = next;
      return this.vals[next]!;
    }
    const h = CodeTable.hash(buf, s, e);
    const mask = this.slots.length - 1;
    for (let j = h & mask; ; j = (j + 1) & mask) {
      const k = this.slots[j]! - 1;
      if (k < 0) return -1;
      if (this.hashes[k] !== h || !this.holds(k, buf, s, e)) continue;
      this.last = k;
      return this.vals[k]!;
    }
  }

  set(buf: Uint8Array, s: number, e: number, value: number): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const len = e - s;
    if (this.used + len > this.arena.length) {
      const a = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.used + len));
      this.arena.copy(a, 0, 0, this.used);
      this.arena = a;
    }
    const k = this.size++;
    if (k >= this.hashes.length) {
      const n = this.hashes.length * 2;
      const widen = <T extends Int32Array | Float64Array>(a: T, b: T): T => { b.set(a); return b; };
      this.hashes = widen(this.hashes, new Int32Array(n));
      this.offs = widen(this.offs, new Int32Array(n));
      this.lens = widen(this.lens, new Int32Array(n));
      this.vals = widen(this.vals, new Float64Array(n));
    }
    const h = CodeTable.hash(buf, s, e);
    this.hashes[k] = h;
    this.offs[k] = this.used;
    this.lens[k] = len;
    this.vals[k] = value;
    this.used = copyBytes(this.arena, this.used, buf, s, e);
    this.place(k);
    this.last = k;
  }

  private place(k: number): void {
    const mask = this.slots.length - 1;
    let j = this.hashes[k]! & mask;
    while (this.slots[j] !== 0) j = (j + 1) & mask;
    this.slots[j] = k + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let k = 0; k < this.size; k++) this.place(k);
  }
}

/**
 * Whether the decimal transform gives these bytes back unchanged (src/mapping/decimal.ts): digits with at
 * most one dot, neither first nor last, and no leading zero but the only integer digit.
 */
export function decimalAsItStands(buf: Uint8Array, s: number, e: number): boolean {
  let dot = -1;
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    if (b >= 0x30 && b <= 0x39) continue;
    if (b === 0x2e && dot < 0) {
      dot = i;
      continue;
    }
    return false;
  }
  if (dot === s || dot === e - 1) return false;
  const intEnd = dot < 0 ? e : dot;
  return !(buf[s] === 0x30 && intEnd - s > 1);
}
