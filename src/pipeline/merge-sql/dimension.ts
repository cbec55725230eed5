// A dimension's merge (products, groups, clients …): new codes create the entity and its external id,
// known codes are updated where anything differs (placeholders become real). Dimensions remove nothing.
import type { DimensionSpec } from '../targets.ts';
import type { MergeSqlContext } from './context.ts';
import { statement, type CountRow, type Statement } from './statement.ts';

export interface DimensionMerge {
  /** Drops the rejected rows: with nothing to remove they protect nothing. */
  dropRejected: Statement;
  /** Units the payload names, created by code (products only). */
  units?: Statement;
  /** Every staged row (rejects are gone by then). */
  staged: Statement<CountRow>;
  /** Creates the entities of codes not known yet; rowCount says how many. */
  insertNew: Statement;
  /** Updates known entities where anything differs; rowCount says how many. */
  updateKnown: Statement;
}

export function compileDimension(spec: DimensionSpec, ctx: Pick<MergeSqlContext, 'table' | 'system'>): DimensionMerge {
  const { table } = ctx;
  const refCols = spec.refs.map((r) => r.column);
  const refExprs = spec.refs.map((r, i) => `(SELECT e${i}.internal_id FROM external_ids e${i} WHERE e${i}.entity = '${r.entity}' AND e${i}.system = $1 AND e${i}.external_id = s."${r.field}")`);
  const products = spec.name === 'products';
  const extra = products ? { cols: ['unit_id'], exprs: ['(SELECT u.id FROM units u WHERE u.code = s.unit)'] } : { cols: [], exprs: [] };
  const cols = [...spec.values.map((v) => v.column), ...refCols, ...extra.cols];
  const exprs = [...spec.values.map((v) => v.expr), ...refExprs, ...extra.exprs];
  // A `keep` column takes the stored value where the payload has none.
  const keep = new Set(spec.values.filter((v) => v.keep).map((v) => v.column));
  const updValue = (c: string, i: number) => (keep.has(c) ? `coalesce(x.c${i}, t.${c})` : `x.c${i}`);

  return {
    dropRejected: statement(`DELETE FROM ${table} WHERE _reject`),
    ...(products ? { units: statement(`INSERT INTO units (code, name) SELECT DISTINCT unit, unit FROM ${table} WHERE unit IS NOT NULL ON CONFLICT (code) DO NOTHING`) } : {}),
    staged: statement(`SELECT count(*)::bigint AS n FROM ${table}`),
    insertNew: statement(`
    WITH fresh AS (
      SELECT s.code, ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')} FROM ${table} s
      WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $1 AND e.external_id = s.code)
    ), created AS (
      INSERT INTO ${spec.table} (code, ${cols.join(', ')}) SELECT code, ${cols.map((_, i) => `c${i}`).join(', ')} FROM fresh RETURNING id, code
    )
    INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $2, $1, code, id FROM created`, [ctx.system, spec.entity]),
    updateKnown: statement(`
    UPDATE ${spec.table} t SET ${cols.map((c, i) => `${c} = ${updValue(c, i)}`).join(', ')}, placeholder = false, updated_at = now()
    FROM (
      SELECT e.internal_id AS id, ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')}
      FROM ${table} s JOIN external_ids e ON e.entity = $2 AND e.system = $1 AND e.external_id = s.code
    ) x
    WHERE t.id = x.id AND (t.placeholder OR (${cols.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${cols.map(updValue).join(', ')}))`,
    [ctx.system, spec.entity]),
  };
}
