// Runs: one payload of one flow moving through received → extracting → staged → merging →
// done | failed | held | rejected. PostgreSQL holds the truth; queue jobs are only nudges.
import type { DecisionInput, HeldSample, RunDecision } from './held-sample.ts';
import { createReadStream, type ReadStream } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { MagistralError } from '../errors/index.ts';
import type { Database, RunState } from '../db/index.ts';
import type { Flow } from '../schemas/index.ts';
import type { PipelineDeps } from './deps.ts';
import { enqueueExtract, enqueueMerge, ensureJob } from './jobs.ts';
import { createRun, isTerminal, markApproved, markRejected, OPEN_STATES, runSettled } from './lifecycle/index.ts';
import { dropEndedStaging, dropStaging } from './staging-table.ts';

export interface RunView {
  id: number;
  flow: string;
  state: RunState;
  mode: 'delta' | 'snapshot';
  /** The payload itself declared the mode (CommerceML СодержитТолькоИзменения), overriding the flow's. */
  modeDeclared: boolean;
  /** payload: reads files; finalize: removes what no run of its snapshot group carried. */
  kind: 'payload' | 'finalize';
  /** Runs of one export split over several files (a 1C exchange session) share a snapshot group. */
  snapshotGroup: string | null;
  /** Runs that merge before this one (the price types of the same file before its prices). */
  dependsOn: number[];
  target: string;
  files: string[];
  replayOf: number | null;
  approved: boolean;
  /** staged: extract → staging → merge; direct: first load COPY'd straight into the live table. */
  loadPath: 'staged' | 'direct';
  attempts: number;
  /** `skipped`: rows a snapshot's extract found equal to the flow's last accepted snapshot (its fingerprint) and did not stage; counted in unchanged. */
  rows: { read: number; staged: number; skipped: number; rejected: number; inserted: number; updated: number; unchanged: number; removed: number; inScope: number | null };
  /**
   * A snapshot's fingerprint (src/pipeline/fingerprints.ts): `base`, the run whose fingerprint its read
   * compared with (null: none); `off`, a fingerprint turned out not to hold (the store changed, or the file's
   * order is too far from it) and the run is read in full; `written`, its read wrote its own; `current`,
   * its rows are the flow's fingerprint now.
   */
  fingerprint: { base: number | null; off: boolean; written: boolean; current: boolean };
  error: { code: string | null; message: string } | null;
  heldReason: string | null;
  /** What a held run would change (a few rows of each kind, old → new), taken when the guard held it. */
  heldSample: HeldSample | null;
  /** Who approved or rejected the run when it was held, when, with which comment. */
  decision: RunDecision | null;
  /** The run whose merge carried this run's rows (a group merge); its counts are the group's. */
  mergedWith: number | null;
  receivedAt: Date;
  /** When its extraction (last) began. */
  startedAt: Date | null;
  stagedAt: Date | null;
  /** When it was last held (kept after a decision; the decision says when it ended). */
  heldAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  extractMs: number | null;
  mergeMs: number | null;
}

export interface RejectView {
  id: number;
  file: string | null;
  line: number | null;
  path: string | null;
  field: string | null;
  rule: string | null;
  reason: string;
  record: unknown;
}

function runQuery(db: Kysely<Database>) {
  return db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id').selectAll('runs').select([
    'flows.name as flow_name',
    sql<string[]>`(SELECT coalesce(array_agg(i.file_name ORDER BY i.id), '{}') FROM inbox i WHERE i.id = ANY(runs.inbox_ids))`.as('files'),
    sql<boolean>`EXISTS (SELECT 1 FROM fingerprints fp WHERE fp.flow_id = runs.flow_id AND fp.run_id = runs.id AND fp.valid)`.as('fingerprint_current'),
  ]);
}

type RunRow = Awaited<ReturnType<ReturnType<typeof runQuery>['executeTakeFirstOrThrow']>>;

function toView(r: RunRow): RunView {
  const finished = r.finished_at ? new Date(r.finished_at) : null;
  return {
    id: r.id,
    flow: r.flow_name,
    state: r.state,
    mode: r.mode,
    modeDeclared: r.mode_declared,
    kind: r.kind,
    snapshotGroup: r.snapshot_group,
    dependsOn: r.depends_on.map(Number),
    target: r.target,
    files: r.files,
    replayOf: r.replay_of,
    approved: r.approved,
    loadPath: r.load_path,
    attempts: r.attempts,
    rows: {
      read: r.rows_read, staged: r.rows_staged, skipped: Number(r.rows_skipped), rejected: r.rows_rejected, inserted: r.rows_inserted,
      updated: r.rows_updated, unchanged: r.rows_unchanged, removed: r.rows_removed, inScope: r.rows_in_scope,
    },
    fingerprint: {
      base: r.fingerprint_base === null ? null : Number(r.fingerprint_base), off: r.fingerprint_off, written: r.fingerprint_written, current: r.fingerprint_current,
    },
    error: r.error ? { code: r.error_code, message: r.error } : null,
    heldReason: r.held_reason,
    heldSample: r.held_sample,
    decision: r.decision,
    mergedWith: r.merged_with === null ? null : Number(r.merged_with),
    receivedAt: r.received_at,
    startedAt: r.started_at,
    stagedAt: r.staged_at,
    heldAt: r.held_at,
    finishedAt: finished,
    durationMs: finished ? finished.getTime() - new Date(r.received_at).getTime() : null,
    extractMs: r.extract_ms,
    mergeMs: r.merge_ms,
  };
}

