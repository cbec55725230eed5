// Records taken from their bytes (issue 16, a 1C first load): a connector may hand out a group of plain
// records (a CommerceML offer's prices) as byte ranges (port RecordTake). This turns them into a direct
// load's COPY lines without a record, a mapping call or a string per value — or refuses the group, which
// the connector then hands out as records: those get the row or the reject they always got.
//
// Sound because every mapped field here depends on its own source field only (takeFields): then a field's
// output is a function of that field's bytes, and
// - a plain field (trim, upper, decimal) whose value is printable ASCII is checked as it stands, as
//   line-take.ts checks a CSV value, and written as its bytes;
// - any other value (a currency looked up, a Cyrillic unit, an empty value) is answered from a memo of
//   what the real compiled mapping made of the same bytes, filled by mapping the whole record the first
//   time: a record the mapping refuses makes the group refused.
//
// Measured (bench:onec, 1M prices, worker profile): parsing the prices' elements, their records, the
// mapping and the sink cost the worker about 5 µs a price; the worker read the offers file at 55–85 MB/s
// while 1C uploads it at 150–240 MB/s on loopback.
import type { Mapping } from '../../schemas/index.ts';
import { fieldSchemas, fieldValueChecks } from '../../mapping/index.ts';
import type { RecordTake } from '../../port/connector.ts';
import { copyText } from './copy.ts';
import { copyBytes, decimalAsItStands, FIELD_KEYS, latin1, plainField, type PlainField } from './line-take.ts';

/** A mapped field: its source field (a record value or a group's shared one) and, when plain, how to check it as bytes. */
export interface TakeField {
  name: string;
  from: string;
  plain: PlainField | undefined;
}

const PURE_STEPS = new Set(['trim', 'upper', 'lower', 'decimal', 'emptyToNull']);

/** The mapping's fields when each depends on its own source field only; else undefined (no taking). */
export function takeFields(m: Mapping): TakeField[] | undefined {
  const checks = fieldValueChecks(m.target);
  const schemas = fieldSchemas(m.target);
  if (!checks || !schemas) return undefined;
  const out: TakeField[] = [];
  for (const [name, f] of Object.entries(m.fields)) {
    if (Object.keys(f).some((k) => !FIELD_KEYS.has(k)) || typeof f.from !== 'string') return undefined;
    if (f.default !== undefined && typeof f.default !== 'string') return undefined;
    for (const t of f.transforms ?? []) {
      if (typeof t === 'string') {
        if (!PURE_STEPS.has(t)) return undefined;
        continue;
      }
      const [kind, arg] = Object.entries(t)[0] as [string, Record<string, unknown>];
      // A table given in the mapping, or a rounding: functions of the value alone.
      if (kind === 'lookup' && arg.values !== undefined && arg.entity === undefined) continue;
      if (kind === 'decimal' || kind === 'replace') continue;
      return undefined;
    }
    out.push({ name, from: f.from, plain: plainField(name, f, checks, schemas) });
  }
  return out;
}

/**
 * A field's outputs by its bytes, one per slot (a record's place in its group): 1C writes an
 * offer's prices in the same order of price types, each with the same currency, unit and factor, so the
 * bytes at a slot are mostly those of the offer before. Sound for the reason in the file's comment: a
 * field's output is a function of its bytes. Measured (bench:onec, 1M prices, worker profile): a string
 * made of a code's bytes and looked up per price, and its id written through String(), were 1.0 s of the
 * taker's 2.6 s.
 */
class SlotMemo {
  private keys = Buffer.allocUnsafe(16 * SLOT_BYTES);
  private lens = new Int32Array(16).fill(-1);
  private outs: Array<Buffer | undefined> = new Array<Buffer | undefined>(16).fill(undefined);

