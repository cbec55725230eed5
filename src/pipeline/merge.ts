// The merge stage of a run: one transaction that resolves external codes (creating placeholders where
// the flow allows), writes only rows that changed, removes what a snapshot no longer holds, checks the
// guard and either commits or holds the run. Runs of one flow merge in order of receipt.
import { settlementNotices } from '../backoffice/credit-notices.ts';
import { documentNoticesIn } from '../backoffice/document-notices.ts';
import { applyCityPriceTypes } from './city-price-types.ts';
import { onClient, type Database } from '../db/index.ts';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Flow } from '../schemas/index.ts';
import type { PipelineDeps } from './deps.ts';
import { stagingTable } from './staging-table.ts';
import {
  backToReceived, claimRun, countMergeRejects, holdRun, logChanges, markMerged, markStagingKept, recordCompletion, type MergeResult,
} from './lifecycle/index.ts';
import {
  createLockName, mergeLockKey, mergeLockName, PARTITION_LOCKS_SQL, SHARED_XACT_LOCK_SQL, TRY_LOCK_SQL, UNLOCK_SQL, XACT_LOCK_SQL,
} from './locks.ts';
import { TERMINAL_STATES } from './lifecycle/states.ts';
import { MagistralError } from '../errors/index.ts';
import { autoCreates, mappingRefs } from './flows.ts';
import { loadMapping } from '../mapping/index.ts';
import { finalizeSnapshotGroup, keepsStaging } from './snapshot-group.ts';
import { FIRST_LOAD_SQL, guardExceeded, guardHoldReason } from './guard.ts';
import { takeHeldSample } from './held-sample.ts';
import { keyFields, targetSpec, type DimensionSpec, type FactSpec, type KeyedSpec, type RefSpec, type TargetSpec } from './targets.ts';
import { runLogger, type Logger } from '../telemetry/logger.ts';
import { execute, query, queryCount, queryOne, statement } from '../db/query.ts';
import {
  ANALYZE_AFTER_CREATED, analyzeExternalIds, anyUnknown, creatable, compileDimension, compileFact, compileKeyed, createPlaceholders, dropStaging, flowSwitches,
  rejectDuplicates, rejectUnknown, stagedRows, stagingExists, compilePeriods, periodRowsPresent, type FactMerge, type MergeSqlContext, type PeriodsMerge,
} from './merge-sql/index.ts';
import { DEFAULT_TIMEZONE } from './flows.ts';
import { activateFingerprint, baseStillTrue, BUS_WRITE_SQL, goneTable, invalidateFingerprints, removeOlderFingerprints } from './fingerprints.ts';

export type MergeOutcome = 'done' | 'held' | 'skipped' | 'waiting' | 'paused' | 'busy' | 'restage' | 'failed';

export interface MergeCounts extends MergeResult {
  /** Placeholders created per referenced entity. */
  created: Record<string, number>;
  /** Rows of other flows this merge wrote or removed (their fingerprints no longer hold). */
  tookOver?: number;
  /**
   * The flows those rows belonged to, when the merge knows them (the upsert does); unknown means every
   * other flow of the table. Clearing only these matters: clearing another flow's fingerprint waits for
   * that flow's running fingerprinted merge, which holds the row to its commit (a 1C delta waited ~49 s
   * for a big snapshot's merge under bench:freshness's load).
   */
  tookFrom?: number[];
}

/** The fingerprint a snapshot's extract compared with is no longer true to the store: read the run again without one. */
class FingerprintStale extends Error {}

interface MergeContext {
  client: pg.PoolClient;
  flow: Flow;
  log: Logger;
  /** The run as the merge compiler sees it (ids, system, staging table, mode, scope …). */
  sql: MergeSqlContext;
  /** The target's merge lock is held shared: the merge locks the partition keys it writes (mergeFact). */
  partitioned: boolean;
  /** A snapshot read with a fingerprint: the run whose fingerprint it compared with, rows it found unchanged (not staged), its tombstones' table if any. */
  fingerprint?: { base: number; skipped: number; gone: string | null; held: Array<{ id: number; n: number }> | null };
  /** The transaction plans joins row by row (SMALL_PLAN_SQL): a statement that scans the flow's rows in the store sets BROAD_PLAN_SQL first. */
  smallPlan: boolean;
}