export interface RunsQuery {
  flow?: string;
  state?: string;
  limit?: number;
  /** Keyset cursor: runs with a smaller id (newest first). */
  beforeId?: number;
  /** Received at or after / before. */
  from?: Date;
  to?: Date;
}

/**
 * Runs newest first. Every filter keeps the walk on an index in id order (runs_flow, runs_state_id of
 * migration 0036) so a page costs the same over a million runs; a period also bounds the id range
 * through runs_received (ids follow receipt), so an old period is not reached by walking every later run.
 */
export async function listRuns(db: Kysely<Database>, q: RunsQuery = {}): Promise<RunView[]> {
  let query = runQuery(db).orderBy('runs.id', 'desc').limit(Math.min(q.limit ?? 50, 500));
  if (q.flow) query = query.where('flows.name', '=', q.flow);
  if (q.state) query = query.where('runs.state', '=', q.state as RunState);
  if (q.beforeId) query = query.where('runs.id', '<', q.beforeId);
  if (q.from) {
    query = query.where('runs.received_at', '>=', q.from)
      .where('runs.id', '>=', sql<number>`coalesce((SELECT r.id FROM runs r WHERE r.received_at >= ${q.from} ORDER BY r.received_at LIMIT 1), 0) - ${ID_SLACK}`);
  }
  if (q.to) {
    query = query.where('runs.received_at', '<', q.to)
      .where('runs.id', '<=', sql<number>`coalesce((SELECT r.id FROM runs r WHERE r.received_at < ${q.to} ORDER BY r.received_at DESC LIMIT 1), 0) + ${ID_SLACK}`);
  }
  return (await query.execute()).map(toView);
}

/**
 * Runs received in the same instant by concurrent senders may take their ids out of receipt order;
 * the id bounds of a period are widened by this much (the exact test is on received_at).
 */
const ID_SLACK = 1_000;

export async function getRun(db: Kysely<Database>, id: number): Promise<RunView> {
  const r = await runQuery(db).where('runs.id', '=', id).executeTakeFirst();
  if (!r) throw new MagistralError('MAG_ERR_RUN_NOT_FOUND', `no run ${id}`);
  return toView(r);
}

/** A run's rejects in id order; `afterId` pages by key (a run may hold millions: OFFSET would read them all). */
export async function listRejects(db: Kysely<Database>, runId: number, q: { limit?: number; offset?: number; afterId?: number } = {}): Promise<RejectView[]> {
  let query = db.selectFrom('rejects').selectAll().where('run_id', '=', runId).orderBy('id').limit(Math.min(q.limit ?? 100, 1000));
  if (q.afterId) query = query.where('id', '>', q.afterId);
  const rows = await query.offset(q.offset ?? 0).execute();
  return rows.map((r) => ({ id: r.id, file: r.file_name, line: r.line, path: r.path, field: r.field, rule: r.rule, reason: r.reason, record: r.record }));
}

/** The current definition of the flow a run belongs to (undefined when the run does not exist). */
export async function flowOfRun(db: Kysely<Database>, runId: number): Promise<Flow | undefined> {
  const r = await db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id').select('flows.definition').where('runs.id', '=', runId).executeTakeFirst();
  return r?.definition;
}

/** Approves a held run: it merges without the guard. */
export async function approveRun(deps: PipelineDeps, id: number, decision: DecisionInput = {}): Promise<RunView> {
  const next = await markApproved(deps.pool, id, decision);
  if (!next) throw stateError(await getRun(deps.db, id), 'approve', 'held');
  const flow = (await flowOfRun(deps.db, id))!;
  // Held while it was read (nothing staged): read again, approved; else its merge goes on.
  if (next === 'received') await enqueueExtract(deps, id, flow).catch((e: unknown) => deps.log.warn({ run: id, err: e }, 'extract not enqueued; the sweeper will'));
  else await enqueueMerge(deps, id, flow).catch((e: unknown) => deps.log.warn({ run: id, err: e }, 'merge not enqueued; the sweeper will'));
  deps.log.info({ run: id, by: decision.by }, 'held run approved');
  return getRun(deps.db, id);
}

