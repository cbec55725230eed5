// The merge stage of a run: one transaction that resolves external codes (creating placeholders where
// the flow allows), writes only rows that changed, removes what a snapshot no longer holds, checks the
// guard and either commits or holds the run. Runs of one flow merge in order of receipt.
import type pg from 'pg';
import type { Flow } from '../schemas/index.ts';
import type { PipelineDeps } from './deps.ts';
import { stagingTable } from './staging-table.ts';
import {
  backToReceived, claimRun, countMergeRejects, holdRun, logChanges, markMerged, markStagingKept, recordCompletion, type MergeResult,
} from './lifecycle/index.ts';
import { createLockName, mergeLockKey, mergeLockName, UNLOCK_SQL, XACT_LOCK_SQL } from './locks.ts';
import { MagistralError } from '../errors/index.ts';
import { autoCreates } from './flows.ts';
import { finalizeSnapshotGroup, keepsStaging } from './snapshot-group.ts';
import { targetSpec, type DimensionSpec, type FactSpec, type KeyedSpec, type RefSpec } from './targets.ts';
import { runLogger, type Logger } from '../telemetry/logger.ts';
import { execute, query, queryCount, queryOne, statement } from '../db/query.ts';
import {
  ANALYZE_AFTER_CREATED, analyzeExternalIds, anyUnknown, compileDimension, compileFact, compileKeyed, createPlaceholders, dropStaging, flowSwitches,
  rejectDuplicates, rejectUnknown, stagedRows, stagingExists, compilePeriods, type FactMerge, type MergeSqlContext, type PeriodsMerge,
} from './merge-sql/index.ts';
import { DEFAULT_TIMEZONE } from './flows.ts';

export type MergeOutcome = 'done' | 'held' | 'skipped' | 'waiting' | 'paused' | 'busy' | 'restage' | 'failed';

export interface MergeCounts extends MergeResult {
  /** Placeholders created per referenced entity. */
  created: Record<string, number>;
}

interface MergeContext {
  client: pg.PoolClient;
  flow: Flow;
  log: Logger;
  /** The run as the merge compiler sees it (ids, system, staging table, mode, scope …). */
  sql: MergeSqlContext;
}

/** Transaction control, locks and run bookkeeping: statements run for their effect. */
const q = (c: pg.PoolClient, text: string, values?: unknown[]) => execute(c, statement(text, values));


/** 21000: ON CONFLICT reached the same row twice; 23505: a plain insert met a duplicate key. */
function isDuplicateKeyError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '21000' || code === '23505';
}

export async function mergeRun(deps: PipelineDeps, runId: number): Promise<MergeOutcome> {
  const client = await deps.pool.connect();
  const lockKey = mergeLockKey(runId);
  let locked = false;
  let broken = false;
  try {
    // May it go now (in order of receipt within its flow, after the runs it depends on), its state and
    // its lock, in one statement: a sweeper's second job for the same run finds it 'busy' or moved on.
    const claim = await claimRun(client, runId, { stage: 'merge', ordered: true, dependencies: true, lockKey });
    if (!claim.claimed) {
      if (claim.why === 'waiting') deps.log.debug({ run: runId, waitingFor: claim.waitingFor }, 'merge waits for another run');
      return claim.why === 'waiting' || claim.why === 'paused' || claim.why === 'busy' ? claim.why : 'skipped';
    }
    locked = true;
    return await mergeClaimed(deps, client, runId);
  } finally {
    // The session lock belongs to the connection: give it back before the pool reuses it (a connection
    // that cannot is dropped instead, which frees the lock on the server).
    if (locked) await client.query(UNLOCK_SQL, [lockKey]).catch(() => { broken = true; });
    client.release(broken ? true : undefined);
  }
}

