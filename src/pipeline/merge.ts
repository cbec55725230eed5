// The merge stage of a run: one transaction that resolves external codes (creating placeholders where
// the flow allows), writes only rows that changed, removes what a snapshot no longer holds, checks the
// guard and either commits or holds the run. Runs of one flow merge in order of receipt.
import type pg from 'pg';
import type { Flow } from '../schemas/index.ts';
import type { PipelineDeps } from './deps.ts';
import { stagingTable } from './runs.ts';
import { dependenciesSettled, type RunMode } from './extract.ts';
import { autoCreates } from './flows.ts';
import { finalizeSnapshotGroup, keepsStaging } from './snapshot-group.ts';
import { keyFields, targetSpec, type DimensionSpec, type FactSpec, type KeyedSpec, type RefSpec, type TargetSpec } from './targets.ts';
import { runLogger, type Logger } from '../telemetry/logger.ts';

export type MergeOutcome = 'done' | 'held' | 'skipped' | 'waiting' | 'paused' | 'restage' | 'failed';

export interface MergeCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  removed: number;
  rejected: number;
  inScope: number | null;
  created: Record<string, number>;
}

interface MergeContext {
  client: pg.PoolClient;
  runId: number;
  flowId: number;
  flow: Flow;
  /** The run's effective mode (what its payload declared, else the flow's). */
  mode: RunMode;
  /** The run belongs to an open snapshot group: it upserts only; the group's finalize run removes. */
  deferRemoval: boolean;
  system: string;
  table: string;
  files: string[];
  log: Logger;
}

const q = (c: pg.PoolClient, text: string, values?: unknown[]) => c.query(text, values);

