// The key of a staged row as the live table knows it: references joined to their internal ids through
// external_ids. Merges and a snapshot group's finalize run both select keys this way.
import type { FactSpec, KeyedSpec, RefSpec } from '../targets.ts';

/** Joins staging row `s` to the internal id of `ref` as `alias`; `system` is the placeholder of the system. */
export function joinRef(ref: RefSpec, alias: string, system: string | (() => string)): string {
  if (ref.byCode) return `JOIN LATERAL (${ref.byCode(`s."${ref.field}"`)}) ${alias} ON true`;
  // Asked only here: a statement binds the system parameter only when it uses it (PostgreSQL refuses an untyped unused one).
  const sys = typeof system === 'string' ? system : system();
  return `JOIN external_ids ${alias} ON ${alias}.entity = '${ref.entity}' AND ${alias}.system = ${sys} AND ${alias}.external_id = s."${ref.field}"`;
}

/** Whether `code` (SQL) names a known entity of `ref`; `entity`/`system` give the placeholders of those parameters when used. */
export function refKnown(ref: RefSpec, code: string, entity: () => string, system: () => string): string {
  if (ref.byCode) return `EXISTS (${ref.byCode(code)})`;
  return `EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = ${entity()} AND e.system = ${system()} AND e.external_id = ${code})`;
}

/** Entities the merge may make up as placeholders for unknown codes (the flow's autoCreate decides which). */
export const creatable = (ref: RefSpec): boolean => !ref.byCode;

/** A fact's key: partition (`pk`, as int) and item (`ik`) of staging row `s`. */
export function factKey(spec: FactSpec, system: string): { exprs: string[]; joins: string } {
  const [part, item] = spec.keys;
  return {
    exprs: [`pk.internal_id::int AS ${part.column}`, `ik.internal_id AS ${item.column}`],
    joins: `${joinRef(part, 'pk', system)} ${joinRef(item, 'ik', system)}`,
  };
}

/**
 * A keyed row's key: each reference joined as `ref_<field>` (value expressions use these), else the
 * field's text. `system` gives the system's placeholder, asked for only when a key is a reference.
 */
export function keyedKey(spec: KeyedSpec, system: () => string): { exprs: string[]; joins: string } {
  return {
    exprs: spec.keys.map((k) => `${k.ref ? `ref_${k.field}.internal_id` : `s."${k.field}"`} AS ${k.column}`),
    joins: spec.keys.flatMap((k) => (k.ref ? [joinRef(k.ref, `ref_${k.field}`, system)] : [])).join(' '),
  };
}

/** `a.c = b.c AND …` over the given columns. */
export function sameKey(a: string, b: string, cols: readonly string[]): string {
  return cols.map((c) => `${a}.${c} = ${b}.${c}`).join(' AND ');
}
