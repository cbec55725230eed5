// Every state change of a run as a named function: one SQL statement each, with the state it expects
// in its WHERE, runnable on the pool or inside a caller's transaction. Returns whether the run moved.
import type { Insertable, Kysely } from 'kysely';
import type { Database } from '../../db/index.ts';
import type { ErrorCode } from '../../errors/index.ts';
import type { Queryable } from './states.ts';
import type { DecisionInput, HeldSample, RunDecision } from '../held-sample.ts';

type RunMode = 'delta' | 'snapshot';

const moved = (r: { rowCount: number | null }): boolean => (r.rowCount ?? 0) > 0;

/** Records a new run (received) in the caller's transaction; returns its id. A replay names the run it replays (replay_of). */
export async function createRun(db: Kysely<Database>, values: Insertable<Database['runs']>): Promise<number> {
  const r = await db.insertInto('runs').values(values).returning('id').executeTakeFirstOrThrow();
  return Number(r.id);
}

export interface StagedCounts {
  read: number;
  staged: number;
  rejected: number;
  extractMs: number;
  /** The effective mode (effectiveMode) and whether the payload declared it. */
  mode: RunMode;
  modeDeclared: boolean;
  /** A snapshot read with a fingerprint: rows equal to the last snapshot (not staged), the run compared with, whether it wrote its own file. */
  fingerprint?: { skipped: number; base: number | null; written: boolean; held?: Array<{ id: number; n: number }> | null };
}

/** extracting → staged: its rows wait in the staging table for the merge. */
export async function markStaged(q: Queryable, runId: number, c: StagedCounts): Promise<boolean> {
  const f = c.fingerprint;
  return moved(await q.query(`UPDATE runs SET state = 'staged', rows_read = $2, rows_staged = $3, rows_rejected = $4, staged_at = clock_timestamp(),
      extract_ms = $5, error = NULL, error_code = NULL, mode = $6, mode_declared = $7,
      rows_skipped = $8, fingerprint_base = $9, fingerprint_written = $10, fingerprint_held = $11 WHERE id = $1 AND state = 'extracting'`,
  [runId, c.read, c.staged, c.rejected, c.extractMs, c.mode, c.modeDeclared, f?.skipped ?? 0, f?.base ?? null, f?.written ?? false, f?.held ? JSON.stringify(f.held) : null]));
}

/** extracting → done by a direct load (first load into an empty table), in the load's transaction. */
export async function markDirectDone(q: Queryable, runId: number, c: StagedCounts): Promise<boolean> {
  return moved(await q.query(`UPDATE runs SET state = 'done', load_path = 'direct', rows_read = $2, rows_staged = $3, rows_rejected = $4, rows_inserted = $3,
      rows_updated = 0, rows_unchanged = 0, rows_removed = 0, rows_in_scope = 0, staged_at = clock_timestamp(), finished_at = clock_timestamp(),
      extract_ms = $5, merge_ms = 0, error = NULL, error_code = NULL, mode = $6, mode_declared = $7 WHERE id = $1 AND state = 'extracting'`,
  [runId, c.read, c.staged, c.rejected, c.extractMs, c.mode, c.modeDeclared]));
}

/** What a run changed, for the change log: its target's counts, then the placeholders it created per entity. */
export async function logChanges(
  q: Queryable, runId: number, target: string, counts: { inserted: number; updated: number; removed: number }, created: Record<string, number> = {},
): Promise<void> {
  await q.query(`INSERT INTO change_log (run_id, entity, inserted, updated, removed) VALUES ($1, $2, $3, $4, $5)`, [runId, target, counts.inserted, counts.updated, counts.removed]);
  for (const [entity, n] of Object.entries(created)) {
    if (n) await q.query(`INSERT INTO change_log (run_id, entity, inserted) VALUES ($1, $2, $3)`, [runId, entity, n]);
  }
}

/** staged → merging (a merge that restarts after a crash finds it merging already). */
export async function markMerging(q: Queryable, runId: number): Promise<boolean> {
  return moved(await q.query(`UPDATE runs SET state = 'merging' WHERE id = $1 AND state IN ('staged', 'merging')`, [runId]));
}

export interface MergeResult {
  inserted: number;
  updated: number;
  unchanged: number;
  removed: number;
  /** Rows the merge itself rejected (unknown references, duplicates): moved from staged to rejected. */
  rejected: number;
  inScope: number | null;
}

/** merging → done with the merge's counts, in the merge's transaction. */
export async function markMerged(q: Queryable, runId: number, c: MergeResult, mergeMs: number): Promise<boolean> {
  return moved(await q.query(`UPDATE runs SET state = 'done', rows_inserted = $2, rows_updated = $3, rows_unchanged = $4, rows_removed = $5,
      rows_rejected = rows_rejected + $6, rows_staged = rows_staged - $6, rows_in_scope = $7, finished_at = clock_timestamp(), merge_ms = $8, held_reason = NULL
      WHERE id = $1 AND state = 'merging'`, [runId, c.inserted, c.updated, c.unchanged, c.removed, c.rejected, c.inScope, mergeMs]));
}

/**
 * An open run waits for a person (the guard found it would change too much, or a stage raised
 * HoldRunError): the counts it would have written, when known, go with it.
 */
