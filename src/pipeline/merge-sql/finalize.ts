// A snapshot group's finalize run: removes the rows of the flow's scope that no run of the group
// carried (neither wrote nor staged). Also the reads that decide whether it may remove at all.
import type { RunState } from '../../db/index.ts';
import type { FactSpec, KeyedSpec } from '../targets.ts';
import type { MergeSqlContext } from './context.ts';
import { factKey, keyedKey, sameKey } from './keys.ts';
import { statement, type CountRow, type Statement } from './statement.ts';
import { TERMINAL_STATES } from '../../db/types.ts';

/** A payload run of a group as its finalize run judges it. */
export interface GroupRun {
  id: number;
  state: RunState;
  mode: string;
  rows_read: number;
  rows_staged: number;
  load_path: string;
  staging_kept: boolean;
  files: string | null;
}

/**
 * Whether a run of `group` that just merged keeps its staging table: while the group is open, or while
 * its flow's finalize run has yet to use it. Locks the group row (shared) so that a concurrent close
 * sees this run's decision once it commits.
 */
export function keepsStagingStatement(group: string, flowId: number): Statement<{ keep: boolean }> {
  return statement(`
    SELECT g.abandoned_at IS NULL AND (g.closed_at IS NULL OR EXISTS (
      SELECT 1 FROM runs f WHERE f.snapshot_group = g.id AND f.flow_id = $2 AND f.kind = 'finalize' AND f.state <> ALL($3::text[])
    )) AS keep
    FROM snapshot_groups g WHERE g.id = $1 FOR SHARE OF g`, [group, flowId, TERMINAL_STATES]);
}

/** The payload runs of the group made before the finalize run `runId`, with their file names. */
export function groupRuns(group: string, flowId: number, runId: number): Statement<GroupRun> {
  return statement(`
    SELECT r.id, r.state, r.mode, r.rows_read, r.rows_staged, r.load_path, r.staging_kept,
           (SELECT string_agg(i.file_name, ', ' ORDER BY i.id) FROM inbox i WHERE i.id = ANY(r.inbox_ids)) AS files
    FROM runs r WHERE r.snapshot_group = $1 AND r.flow_id = $2 AND r.kind = 'payload' AND r.id < $3 ORDER BY r.id`,
  [group, flowId, runId]);
}

export interface FinalizeSqlContext extends Pick<MergeSqlContext, 'runId' | 'flowId' | 'system' | 'scope' | 'history'> {
  /** Every payload run of the group. */
  groupIds: readonly number[];
  /** The kept staging tables of the group's runs that went through staging. */
  stagedTables: readonly string[];
}

export interface FinalizeRemoval {
  /** With scope keys: the scope column's values the group carried or wrote (absent with scope flow). */
  scopeIds?: Statement<{ id: number }>;
  /** Rows in scope, and those no run of the group wrote. */
  counts(scopeIds: readonly number[]): Statement<{ n: number; untouched: number }>;
  /** Removes the rows in scope no run of the group wrote nor staged (with history); counts them. */
  remove(scopeIds: readonly number[]): Statement<CountRow>;
}

/** What a finalize run needs of a target: its key columns, the keys a staging table carried, its scope column. */
interface Shape {
  keyCols: string[];
  /** SELECT of the keys (as keyCols) a staging table carried; $1 is the system. */
  carried(table: string): string;
  scopeCol: string | undefined;
  history: { table: string; column: string; oldColumn: string } | undefined;
}

function shapeOf(spec: FactSpec | KeyedSpec): Shape {
  const key = spec.kind === 'fact' ? factKey(spec, '$1') : keyedKey(spec, () => '$1');
  return {
    keyCols: spec.keys.map((k) => k.column),
    carried: (table: string) => `SELECT ${key.exprs.join(', ')} FROM ${table} s ${key.joins}`,
    scopeCol: spec.kind === 'fact' ? spec.keys[0].column : spec.scopeColumn,
    history: spec.kind === 'fact' ? { table: spec.historyTable, column: spec.historyValue.column, oldColumn: spec.historyValue.oldColumn } : undefined,
  };
}

export function compileFinalize(spec: FactSpec | KeyedSpec, ctx: FinalizeSqlContext): FinalizeRemoval {
  const shape = shapeOf(spec);
  // Keys the group's staged runs carried (rejected rows with readable keys included: a bad value must
  // not remove a good row); rows its direct loads wrote carry the run's id.
  const carried = ctx.stagedTables.map((t) => shape.carried(t)).join(' UNION ALL ');
  const byKeys = ctx.scope === 'keys' && shape.scopeCol !== undefined;
  const scopeWhere = byKeys ? `t.${shape.scopeCol} = ANY($2::bigint[])` : `t.flow_id = $2`;
  const scopeParam = (ids: readonly number[]): unknown => (byKeys ? ids : ctx.flowId);
  const keys = shape.keyCols;
  const h = shape.history;
  // Facts only: keyed rows keep no history.
  const hist = ctx.history ? h : undefined;
  return {
    ...(byKeys ? {
      scopeIds: statement<{ id: number }>(`
        ${carried ? `SELECT DISTINCT ${shape.scopeCol} AS id FROM (${carried}) x UNION ` : ''}
        SELECT DISTINCT ${shape.scopeCol} AS id FROM ${spec.table} WHERE run_id = ANY($2::bigint[])`, [ctx.system, ctx.groupIds]),
    } : {}),
    counts: (ids) => statement(`
      SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM ${spec.table} t WHERE ${scopeWhere}`, [ctx.groupIds, scopeParam(ids)]),
    remove: (ids) => statement(`
        WITH del AS (
          DELETE FROM ${spec.table} t WHERE ${scopeWhere} AND t.run_id <> ALL($3::bigint[])
            ${carried ? `AND NOT EXISTS (SELECT 1 FROM (${carried}) x WHERE ${sameKey('x', 't', keys)})` : ''}
          RETURNING ${keys.map((k) => `t.${k}`).join(', ')}${h ? `, t.${h.column}` : ''}
        )${hist ? `, hist AS (
          INSERT INTO ${hist.table} (run_id, ${keys.join(', ')}, op, ${hist.oldColumn}) SELECT $4::bigint, ${keys.join(', ')}, 'D', ${hist.column} FROM del
        )` : ''}
        SELECT count(*)::bigint AS n FROM del`, hist ? [ctx.system, scopeParam(ids), ctx.groupIds, ctx.runId] : [ctx.system, scopeParam(ids), ctx.groupIds]),
  };
}