/** The merge of a run this worker has claimed (state merging, its lock held on `client`). */
async function mergeClaimed(deps: PipelineDeps, client: pg.PoolClient, runId: number): Promise<MergeOutcome> {
  const run = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
    .select(['runs.id', 'runs.rows_staged', 'runs.approved', 'runs.inbox_ids', 'runs.flow_id', 'flows.name', 'flows.definition',
      'runs.mode', 'runs.kind', 'runs.snapshot_group'])
    .where('runs.id', '=', runId).executeTakeFirstOrThrow();
  const flow = run.definition;
  const log = runLogger(deps.log, run.name, runId);
  if (run.kind === 'finalize') return finalizeSnapshotGroup(deps, { runId, flowId: run.flow_id, flowName: run.name, flow, group: run.snapshot_group!, approved: run.approved, log });

  const table = stagingTable(runId);
  const started = Date.now();
  try {
    // Staging is UNLOGGED: after a server crash it comes back empty. Then extract again.
    const exists = await queryOne(client, stagingExists(table));
    const count = exists.ok ? await queryCount(client, stagedRows(table)) : -1;
    if (count !== run.rows_staged) {
      log.warn({ expected: run.rows_staged, found: count }, 'staging lost; extracting again');
      await backToReceived(client, runId, { from: 'staged' });
      return 'restage';
    }
    const files = (await deps.db.selectFrom('inbox').select(['id', 'file_name']).where('id', 'in', run.inbox_ids).execute())
      .sort((a, b) => run.inbox_ids.indexOf(a.id) - run.inbox_ids.indexOf(b.id)).map((f) => f.file_name);
    const spec = targetSpec(flow.target);
    const deferRemoval = run.snapshot_group !== null && (spec.kind === 'fact' || spec.kind === 'keyed');
    const sqlCtx: MergeSqlContext = { runId, flowId: run.flow_id, mode: run.mode, deferRemoval, table, files, ...flowSwitches(flow) };
    const ctx: MergeContext = { client, flow, log, sql: sqlCtx };

    let counts: MergeCounts | undefined;
    for (let attempt = 0; attempt < 2 && !counts; attempt++) {
      await q(client, 'BEGIN');
      try {
        await q(client, `SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
        // One merge per target at a time: concurrent merges into the same rows would deadlock.
        await q(client, XACT_LOCK_SQL, [mergeLockName(spec.name)]);
        counts = spec.kind === 'fact' ? await mergeFact(ctx, spec) : spec.kind === 'keyed' ? await mergeKeyed(ctx, spec) : await mergeDimension(ctx, spec);
      } catch (e) {
        await q(client, 'ROLLBACK');
        if (isDuplicateKeyError(e) && attempt === 0) {
          // Duplicate keys in the payload: keep the last occurrence, reject the others, merge again.
          // The run's counts move with the rows, so the staging check above stays true.
          await q(client, 'BEGIN');
          const n = await execute(client, rejectDuplicates(spec, ctx.sql));
          await countMergeRejects(client, runId, n);
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
      await holdRun(client, runId, reason, counts);
      log.warn({ reason }, 'run held by guard');
      recordCompletion(deps, { flow: run.name, stage: 'merge', ms: Date.now() - started, rows: {}, finished: 'held' });
      return 'held';
    }

    // A run of an open snapshot group keeps its staged keys for the group's finalize run.
    const keep = deferRemoval && await keepsStaging(client, run.snapshot_group!, run.flow_id);
    if (keep) await markStagingKept(client, [runId], true);
    const mergeMs = Date.now() - started;
    await logChanges(client, runId, spec.name, counts, counts.created);
    if (!(await markMerged(client, runId, counts, mergeMs))) throw new MagistralError('MAG_ERR_RUN_STATE', `run ${runId} left the merging state during its merge`);
    await q(client, 'COMMIT');
    if (!keep) await execute(client, dropStaging(table)).catch(() => {});
    const { inserted, updated, unchanged, removed } = counts;
    recordCompletion(deps, { flow: run.name, stage: 'merge', ms: mergeMs, rows: { inserted, updated, unchanged, removed }, finished: 'done' });
    log.info({ ...counts, ms: mergeMs }, 'run merged');
    return 'done';
  } catch (e) {
    await q(client, 'ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * Resolves one reference field of the staging table: unknown codes become placeholders (autoCreate)
 * or the rows are rejected. Returns how many placeholders were created and rows rejected.
 */
async function resolveRef(ctx: MergeContext, ref: RefSpec): Promise<{ created: number; rejected: number }> {
  if (autoCreates(ctx.flow, ref.entity)) {
    // Nothing to create (the daily case: every code is known) needs no lock. Codes are never removed
    // from external_ids, so what is found now stays found.
    if (!(await queryOne(ctx.client, anyUnknown(ref, ctx.sql))).any) return { created: 0, rejected: 0 };
    // Serialise creation per entity and system so two merges never create the same code twice.
    await q(ctx.client, XACT_LOCK_SQL, [createLockName(ref.entity, ctx.sql.system)]);
    const created = await execute(ctx.client, createPlaceholders(ref, ctx.sql));
    if (created) {
      ctx.log.info({ entity: ref.entity, created }, 'placeholders created for unknown codes');
      // Many new ids at once (a first load): refresh statistics so the joins below plan well.
      if (created > ANALYZE_AFTER_CREATED) await execute(ctx.client, analyzeExternalIds);
    }
    return { created, rejected: 0 };
  }
  return { created: 0, rejected: await execute(ctx.client, rejectUnknown(ref, ctx.sql)) };
}

/** Resolves every reference in order, adding up what each created and rejected. */
async function resolveRefs(ctx: MergeContext, refs: readonly RefSpec[]): Promise<{ created: Record<string, number>; rejected: number }> {
  const created: Record<string, number> = {};
  let rejected = 0;
  for (const ref of refs) {
    const r = await resolveRef(ctx, ref);
    created[ref.entity] = (created[ref.entity] ?? 0) + r.created;
    rejected += r.rejected;
  }
  return { created, rejected };
}

async function mergeFact(ctx: MergeContext, spec: FactSpec): Promise<MergeCounts> {
  const { client } = ctx;
  const { created, rejected } = await resolveRefs(ctx, spec.keys);
  const sql = compileFact(spec, ctx.sql);
  if (spec.periods) {
    const periods = compilePeriods(spec, ctx.sql, ctx.flow.timezone ?? DEFAULT_TIMEZONE);
    if ((await queryOne(client, periods.present)).any) return mergePeriods(ctx, sql, periods, created, rejected);
  }
  const total = await queryCount(client, stagedRows(ctx.sql.table));
  const partIds = (await query(client, sql.partitionIds)).map((r) => r.id);

  // Nothing live in the touched partitions: a plain insert, no comparison needed.
  const empty = !(await queryOne(client, sql.partitionsLive(partIds))).e;
  let inserted = 0;
  let updated = 0;
  if (empty) {
    inserted = await execute(client, sql.insertAll);
  } else {
    const r = await queryOne(client, sql.upsert);
    inserted = Number(r.ins);
    updated = Number(r.upd);
  }
  const staged = total;
  const unchanged = staged - inserted - updated;

  // Snapshot removal. After the upsert every staged row belongs to this flow, so the scope holds
  // exactly inserted + updated + unchanged rows unless something must go: a cheap count decides
  // whether the anti-join (a hash of every staged row) is needed at all.
  let removed = 0;
  if (sql.removes) {
    const inScopeNow = await queryCount(client, sql.countScope(partIds));
    if (inScopeNow > staged) removed = await queryCount(client, sql.remove(partIds));
  }
  let inScopeBefore: number | null = null;
  if (sql.removes) inScopeBefore = updated + unchanged + removed;
  else if (ctx.flow.guard?.maxChangeRatio !== undefined && inserted + updated > 0) {
    // A delta's scope is everything the flow holds: count it (after the writes, corrected back).
    inScopeBefore = (await queryCount(client, sql.countScope(partIds))) - inserted;
  }
  return { inserted, updated, unchanged, removed, rejected, inScope: inScopeBefore, created };
}

/**
 * A run whose prices carry validity: its rows are periods (price_periods), and `prices` gets the period
 * in force now of each key it touched. Counts: inserted / updated / removed are live prices; a period
 * that starts later changes no live row yet (the price roll applies it on its day). A validity period is
 * a change, not a complete list: such a run removes nothing else, whatever its mode.
 */
async function mergePeriods(ctx: MergeContext, fact: FactMerge, periods: PeriodsMerge, created: Record<string, number>, refRejects: number): Promise<MergeCounts> {
  const { client } = ctx;
  // Counted with the merge's other rejects (markMerged moves them from staged to rejected).
  const inverted = await execute(client, periods.rejectInverted);
  const staged = await queryCount(client, stagedRows(ctx.sql.table));
  const w = await queryOne(client, periods.upsert);
  const live = await queryOne(client, periods.applyInForce);
  ctx.log.info({ periodsWritten: w.written, periodsDeleted: w.deleted, live }, 'price periods merged');
  const inserted = Number(live.ins);
  const updated = Number(live.upd);
  const removed = Number(live.del);
  let inScope: number | null = null;
  if (ctx.flow.guard?.maxChangeRatio !== undefined && inserted + updated + removed > 0) {
    inScope = (await queryCount(client, fact.countScope([]))) - inserted + removed;
  }
  const unchanged = Math.max(0, staged - Number(w.written) - Number(w.deleted));
  return { inserted, updated, unchanged, removed, rejected: refRejects + inverted, inScope, created };
}

async function mergeDimension(ctx: MergeContext, spec: DimensionSpec): Promise<MergeCounts> {
  const { client } = ctx;
  const sql = compileDimension(spec, ctx.sql);
  // Dimensions remove nothing, so rejected rows have no use here.
  await execute(client, sql.dropRejected);
  // A code twice in one payload: the last row wins (an UPDATE … FROM would pick one at random).
  const duplicates = await execute(client, rejectDuplicates(spec, ctx.sql));
  // References to other entities first (a group's parent may be in the same payload: created as a
  // placeholder here, then completed by its own row below).
  const refs = await resolveRefs(ctx, spec.refs);
  const { created } = refs;
  const rejected = duplicates + refs.rejected;
  if (sql.units) await execute(client, sql.units);
  const total = await queryCount(client, sql.staged);
  // Nothing to write (a file without this entity, e.g. the catalog's products in an offers file): do
  // not queue behind the loads that hold the entity's creation lock.
  if (total === 0) return { inserted: 0, updated: 0, unchanged: 0, removed: 0, rejected, inScope: null, created };
  await q(client, XACT_LOCK_SQL, [createLockName(spec.entity, ctx.sql.system)]);

  // New codes: create the entity and its external id.
  const inserted = await execute(client, sql.insertNew);
  // Known codes: update where anything differs (placeholders become real entities).
  const updated = await execute(client, sql.updateKnown);
  return { inserted, updated, unchanged: Math.max(0, total - inserted - updated), removed: 0, rejected, inScope: null, created };
}

/**
 * Keyed rows (product properties, dictionaries, synonyms): references resolved like a fact's, rows
 * upserted by their natural key where anything differs, then removal of what the payload replaces —
 * the groups of `replaceBy` in any mode, and a snapshot's scope (the flow's rows, or with scope keys
 * the rows of the `scopeColumn` values present). References are joined as `ref_<field>`.
 */
async function mergeKeyed(ctx: MergeContext, spec: KeyedSpec): Promise<MergeCounts> {
  const { client } = ctx;
  const { created, rejected } = await resolveRefs(ctx, spec.keys.flatMap((k) => (k.ref ? [k.ref] : [])));
  const staged = await queryCount(client, stagedRows(ctx.sql.table));
  const sql = compileKeyed(spec, ctx.sql);
  const r = await queryOne(client, sql.upsert);
  const inserted = Number(r.ins);
  const updated = Number(r.upd);
  const unchanged = Math.max(0, staged - inserted - updated);

  const removed = sql.remove ? await queryCount(client, sql.remove) : 0;
  let inScope: number | null = null;
  if (sql.removes || removed > 0) inScope = updated + unchanged + removed;
  else if (ctx.flow.guard?.maxChangeRatio !== undefined && inserted + updated > 0) {
    inScope = (await queryCount(client, sql.countFlow)) - inserted;
  }
  return { inserted, updated, unchanged, removed, rejected, inScope, created };
}