export async function holdRun(
  q: Queryable, runId: number, reason: string, c: Partial<Pick<MergeResult, 'inserted' | 'updated' | 'unchanged' | 'removed' | 'inScope'>> = {},
  sample?: HeldSample,
): Promise<boolean> {
  return moved(await q.query(`UPDATE runs SET state = 'held', held_reason = $2, held_at = clock_timestamp(), rows_inserted = coalesce($3, rows_inserted), rows_updated = coalesce($4, rows_updated),
      rows_unchanged = coalesce($5, rows_unchanged), rows_removed = coalesce($6, rows_removed), rows_in_scope = coalesce($7, rows_in_scope),
      held_sample = $8
      WHERE id = $1 AND state IN ('extracting', 'staged', 'merging')`,
  [runId, reason, c.inserted ?? null, c.updated ?? null, c.unchanged ?? null, c.removed ?? null, c.inScope ?? null, sample ? JSON.stringify(sample) : null]));
}

/** A snapshot group's finalize run ends: done (what it removed) or failed (why nothing was removed). */
export async function finishFinalize(
  q: Queryable, runId: number, end: { state: 'done'; removed: number; inScope: number | null; mergeMs: number } | { state: 'failed'; error: string },
): Promise<boolean> {
  if (end.state === 'done') {
    return moved(await q.query(`UPDATE runs SET state = 'done', rows_removed = $2, rows_in_scope = $3, finished_at = clock_timestamp(), merge_ms = $4,
        held_reason = NULL, error = NULL, error_code = NULL WHERE id = $1 AND state IN ('staged', 'merging')`, [runId, end.removed, end.inScope, end.mergeMs]));
  }
  return moved(await q.query(`UPDATE runs SET state = 'failed', error = $2, error_code = 'MAG_ERR_RUN_STATE', finished_at = clock_timestamp(), merge_ms = 0, rows_removed = 0
      WHERE id = $1 AND state IN ('staged', 'merging')`, [runId, end.error]));
}

/** Any run not yet done or rejected → failed with a catalogue code (see failRun for the clean-up around it). */
export async function markFailed(q: Queryable, runId: number, code: ErrorCode, message: string): Promise<boolean> {
  return moved(await q.query(`UPDATE runs SET state = 'failed', error_code = $2, error = $3, finished_at = clock_timestamp(), rows_rejected = 0, rows_staged = 0
      WHERE id = $1 AND state NOT IN ('done', 'rejected')`, [runId, code, message]));
}

/**
 * Back to received, to be extracted again: its staging was lost (from staged/merging), or a shared read
 * gave it up (from extracting; `alone` then takes it out of the file's shared reads).
 */
export async function backToReceived(q: Queryable, runId: number, opts: { from: 'staged' | 'extracting'; alone?: boolean }): Promise<boolean> {
  const from = opts.from === 'staged' ? ['staged', 'merging'] : ['extracting'];
  return moved(await q.query(`UPDATE runs SET state = 'received'${opts.alone ? ', read_with = NULL' : ''} WHERE id = $1 AND state = ANY($2::text[])`, [runId, from]));
}

/** Rows a merge moved from staged to rejected (duplicate keys), so the run's counts follow its staging table. */
export async function countMergeRejects(q: Queryable, runId: number, n: number): Promise<void> {
  await q.query('UPDATE runs SET rows_staged = rows_staged - $2, rows_rejected = rows_rejected + $2 WHERE id = $1', [runId, n]);
}

/** Whether runs of a snapshot group keep their staging table (their keys) for the group's finalize run. */
export async function markStagingKept(q: Queryable, ids: readonly number[], kept: boolean): Promise<void> {
  if (ids.length) await q.query('UPDATE runs SET staging_kept = $2 WHERE id = ANY($1::bigint[])', [[...ids], kept]);
}

/** held → staged, approved: it merges without the guard. */
/**
 * held → staged (its merge goes on), or → received when a stage held it before anything was staged (a
 * connector's HoldRunError while reading: it is read again, approved). Undefined: the run was not held.
 */
export async function markApproved(q: Queryable, runId: number, d: DecisionInput = {}): Promise<'staged' | 'received' | undefined> {
  const r = await q.query<{ state: 'staged' | 'received' }>(`UPDATE runs SET approved = true,
      state = CASE WHEN kind <> 'finalize' AND staged_at IS NULL THEN 'received' ELSE 'staged' END,
      held_reason = NULL, ${DECISION_SQL('approved')} WHERE id = $1 AND state = 'held' RETURNING state`,
  [runId, d.by ?? null, d.comment ?? null]);
  return r.rows[0]?.state;
}

/** The decision on a held run, with the reason it was held for ($2 who, $3 comment). */
const DECISION_SQL = (action: RunDecision['action']): string =>
  `decision = jsonb_build_object('action', '${action}', 'by', coalesce($2::text, 'unknown'), 'at', clock_timestamp(), 'comment', $3::text, 'heldReason', held_reason)`;

/** held → rejected: nothing of it reaches the store. */
export async function markRejected(q: Queryable, runId: number, d: DecisionInput = {}): Promise<boolean> {
  return moved(await q.query(`UPDATE runs SET state = 'rejected', finished_at = clock_timestamp(), ${DECISION_SQL('rejected')} WHERE id = $1 AND state = 'held'`,
    [runId, d.by ?? null, d.comment ?? null]));
}
