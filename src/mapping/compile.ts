// Compiles a mapping file once per run into a plain function over source records: closures composed
// here, nothing walks the spec per row, and each produced record is checked against its canonical schema.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { MagistralError, type Problem } from '../errors/index.ts';
import { ajv, CANONICAL_SCHEMA, toProblems, validatorFor, type Field, type Mapping, type Source, type Transform } from '../schemas/index.ts';
import { buildStep, Reject, type Step, type TransformContext, type Value } from './transforms.ts';

export type MapResult =
  | { ok: true; value: Record<string, string | boolean> }
  | { ok: false; field: string; rule: string; reason: string };
export type CompiledMapping = (data: Record<string, string>) => MapResult;

/** Translates external ids of one system into another's, through the shared internal id. */
export interface LookupSource {
  translate(entity: string, fromSystem: string, toSystem: string): Promise<Map<string, string>>;
}

export interface CompileOptions {
  /** This flow's source system (e.g. `onec`), the target of `lookup: {entity, system}` translations. */
  system?: string;
  lookups?: LookupSource;
  /**
   * Compile only these fields (e.g. the key fields of the target, to find which live row a rejected
   * row speaks of). Record-level requirements are then not checked; each field's own rules are.
   */
  only?: string[];
}

interface CanonicalShape {
  properties: Set<string>;
  required: Set<string>;
}

function canonicalShape(target: string): CanonicalShape {
  const id = CANONICAL_SCHEMA[target];
  if (!id) throw new MagistralError('MAG_ERR_MAPPING_INVALID', `unknown target ${JSON.stringify(target)}`);
  const schema = validatorFor(id).schema as { properties?: Record<string, unknown>; required?: string[] };
  return { properties: new Set(Object.keys(schema.properties ?? {})), required: new Set(schema.required ?? []) };
}

/**
 * Checks what the mapping schema alone cannot: the fields exist in the target's canonical schema and
 * every required canonical field is always produced. Returns problems (empty when fine).
 */
export function checkMappingTarget(m: Mapping): Problem[] {
  const { properties, required } = canonicalShape(m.target);
  const problems: Problem[] = [];
  for (const [name, f] of Object.entries(m.fields)) {
    if (!properties.has(name)) {
      problems.push({ path: `/fields/${name}`, rule: 'canonical', message: `${m.target} has no field '${name}' (fields: ${[...properties].join(', ')})` });
    } else if (required.has(name) && f.optional && f.default === undefined) {
      problems.push({ path: `/fields/${name}`, rule: 'canonical', message: `'${name}' is required in ${m.target}; it cannot be optional without a default` });
    }
  }
  for (const name of required) {
    if (!(name in m.fields)) problems.push({ path: '/fields', rule: 'canonical', message: `required ${m.target} field '${name}' is not mapped` });
  }
  return problems;
}

type Getter = (data: Record<string, string>) => string;

function buildSource(s: Source | Field): Getter {
  if (s.from !== undefined) {
    const col = s.from;
    // typeof, not ??: a missing column named like an Object.prototype member must still read as empty.
    return (d) => {
      const v = d[col];
      return typeof v === 'string' ? v : '';
    };
  }
  if (s.const !== undefined) {
    const c = s.const;
    return () => c;
  }
  const parts = (s.concat ?? []).map(buildSource);
  return (d) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) out += parts[i]!(d);
    return out;
  };
}

/** What the field reads, for messages: `column "price"`, `constant`, `concatenation`. */
function describeSource(f: Field): string {
  if (f.from !== undefined) return `column "${f.from}"`;
  return f.const !== undefined ? 'the constant' : 'the concatenation';
}

type FieldFn = (data: Record<string, string>, out: Record<string, string | boolean>) => void;

function buildField(name: string, f: Field, ctx: TransformContext): FieldFn {
  const get = buildSource(f);
  const steps: Step[] = (f.transforms ?? []).map((t) => buildStep(t, { ...ctx, field: name }));
  const n = steps.length;
  const def = f.default;
  const optional = f.optional === true;
  const emptyReason = `${name}: missing value (${describeSource(f)} is empty)`;
  return (data, out) => {
    let v: Value = get(data);
    // An empty value skips the rest of the transforms: default, optional or required decide its fate.
    for (let i = 0; i < n && v !== ''; i++) v = steps[i]!(v, data);
    if (v === '') {
      if (def !== undefined) out[name] = def;
      else if (!optional) throw new Reject(name, 'required', emptyReason);
      return;
    }
    out[name] = v;
  };
}

/** Source columns a record must have for this mapping to produce anything: those of required fields. */
export function requiredColumns(m: Mapping): string[] {
  return sourceColumns(m, false);
}

/** Every source column the mapping reads (required or not). */
export function allColumns(m: Mapping): string[] {
  return sourceColumns(m, true);
}