  get(slot: number, buf: Uint8Array, s: number, e: number): Buffer | undefined {
    const len = e - s;
    if (slot >= this.lens.length || this.lens[slot] !== len) return undefined;
    const o = slot * SLOT_BYTES;
    for (let i = 0; i < len; i++) if (this.keys[o + i] !== buf[s + i]) return undefined;
    return this.outs[slot];
  }

  set(slot: number, buf: Uint8Array, s: number, e: number, out: Buffer): void {
    if (e - s > SLOT_BYTES) return;
    if (slot >= this.lens.length) this.grow(slot);
    copyBytes(this.keys, slot * SLOT_BYTES, buf, s, e);
    this.lens[slot] = e - s;
    this.outs[slot] = out;
  }

  private grow(slot: number): void {
    const n = Math.min(SLOTS, Math.max(2 * this.lens.length, slot + 1));
    const keys = Buffer.allocUnsafe(n * SLOT_BYTES);
    this.keys.copy(keys);
    this.keys = keys;
    const lens = new Int32Array(n).fill(-1);
    lens.set(this.lens);
    this.lens = lens;
    this.outs = [...this.outs, ...new Array<Buffer | undefined>(n - this.outs.length).fill(undefined)];
  }
}
/** Slots at most: a group's records past this many share slots (1C offers have one price a price type: up to a few thousand). */
const SLOTS = 4096;
const SLOT_BYTES = 64;
/** A flushed buffer's successor is this large at most (it grows when a turn takes more). */
const TAKEN_CHUNK = 4 << 20;

/** Distinct values a memo holds at most: past this the field is not one of few values, and taking stops. */
const MEMO_MAX = 4096;

export interface RecordTakeTarget {
  /** The field of each COPY column after the two key ids (the target's direct columns), with its text when absent. */
  direct: Array<{ field: string; absent: string }>;
  /** The key fields: the part (price type) and the item (product). */
  partField: string;
  itemField: string;
  /** The ids of key codes, undefined when the code is refused (too many, not to be created now). */
  partId(code: string): number | undefined;
  itemId(code: string): number | undefined;
  /** Maps a whole record with the real compiled mapping. */
  map(data: Record<string, string>): Record<string, string | boolean> | undefined;
  /** Writes COPY bytes (the line ends with `tail`). */
  tail: Buffer;
  /** Counted as read and loaded. */
  taken(n: number): void;
  /** False once the load cannot go on (the run will be read again): nothing more is taken. */
  open(): boolean;
}

export interface RecordTaker extends RecordTake {
  /** COPY bytes taken and not handed on yet. */
  pending(): number;
  /** Hands the COPY bytes taken so far to `write`, in order. */
  flush(write: (chunk: Buffer) => Promise<void>): Promise<void>;
}