/**
 * A fact's run of at most this many staged rows (its group's included) is merged with nested loops over
 * indexes only. bench:freshness, 50,000 products, a 100-row delta: the planner costed a merge join that
 * it expected to stop early, paired every product code with the price type and filtered 5,000,000 pairs
 * (upsert 420 ms alone, 1.0–1.3 s under load, the 1C deltas falling behind by 44 s) where index lookups
 * take a few milliseconds. At this size a lookup per row is never much worse than the best plan.
 */
export const SMALL_PLAN_ROWS = 20_000;
const SMALL_PLAN_SQL = 'SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off';
const BROAD_PLAN_SQL = 'SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on';

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
  // Later runs of the flow this merge takes with it (a group merge): their merge locks are held too.
  const followers: number[] = [];
  try {
    // May it go now (in order of receipt within its flow, after the runs it depends on), its state and
    // its lock, in one statement: a sweeper's second job for the same run finds it 'busy' or moved on.
    const claim = await claimRun(client, runId, { stage: 'merge', ordered: true, dependencies: true, lockKey });
    if (!claim.claimed) {
      if (claim.why === 'waiting') deps.log.debug({ run: runId, waitingFor: claim.waitingFor }, 'merge waits for another run');
      return claim.why === 'waiting' || claim.why === 'paused' || claim.why === 'busy' ? claim.why : 'skipped';
    }
    locked = true;
    return await mergeClaimed(deps, client, runId, followers);
  } finally {
    // The session lock belongs to the connection: give it back before the pool reuses it (a connection
    // that cannot is dropped instead, which frees the lock on the server).
    if (locked) await client.query(UNLOCK_SQL, [lockKey]).catch(() => { broken = true; });
    for (const id of followers) await client.query(UNLOCK_SQL, [mergeLockKey(id)]).catch(() => { broken = true; });
    client.release(broken ? true : undefined);
  }
}

