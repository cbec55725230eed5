// Snapshot groups: runs of several files that together are one complete export (a 1C exchange session
// sending offers0_1.xml, offers0_2.xml …). Each run of the group upserts only and keeps its staged keys;
// when the group closes, one finalize run per flow removes what none of the group's runs carried.
import { guardExceeded, guardHoldReason } from './guard.ts';
import type pg from 'pg';
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import type { Flow } from '../schemas/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { PipelineDeps } from './deps.ts';
import { enqueueMerge } from './jobs.ts';
import { BUS_WRITE_SQL, invalidateFingerprints } from './fingerprints.ts';
import { stagingTable } from './staging-table.ts';
import { createRun, finishFinalize, holdRun, logChanges, markStagingKept, recordCompletion, TERMINAL_STATES } from './lifecycle/index.ts';
import { mergeLockName, XACT_LOCK_SQL } from './locks.ts';
import { targetSpec, type FactSpec, type KeyedSpec, type TargetSpec } from './targets.ts';
import { execute, query, queryCount, queryOne } from '../db/query.ts';
import { compileFinalize, dropStaging, flowSwitches, groupRuns, keepsStagingStatement, stagedRows, stagingExists } from './merge-sql/index.ts';

/** Targets whose snapshot removes absent rows (facts and keyed rows); catalog entities never are. */
export const removesAbsent = (spec: TargetSpec): spec is FactSpec | KeyedSpec => spec.kind === 'fact' || spec.kind === 'keyed';

/** Opens a group (idempotent). Runs name it in `snapshot_group`. */
export async function openSnapshotGroup(db: Kysely<Database>, id: string): Promise<void> {
  await db.insertInto('snapshot_groups').values({ id }).onConflict((oc) => oc.column('id').doNothing()).execute();
}

/**
 * Whether a run of `group` that just merged keeps its staging table: while the group is open, or while
 * its flow's finalize run has yet to use it. Locks the group row (shared) so that a concurrent close
 * sees this run's decision once it commits.
 */
export async function keepsStaging(client: pg.PoolClient, group: string, flowId: number): Promise<boolean> {
  const [r] = await query(client, keepsStagingStatement(group, flowId));
  return r?.keep ?? false;
}

async function dropKept(deps: PipelineDeps, ids: number[]): Promise<void> {
  for (const id of ids) await execute(deps.pool, dropStaging(stagingTable(id))).catch(() => {});
  await markStagingKept(deps.pool, ids, false);
}

/**
 * Closes a group: makes the finalize run of every fact flow that has runs in it and may have something
 * to remove (a run still open, or a run that read a complete set), and drops the kept keys of the
 * others. Idempotent: a closed group answers its finalize runs again. Returns their ids.
 */
export async function closeSnapshotGroup(deps: PipelineDeps, group: string): Promise<number[]> {
  const drop: number[] = [];
  const made: Array<{ id: number; flow: Flow }> = [];
  const existing = await deps.db.transaction().execute(async (tx) => {
    const g = await tx.selectFrom('snapshot_groups').selectAll().where('id', '=', group).forUpdate().executeTakeFirst();
    if (!g) return [];
    if (g.closed_at || g.abandoned_at) {
      const rows = await tx.selectFrom('runs').select('id').where('snapshot_group', '=', group).where('kind', '=', 'finalize').orderBy('id').execute();
      return rows.map((r) => r.id);
    }
    await tx.updateTable('snapshot_groups').set({ closed_at: new Date() }).where('id', '=', group).execute();
    const flows = await tx.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
      .select(['runs.id', 'runs.flow_id', 'runs.state', 'runs.mode', 'runs.rows_read', 'runs.inbox_ids', 'runs.staging_kept', 'flows.definition'])
      .where('runs.snapshot_group', '=', group).where('runs.kind', '=', 'payload').orderBy('runs.id').execute();
    const byFlow = new Map<number, typeof flows>();
    for (const r of flows) byFlow.set(r.flow_id, [...(byFlow.get(r.flow_id) ?? []), r]);
    for (const [flowId, runs] of byFlow) {
      const flow = runs[0]!.definition;
      if (!removesAbsent(targetSpec(flow.target))) continue;
      const open = runs.some((r) => !TERMINAL_STATES.includes(r.state));
      const complete = runs.some((r) => r.state === 'done' && r.mode === 'snapshot' && Number(r.rows_read) > 0);
      if (!open && !complete) {
        drop.push(...runs.filter((r) => r.staging_kept).map((r) => Number(r.id)));
        continue;
      }
      const inboxIds = [...new Set(runs.flatMap((r) => r.inbox_ids.map(Number)))];
      const id = await createRun(tx, {
        flow_id: flowId, inbox_ids: inboxIds, state: 'staged', mode: 'snapshot', target: flow.target, kind: 'finalize', snapshot_group: group,
      });
      made.push({ id, flow });
    }
    return null;
  });
  if (existing) return existing;
  await dropKept(deps, drop);
  for (const m of made) {
    await enqueueMerge(deps, m.id, m.flow).catch((e: unknown) => deps.log.warn({ run: m.id, err: e }, 'finalize not enqueued; the sweeper will'));
  }
  if (made.length) deps.log.info({ group, runs: made.map((m) => m.id) }, 'snapshot group closed');
  return made.map((m) => m.id);
}