function sourceColumns(m: Mapping, all: boolean): string[] {
  const out = new Set<string>();
  const walk = (s: Source | Field): void => {
    if (s.from !== undefined) out.add(s.from);
    for (const c of s.concat ?? []) walk(c);
  };
  for (const f of Object.values(m.fields)) if (all || (!f.optional && f.default === undefined)) walk(f);
  return [...out];
}

/** An optional field without a default may be absent from the output record. */
function isOptional(f: Field): boolean {
  return f.optional === true && f.default === undefined;
}

/** Whether the mapping translates ids through the store (its output then depends on more than the record). */
export function usesLookups(m: Mapping): boolean {
  return entityLookups(m).length > 0;
}

/** Every `lookup: {entity, system}` in the mapping, so translations are loaded once before any row. */
function entityLookups(m: Mapping): Array<{ entity: string; system: string }> {
  const out = new Map<string, { entity: string; system: string }>();
  for (const f of Object.values(m.fields)) {
    for (const t of (f.transforms ?? []) as Transform[]) {
      if (typeof t === 'object' && t.lookup && t.lookup.entity && t.lookup.system) {
        out.set(`${t.lookup.entity}|${t.lookup.system}`, { entity: t.lookup.entity, system: t.lookup.system });
      }
    }
  }
  return [...out.values()];
}

// Keywords a canonical schema may use at record level and still be checked field by field: required
// and additionalProperties are settled at compile time by checkMappingTarget.
const RECORD_KEYWORDS = new Set(['$schema', '$id', 'title', 'description', 'type', 'additionalProperties', 'required', 'properties']);
const fieldValidators = new Map<string, ValidateFunction>();

/** The canonical schema of one field of a target, compiled once per process by the shared ajv. */
function fieldValidator(target: string, name: string): ValidateFunction {
  const key = `${target}/${name}`;
  let v = fieldValidators.get(key);
  if (!v) {
    v = ajv.compile({ $ref: `${CANONICAL_SCHEMA[target]}#/properties/${name}` });
    fieldValidators.set(key, v);
  }
  return v;
}

/**
 * Compiles every canonical schema and field validator now rather than at the first run that needs them.
 * ajv compiles a schema when it is first asked for: a fresh worker's first 1C exchange spent 0.17 s of
 * its read in compileRunMappings (a profile of bench:onec; a second compile of the same mappings took
 * 3 ms against 56 ms), while the upload it follows competes for the same cores. Called as workers start.
 */
export function warmValidators(): void {
  for (const target of Object.keys(CANONICAL_SCHEMA)) {
    const validate = validatorFor(CANONICAL_SCHEMA[target]!);
    const schema = validate.schema as { properties?: Record<string, unknown> };
    if (Object.keys(schema).some((k) => !RECORD_KEYWORDS.has(k))) continue;
    for (const name of Object.keys(schema.properties ?? {})) fieldValidator(target, name);
  }
}

/** Values already found valid are remembered (up to this many per field): enums such as currency
 * cost hundreds of comparisons per check, while their values repeat on nearly every row. */
const MEMO_LIMIT = 512;

/**
 * Checks the produced record against the target's canonical schema. When the schema has nothing
 * beyond per-property rules, each field is checked on its own with its canonical subschema and a
 * memo of recent valid values; otherwise the whole record goes through the target's validator.
 */
function buildCanonicalCheck(target: string, names: string[]): (out: Record<string, string | boolean>) => MapResult | undefined {
  const id = CANONICAL_SCHEMA[target]!;
  const validate = validatorFor(id);
  const schema = validate.schema as Record<string, unknown>;
  if (Object.keys(schema).some((k) => !RECORD_KEYWORDS.has(k))) {
    return (out) => (validate(out) ? undefined : schemaReject(validate.errors));
  }
  const checks = names.map((name) => {
    const v = fieldValidator(target, name);
    const memo = new Set<string | boolean>();
    return (value: string | boolean | undefined): MapResult | undefined => {
      if (value === undefined || memo.has(value)) return undefined;
      if (!v(value)) return schemaReject(v.errors, `/${name}`);
      // A value may be a slice of the parser's decoded chunk (a megabyte): keep a copy of its own,
      // or the memo would keep hundreds of chunks alive.
      if (memo.size < MEMO_LIMIT) memo.add(typeof value === 'string' ? Buffer.from(value, 'utf8').toString('utf8') : value);
      return undefined;
    };
  });
  const count = names.length;
  return (out) => {
    for (let i = 0; i < count; i++) {
      const r = checks[i]!(out[names[i]!]);
      if (r) return r;
    }
    return undefined;
  };
}

/**
 * The canonical check of single field values of `target`, for readers that take a row's values as they
 * stand (src/pipeline/extract/line-take.ts): the same validator the mapping uses for that field.
 * Undefined when the target's schema has record-level rules: then only the whole record can be checked.
 */