/** The merge of a run this worker has claimed (state merging, its lock held on `client`). */
async function mergeClaimed(deps: PipelineDeps, client: pg.PoolClient, runId: number, followerLocks: number[]): Promise<MergeOutcome> {
  const run = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
    .select(['runs.id', 'runs.rows_staged', 'runs.approved', 'runs.inbox_ids', 'runs.flow_id', 'flows.name', 'flows.definition',
      'runs.mode', 'runs.kind', 'runs.snapshot_group', 'runs.rows_skipped', 'runs.fingerprint_base', 'runs.fingerprint_written', 'runs.fingerprint_held'])
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
    // A backlog of later staged runs of the flow merges in this transaction too (prices with validity).
    const group = await groupFollowers(deps, client, { id: runId, flowId: run.flow_id, flow, mode: run.mode, snapshotGroup: run.snapshot_group, spec, table });
    followerLocks.push(...group.map((f) => f.id));
    const sqlCtx: MergeSqlContext = { runId, flowId: run.flow_id, mode: run.mode, deferRemoval, table, files: [...files, ...group.flatMap((f) => f.files)],
      inboxIds: [...run.inbox_ids, ...group.flatMap((f) => f.inboxIds)].map(Number), ...flowSwitches(flow) };
    // A fact's plain merge (no validity periods) locks only the price types (warehouses) it writes or
    // removes from, under the target's lock taken shared: a 1-row delta of one price type no longer waits
    // for a snapshot of others (bench:freshness, 2M-row snapshot: see README). Everything else — periods,
    // dimensions, keyed rows, finalize, direct loads, the price roll — takes the target's lock alone.
    const partitioned = spec.kind === 'fact' && !(spec.periods && (await mapsPeriods(flow, spec)));
    const base = run.fingerprint_base === null ? null : Number(run.fingerprint_base);
    const gone = base !== null && (await queryOne(client, stagingExists(goneTable(table)))).ok ? goneTable(table) : null;
    // Tombstones of a fingerprinted snapshot are not counted in its staged rows: they may be many.
    const smallPlan = spec.kind === 'fact' && !gone && count + group.reduce((n, f) => n + Number(f.rowsStaged), 0) <= SMALL_PLAN_ROWS;
    const ctx: MergeContext = { client, flow, log, sql: sqlCtx, partitioned, smallPlan, ...(base !== null ? { fingerprint: { base, skipped: Number(run.rows_skipped), gone, held: run.fingerprint_held } } : {}) };
    let duplicatesRejected = false;

    let counts: MergeCounts | undefined;
    for (let attempt = 0; attempt < 2 && !counts; attempt++) {
      await q(client, 'BEGIN');
      try {
        await q(client, `SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
        if (smallPlan) await q(client, SMALL_PLAN_SQL);
        // One merge per target at a time (or, partitioned, per partition key): concurrent merges into the
        // same rows would deadlock.
        await q(client, partitioned ? SHARED_XACT_LOCK_SQL : XACT_LOCK_SQL, [mergeLockName(spec.name)]);
        // Fingerprints of what this transaction writes are the bus's to keep (src/pipeline/fingerprints.ts).
        await q(client, BUS_WRITE_SQL);
        if (group.length) await takeFollowers(client, spec, table, files.length, group);
        counts = spec.kind === 'fact' ? await mergeFact(ctx, spec) : spec.kind === 'keyed' ? await mergeKeyed(ctx, spec) : await mergeDimension(ctx, spec);
      } catch (e) {
        await q(client, 'ROLLBACK');
        if (e instanceof FingerprintStale) {
          // Not an error: the store changed since the fingerprint was taken (a person's UPDATE, a delta).
          log.info({ reason: e.message }, 'fingerprint no longer true to the store; reading the run again without it');
          await client.query('UPDATE runs SET fingerprint_off = true WHERE id = $1', [runId]);
          await backToReceived(client, runId, { from: 'staged' });
          return 'restage';
        }
        if (isDuplicateKeyError(e) && attempt === 0) {
          duplicatesRejected = true;
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
    if (!run.approved && guardExceeded(guard, changed, counts.inScope)
      && !((flow.scope ?? 'flow') === 'flow' && (await client.query<{ first: boolean }>(FIRST_LOAD_SQL, [run.flow_id, runId])).rows[0]?.first)) {
      const sample = await takeHeldSample(client, spec, sqlCtx);
      await q(client, 'ROLLBACK');
      const inScope = counts.inScope!;
      const reason = guardHoldReason({
        kind: 'change', changed, inScope, percent: (changed / inScope) * 100, limitPercent: guard!.maxChangeRatio! * 100,
        inserted: counts.inserted, updated: counts.updated, removed: counts.removed,
      });
      await holdRun(client, runId, reason, counts, sample);
      log.warn({ reason }, 'run held by guard');
      recordCompletion(deps, { flow: run.name, stage: 'merge', ms: Date.now() - started, rows: {}, finished: 'held' });
      return 'held';
    }

    // A run of an open snapshot group keeps its staged keys for the group's finalize run.
    const keep = deferRemoval && await keepsStaging(client, run.snapshot_group!, run.flow_id);
    if (keep) await markStagingKept(client, [runId], true);
    const mergeMs = Date.now() - started;
    if (group.length) await settleFollowers(client, runId, group, mergeMs);
    const inMerge = IN_MERGE[spec.name];
    if (inMerge && changed > 0) await inMerge(onClient(client), runId);
    if (flow.cityPriceTypes) {
      const bindings = await applyCityPriceTypes(client, flow);
      const bound = bindings.filter((b) => b.state === 'bound');
      const waiting = bindings.filter((b) => b.state === 'no-city' || b.state === 'no-price-type');
      if (bound.length) log.info({ bound: bound.map((b) => `${b.city}=${b.priceType}`) }, 'cities bound to price types');
      if (waiting.length) log.warn({ waiting: waiting.map((b) => `${b.city}=${b.priceType} (${b.state})`) }, 'city price type bindings wait for an unknown city or price type');
    }
    const activated = spec.kind === 'fact' ? await keepFingerprints(client, {
      flow, flowId: run.flow_id, runId, table: spec.table, counts, changed,
      // Its file holds every row of the snapshot: it is the store's state of the flow only when all of them got there.
      activate: run.fingerprint_written && run.mode === 'snapshot' && counts.rejected === 0 && !duplicatesRejected && !group.length,
      rows: Number(run.rows_staged) + Number(run.rows_skipped),
    }) : false;
    await logChanges(client, runId, spec.name, counts, counts.created);
    if (!(await markMerged(client, runId, counts, mergeMs))) throw new MagistralError('MAG_ERR_RUN_STATE', `run ${runId} left the merging state during its merge`);
    await q(client, 'COMMIT');
    if (activated) removeOlderFingerprints(deps.config.MAGISTRAL_DATA_DIR, run.flow_id, runId);
    if (!keep) await execute(client, dropStaging(table)).catch(() => {});
    for (const f of group) {
      await execute(client, dropStaging(stagingTable(f.id))).catch(() => {});
      recordCompletion(deps, { flow: run.name, stage: 'merge', ms: mergeMs, rows: {}, finished: 'done' });
    }
    const { inserted, updated, unchanged, removed } = counts;
    const after = AFTER_MERGE[spec.name];
    if (after && inserted + updated + removed > 0) {
      await after(deps, runId).catch((e: unknown) => log.warn({ err: (e as Error).message }, 'notifications after the merge deferred to the timer'));
    }
    recordCompletion(deps, { flow: run.name, stage: 'merge', ms: mergeMs, rows: { inserted, updated, unchanged, removed }, finished: 'done' });
    log.info({ ...counts, ms: mergeMs, ...(group.length ? { groupedRuns: group.map((f) => f.id) } : {}) }, 'run merged');
    return 'done';
  } catch (e) {
    await q(client, 'ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * Work that follows a committed merge that changed rows of a target: the notifications it causes, written
 * in their own transaction with the markers that make each one once (the merge must not wait on mail
 * rendering, and a failure here must not undo the merge); the workers' timer retries what fails here.
 */
const AFTER_MERGE: Partial<Record<TargetSpec['name'], (deps: PipelineDeps, runId: number) => Promise<unknown>>> = {
  // Documents owed: debt appeared or overdue, a credit limit crossed.
  receivables: (deps, runId) => settlementNotices(deps.db, { runId }),
};

/**
 * Work written in the merge's own transaction, after the guard let the run through: the notifications
 * of a target whose rows are announced one by one (a transactional outbox: the e-mails exist exactly
 * when the change does).
 */
const IN_MERGE: Partial<Record<TargetSpec['name'], (trx: Kysely<Database>, runId: number) => Promise<unknown>>> = {
  // Closing documents with files: "new document" to the order's buyers.
  orderDocuments: (trx, runId) => documentNoticesIn(trx, { runId }),
};

/**
 * Resolves one reference field of the staging table: unknown codes become placeholders (autoCreate)
 * or the rows are rejected. Returns how many placeholders were created and rows rejected.
 */
async function resolveRef(ctx: MergeContext, ref: RefSpec): Promise<{ created: number; rejected: number }> {
  if (creatable(ref) && autoCreates(ctx.flow, ref.entity)) {
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

/**
 * A partitioned merge's locks, before it writes: the partition keys of its rows and those its snapshot
 * removal reaches (scope flow: wherever the flow holds rows; only runs of the flow add such rows, and they
 * merge one at a time, so the set cannot grow meanwhile). Taken after any placeholder-creation lock and
 * never after a write, always in one ascending statement: no two merges wait on each other crosswise.
 */
async function lockPartitions(ctx: MergeContext, spec: FactSpec, partIds: readonly number[], held: readonly { id: number }[] | null): Promise<void> {
  await ctx.client.query(PARTITION_LOCKS_SQL, [mergeLockName(spec.name), [...partIds, ...(held ?? []).map((r) => r.id)]]);
}

async function mergeFact(ctx: MergeContext, spec: FactSpec): Promise<MergeCounts> {
  const { client } = ctx;
  const { created, rejected } = await resolveRefs(ctx, spec.keys);
  const sql = compileFact(spec, ctx.sql);
  if (spec.periods && (await mapsPeriods(ctx.flow, spec))) {
    const periods = compilePeriods(spec, ctx.sql, ctx.flow.timezone ?? DEFAULT_TIMEZONE);
    if ((await queryOne(client, periods.present)).any) return mergePeriods(ctx, sql, periods, created, rejected);
  }
  const total = await queryCount(client, stagedRows(ctx.sql.table));
  const partIds = (await query(client, sql.partitionIds)).map((r) => r.id);
  // A snapshot scoped to its flow: where the flow holds rows and how many, in one scan (the locks below,
  // and the count the removal is decided on: a second scan after the writes cost ~1 s at 10M rows).
  // Read with a fingerprint: counted while the payload was read (SinkFingerprint.held). Any bus write to
  // the flow's rows since then cleared the fingerprint, which is checked below under its lock.
  const counted = ctx.fingerprint?.held;
  const held = sql.removalPartitionIds ? (counted ?? await query(client, sql.removalPartitionIds)) : null;
  const heldBefore = held ? held.reduce((n, r) => n + Number(r.n), 0) : 0;
  if (ctx.partitioned) await lockPartitions(ctx, spec, partIds, held);
  // Rows the extract skipped equal the fingerprint it compared with: only while that is still the flow's
  // and still true to the store. Checked under the fingerprint's row lock, held to the commit (a write
  // outside the bus then waits to clear it after this merge's activation, not before) and taken after the
  // partition locks: a merge of another flow clears this one's fingerprint while it holds its own
  // partition locks, so taking the row first could wait crosswise with it.
  if (ctx.fingerprint && !(await baseStillTrue(client, ctx.sql.flowId, ctx.fingerprint.base, ctx.flow))) {
    throw new FingerprintStale(`fingerprint of run ${ctx.fingerprint.base} is no longer the flow's or no longer valid`);
  }

  // Nothing live in the touched partitions: a plain insert, no comparison needed.
  const empty = !(await queryOne(client, sql.partitionsLive(partIds))).e;
  let inserted = 0;
  let updated = 0;
  let tookOver = 0;
  let tookFrom: number[] | undefined = [];
  if (empty) {
    // Into empty partitions the only joins are the staged codes against external_ids, which holds every
    // entity's codes: the planner takes a join on 10 warehouse codes for 100,000 staged stock rows to give
    // 99 rows and looks every product up by index, row by row (auto_explain, bench:onec: 0.45 s of the
    // merge's 0.83 s). Hash joins are right for any staging this large.
    if (!ctx.smallPlan) await q(client, 'SET LOCAL enable_nestloop = off');
    inserted = await execute(client, sql.insertAll);
    if (!ctx.smallPlan) await q(client, 'SET LOCAL enable_nestloop = on');
  } else {
    const r = await queryOne(client, sql.upsert);
    inserted = Number(r.ins);
    updated = Number(r.upd);
    tookOver = Number(r.took);
    tookFrom = (r.took_from ?? []).map(Number);
  }
  const staged = total;
  const fp = ctx.fingerprint;
  const skipped = fp?.skipped ?? 0;
  const unchanged = staged - inserted - updated + skipped;

  // Snapshot removal. After the upsert every staged row belongs to this flow, so the scope holds
  // exactly inserted + updated + unchanged rows unless something must go: a cheap count decides
  // whether the anti-join (a hash of every staged row) is needed at all.
  let removed = 0;
  if (fp) {
    // Read with a fingerprint: what went is known by key (tombstones), and the rows skipped are not
    // staged, so the anti-join cannot be used. The store must then hold exactly the skipped, staged and
    // rejected-but-kept rows of the flow; anything else means the fingerprint missed a change of the
    // store, and the run is read again without one (the store is the truth).
    if (fp.gone) removed = await queryCount(client, sql.removeGone(fp.gone));
    if (sql.removes) {
      const inScopeNow = held ? heldBefore + inserted + tookOver - removed : await queryCount(client, sql.countScope(partIds));
      const expected = staged + skipped + (await queryCount(client, sql.rejectedLive));
      if (inScopeNow !== expected) throw new FingerprintStale(`the store holds ${inScopeNow} rows of the flow, the snapshot and its fingerprint name ${expected}`);
    }
  } else if (sql.removes) {
    // The flow's rows now: those before, the new ones and those taken from other flows.
    const inScopeNow = held ? heldBefore + inserted + tookOver : await queryCount(client, sql.countScope(partIds));
    if (inScopeNow > staged) {
      // An anti-join over every row the flow holds, however few are staged.
      if (ctx.smallPlan) await q(client, BROAD_PLAN_SQL);
      removed = await queryCount(client, sql.remove(partIds));
    }
  }
  let inScopeBefore: number | null = null;
  if (sql.removes) inScopeBefore = updated + unchanged + removed;
  else if (ctx.flow.guard?.maxChangeRatio !== undefined && inserted + updated > 0) {
    // A delta's scope is everything the flow holds: count it (after the writes, corrected back).
    inScopeBefore = (await queryCount(client, sql.countScope(partIds))) - inserted;
  }
  // Scope keys: the removal reaches other flows' rows of the touched partitions.
  if (ctx.sql.scope === 'keys' && removed > 0) {
    tookOver += removed;
    tookFrom = undefined;
  }
  return { inserted, updated, unchanged, removed, rejected, inScope: inScopeBefore, created, tookOver, tookFrom };
}

/**
 * A fact's merge, before its commit, keeps the fingerprints true (src/pipeline/fingerprints.ts): the run's
 * own file becomes the flow's (`activate`), or a merge of the flow that changed rows clears the flow's;
 * rows taken from other flows clear theirs. Returns whether the run's file became the flow's.
 */
async function keepFingerprints(client: pg.PoolClient, k: {
  flow: Flow; flowId: number; runId: number; table: string; counts: MergeCounts; changed: number; activate: boolean; rows: number;
}): Promise<boolean> {
  if ((k.counts.tookOver ?? 0) > 0) {
    const why = `run ${k.runId} took over ${k.counts.tookOver} of their rows`;
    if (k.counts.tookFrom) await invalidateFingerprints(client, k.table, { flows: k.counts.tookFrom, why });
    else await invalidateFingerprints(client, k.table, { flowId: k.flowId, othersOf: true, why });
  }
  if (k.activate) {
    await activateFingerprint(client, { flowId: k.flowId, runId: k.runId, target: k.table, flow: k.flow, rows: k.rows });
    return true;
  }
  if (k.changed > 0) await invalidateFingerprints(client, k.table, { flowId: k.flowId, why: `run ${k.runId} changed ${k.changed} rows without a fingerprint` });
  return false;
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
  // Periods may move any flow's live row: every other fingerprint of the table is cleared.
  return { inserted, updated, unchanged, removed, rejected: refRejects + inverted, inScope, created, tookOver: inserted + updated + removed };
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
  // Many new ids at once (a catalog's first load): refresh their statistics as placeholder creation does.
  // Left to autovacuum, the next price snapshot planned its unknown-code check on an external_ids that
  // looked empty — a nested loop over 50,000 new ids, minutes instead of a second (bench:freshness).
  if (inserted > ANALYZE_AFTER_CREATED) await execute(client, analyzeExternalIds);
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

/** A later staged run of the flow whose rows a group merge takes (its merge lock already held). */
interface Follower {
  id: number;
  rowsStaged: number;
  /** Its payload's file names, in order (appended to the leader's: `_file` is offset by the files before). */
  files: string[];
  /** Their inbox ids, in the same order. */
  inboxIds: string[];
}

/**
 * The later runs of the leader's flow that may merge in the leader's transaction: consecutive in receipt
 * order, staged (their staging intact), deltas outside snapshot groups whose dependencies have ended, up
 * to MAGISTRAL_MERGE_GROUP_ROWS rows in all, each one's merge lock taken here (one another worker holds
 * ends the group). Prices with validity: their merge keeps the last row of a key and period by position, so
 * rows of later runs win as if each had merged alone, in order. Plain facts (prices, stock without
 * validity, no guard): the group ends before a run repeating a key of the group, so each key has one row.
 * bench:freshness (main, 2M rows, load average 15-17) had CSV deltas, one every 400 ms, waiting p50 200 s
 * for their flow's earlier merges, each merged alone (merge p50 0.1 s, p95 0.4 s). Measured with
 * bench:sap (200,000 conditions in 200 messages of 1,000 IDocs): one run per merge spent 51 s merging and
 * 95 s handing over from one run to the next.
 */
async function groupFollowers(
  deps: PipelineDeps, client: pg.PoolClient,
  leader: { id: number; flowId: number; flow: Flow; mode: string; snapshotGroup: string | null; spec: TargetSpec; table: string },
): Promise<Follower[]> {
  const max = deps.config.MAGISTRAL_MERGE_GROUP_ROWS;
  if (max <= 0 || leader.mode !== 'delta' || leader.snapshotGroup !== null || leader.spec.kind !== 'fact') return [];
  const periods = !!leader.spec.periods && (await mapsPeriods(leader.flow, leader.spec));
  if (periods) {
    if (!(await queryOne(client, periodRowsPresent(leader.spec, leader.table))).any) return [];
  } else if (leader.flow.guard?.maxChangeRatio !== undefined || leader.flow.cityPriceTypes) {
    // A guard judges one run's change: a group could be held where each of its runs alone would pass.
    return [];
  }
  const r = await client.query<{ id: string; state: string; mode: string; snapshot_group: string | null; kind: string; rows_staged: number; inbox_ids: string[]; has_staging: boolean; deps_done: boolean }>(`
    SELECT r.id, r.state, r.mode, r.snapshot_group, r.kind, r.rows_staged, r.inbox_ids,
      to_regclass('staging.run_' || r.id) IS NOT NULL AS has_staging,
      NOT EXISTS (SELECT 1 FROM runs d WHERE d.id = ANY(r.depends_on) AND d.state <> ALL($3::text[])) AS deps_done
    FROM runs r WHERE r.flow_id = $1 AND r.id > $2 AND r.state <> ALL($3::text[])
    ORDER BY r.id LIMIT $4`, [leader.flowId, leader.id, TERMINAL_STATES, MAX_GROUP_RUNS]);
  const out: Follower[] = [];
  let rows = 0;
  for (const f of r.rows) {
    const id = Number(f.id);
    if (f.state !== 'staged' || f.mode !== 'delta' || f.snapshot_group !== null || f.kind === 'finalize' || !f.has_staging || !f.deps_done) break;
    if (rows + f.rows_staged > max) break;
    // Staging is UNLOGGED: after a server crash it comes back empty; such a run is read again alone.
    if ((await queryCount(client, stagedRows(stagingTable(id)))) !== f.rows_staged) break;
    if (!(await client.query<{ ok: boolean }>(TRY_LOCK_SQL, [mergeLockKey(id)])).rows[0]!.ok) break;
    const names = await client.query<{ id: string; file_name: string }>('SELECT id, file_name FROM inbox WHERE id = ANY($1::bigint[])', [f.inbox_ids]);
    const byId = new Map(names.rows.map((n) => [String(n.id), n.file_name]));
    out.push({ id, rowsStaged: f.rows_staged, files: f.inbox_ids.map((i) => byId.get(String(i)) ?? String(i)), inboxIds: f.inbox_ids });
    rows += f.rows_staged;
  }
  if (periods || !out.length) return out;
  // A plain upsert takes one row per key: the group ends before the first run that writes a key an earlier
  // run of the group writes (merged alone next, after this group, the later value still wins).
  const cut = await firstOverlap(client, leader.spec, [leader.table, ...out.map((f) => stagingTable(f.id))]);
  if (cut === null) return out;
  for (const f of out.slice(cut - 1)) await client.query(UNLOCK_SQL, [mergeLockKey(f.id)]);
  return out.slice(0, cut - 1);
}

/**
 * The index (into `tables`) of the first staging table holding a key (not rejected) that an earlier one
 * holds or that it holds twice (the first table, the leader's, aside), or null when none.
 */
async function firstOverlap(client: pg.PoolClient, spec: FactSpec, tables: readonly string[]): Promise<number | null> {
  const keys = keyFields(spec).map((k) => `"${k}"`).join(', ');
  // A follower repeating a key within itself ends the group too: the merge's retry that rejects duplicates
  // (last row wins) rolls back the followers' rows with the rest and would meet them again.
  const r = await client.query<{ i: number | null }>(`
    SELECT min(i) AS i FROM (
      SELECT i, min(i) OVER (PARTITION BY ${keys}) AS first, count(*) OVER (PARTITION BY ${keys}, i) AS n FROM (
        ${tables.map((t, i) => `SELECT ${i} AS i, ${keys} FROM ${t} WHERE NOT _reject`).join(' UNION ALL ')}
      ) k
    ) x WHERE i > first OR (i > 0 AND n > 1)`);
  return r.rows[0]?.i ?? null;
}

/** Runs a group merge takes at most (one statement lists them). */
const MAX_GROUP_RUNS = 1000;

/**
 * In the merge's transaction: the followers move to merging and their rows into the leader's staging
 * table, `_file` offset past the files before them (a rollback undoes both).
 */
async function takeFollowers(client: pg.PoolClient, spec: TargetSpec, table: string, leaderFiles: number, group: readonly Follower[]): Promise<void> {
  const moved = await client.query(`UPDATE runs SET state = 'merging' WHERE id = ANY($1::bigint[]) AND state = 'staged'`, [group.map((f) => f.id)]);
  if (moved.rowCount !== group.length) throw new MagistralError('MAG_ERR_RUN_STATE', 'a run of the merge group left the staged state');
  const cols = spec.fields.map((f) => `"${f}"`).join(', ');
  let offset = leaderFiles;
  for (const f of group) {
    await client.query(`INSERT INTO ${table} (${cols}, _line, _file, _reject, _path)
      SELECT ${cols}, _line, _file + ${offset}, _reject, _path FROM ${stagingTable(f.id)}`);
    offset += f.files.length;
  }
}

/**
 * In the merge's transaction, before the leader is marked merged: the followers are done, merged with the
 * leader; their staged rows count as the leader's (whose counts are the group's).
 */
async function settleFollowers(client: pg.PoolClient, leaderId: number, group: readonly Follower[], mergeMs: number): Promise<void> {
  await client.query(`UPDATE runs SET state = 'done', merged_with = $2, rows_staged = 0, rows_inserted = 0, rows_updated = 0, rows_unchanged = 0,
      rows_removed = 0, finished_at = clock_timestamp(), merge_ms = $3, held_reason = NULL WHERE id = ANY($1::bigint[]) AND state = 'merging'`,
  [group.map((f) => f.id), leaderId, mergeMs]);
  await client.query('UPDATE runs SET rows_staged = rows_staged + $2 WHERE id = $1', [leaderId, group.reduce((n, f) => n + f.rowsStaged, 0)]);
}

/**
 * Whether any of the flow's mappings produces a validity field (validFrom, validTo, deleted): only then
 * may its rows be periods. Read from the mapping files (a millisecond) rather than by scanning the
 * staging table, which for a plain price list of millions of rows finds nothing after a full scan.
 */
async function mapsPeriods(flow: Flow, spec: FactSpec): Promise<boolean> {
  const p = spec.periods!;
  for (const ref of mappingRefs(flow)) {
    const fields = (await loadMapping(ref)).fields;
    if (p.validFrom in fields || p.validTo in fields || p.deleted in fields) return true;
  }
  return false;
}
