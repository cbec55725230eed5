// S/4HANA OData v2 entries as the flat string records the pipeline maps. The v2 JSON wire format
// (`d.results`, `__metadata`, `__deferred`, `/Date(ms)/`) is read here, and expanded lists are shaped by
// the flow's options: one record per element of a list (`explode`), one element of a list chosen by a
// property (`pick`), list elements addressed by a property (`keyBy`), a list joined as `q:p;…` (`pairs`).
import { plainNumber } from '../../lib/index.ts';
import type { PairsSpec, PickSpec } from './options.ts';

export interface Shape {
  explode?: string;
  pick?: Record<string, PickSpec>;
  keyBy?: Record<string, string>;
  pairs?: Record<string, PairsSpec>;
}

type Entry = Record<string, unknown>;

const DAY_MS = 86_400_000;
const WIRE_DATE = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/;

/**
 * An OData v2 date (`/Date(1704067200000)/` Edm.DateTime, `/Date(1704067200000+0180)/` Edm.DateTimeOffset,
 * the number being milliseconds since 1970 UTC): a midnight Edm.DateTime (validity days, SAP's DATS
 * fields) → `2024-01-01`, anything else → an ISO instant in UTC. Other text is returned unchanged.
 */
export function wireDate(v: string): string {
  // Most values are not dates: one character test before the regular expression (measured: a third of the shaping time).
  if (v.charCodeAt(0) !== 47 /* / */) return v;
  const m = WIRE_DATE.exec(v);
  if (!m) return v;
  const ms = Number(m[1]);
  const iso = new Date(ms).toISOString();
  return m[2] === undefined && ms % DAY_MS === 0 ? iso.slice(0, 10) : iso;
}

/** Milliseconds of an OData v2 date, or undefined. */
export function wireDateMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = WIRE_DATE.exec(v);
  return m ? Number(m[1]) : undefined;
}

/** The elements of an expanded to-many navigation (`{ results: [...] }`, or a bare array). */
function listOf(v: unknown): Entry[] | undefined {
  if (Array.isArray(v)) return v as Entry[];
  if (v && typeof v === 'object' && Array.isArray((v as { results?: unknown }).results)) return (v as { results: Entry[] }).results;
  return undefined;
}

/** A path without the positions of list elements (`to_A/0/to_B` → `to_A/to_B`): how options name lists. */
function shapePath(path: string): string {
  return /\/\d+(?=\/|$)/.test(path) ? path.split('/').filter((s) => !/^\d+$/.test(s)).join('/') : path;
}

function chosen(list: Entry[], spec: PickSpec): Entry | undefined {
  if (!spec.by || !spec.order) return list[0];
  for (const want of spec.order) {
    const hit = list.find((e) => String(e[spec.by!] ?? '') === want);
    if (hit) return hit;
  }
  return list[0];
}

function flatten(v: unknown, key: string, out: Record<string, string>, shape: Shape, skip: ReadonlySet<string>): void {
  if (v === null || v === undefined) return;
  switch (typeof v) {
    case 'string':
      out[key] = wireDate(v);
      return;
    case 'boolean':
      out[key] = v ? 'true' : 'false';
      return;
    case 'number':
      out[key] = plainNumber(String(v));
      return;
    case 'object':
      break;
    default:
      return;
  }
  const list = listOf(v);
  if (list) {
    const name = shapePath(key);
    if (skip.has(name)) return;
    const pick = shape.pick?.[name];
    if (pick) {
      const one = chosen(list, pick);
      if (one) flatten(one, key, out, shape, skip);
      return;
    }
    const by = shape.keyBy?.[name];
    for (let i = 0; i < list.length; i++) {
      const x = list[i]!;
      const k = by !== undefined && x && typeof x === 'object' && x[by] !== undefined && x[by] !== null ? String(x[by]) : String(i);
      flatten(x, `${key}/${k}`, out, shape, skip);
    }
    return;
  }
  const o = v as Entry;
  const prefix = key ? `${key}/` : '';
  for (const k in o) {
    if (k === '__metadata' || k === '__deferred') continue;
    const x = o[k];
    if (x !== null && typeof x === 'object' && (x as Entry).__deferred !== undefined) continue;
    flatten(x, prefix + k, out, shape, skip);
  }
}