export function fieldValueChecks(target: string): ((name: string) => (value: string) => boolean) | undefined {
  if (!checkedByField(target)) return undefined;
  return (name) => {
    const v = fieldValidator(target, name);
    return (value) => v(value) === true;
  };
}

const DEFS_ID = 'https://magistral.dev/schemas/canonical/defs.schema.json';

/** The target's canonical schema when it has per-property rules only (buildCanonicalCheck checks it field by field). */
function checkedByField(target: string): ({ properties?: Record<string, Record<string, unknown>> } & Record<string, unknown>) | undefined {
  const id = CANONICAL_SCHEMA[target];
  if (!id) return undefined;
  const schema = validatorFor(id).schema as { properties?: Record<string, Record<string, unknown>> } & Record<string, unknown>;
  return Object.keys(schema).some((k) => !RECORD_KEYWORDS.has(k)) ? undefined : schema;
}

/**
 * The canonical schema of each field of `target` as it checks a value: a property that is only a `$ref`
 * to a definition of defs.schema.json (and a description) is that definition; any other is itself.
 * Undefined when the target's schema has record-level rules.
 */
export function fieldSchemas(target: string): ((name: string) => Record<string, unknown> | undefined) | undefined {
  const schema = checkedByField(target);
  if (!schema) return undefined;
  const defs = (validatorFor(DEFS_ID).schema as { definitions?: Record<string, Record<string, unknown>> }).definitions ?? {};
  return (name) => {
    const prop = schema.properties?.[name];
    if (!prop) return undefined;
    const ref = typeof prop.$ref === 'string' ? /^defs\.schema\.json#\/definitions\/([A-Za-z0-9]+)$/.exec(prop.$ref) : null;
    if (ref && Object.keys(prop).every((k) => k === '$ref' || k === 'description')) return defs[ref[1]!];
    return prop;
  };
}

function schemaReject(errors: ErrorObject[] | null | undefined, root = ''): MapResult {
  const p = toProblems(errors, root)[0];
  if (!p) return { ok: false, field: '', rule: 'schema', reason: 'record does not match its canonical schema' };
  const missing = p.rule === 'required' ? /'([^']+)'/.exec(p.message)?.[1] : undefined;
  const field = missing ?? p.path.replace(/^\//, '').split('/')[0] ?? '';
  return { ok: false, field, rule: p.rule ?? 'schema', reason: `${field || 'record'}: ${p.message}` };
}

/**
 * Compiles a mapping into a function from a source record to a canonical record or a reject.
 * Entity lookups are loaded here, once. The function never throws: a failing transform is a reject.
 */
export async function compileMapping(full: Mapping, opts: CompileOptions = {}): Promise<CompiledMapping> {
  const only = opts.only;
  const m: Mapping = only ? { ...full, fields: Object.fromEntries(Object.entries(full.fields).filter(([k]) => only.includes(k))) } : full;
  const problems = only ? [] : checkMappingTarget(m);
  if (problems.length) {
    throw new MagistralError('MAG_ERR_MAPPING_INVALID', `mapping ${m.name}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
  }
  const translations = new Map<string, Map<string, string>>();
  for (const { entity, system } of entityLookups(m)) {
    if (!opts.lookups || !opts.system) {
      throw new MagistralError('MAG_ERR_MAPPING_INVALID', `mapping ${m.name}: lookup of ${entity} ids from system "${system}" needs the flow's system and a lookup source`);
    }
    translations.set(`${entity}|${system}`, await opts.lookups.translate(entity, system, opts.system));
  }
  const ctx: TransformContext = { field: '', system: opts.system, translations };
  // Every field is pre-laid in a template (an optional one as undefined, which readers treat as
  // absent): copying it gives every output record the same hidden class up front. Growing a fresh
  // object key by key for an optional field such as a price's unit cost 7× the whole mapping.
  const names = Object.keys(m.fields).sort((a, b) => Number(isOptional(m.fields[a]!)) - Number(isOptional(m.fields[b]!)));
  const template: Record<string, string | boolean> = {};
  for (const name of names) template[name] = isOptional(m.fields[name]!) ? (undefined as unknown as string) : '';
  const fns = names.map((name) => buildField(name, m.fields[name]!, ctx));
  const count = fns.length;
  const check = buildCanonicalCheck(m.target, names);
  return (data) => {
    const out = { ...template };
    let i = 0;
    try {
      for (; i < count; i++) fns[i]!(data, out);
    } catch (e) {
      if (e instanceof Reject) return { ok: false, field: e.field, rule: e.rule, reason: e.reason };
      const field = names[i] ?? '';
      return { ok: false, field, rule: 'internal', reason: `${field}: ${(e as Error)?.message ?? String(e)}` };
    }
    return check(out) ?? { ok: true, value: out };
  };
}