/** Ends a group without removing anything (its session expired unclosed): the kept keys are dropped. */
export async function abandonSnapshotGroup(deps: PipelineDeps, group: string): Promise<void> {
  const r = await deps.db.updateTable('snapshot_groups').set({ abandoned_at: new Date() })
    .where('id', '=', group).where('closed_at', 'is', null).where('abandoned_at', 'is', null).returning('id').executeTakeFirst();
  if (!r) return;
  const kept = await deps.db.selectFrom('runs').select('id').where('snapshot_group', '=', group).where('staging_kept', '=', true).execute();
  await dropKept(deps, kept.map((k) => Number(k.id)));
  deps.log.info({ group }, 'snapshot group abandoned: nothing removed');
}

export interface FinalizeContext {
  runId: number;
  flowId: number;
  flowName: string;
  flow: Flow;
  group: string;
  approved: boolean;
  log: Logger;
}

/** Ends a finalize run that removes nothing: done (nothing to remove) or failed (the export was incomplete). */
async function finish(deps: PipelineDeps, ctx: FinalizeContext, state: 'done' | 'failed', error?: string): Promise<'done' | 'failed'> {
  await finishFinalize(deps.pool, ctx.runId, state === 'done' ? { state, removed: 0, inScope: null, mergeMs: 0 } : { state, error: error ?? 'failed' });
  recordCompletion(deps, { flow: ctx.flowName, stage: 'merge', ms: 0, rows: {}, finished: state });
  if (error) ctx.log.warn({ err: error }, 'snapshot group not finalized');
  return state;
}

/**
 * The finalize run of a group: removes the rows of the flow's scope that no run of the group carried
 * (neither wrote nor staged), in one transaction guarded like any merge. Refuses to remove anything
 * when a run of the group did not complete or its kept keys were lost.
 */
export async function finalizeSnapshotGroup(deps: PipelineDeps, ctx: FinalizeContext): Promise<'done' | 'held' | 'waiting' | 'failed'> {
  const spec = targetSpec(ctx.flow.target);
  const runs = await query(deps.pool, groupRuns(ctx.group, ctx.flowId, ctx.runId));
  if (runs.some((r) => !TERMINAL_STATES.includes(r.state))) return 'waiting';
  const keptIds = runs.filter((r) => r.staging_kept).map((r) => Number(r.id));
  const incomplete = runs.find((r) => r.state !== 'done');
  if (incomplete) {
    await dropKept(deps, keptIds);
    return finish(deps, ctx, 'failed', `nothing removed: run ${incomplete.id} (${incomplete.files ?? 'no file'}) of the same export ended ${incomplete.state}, so the export is incomplete`);
  }
  if (!removesAbsent(spec) || !runs.some((r) => r.mode === 'snapshot' && Number(r.rows_read) > 0)) {
    await dropKept(deps, keptIds);
    return finish(deps, ctx, 'done');
  }
  // Every run that went through staging must still hold its keys (UNLOGGED tables empty after a crash).
  const staged = runs.filter((r) => r.load_path === 'staged');
  for (const r of staged) {
    const exists = (await queryOne(deps.pool, stagingExists(stagingTable(r.id)))).ok;
    const n = r.staging_kept && exists ? await queryCount(deps.pool, stagedRows(stagingTable(r.id))) : -1;
    if (n !== Number(r.rows_staged)) {
      await dropKept(deps, keptIds);
      return finish(deps, ctx, 'failed', `nothing removed: the keys run ${r.id} (${r.files ?? 'no file'}) staged are gone (database restart?); the next complete export removes what is absent`);
    }
  }
  return removeUncarried(deps, ctx, spec, runs.map((r) => Number(r.id)), staged.map((r) => Number(r.id)), keptIds);
}

