// A keyed target's merge (property values, product properties, synonyms): upsert by natural key where
// anything differs, then remove what the payload replaces (`replaceBy` groups always, a snapshot's scope).
import type { KeyedSpec } from '../targets.ts';
import { removesNow, type MergeSqlContext } from './context.ts';
import { keyedKey, sameKey } from './keys.ts';
import { Params, statement, type CountRow, type Statement } from './statement.ts';

export interface KeyedMerge {
  /** The snapshot removes absent rows of its scope in this merge. */
  removes: boolean;
  /** Writes the rows that are new or differ; counts both. */
  upsert: Statement<{ ins: number; upd: number }>;
  /** Removes the replaced rows no staged key names (absent when nothing is replaced); counts them. */
  remove?: Statement<CountRow>;
  /** Every row the flow holds (a delta's scope for the guard). */
  countFlow: Statement<CountRow>;
}

export function compileKeyed(spec: KeyedSpec, ctx: MergeSqlContext): KeyedMerge {
  const { table } = ctx;
  const keyCols = spec.keys.map((k) => k.column);
  const valueCols = spec.values.map((v) => v.column);
  // `keep` columns: an absent value (NULL) neither counts as a change nor overwrites the stored one.
  const plain = spec.values.filter((v) => !v.keep).map((v) => v.column);
  const kept = spec.values.filter((v) => v.keep).map((v) => v.column);
  const differs = [
    ...(plain.length ? [`(${plain.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${plain.map((c) => `x.${c}`).join(', ')})`] : []),
    ...kept.map((c) => `(x.${c} IS NOT NULL AND t.${c} IS DISTINCT FROM x.${c})`),
  ];

  // Which parameters a statement uses depends on the spec: each statement numbers its own.
  const up = new Params();
  const upKey = keyedKey(spec, () => up.ref('system', ctx.system));
  const src = `SELECT ${[...upKey.exprs, ...spec.values.map((v) => `${v.expr} AS ${v.column}`)].join(', ')} FROM ${table} s ${upKey.joins} WHERE NOT s._reject`;
  const upsert = `
    WITH src AS (${src}),
    changed AS MATERIALIZED (
      SELECT x.*, (t.${keyCols[0]} IS NULL) AS is_new
      FROM src x LEFT JOIN ${spec.table} t ON ${sameKey('t', 'x', keyCols)}
      WHERE t.${keyCols[0]} IS NULL OR t.flow_id IS DISTINCT FROM ${up.ref('flow', ctx.flowId)}
        ${differs.map((d) => `OR ${d}`).join(' ')}
    ), up AS (
      INSERT INTO ${spec.table} AS t (${[...keyCols, ...valueCols].join(', ')}, flow_id, run_id)
      SELECT ${[...keyCols, ...valueCols].join(', ')}, ${up.ref('flow', ctx.flowId)}, ${up.ref('run', ctx.runId)} FROM changed
      ON CONFLICT (${keyCols.join(', ')}) DO UPDATE SET ${[...plain.map((c) => `${c} = excluded.${c}`), ...kept.map((c) => `${c} = coalesce(excluded.${c}, t.${c})`), 'flow_id = excluded.flow_id', 'run_id = excluded.run_id', 'updated_at = now()'].join(', ')}
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed`;

  const removes = removesNow(ctx);
  const del = new Params();
  // Every staged key, rejected rows included: a bad value must not remove the live row it speaks of.
  const delKey = keyedKey(spec, () => del.ref('system', ctx.system));
  const srcKeys = `SELECT ${delKey.exprs.join(', ')} FROM ${table} s ${delKey.joins}`;
  const scopes: string[] = [];
  if (spec.replaceBy) scopes.push(`(${spec.replaceBy.map((c) => `t.${c}`).join(', ')}) IN (SELECT ${spec.replaceBy.join(', ')} FROM keys)`);
  if (removes) scopes.push(ctx.scope === 'keys' && spec.scopeColumn ? `t.${spec.scopeColumn} IN (SELECT ${spec.scopeColumn} FROM keys)` : `t.flow_id = ${del.ref('flow', ctx.flowId)}`);
  const remove = scopes.length ? `
      WITH keys AS MATERIALIZED (${srcKeys}),
      del AS (
        DELETE FROM ${spec.table} t WHERE (${scopes.join(' OR ')})
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE ${sameKey('x', 't', keyCols)})
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del` : undefined;

  return {
    removes,
    upsert: statement(upsert, up.values),
    ...(remove ? { remove: statement<CountRow>(remove, del.values) } : {}),
    countFlow: statement(`SELECT count(*)::bigint AS n FROM ${spec.table} WHERE flow_id = $1`, [ctx.flowId]),
  };
}