/** A RecordTake for records of `kind` mapped by `fields` into a direct load (see the file's comment). */
export function recordTaker(kind: string, fields: TakeField[], t: RecordTakeTarget): RecordTaker {
  const memos = fields.map(() => new Map<string, string | null>());
  const byName = new Map(fields.map((f, k) => [f.name, k]));
  const partK = byName.get(t.partField);
  const itemK = byName.get(t.itemField);
  const directK = t.direct.map((d) => byName.get(d.field) ?? -1);
  /** COPY bytes of the groups taken so far (a refused group's are cut off again). */
  let g = Buffer.allocUnsafe(1 << 16);
  let gat = 0;
  // Per group shape: where each mapped field's source lies among the group's fields (-1: shared or absent).
  let lastFields: readonly string[] | undefined;
  let col = new Int32Array(0);
  // The record being taken.
  let buf: Uint8Array = new Uint8Array(0);
  let pos: Int32Array = new Int32Array(0);
  let group: readonly string[] = [];
  let shared: Readonly<Record<string, string>> = {};
  let r = 0;
  let filled = false;

  const room = (n: number) => {
    if (gat + n <= g.length) return;
    const grown = Buffer.allocUnsafe(Math.max(g.length * 2, gat + n));
    g.copy(grown, 0, 0, gat);
    g = grown;
  };
  /** Sets [rs, re) to mapped field k's bytes in the current record (-1 when shared or absent); no array per call. */
  let rs = -1;
  let re = -1;
  const range = (k: number): void => {
    const c = col[k]!;
    if (c < 0) {
      rs = re = -1;
      return;
    }
    const x = 2 * (r * group.length + c);
    rs = pos[x]!;
    re = pos[x + 1]!;
  };
  /** The memo key of mapped field k's value in the current record: its bytes as latin1 ('\0' + text for a shared value). */
  const keyOf = (k: number): string => {
    if (col[k]! < 0) return `\0${shared[fields[k]!.from] ?? ''}`;
    range(k);
    return rs < 0 ? '' : latin1(buf, rs, re);
  };
  /** Fills the memos from the real mapping of the current record; false when the mapping refuses it or a memo is full. */
  const fill = (): boolean => {
    filled = true;
    const data: Record<string, string> = { ...shared };
    const n = group.length;
    for (let c = 0; c < n; c++) {
      const x = 2 * (r * n + c);
      const s = pos[x]!;
      data[group[c]!] = s < 0 ? '' : Buffer.from(buf.buffer, buf.byteOffset + s, pos[x + 1]! - s).toString('utf8');
    }
    const v = t.map(data);
    if (!v) return false;
    for (let k = 0; k < fields.length; k++) {
      const memo = memos[k]!;
      if (memo.size >= MEMO_MAX) return false;
      const x = v[fields[k]!.name];
      memo.set(keyOf(k), x === undefined ? '' : copyText(x));
    }
    return true;
  };
  /** Mapped field k of the current record as COPY text ('' when absent), or null when refused. */
  const mapped = (k: number): string | null => {
    const key = keyOf(k);
    let v = memos[k]!.get(key);
    if (v === undefined) {
      if (filled || !fill()) return null;
      v = memos[k]!.get(key);
    }
    return v ?? null;
  };
  /** Whether plain field p's value buf[s, e) is what the mapping would give (line-take.ts's rules): printable ASCII, checked. */
  const asItStands = (p: PlainField, b: Uint8Array, s: number, e: number): boolean => {
    if (s < 0 || e <= s || e - s > 512 || b[s] === 0x20 || b[e - 1] === 0x20) return false;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
      if (p.upper && c >= 0x61 && c <= 0x7a) return false;
    }
    if (p.decimal && !decimalAsItStands(b, s, e)) return false;
    return p.bytes ? p.bytes(b, s, e) : p.check(latin1(b, s, e));
  };
  /** Per mapped field, a shared value of the group that stands as it is (checked once a group), else undefined. */
  let sharedPlain: Array<string | undefined> = [];
  const standsShared = (k: number): string | undefined => {
    const p = fields[k]!.plain;
    const v = shared[fields[k]!.from];
    if (!p || v === undefined) return undefined;
    const b = Buffer.from(v, 'latin1');
    // Printable ASCII only (a latin1 round trip keeps it), so its bytes are the UTF-8 ones.
    return b.toString('latin1') === v && asItStands(p, b, 0, b.length) ? v : undefined;
  };
  /** A key code of the current record: its bytes when they stand, else the mapping's output; undefined when refused or absent. */
  const code = (k: number): string | undefined => {
    const p = fields[k]!.plain;
    if (col[k]! < 0) {
      const v = sharedPlain[k];
      if (v !== undefined) return v;
    } else if (p) {
      range(k);
      if (asItStands(p, buf, rs, re)) return latin1(buf, rs, re);
    }
    const v = mapped(k);
    return v === null || v === '' || v.includes('\\') ? undefined : v;
  };

  // Outputs by bytes (see SlotMemo): a key code's id digits, a direct column's COPY text.
  const slotMemos = fields.map(() => new SlotMemo());
  const digits = (id: number): Buffer => Buffer.from(String(id), 'latin1');
  let gat0 = 0;
  /** Key field k of the current record as id digits, or undefined when refused. */
  const keyDigits = (k: number, id: (code: string) => number | undefined): Buffer | undefined => {
    range(k);
    const s = rs;
    const e = re;
    const slot = r % SLOTS;
    if (s >= 0) {
      const hit = slotMemos[k]!.get(slot, buf, s, e);
      if (hit) return hit;
    }
    const c = code(k);
    const n = c === undefined ? undefined : id(c);
    if (n === undefined) return undefined;
    const out = digits(n);
    if (s >= 0) slotMemos[k]!.set(slot, buf, s, e, out);
    return out;
  };

  return {
    take(k, fieldsOfGroup, sharedOfGroup, bytes, at, count) {
      if (k !== kind || partK === undefined || itemK === undefined || !t.open()) return false;
      if (fieldsOfGroup !== lastFields) {
        lastFields = fieldsOfGroup;
        col = Int32Array.from(fields, (f) => fieldsOfGroup.indexOf(f.from));
      }
      shared = sharedOfGroup;
      sharedPlain = fields.map((_, k) => (col[k]! < 0 ? standsShared(k) : undefined));
      buf = bytes;
      pos = at;
      group = fieldsOfGroup;
      gat0 = gat;
      // A shared item (the offer's product) has one id for the group.
      let groupItem: Buffer | undefined;
      for (r = 0; r < count; r++) {
        filled = false;
        const p = keyDigits(partK, t.partId);
        let i = p === undefined ? undefined : col[itemK]! < 0 ? groupItem : undefined;
        if (p !== undefined && i === undefined) {
          i = keyDigits(itemK, t.itemId);
          if (col[itemK]! < 0) groupItem = i;
        }
        if (p === undefined || i === undefined) {
          gat = gat0;
          return false;
        }
        room(64 + p.length + i.length + t.tail.length + 1040 * directK.length);
        gat = copyBytes(g, gat, p, 0, p.length);
        g[gat++] = 9;
        gat = copyBytes(g, gat, i, 0, i.length);
        for (let d = 0; d < directK.length; d++) {
          g[gat++] = 9;
          const dk = directK[d]!;
          if (dk < 0) {
            gat += g.write(t.direct[d]!.absent, gat, 'latin1');
            continue;
          }
          const p2 = fields[dk]!.plain;
          const sv = sharedPlain[dk];
          if (sv !== undefined) {
            gat += g.write(sv, gat, 'latin1');
            continue;
          }
          range(dk);
          const s = rs;
          const e = re;
          if (p2 && s >= 0 && asItStands(p2, buf, s, e)) {
            gat = copyBytes(g, gat, buf, s, e);
            continue;
          }
          const slot = r % SLOTS;
          const hit = s >= 0 ? slotMemos[dk]!.get(slot, buf, s, e) : undefined;
          if (hit) {
            gat = copyBytes(g, gat, hit, 0, hit.length);
            continue;
          }
          const v = mapped(dk);
          if (v === null || Buffer.byteLength(v) > 1024) {
            gat = gat0;
            return false;
          }
          const out = Buffer.from(v === '' ? t.direct[d]!.absent : v, 'utf8');
          if (s >= 0) slotMemos[dk]!.set(slot, buf, s, e, out);
          gat = copyBytes(g, gat, out, 0, out.length);
        }
        gat = copyBytes(g, gat, t.tail, 0, t.tail.length);
      }
      t.taken(count);
      return true;
    },
    pending: () => gat,
    async flush(write) {
      if (!gat) return;
      // The bytes are handed on as they lie; the next groups go to a buffer of their own.
      const all = g.subarray(0, gat);
      g = Buffer.allocUnsafe(Math.max(1 << 16, Math.min(gat, TAKEN_CHUNK)));
      gat = 0;
      await write(all);
    },
  };
}