/** Stable 64-bit-ish advisory key for a name (PostgreSQL hashes it). */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext($1))`;

/** 21000: ON CONFLICT reached the same row twice; 23505: a plain insert met a duplicate key. */
function isDuplicateKeyError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '21000' || code === '23505';
}

export async function mergeRun(deps: PipelineDeps, runId: number): Promise<MergeOutcome> {
  const run = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
    .select(['runs.id', 'runs.state', 'runs.rows_staged', 'runs.rows_rejected', 'runs.approved', 'runs.inbox_ids', 'runs.flow_id', 'flows.name', 'flows.definition', 'flows.paused',
      'runs.mode', 'runs.kind', 'runs.depends_on', 'runs.snapshot_group'])
    .where('runs.id', '=', runId).executeTakeFirst();
  if (!run) return 'skipped';
  if (run.state === 'received' || run.state === 'extracting') return 'waiting';
  if (run.state !== 'staged' && run.state !== 'merging') return 'skipped';
  if (run.paused) return 'paused';
  const flow = run.definition;
  const log = runLogger(deps.log, run.name, runId);

  // Runs of one flow merge in order of receipt: an older run that is still open (or held) goes first.
  const earlier = await deps.db.selectFrom('runs').select(['id', 'state']).where('flow_id', '=', run.flow_id)
    .where('id', '<', runId).where('state', 'not in', ['done', 'failed', 'rejected']).orderBy('id').limit(1).executeTakeFirst();
  if (earlier) {
    log.debug({ waitingFor: earlier.id, state: earlier.state }, 'waiting for an earlier run of the flow');
    return 'waiting';
  }
  // Runs of one file merge in dependency order (price types before prices): wait for those first.
  if (!(await dependenciesSettled(deps, run.depends_on))) {
    log.debug({ dependsOn: run.depends_on }, 'waiting for the runs this one depends on');
    return 'waiting';
  }
  if (run.kind === 'finalize') return finalizeSnapshotGroup(deps, { runId, flowId: run.flow_id, flowName: run.name, flow, group: run.snapshot_group!, approved: run.approved, log });

  const table = stagingTable(runId);
  const client = await deps.pool.connect();
  const started = Date.now();
  try {
    // Staging is UNLOGGED: after a server crash it comes back empty. Then extract again.
    const exists = await q(client, `SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
    const count = exists.rows[0].ok ? (await q(client, `SELECT count(*)::bigint AS n FROM ${table} WHERE NOT _reject`)).rows[0].n : -1;
    if (count !== run.rows_staged) {
      log.warn({ expected: run.rows_staged, found: count }, 'staging lost; extracting again');
      await deps.db.updateTable('runs').set({ state: 'received' }).where('id', '=', runId).execute();
      return 'restage';
    }
    await deps.db.updateTable('runs').set({ state: 'merging' }).where('id', '=', runId).where('state', 'in', ['staged', 'merging']).execute();
    const files = (await deps.db.selectFrom('inbox').select(['id', 'file_name']).where('id', 'in', run.inbox_ids).execute())
      .sort((a, b) => run.inbox_ids.indexOf(a.id) - run.inbox_ids.indexOf(b.id)).map((f) => f.file_name);
    const spec = targetSpec(flow.target);
    const ctx: MergeContext = {
      client, runId, flowId: run.flow_id, flow, mode: run.mode, deferRemoval: run.snapshot_group !== null && (spec.kind === 'fact' || spec.kind === 'keyed'),
      system: flow.source.system ?? 'local', table, files, log,
    };

    let counts: MergeCounts | undefined;
    for (let attempt = 0; attempt < 2 && !counts; attempt++) {
      await q(client, 'BEGIN');
      try {
        await q(client, `SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
        // One merge per target at a time: concurrent merges into the same rows would deadlock.
        await q(client, LOCK_SQL, [`magistral:merge:${spec.name}`]);
        counts = spec.kind === 'fact' ? await mergeFact(ctx, spec) : spec.kind === 'keyed' ? await mergeKeyed(ctx, spec) : await mergeDimension(ctx, spec);
      } catch (e) {
        await q(client, 'ROLLBACK');
        if (isDuplicateKeyError(e) && attempt === 0) {
          // Duplicate keys in the payload: keep the last occurrence, reject the others, merge again.
          // The run's counts move with the rows, so the staging check above stays true.
          await q(client, 'BEGIN');
          const n = await rejectDuplicates(ctx, spec);
          await q(client, 'UPDATE runs SET rows_staged = rows_staged - $2, rows_rejected = rows_rejected + $2 WHERE id = $1', [runId, n]);
          await q(client, 'COMMIT');
          log.info({ duplicates: n }, 'duplicate keys rejected; merging again');
          continue;
        }
        throw e;
      }
    }
    if (!counts) throw new Error('merge did not converge');

    // The guard: a run that would change too much of what is in scope waits for a person.
    const guard = flow.guard;
    const changed = counts.inserted + counts.updated + counts.removed;
    if (guard?.maxChangeRatio !== undefined && !run.approved && counts.inScope !== null && counts.inScope >= (guard.minRowsInScope ?? 1)
      && counts.inScope > 0 && changed / counts.inScope > guard.maxChangeRatio) {
      await q(client, 'ROLLBACK');
      const ratio = changed / counts.inScope;
      const reason = `would change ${changed} of ${counts.inScope} rows in scope (${(ratio * 100).toFixed(1)} % > ${(guard.maxChangeRatio * 100).toFixed(1)} %): `
        + `${counts.inserted} inserted, ${counts.updated} updated, ${counts.removed} removed`;
      await deps.db.updateTable('runs').set({
        state: 'held', held_reason: reason, rows_inserted: counts.inserted, rows_updated: counts.updated, rows_removed: counts.removed,
        rows_unchanged: counts.unchanged, rows_in_scope: counts.inScope,
      }).where('id', '=', runId).execute();
      log.warn({ reason }, 'run held by guard');
      deps.metrics?.runsFinished.inc({ flow: run.name, state: 'held' });
      return 'held';
    }

    // A run of an open snapshot group keeps its staged keys for the group's finalize run.
    const keep = ctx.deferRemoval && await keepsStaging(client, run.snapshot_group!, run.flow_id);
    if (keep) await q(client, `UPDATE runs SET staging_kept = true WHERE id = $1`, [runId]);
    const mergeMs = Date.now() - started;
    await q(client, `INSERT INTO change_log (run_id, entity, inserted, updated, removed) VALUES ($1, $2, $3, $4, $5)`,
      [runId, spec.name, counts.inserted, counts.updated, counts.removed]);
    for (const [entity, n] of Object.entries(counts.created)) {
      if (n) await q(client, `INSERT INTO change_log (run_id, entity, inserted) VALUES ($1, $2, $3)`, [runId, entity, n]);
    }
    await q(client, `UPDATE runs SET state = 'done', rows_inserted = $2, rows_updated = $3, rows_unchanged = $4, rows_removed = $5,
      rows_rejected = rows_rejected + $6, rows_staged = rows_staged - $6, rows_in_scope = $7, finished_at = clock_timestamp(), merge_ms = $8, held_reason = NULL
      WHERE id = $1`, [runId, counts.inserted, counts.updated, counts.unchanged, counts.removed, counts.rejected, counts.inScope, mergeMs]);
    await q(client, 'COMMIT');
    if (!keep) await q(client, `DROP TABLE IF EXISTS ${table}`).catch(() => {});
    deps.metrics?.stageDuration.observe({ stage: 'merge', flow: run.name }, mergeMs / 1000);
    for (const k of ['inserted', 'updated', 'unchanged', 'removed'] as const) deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: k }, counts[k]);
    deps.metrics?.runsFinished.inc({ flow: run.name, state: 'done' });
    log.info({ ...counts, ms: mergeMs }, 'run merged');
    return 'done';
  } catch (e) {
    await q(client, 'ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** Moves every earlier duplicate of a key to rejects (the last row of the payload wins). */
async function rejectDuplicates(ctx: MergeContext, spec: TargetSpec): Promise<number> {
  const keyCols = keyFields(spec).map((f) => `"${f}"`);
  const keyLabel = spec.kind === 'fact' ? spec.keys.map((k) => k.label).join(' and ') : spec.kind === 'keyed' ? keyFields(spec).join(' and ') : 'code';
  const r = await q(ctx.client, `
    WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM ${ctx.table} WHERE NOT _reject WINDOW w AS (PARTITION BY ${keyCols.join(', ')} ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM ${ctx.table} s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, ${keyCols.map((c) => `s.${c}`).join(` || ' / ' || `)} AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped`, [ctx.runId, ctx.files, keyCols.join(',').replace(/"/g, ''), keyLabel]);
  return r.rowCount ?? 0;
}

/**
 * Resolves one reference field of the staging table: unknown codes become placeholders (autoCreate)
 * or the rows are rejected. Returns how many placeholders were created and rows rejected.
 */
async function resolveRef(ctx: MergeContext, ref: RefSpec): Promise<{ created: number; rejected: number }> {
  const col = `"${ref.field}"`;
  if (autoCreates(ctx.flow, ref.entity)) {
    // Nothing to create (the daily case: every code is known) needs no lock. Codes are never removed
    // from external_ids, so what is found now stays found.
    const anyMissing = await q(ctx.client, `
      SELECT EXISTS (SELECT 1 FROM ${ctx.table} s WHERE ${col} IS NOT NULL AND NOT _reject
        AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s.${col})) AS any`, [ref.entity, ctx.system]);
    if (!anyMissing.rows[0].any) return { created: 0, rejected: 0 };
    // Serialise creation per entity and system so two merges never create the same code twice.
    await q(ctx.client, LOCK_SQL, [`magistral:create:${ref.entity}:${ctx.system}`]);
    const r = await q(ctx.client, `
      WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT ${col} AS code FROM ${ctx.table} WHERE ${col} IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO ${ref.table} (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created`, [ref.entity, ctx.system]);
    if (r.rowCount) {
      ctx.log.info({ entity: ref.entity, created: r.rowCount }, 'placeholders created for unknown codes');
      // Many new ids at once (a first load): refresh statistics so the joins below plan well.
      if (r.rowCount > 500) await q(ctx.client, 'ANALYZE external_ids');
    }
    return { created: r.rowCount ?? 0, rejected: 0 };
  }
  const r = await q(ctx.client, `
    WITH bad AS (
      DELETE FROM ${ctx.table} s WHERE ${col} IS NOT NULL AND NOT s._reject AND NOT EXISTS (
        SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s.${col})
      RETURNING s._line, s._file, s._path, s.${col} AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad`,
  [ctx.runId, ref.entity, ctx.system, ctx.files, ref.field, ref.label]);
  return { created: 0, rejected: r.rowCount ?? 0 };
}

function joinRef(ref: RefSpec, alias: string, system: string): string {
  return `JOIN external_ids ${alias} ON ${alias}.entity = '${ref.entity}' AND ${alias}.system = ${system} AND ${alias}.external_id = s."${ref.field}"`;
}

async function mergeFact(ctx: MergeContext, spec: FactSpec): Promise<MergeCounts> {
  const { client, table } = ctx;
  const [part, item] = spec.keys;
  const created: Record<string, number> = {};
  let rejected = 0;
  for (const ref of spec.keys) {
    const r = await resolveRef(ctx, ref);
    created[ref.entity] = (created[ref.entity] ?? 0) + r.created;
    rejected += r.rejected;
  }
  const total = Number((await q(client, `SELECT count(*)::bigint AS n FROM ${table} WHERE NOT _reject`)).rows[0].n);
  // Internal ids of the partition keys (price types / warehouses) the payload touches.
  const partIds: number[] = (await q(client, `
    SELECT DISTINCT e.internal_id::int AS id FROM (SELECT DISTINCT "${part.field}" AS code FROM ${table} WHERE NOT _reject) d
    JOIN external_ids e ON e.entity = $1 AND e.system = $2 AND e.external_id = d.code`, [part.entity, ctx.system])).rows.map((r) => r.id as number);

  const srcAll = `
    SELECT pk.internal_id::int AS ${part.column}, ik.internal_id AS ${item.column},
           ${spec.values.map((v) => `${v.expr} AS ${v.column}`).join(', ')}
    FROM ${table} s ${joinRef(part, 'pk', '$1')} ${joinRef(item, 'ik', '$1')}`;
  // Rows to write; rejected rows (srcAll only) just keep their live row from a snapshot's removal.
  const src = `${srcAll} WHERE NOT s._reject`;
  const keyCols = `${part.column}, ${item.column}`;
  const valueCols = spec.values.map((v) => v.column);
  const h = spec.historyValue;
  const snapshot = ctx.mode === 'snapshot' && !ctx.deferRemoval;
  const scopeKeys = ctx.flow.scope === 'keys';
  // Scope of a snapshot (and of the guard): rows this flow wrote, or rows of the touched partitions.
  // Always parameter $2 of the statements that use it.
  const scopeWhere = scopeKeys ? `t.${part.column} = ANY($2::int[])` : `t.flow_id = $2`;
  const scopeParam = scopeKeys ? partIds : ctx.flowId;
  const countScope = async (): Promise<number> =>
    Number((await q(client, `SELECT count(*)::bigint AS n FROM ${spec.table} t WHERE ${scopeWhere.replace('$2', '$1')}`, [scopeParam])).rows[0].n);

  // Nothing live in the touched partitions: a plain insert, no comparison needed.
  const empty = !(await q(client, `SELECT EXISTS (SELECT 1 FROM ${spec.table} WHERE ${part.column} = ANY($1::int[])) AS e`, [partIds])).rows[0].e;
  let inserted = 0;
  let updated = 0;
  if (empty) {
    const r = await q(client, `
      INSERT INTO ${spec.table} (${keyCols}, ${valueCols.join(', ')}, flow_id, run_id)
      SELECT ${keyCols}, ${valueCols.join(', ')}, $2, $3 FROM (${src}) x`, [ctx.system, ctx.flowId, ctx.runId]);
    inserted = r.rowCount ?? 0;
  } else {
    const r = await q(client, `
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
      )${ctx.flow.history !== false ? `, hist AS (
        INSERT INTO ${spec.historyTable} (run_id, ${keyCols}, op, ${h.oldColumn}, ${h.newColumn})
        SELECT $3, ${keyCols}, 'U', old_${h.column}, ${h.column} FROM changed WHERE NOT is_new AND old_${h.column} IS DISTINCT FROM ${h.column}
      )` : ''}
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd
      FROM changed`, [ctx.system, ctx.flowId, ctx.runId]);
    inserted = Number(r.rows[0].ins);
    updated = Number(r.rows[0].upd);
  }
  const staged = total;
  const unchanged = staged - inserted - updated;

  // Snapshot removal. After the upsert every staged row belongs to this flow, so the scope holds
  // exactly inserted + updated + unchanged rows unless something must go: a cheap count decides
  // whether the anti-join (a hash of every staged row) is needed at all.
  let removed = 0;
  if (snapshot) {
    const inScopeNow = await countScope();
    if (inScopeNow > staged) {
      const del = await q(client, `
        WITH del AS (
          DELETE FROM ${spec.table} t WHERE ${scopeWhere}
            AND NOT EXISTS (SELECT 1 FROM (${srcAll}) x WHERE x.${part.column} = t.${part.column} AND x.${item.column} = t.${item.column})
          RETURNING t.${part.column}, t.${item.column}, t.${h.column}
        )${ctx.flow.history !== false ? `, hist AS (
          INSERT INTO ${spec.historyTable} (run_id, ${keyCols}, op, ${h.oldColumn}) SELECT $3::bigint, ${keyCols}, 'D', ${h.column} FROM del
        )` : ''}
        SELECT count(*)::bigint AS n FROM del`, [ctx.system, scopeParam, ctx.runId]);
      removed = Number(del.rows[0].n);
    }
  }
  let inScopeBefore: number | null = null;
  if (snapshot) inScopeBefore = updated + unchanged + removed;
  else if (ctx.flow.guard?.maxChangeRatio !== undefined && inserted + updated > 0) {
    // A delta's scope is everything the flow holds: count it (after the writes, corrected back).
    inScopeBefore = (await countScope()) - inserted;
  }
  return { inserted, updated, unchanged, removed, rejected, inScope: inScopeBefore, created };
}

async function mergeDimension(ctx: MergeContext, spec: DimensionSpec): Promise<MergeCounts> {
  const { client, table } = ctx;
  const created: Record<string, number> = {};
  let rejected = 0;
  // Dimensions remove nothing, so rejected rows have no use here.
  await q(client, `DELETE FROM ${table} WHERE _reject`);
  // A code twice in one payload: the last row wins (an UPDATE … FROM would pick one at random).
  rejected += await rejectDuplicates(ctx, spec);
  // References to other entities first (a group's parent may be in the same payload: created as a
  // placeholder here, then completed by its own row below).
  for (const ref of spec.refs) {
    const r = await resolveRef(ctx, ref);
    created[ref.entity] = (created[ref.entity] ?? 0) + r.created;
    rejected += r.rejected;
  }
  if (spec.name === 'products') {
    await q(client, `INSERT INTO units (code, name) SELECT DISTINCT unit, unit FROM ${table} WHERE unit IS NOT NULL ON CONFLICT (code) DO NOTHING`);
  }
  const total = Number((await q(client, `SELECT count(*)::bigint AS n FROM ${table}`)).rows[0].n);
  // Nothing to write (a file without this entity, e.g. the catalog's products in an offers file): do
  // not queue behind the loads that hold the entity's creation lock.
  if (total === 0) return { inserted: 0, updated: 0, unchanged: 0, removed: 0, rejected, inScope: null, created };
  await q(client, LOCK_SQL, [`magistral:create:${spec.entity}:${ctx.system}`]);

  const refCols = spec.refs.map((r) => r.column);
  const refExprs = spec.refs.map((r, i) => `(SELECT e${i}.internal_id FROM external_ids e${i} WHERE e${i}.entity = '${r.entity}' AND e${i}.system = $1 AND e${i}.external_id = s."${r.field}")`);
  const extra = spec.name === 'products' ? { cols: ['unit_id'], exprs: ['(SELECT u.id FROM units u WHERE u.code = s.unit)'] } : { cols: [], exprs: [] };
  const cols = [...spec.values.map((v) => v.column), ...refCols, ...extra.cols];
  const exprs = [...spec.values.map((v) => v.expr), ...refExprs, ...extra.exprs];
  // A `keep` column takes the stored value where the payload has none.
  const keep = new Set(spec.values.filter((v) => v.keep).map((v) => v.column));
  const updValue = (c: string, i: number) => (keep.has(c) ? `coalesce(x.c${i}, t.${c})` : `x.c${i}`);

  // New codes: create the entity and its external id.
  const ins = await q(client, `
    WITH fresh AS (
      SELECT s.code, ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')} FROM ${table} s
      WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $1 AND e.external_id = s.code)
    ), created AS (
      INSERT INTO ${spec.table} (code, ${cols.join(', ')}) SELECT code, ${cols.map((_, i) => `c${i}`).join(', ')} FROM fresh RETURNING id, code
    )
    INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $2, $1, code, id FROM created`, [ctx.system, spec.entity]);
  const inserted = ins.rowCount ?? 0;
  // Known codes: update where anything differs (placeholders become real entities).
  const upd = await q(client, `
    UPDATE ${spec.table} t SET ${cols.map((c, i) => `${c} = ${updValue(c, i)}`).join(', ')}, placeholder = false, updated_at = now()
    FROM (
      SELECT e.internal_id AS id, ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')}
      FROM ${table} s JOIN external_ids e ON e.entity = $2 AND e.system = $1 AND e.external_id = s.code
    ) x
    WHERE t.id = x.id AND (t.placeholder OR (${cols.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${cols.map(updValue).join(', ')}))`,
  [ctx.system, spec.entity]);
  const updated = upd.rowCount ?? 0;
  return { inserted, updated, unchanged: Math.max(0, total - inserted - updated), removed: 0, rejected, inScope: null, created };
}

/**
 * Keyed rows (product properties, dictionaries, synonyms): references resolved like a fact's, rows
 * upserted by their natural key where anything differs, then removal of what the payload replaces —
 * the groups of `replaceBy` in any mode, and a snapshot's scope (the flow's rows, or with scope keys
 * the rows of the `scopeColumn` values present). References are joined as `ref_<field>`.
 */
async function mergeKeyed(ctx: MergeContext, spec: KeyedSpec): Promise<MergeCounts> {
  const { client, table } = ctx;
  const created: Record<string, number> = {};
  let rejected = 0;
  for (const k of spec.keys) {
    if (!k.ref) continue;
    const r = await resolveRef(ctx, k.ref);
    created[k.ref.entity] = (created[k.ref.entity] ?? 0) + r.created;
    rejected += r.rejected;
  }
  const staged = Number((await q(client, `SELECT count(*)::bigint AS n FROM ${table} WHERE NOT _reject`)).rows[0].n);
  const joins = spec.keys.filter((k) => k.ref).map((k) => joinRef(k.ref!, `ref_${k.field}`, ':system')).join(' ');
  // Statements name their parameters (:system, :flow, :run): which ones a statement uses depends on the spec.
  const named = { system: ctx.system, flow: ctx.flowId, run: ctx.runId };
  const keyExprs = spec.keys.map((k) => `${k.ref ? `ref_${k.field}.internal_id` : `s."${k.field}"`} AS ${k.column}`);
  const keyCols = spec.keys.map((k) => k.column);
  const valueCols = spec.values.map((v) => v.column);
  // Every staged key, rejected rows included: a bad value must not remove the live row it speaks of.
  const srcKeys = `SELECT ${keyExprs.join(', ')} FROM ${table} s ${joins}`;
  const src = `SELECT ${[...keyExprs, ...spec.values.map((v) => `${v.expr} AS ${v.column}`)].join(', ')} FROM ${table} s ${joins} WHERE NOT s._reject`;
  const same = (a: string, b: string, cols: string[]) => cols.map((c) => `${a}.${c} = ${b}.${c}`).join(' AND ');

  const r = await q(client, ...bindNamed(`
    WITH src AS (${src}),
    changed AS MATERIALIZED (
      SELECT x.*, (t.${keyCols[0]} IS NULL) AS is_new
      FROM src x LEFT JOIN ${spec.table} t ON ${same('t', 'x', keyCols)}
      WHERE t.${keyCols[0]} IS NULL OR t.flow_id IS DISTINCT FROM :flow
        ${valueCols.length ? `OR (${valueCols.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${valueCols.map((c) => `x.${c}`).join(', ')})` : ''}
    ), up AS (
      INSERT INTO ${spec.table} AS t (${[...keyCols, ...valueCols].join(', ')}, flow_id, run_id)
      SELECT ${[...keyCols, ...valueCols].join(', ')}, :flow, :run FROM changed
      ON CONFLICT (${keyCols.join(', ')}) DO UPDATE SET ${[...valueCols.map((c) => `${c} = excluded.${c}`), 'flow_id = excluded.flow_id', 'run_id = excluded.run_id', 'updated_at = now()'].join(', ')}
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed`, named));
  const inserted = Number(r.rows[0].ins);
  const updated = Number(r.rows[0].upd);
  const unchanged = Math.max(0, staged - inserted - updated);

  const snapshot = ctx.mode === 'snapshot' && !ctx.deferRemoval;
  const scopes: string[] = [];
  if (spec.replaceBy) scopes.push(`(${spec.replaceBy.map((c) => `t.${c}`).join(', ')}) IN (SELECT ${spec.replaceBy.join(', ')} FROM keys)`);
  if (snapshot) scopes.push(ctx.flow.scope === 'keys' && spec.scopeColumn ? `t.${spec.scopeColumn} IN (SELECT ${spec.scopeColumn} FROM keys)` : 't.flow_id = :flow');
  let removed = 0;
  if (scopes.length) {
    const del = await q(client, ...bindNamed(`
      WITH keys AS MATERIALIZED (${srcKeys}),
      del AS (
        DELETE FROM ${spec.table} t WHERE (${scopes.join(' OR ')})
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE ${same('x', 't', keyCols)})
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del`, named));
    removed = Number(del.rows[0].n);
  }
  let inScope: number | null = null;
  if (snapshot || removed > 0) inScope = updated + unchanged + removed;
  else if (ctx.flow.guard?.maxChangeRatio !== undefined && inserted + updated > 0) {
    inScope = Number((await q(client, `SELECT count(*)::bigint AS n FROM ${spec.table} WHERE flow_id = $1`, [ctx.flowId])).rows[0].n) - inserted;
  }
  return { inserted, updated, unchanged, removed, rejected, inScope, created };
}

/** `:name` parameters → `$n` and their values, numbering only the names the text uses. */
function bindNamed(text: string, named: Record<string, unknown>): [string, unknown[]] {
  const values: unknown[] = [];
  const index = new Map<string, number>();
  const out = text.replace(/(?<!:):(system|flow|run)\b/g, (_, n: string) => {
    if (!index.has(n)) {
      values.push(named[n]);
      index.set(n, values.length);
    }
    return `$${index.get(n)}`;
  });
  return [out, values];
}
