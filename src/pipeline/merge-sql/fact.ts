// A fact's merge (prices, stock …): the partitions a payload touches, a plain insert into empty
// partitions or an upsert of the rows that differ (with history), and a snapshot's removal by scope.
import type { FactSpec } from '../targets.ts';
import { removesNow, type MergeSqlContext } from './context.ts';
import { factKey } from './keys.ts';
import { statement, type CountRow, type Statement } from './statement.ts';

export interface FactMerge {
  /** The snapshot removes absent rows in this merge. */
  removes: boolean;
  /** Internal ids of the partition keys (price types / warehouses) the payload touches. */
  partitionIds: Statement<{ id: number }>;
  /** Whether anything is live in the touched partitions (if not, a plain insert, no comparison). */
  partitionsLive(partIds: readonly number[]): Statement<{ e: boolean }>;
  /** Inserts every row to write; rowCount says how many. */
  insertAll: Statement;
  /** Writes the rows that are new or differ (and their history); counts both. */
  upsert: Statement<{ ins: number; upd: number }>;
  /** Rows in scope of a snapshot (and of the guard): the flow's rows, or with scope keys the touched partitions'. */
  countScope(partIds: readonly number[]): Statement<CountRow>;
  /** Removes the rows in scope that no staged row (rejected ones included) names; counts them. */
  remove(partIds: readonly number[]): Statement<CountRow>;
}

export function compileFact(spec: FactSpec, ctx: MergeSqlContext): FactMerge {
  const { table } = ctx;
  const [part, item] = spec.keys;
  const key = factKey(spec, '$1');
  // The row's position (file index, line, element path) rides along for the history of its change.
  const srcAll = `
    SELECT ${key.exprs.join(', ')},
           ${spec.values.map((v) => `${v.expr} AS ${v.column}`).join(', ')}, s._file, s._line, s._path
    FROM ${table} s ${key.joins}`;
  // Rows to write; rejected rows (srcAll only) just keep their live row from a snapshot's removal.
  const src = `${srcAll} WHERE NOT s._reject`;
  const keyCols = `${part.column}, ${item.column}`;
  const valueCols = spec.values.map((v) => v.column);
  const h = spec.historyValue;
  const scopeKeys = ctx.scope === 'keys';
  // Always parameter $2 of the statements that use it (the count renumbers it $1).
  const scopeWhere = scopeKeys ? `t.${part.column} = ANY($2::int[])` : `t.flow_id = $2`;
  const scopeParam = (partIds: readonly number[]): unknown => (scopeKeys ? partIds : ctx.flowId);

  return {
    removes: removesNow(ctx),
    partitionIds: statement(`
    SELECT DISTINCT e.internal_id::int AS id FROM (SELECT DISTINCT "${part.field}" AS code FROM ${table} WHERE NOT _reject) d
    JOIN external_ids e ON e.entity = $1 AND e.system = $2 AND e.external_id = d.code`, [part.entity, ctx.system]),
    partitionsLive: (partIds) => statement(`SELECT EXISTS (SELECT 1 FROM ${spec.table} WHERE ${part.column} = ANY($1::int[])) AS e`, [partIds]),
    insertAll: statement(`
      INSERT INTO ${spec.table} (${keyCols}, ${valueCols.join(', ')}, flow_id, run_id)
      SELECT ${keyCols}, ${valueCols.join(', ')}, $2, $3 FROM (${src}) x`, [ctx.system, ctx.flowId, ctx.runId]),
    upsert: statement(`
      WITH src AS (${src}),
      changed AS MATERIALIZED (
        SELECT x.*, t.${h.column} AS old_${h.column}, (t.${item.column} IS NULL) AS is_new
        FROM src x LEFT JOIN ${spec.table} t ON t.${part.column} = x.${part.column} AND t.${item.column} = x.${item.column}
        WHERE t.${item.column} IS NULL
           OR (${valueCols.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${valueCols.map((c) => `x.${c}`).join(', ')})
           OR t.flow_id <> $2
      ), up AS (
        INSERT INTO ${spec.table} AS t (${keyCols}, ${valueCols.join(', ')}, flow_id, run_id)
        SELECT ${keyCols}, ${valueCols.join(', ')}, $2, $3 FROM changed
        ON CONFLICT (${keyCols}) DO UPDATE SET ${valueCols.map((c) => `${c} = excluded.${c}`).join(', ')},
          flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
      )${ctx.history ? `, hist AS (
        -- A new key is a history row too (op I), so lineage names the file and line of its first value.
        INSERT INTO ${spec.historyTable} (run_id, ${keyCols}, op, ${h.oldColumn}, ${h.newColumn}, inbox_id, line, path)
        SELECT $3, ${keyCols}, CASE WHEN is_new THEN 'I' ELSE 'U' END, old_${h.column}, ${h.column}, ($4::bigint[])[_file + 1], _line, _path
        FROM changed WHERE is_new OR old_${h.column} IS DISTINCT FROM ${h.column}
      )` : ''}
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd
      FROM changed`, ctx.history ? [ctx.system, ctx.flowId, ctx.runId, ctx.inboxIds] : [ctx.system, ctx.flowId, ctx.runId]),
    countScope: (partIds) => statement(`SELECT count(*)::bigint AS n FROM ${spec.table} t WHERE ${scopeWhere.replace('$2', '$1')}`, [scopeParam(partIds)]),
    remove: (partIds) => statement(`
        WITH del AS (
          DELETE FROM ${spec.table} t WHERE ${scopeWhere}
            AND NOT EXISTS (SELECT 1 FROM (${srcAll}) x WHERE x.${part.column} = t.${part.column} AND x.${item.column} = t.${item.column})
          RETURNING t.${part.column}, t.${item.column}, t.${h.column}
        )${ctx.history ? `, hist AS (
          INSERT INTO ${spec.historyTable} (run_id, ${keyCols}, op, ${h.oldColumn}) SELECT $3::bigint, ${keyCols}, 'D', ${h.column} FROM del
        )` : ''}
        SELECT count(*)::bigint AS n FROM del`, [ctx.system, scopeParam(partIds), ctx.runId]),
  };
}