async function removeUncarried(deps: PipelineDeps, ctx: FinalizeContext, spec: FactSpec | KeyedSpec, groupIds: number[], stagedIds: number[], keptIds: number[]): Promise<'done' | 'held'> {
  const started = Date.now();
  const sql = compileFinalize(spec, {
    runId: ctx.runId, flowId: ctx.flowId, ...flowSwitches(ctx.flow), groupIds, stagedTables: stagedIds.map((id) => stagingTable(id)),
  });
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
    await client.query(XACT_LOCK_SQL, [mergeLockName(spec.name)]);
    // Its DELETE fires the fingerprint trigger even when it removes nothing: the bus clears what it changes itself.
    await client.query(BUS_WRITE_SQL);
    // With scope keys: the scope column's values the group carried or wrote.
    const scopeIds = sql.scopeIds ? (await query(client, sql.scopeIds)).map((x) => Number(x.id)) : [];
    const counts = await queryOne(client, sql.counts(scopeIds));
    const inScope = Number(counts.n);
    let removed = 0;
    // Rows every one of which a run of the group wrote: nothing to compare.
    if (Number(counts.untouched) > 0) removed = await queryCount(client, sql.remove(scopeIds));
    const guard = ctx.flow.guard;
    if (!ctx.approved && guardExceeded(guard, removed, inScope)) {
      await client.query('ROLLBACK');
      const reason = guardHoldReason({ kind: 'removal', removed, inScope, percent: (removed / inScope) * 100, limitPercent: guard!.maxChangeRatio! * 100 });
      await holdRun(deps.pool, ctx.runId, reason, { removed, inScope });
      ctx.log.warn({ reason }, 'finalize run held by guard');
      recordCompletion(deps, { flow: ctx.flowName, stage: 'merge', ms: Date.now() - started, rows: {}, finished: 'held' });
      return 'held';
    }
    const ms = Date.now() - started;
    if (removed > 0 && spec.kind === 'fact') {
      // The flow's own rows went; with scope keys other flows' rows of the same partitions may have gone too.
      await invalidateFingerprints(client, spec.table, { flowId: ctx.flowId, why: `finalize run ${ctx.runId} removed ${removed} rows` });
      if (sql.scopeIds) await invalidateFingerprints(client, spec.table, { flowId: ctx.flowId, othersOf: true, why: `finalize run ${ctx.runId} removed rows by scope keys` });
    }
    await logChanges(client, ctx.runId, spec.name, { inserted: 0, updated: 0, removed });
    await finishFinalize(client, ctx.runId, { state: 'done', removed, inScope, mergeMs: ms });
    // The kept keys go with the same commit: once the run reads done, nothing of the group lingers.
    for (const id of keptIds) await execute(client, dropStaging(stagingTable(id)));
    await markStagingKept(client, keptIds, false);
    await client.query('COMMIT');
    recordCompletion(deps, { flow: ctx.flowName, stage: 'merge', ms, rows: { removed }, finished: 'done' });
    ctx.log.info({ removed, inScope, runs: groupIds, ms }, 'snapshot group finalized');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
  return 'done';
}
