// Transforms of mapping fields, each built once at compile time into a small closure. A bad input
// throws a Reject (a plain object, no stack trace: cheap), which the compiled mapping turns into a reject.
import type { Transform } from '../schemas/index.ts';
import { compareDecimal, divideDecimal, multiplyDecimal, parseDecimal, parseNumber, roundDecimal } from './decimal.ts';

/** A value while it flows through a field's transforms; `''` means empty (missing). */
export type Value = string | boolean;
export type Step = (v: Value, data: Record<string, string>) => Value;

/** Why a row cannot be mapped. Not an Error on purpose: rejects are data, and stack traces cost. */
export class Reject {
  readonly field: string;
  readonly rule: string;
  readonly reason: string;
  constructor(field: string, rule: string, reason: string) {
    this.field = field;
    this.rule = rule;
    this.reason = reason;
  }
}

/** Lookup tables a field's transforms need, loaded before the first row (entity → source id → id). */
export interface TransformContext {
  field: string;
  /** This flow's system, the target of entity lookups. */
  system?: string;
  /** Preloaded translations, keyed `${entity}|${fromSystem}`. */
  translations: Map<string, Map<string, string>>;
}

/** A value as shown in a reason: quoted, and cut when very long so the message stays readable. */
export function show(v: Value): string {
  if (typeof v !== 'string') return String(v);
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

const str = (v: Value): string => (typeof v === 'string' ? v : String(v));

const NULL_MARKERS = new Set(['null', 'NULL', 'Null', '\\N']);

const BOOLEANS = new Map<string, boolean>([
  ['true', true], ['false', false], ['1', true], ['0', false],
  ['yes', true], ['no', false], ['y', true], ['n', false],
  ['да', true], ['нет', false], ['истина', true], ['ложь', false],
]);

export type DateFormat = 'iso' | 'DD.MM.YYYY' | 'DD/MM/YYYY' | 'MM/DD/YYYY' | 'YYYYMMDD';

// A date may carry a time part after it (`2024-03-01T10:00:00`, `01.03.2024 0:00:00`): it is dropped.
const DATE_PATTERNS: Record<DateFormat, { re: RegExp; y: number; m: number; d: number }> = {
  iso: { re: /^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$/, y: 1, m: 2, d: 3 },
  'DD.MM.YYYY': { re: /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?: .*)?$/, y: 3, m: 2, d: 1 },
  'DD/MM/YYYY': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?: .*)?$/, y: 3, m: 2, d: 1 },
  'MM/DD/YYYY': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?: .*)?$/, y: 3, m: 1, d: 2 },
  YYYYMMDD: { re: /^(\d{4})(\d{2})(\d{2})$/, y: 1, m: 2, d: 3 },
};
/** Formats tried when none is given: only the unambiguous ones (DD/MM and MM/DD cannot be told apart). */
const AUTO_FORMATS: DateFormat[] = ['iso', 'DD.MM.YYYY', 'YYYYMMDD'];

