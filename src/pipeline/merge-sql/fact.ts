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
  /**
   * The partition keys a snapshot's removal reaches beyond the payload's: with scope flow, every price type
   * (warehouse) holding a row of the flow, with how many (null when the removal stays within the payload's
   * partitions). One scan gives the merge both its locks and the flow's row count before it writes.
   */
  removalPartitionIds: Statement<{ id: number; n: number }> | null;
  /** Whether anything is live in the touched partitions (if not, a plain insert, no comparison). */
  partitionsLive(partIds: readonly number[]): Statement<{ e: boolean }>;
  /** Inserts every row to write; rowCount says how many. */
  insertAll: Statement;
  /** Writes the rows that are new or differ (and their history); counts both. */
  /** `took`: rows taken over from other flows. */
  upsert: Statement<{ ins: number; upd: number; took: number; took_from: number[] | null }>;
  /** Rows in scope of a snapshot (and of the guard): the flow's rows, or with scope keys the touched partitions'. */
  countScope(partIds: readonly number[]): Statement<CountRow>;
  /** Removes the flow's rows a snapshot's fingerprint walk found gone (tombstones in table `gone`); counts them. */
  removeGone(gone: string): Statement<CountRow>;
  /** Live rows of the flow that rejected staged rows name (kept from a snapshot's removal). */
  rejectedLive: Statement<CountRow>;
  /** Removes the rows in scope that no staged row (rejected ones included) names; counts them. */
  remove(partIds: readonly number[]): Statement<CountRow>;
  /**
   * Up to `limit` rows of each kind this run's merge wrote, read in its own transaction (a held run's,
   * before the rollback): with history, new (op I), changed (old → new) and removed rows from the history,
   * and as new also the live rows the run wrote that have no history row (a plain insert into empty
   * partitions; a row taken over from another flow at the same value looks new too); without history,
   * the written rows (new or changed, old unknown).
   */
  sample(limit: number): Statement<FactSampleRow>;
}