/** Rejects a held run: nothing of it reaches the store; later runs of the flow go on. */
export async function rejectRun(deps: PipelineDeps, id: number, decision: DecisionInput = {}): Promise<RunView> {
  if (!(await markRejected(deps.pool, id, decision))) throw stateError(await getRun(deps.db, id), 'reject', 'held');
  await dropStaging(deps.db, id);
  // Later runs of its flow (and its dependents) waited for it: they go now.
  await runSettled(deps, id);
  deps.log.info({ run: id, by: decision.by }, 'held run rejected');
  return getRun(deps.db, id);
}

/** Replays a finished run from its stored payload (after a mapping fix, say) as a new run. */
export async function replayRun(deps: PipelineDeps, id: number): Promise<RunView> {
  const old = await deps.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!old) throw new MagistralError('MAG_ERR_RUN_NOT_FOUND', `no run ${id}`);
  if (!isTerminal(old.state)) throw stateError(await getRun(deps.db, id), 'replay', 'done, failed or rejected');
  if (old.kind === 'finalize') throw new MagistralError('MAG_ERR_RUN_STATE', `cannot replay run ${id}: it removes what its snapshot group did not carry; replay the group's runs instead`);
  const flow = await deps.db.selectFrom('flows').selectAll().where('id', '=', old.flow_id).executeTakeFirstOrThrow();
  const def = flow.definition;
  // A run of a snapshot group stays in it: alone, one file of a split export is not the complete set,
  // so the replay upserts only (its group has closed) and removes nothing.
  const newId = await createRun(deps.db, {
    flow_id: old.flow_id, inbox_ids: old.inbox_ids, mode: def.mode, target: def.target, replay_of: id, snapshot_group: old.snapshot_group,
  });
  await enqueueExtract(deps, newId, def).catch((e: unknown) => deps.log.warn({ run: newId, err: e }, 'extract not enqueued; the sweeper will'));
  deps.log.info({ flow: flow.name, run: newId, replayOf: id }, 'run replayed');
  return getRun(deps.db, newId);
}

function stateError(run: RunView, action: string, needed: string): MagistralError {
  return new MagistralError('MAG_ERR_RUN_STATE', `cannot ${action} run ${run.id}: it is ${run.state} (needs ${needed})`);
}

/** Waits until the run is done, failed, rejected or held; polls the store (the source of truth). */
export async function waitForRun(db: Kysely<Database>, id: number, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<RunView> {
  const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  for (;;) {
    const run = await getRun(db, id);
    if (isTerminal(run.state) || run.state === 'held') return run;
    if (Date.now() > deadline) throw new MagistralError('MAG_ERR_RUN_STATE', `run ${id} is still ${run.state} after ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/**
 * Re-enqueues every open run whose job is missing (Redis restarted, a producer could not enqueue):
 * received/extracting → extract, staged/merging → merge. Held runs wait for a person. Then drops the
 * staging tables ended runs left (dropEndedStaging).
 */
export async function sweep(deps: PipelineDeps): Promise<number> {
  const open = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
    .select(['runs.id', 'runs.state', 'flows.definition'])
    .where('runs.state', 'in', OPEN_STATES.filter((st) => st !== 'held')).orderBy('runs.id').execute();
  let n = 0;
  for (const r of open) {
    const queue = r.state === 'received' || r.state === 'extracting' ? 'extract' : 'merge';
    if (await ensureJob(deps, queue, r.id, r.definition)) n++;
  }
  if (n) deps.log.info({ count: n }, 'sweeper re-enqueued runs');
  const dropped = await dropEndedStaging(deps.pool);
  if (dropped.length) deps.log.info({ runs: dropped }, 'sweeper dropped the staging tables ended runs left');
  return n;
}

/**
 * A run's payload file as stored in the inbox, the `index`-th of its files (0-based, in receipt order),
 * opened for sending: `stream` is null when the file is gone from the disk (removed by hand, a lost volume).
 */
export async function runPayloadFile(db: Kysely<Database>, runId: number, index: number): Promise<{ fileName: string; size: number; stream: ReadStream | null }> {
  const run = await db.selectFrom('runs').select('inbox_ids').where('id', '=', runId).executeTakeFirst();
  if (!run) throw new MagistralError('MAG_ERR_RUN_NOT_FOUND', `no run ${runId}`);
  const inboxId = run.inbox_ids[index];
  if (inboxId === undefined) throw new MagistralError('MAG_ERR_NOT_FOUND', `run ${runId} has ${run.inbox_ids.length} file(s): there is no file ${index}`);
  const f = await db.selectFrom('inbox').select(['file_name', 'path', 'size_bytes']).where('id', '=', Number(inboxId)).executeTakeFirstOrThrow();
  const stream = createReadStream(f.path);
  const opened = await new Promise<boolean>((resolve, reject) => {
    stream.once('open', () => resolve(true));
    stream.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve(false) : reject(e)));
  });
  return { fileName: f.file_name, size: Number(f.size_bytes), stream: opened ? stream : null };
}