/** Parses a date in one format into `YYYY-MM-DD`, or returns null (also for impossible dates like 31.02). */
export function parseDate(s: string, format: DateFormat): string | null {
  const p = DATE_PATTERNS[format];
  const m = p.re.exec(s);
  if (!m) return null;
  const y = Number(m[p.y]);
  const mo = Number(m[p.m]);
  const d = Number(m[p.d]);
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return null;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  if (d > days) return null;
  return `${m[p.y]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Builds the step for one transform of one field. Lookups must already be in ctx.translations. */
export function buildStep(t: Transform, ctx: TransformContext): Step {
  const field = ctx.field;
  const fail = (rule: string, reason: string): never => {
    throw new Reject(field, rule, `${field}: ${reason} (transform ${rule})`);
  };
  if (typeof t === 'string') {
    switch (t) {
      case 'trim':
        return (v) => str(v).trim();
      case 'upper':
        return (v) => str(v).toUpperCase();
      case 'lower':
        return (v) => str(v).toLowerCase();
      case 'emptyToNull':
        return (v) => (typeof v === 'string' && (NULL_MARKERS.has(v) || v.trim() === '') ? '' : v);
      case 'decimal':
        return decimalStep(undefined, fail);
      case 'number':
        return (v) => parseNumber(str(v)) ?? fail('number', `${show(v)} is not a number`);
      case 'integer':
        return (v) => {
          const n = parseNumber(str(v));
          if (n === null) return fail('integer', `${show(v)} is not a number`);
          if (n.includes('.')) return fail('integer', `${show(v)} is not a whole number`);
          return n;
        };
      case 'date':
        return dateStep(undefined, fail);
      case 'boolean':
        return (v) => {
          if (typeof v === 'boolean') return v;
          const b = BOOLEANS.get(v.trim().toLowerCase());
          return b ?? fail('boolean', `${show(v)} is not a yes/no value (true/false, 1/0, yes/no, да/нет)`);
        };
    }
  }
  const [name, spec] = Object.entries(t)[0] as [string, Record<string, unknown>];
  switch (name) {
    case 'decimal':
      return decimalStep(spec.scale as number | undefined, fail);
    case 'date':
      return dateStep(spec.format as DateFormat | undefined, fail);
    case 'replace': {
      const search = spec.search as string;
      const by = spec.with as string;
      return (v) => str(v).replaceAll(search, by);
    }
    case 'lookup':
      return lookupStep(spec, ctx, fail);
    case 'unitFactor':
      return unitFactorStep(spec, fail);
    case 'tiers':
      return tiersStep(spec, fail);
  }
  throw new Error(`unknown transform ${JSON.stringify(t)}`);
}

type Fail = (rule: string, reason: string) => never;

function decimalStep(scale: number | undefined, fail: Fail): Step {
  if (scale === undefined) return (v) => parseDecimal(str(v)) ?? fail('decimal', `${show(v)} is not a number`);
  return (v) => {
    const d = parseDecimal(str(v));
    return d === null ? fail('decimal', `${show(v)} is not a number`) : roundDecimal(d, scale);
  };
}

function dateStep(format: DateFormat | undefined, fail: Fail): Step {
  const formats = format ? [format] : AUTO_FORMATS;
  const expected = format ? `a date in format ${format}` : `a date (${AUTO_FORMATS.join(', ')})`;
  return (v) => {
    const s = str(v).trim();
    for (const f of formats) {
      const d = parseDate(s, f);
      if (d !== null) return d;
    }
    return fail('date', `${show(v)} is not ${expected}`);
  };
}

function lookupStep(spec: Record<string, unknown>, ctx: TransformContext, fail: Fail): Step {
  const keep = spec.onMissing === 'keep';
  if (spec.values) {
    const table = new Map(Object.entries(spec.values as Record<string, string>));
    return (v) => {
      const s = str(v);
      const out = table.get(s);
      if (out !== undefined) return out;
      return keep ? s : fail('lookup', `${show(v)} is not in the lookup table (known: ${[...table.keys()].slice(0, 10).join(', ')})`);
    };
  }
  const entity = spec.entity as string;
  const from = spec.system as string;
  const table = ctx.translations.get(`${entity}|${from}`);
  if (!table) throw new Error(`lookup ${entity}|${from} was not preloaded`);
  return (v) => {
    const s = str(v);
    const out = table.get(s);
    if (out !== undefined) return out;
    return keep ? s : fail('lookup', `${entity} ${show(v)} of system "${from}" has no id in system "${ctx.system}"`);
  };
}

function unitFactorStep(spec: Record<string, unknown>, fail: Fail): Step {
  const divide = spec.divide === true;
  const scale = (spec.scale as number | undefined) ?? 6;
  const constFactor = spec.factor as string | undefined;
  const factorFrom = spec.factorFrom as string | undefined;
  const apply = divide ? divideDecimal : multiplyDecimal;
  return (v, data) => {
    const d = parseDecimal(str(v));
    if (d === null) return fail('unitFactor', `${show(v)} is not a number`);
    let factor = constFactor;
    if (factor === undefined) {
      const raw = data[factorFrom!] ?? '';
      if (raw.trim() === '') return fail('unitFactor', `the factor column "${factorFrom}" is empty`);
      const f = parseDecimal(raw);
      if (f === null) return fail('unitFactor', `factor ${show(raw)} (column "${factorFrom}") is not a number`);
      factor = f;
    }
    if (divide && /^-?[0.]+$/.test(factor)) return fail('unitFactor', `cannot divide ${show(v)} by a zero factor`);
    return apply(d, factor, scale);
  };
}

/**
 * Quantity tiers `q:p;q:p` (a reader joins a condition's scales so): every quantity a positive decimal,
 * every price a decimal brought to the price's unit by the factor (as `unitFactor`), the same quantity
 * twice refused, pairs sorted by quantity. The output is what the canonical `tiers` pattern accepts.
 */
function tiersStep(spec: Record<string, unknown>, fail: Fail): Step {
  const perUnit = spec.factor === undefined && spec.factorFrom === undefined ? undefined : unitFactorStep(spec, fail);
  return (v, data) => {
    const s = str(v).trim();
    if (s === '') return '';
    const tiers: Array<{ q: string; p: string }> = [];
    for (const part of s.split(';')) {
      const [rawQ, rawP, extra] = part.split(':');
      if (rawQ === undefined || rawP === undefined || extra !== undefined) return fail('tiers', `${show(part)} is not a quantity:price pair`);
      const q = parseDecimal(rawQ.trim());
      if (q === null || !/[1-9]/.test(q) || q.startsWith('-')) return fail('tiers', `tier quantity ${show(rawQ)} is not a positive number`);
      const p0 = parseDecimal(rawP.trim());
      if (p0 === null || p0.startsWith('-')) return fail('tiers', `tier price ${show(rawP)} is not a non-negative number`);
      const p = perUnit ? str(perUnit(p0, data)) : p0;
      tiers.push({ q, p });
    }
    tiers.sort((a, b) => compareDecimal(a.q, b.q));
    for (let i = 1; i < tiers.length; i++) {
      if (compareDecimal(tiers[i - 1]!.q, tiers[i]!.q) === 0) return fail('tiers', `quantity ${tiers[i]!.q} has two tiers`);
    }
    return tiers.map((t) => `${t.q}:${t.p}`).join(';');
  };
}