/** One row of a merge's sample: op I (new), U (changed), D (removed), W (written: new or changed, history off). */
export interface FactSampleRow {
  op: 'I' | 'U' | 'D' | 'W';
  part_code: string;
  item_code: string;
  old: string | null;
  new: string | null;
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
    removalPartitionIds: removesNow(ctx) && !scopeKeys
      ? statement(`SELECT ${part.column} AS id, count(*)::bigint AS n FROM ${spec.table} WHERE flow_id = $1 GROUP BY 1`, [ctx.flowId]) : null,
    partitionsLive: (partIds) => statement(`SELECT EXISTS (SELECT 1 FROM ${spec.table} WHERE ${part.column} = ANY($1::int[])) AS e`, [partIds]),
    insertAll: statement(`
      INSERT INTO ${spec.table} (${keyCols}, ${valueCols.join(', ')}, flow_id, run_id)
      SELECT ${keyCols}, ${valueCols.join(', ')}, $2, $3 FROM (${src}) x`, [ctx.system, ctx.flowId, ctx.runId]),
    upsert: statement(`
      WITH src AS (${src}),
      changed AS MATERIALIZED (
        SELECT x.*, t.${h.column} AS old_${h.column}, (t.${item.column} IS NULL) AS is_new, t.flow_id AS old_flow_id
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
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd,
        count(*) FILTER (WHERE NOT is_new AND old_flow_id <> $2)::bigint AS took,
        array_agg(DISTINCT old_flow_id) FILTER (WHERE NOT is_new AND old_flow_id <> $2) AS took_from
      FROM changed`, ctx.history ? [ctx.system, ctx.flowId, ctx.runId, ctx.inboxIds] : [ctx.system, ctx.flowId, ctx.runId]),
    countScope: (partIds) => statement(`SELECT count(*)::bigint AS n FROM ${spec.table} t WHERE ${scopeWhere.replace('$2', '$1')}`, [scopeParam(partIds)]),
    removeGone: (gone) => statement(`
        WITH g AS (SELECT ${key.exprs.join(', ')} FROM ${gone} s ${key.joins}),
        del AS (
          DELETE FROM ${spec.table} t USING g WHERE t.flow_id = $2 AND t.${part.column} = g.${part.column} AND t.${item.column} = g.${item.column}
          RETURNING t.${part.column}, t.${item.column}, t.${h.column}
        )${ctx.history ? `, hist AS (
          INSERT INTO ${spec.historyTable} (run_id, ${keyCols}, op, ${h.oldColumn}) SELECT $3::bigint, ${keyCols}, 'D', ${h.column} FROM del
        )` : ''}
        SELECT count(*)::bigint AS n FROM del`, ctx.history ? [ctx.system, ctx.flowId, ctx.runId] : [ctx.system, ctx.flowId]),
    rejectedLive: statement(`
        SELECT count(*)::bigint AS n FROM (${srcAll} WHERE s._reject) x
        JOIN ${spec.table} t ON t.${part.column} = x.${part.column} AND t.${item.column} = x.${item.column} WHERE t.flow_id = $2`, [ctx.system, ctx.flowId]),
    remove: (partIds) => statement(`
        WITH del AS (
          DELETE FROM ${spec.table} t WHERE ${scopeWhere}
            AND NOT EXISTS (SELECT 1 FROM (${srcAll}) x WHERE x.${part.column} = t.${part.column} AND x.${item.column} = t.${item.column})
          RETURNING t.${part.column}, t.${item.column}, t.${h.column}
        )${ctx.history ? `, hist AS (
          INSERT INTO ${spec.historyTable} (run_id, ${keyCols}, op, ${h.oldColumn}) SELECT $3::bigint, ${keyCols}, 'D', ${h.column} FROM del
        )` : ''}
        SELECT count(*)::bigint AS n FROM del`, [ctx.system, scopeParam(partIds), ctx.runId]),
    sample: (limit) => {
      const n = Math.max(1, Math.floor(limit));
      const sameAs = (a: string, b: string) => `${a}.${part.column} = ${b}.${part.column} AND ${a}.${item.column} = ${b}.${item.column}`;
      // LIMIT inside each branch: a nested loop over the staged rows stops at the first n matches.
      const written = `SELECT '${ctx.history ? 'I' : 'W'}'::text AS op, t.${part.column} AS part, t.${item.column} AS item, NULL::text AS old, t.${h.column}::text AS new
          FROM (${src}) x JOIN ${spec.table} t ON ${sameAs('t', 'x')}
          WHERE t.run_id = $2${ctx.history ? ` AND NOT EXISTS (SELECT 1 FROM ${spec.historyTable} hh WHERE hh.run_id = $2 AND ${sameAs('hh', 't')})` : ''}
          LIMIT ${n}`;
      const fromHistory = (op: 'I' | 'U' | 'D') => `SELECT op::text, ${part.column} AS part, ${item.column} AS item, ${h.oldColumn}::text AS old, ${h.newColumn}::text AS new
          FROM ${spec.historyTable} WHERE run_id = $2 AND op = '${op}' LIMIT ${n}`;
      // New keys: the upsert's history rows (op I), then live rows the run wrote without one (a plain
      // insert into empty partitions, a row taken over from another flow at the same value).
      const inserted = `SELECT * FROM ((${fromHistory('I')}) UNION ALL (${written})) i LIMIT ${n}`;
      const rows = ctx.history ? `(${inserted}) UNION ALL (${fromHistory('U')}) UNION ALL (${fromHistory('D')})` : written;
      return statement(`
        SELECT r.op, pt.code AS part_code, it.code AS item_code, r.old, r.new
        FROM (${rows}) r JOIN ${part.table} pt ON pt.id = r.part JOIN ${item.table} it ON it.id = r.item`, [ctx.system, ctx.runId]);
    },
  };
}