/** The value at a path of navigation names (`to_A/to_B`), through to-one objects. */
function at(entry: Entry, path: string): unknown {
  let v: unknown = entry;
  for (const seg of path.split('/')) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Entry)[seg];
  }
  return v;
}

function scalar(v: unknown): string | undefined {
  if (v === null || v === undefined || typeof v === 'object') return undefined;
  return typeof v === 'string' ? wireDate(v).trim() : String(v);
}

/** One entry → its records (one, or one per element of the exploded list; none when that list is empty). */
export function shapeEntry(entry: Entry, shape: Shape): Array<Record<string, string>> {
  const skip = new Set<string>();
  if (shape.explode) skip.add(shape.explode);
  for (const p of Object.values(shape.pairs ?? {})) skip.add(p.list);
  const base: Record<string, string> = {};
  flatten(entry, '', base, shape, skip);
  for (const [field, p] of Object.entries(shape.pairs ?? {})) {
    const list = listOf(at(entry, p.list)) ?? [];
    const parts: string[] = [];
    for (const e of list) {
      const k = scalar(e?.[p.key]);
      const val = scalar(e?.[p.value]);
      if (k !== undefined && k !== '' && val !== undefined && val !== '') parts.push(`${k}:${val}`);
    }
    if (parts.length) base[field] = parts.join(';');
  }
  if (!shape.explode) return [base];
  const elements = listOf(at(entry, shape.explode)) ?? [];
  return elements.map((e) => {
    const rec = { ...base };
    flatten(e, shape.explode!, rec, shape, new Set());
    return rec;
  });
}

/** Exact sum of two decimals written as text (`12.5` + `-0.125` → `12.375`); undefined when one is not a decimal. */
export function addDecimal(a: string, b: string): string | undefined {
  const re = /^-?\d+(\.\d+)?$/;
  if (!re.test(a) || !re.test(b)) return undefined;
  const scale = Math.max((a.split('.')[1] ?? '').length, (b.split('.')[1] ?? '').length);
  const big = (s: string): bigint => {
    const neg = s.startsWith('-');
    const [i, f = ''] = (neg ? s.slice(1) : s).split('.');
    const v = BigInt(`${i}${f.padEnd(scale, '0')}`);
    return neg ? -v : v;
  };
  const sum = big(a) + big(b);
  const neg = sum < 0n;
  const digits = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? `-${text}` : text;
}

/** Sums records per group: the `by` fields name a group, the `sum` fields are added exactly. */
export class Aggregator {
  private readonly groups = new Map<string, Record<string, string>>();

  constructor(private readonly spec: { by: string[]; sum: string[] }) {}

  /** Adds a record; answers a problem (a value that is not a number) or undefined. */
  add(rec: Record<string, string>): string | undefined {
    const key = JSON.stringify(this.spec.by.map((f) => rec[f] ?? ''));
    const had = this.groups.get(key);
    if (!had) {
      for (const f of this.spec.sum) if (rec[f] !== undefined && addDecimal(rec[f], '0') === undefined) return `${f} ${JSON.stringify(rec[f])} is not a number`;
      this.groups.set(key, { ...rec });
      return undefined;
    }
    for (const f of this.spec.sum) {
      const s = addDecimal(had[f] ?? '0', rec[f] ?? '0');
      if (s === undefined) return `${f} ${JSON.stringify(rec[f])} is not a number`;
      had[f] = s;
    }
    return undefined;
  }

  get size(): number {
    return this.groups.size;
  }

  *records(): Iterable<Record<string, string>> {
    yield* this.groups.values();
  }
}
