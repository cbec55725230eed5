// "May this run go now?" answered and acted on by one SQL statement: the run is in the state the stage
// expects, its flow is not paused, no earlier run of its flow is open (or held), the runs it depends on
// have ended — then it is taken (state and attempts) and, optionally, its advisory lock with it.
import { TERMINAL_STATES, type Queryable, type RunState } from './states.ts';
import { UNLOCK_SQL } from '../locks.ts';
import { OPEN_RUN_PREDICATE } from '../../db/migrations/0015-runs-flow-open.ts';

export type ClaimStage = 'extract' | 'merge';

export interface ClaimOptions {
  /** extract: received|extracting → extracting (attempts + 1); merge: staged|merging → merging. */
  stage: ClaimStage;
  /** Wait for every earlier open (or held) run of the flow. */
  ordered: boolean;
  /** Wait for the runs in `runs.depends_on` to end. */
  dependencies: boolean;
  /** A session advisory lock taken with the claim (on this connection); not taken: 'busy'. */
  lockKey?: number;
  /**
   * Wait while an earlier run of the flow is being extracted: a run gathering messages (coalesce_bytes)
   * keeps gathering meanwhile, so under load each read takes what arrived during the one before.
   */
  afterExtracting?: boolean;
}

export type ClaimResult =
  | { claimed: true }
  | { claimed: false; why: 'gone' }
  /** The run is past (or not yet at, for a merge of a run still extracting) the stage. */
  | { claimed: false; why: 'past'; state: RunState }
  | { claimed: false; why: 'paused' }
  /** Another worker holds the run's lock. */
  | { claimed: false; why: 'busy' }
  /** An earlier run of the flow, or a run this one depends on, is still open: woken when it settles. */
  | { claimed: false; why: 'waiting'; waitingFor: number };

const STAGES: Record<ClaimStage, { from: RunState[]; to: RunState }> = {
  extract: { from: ['received', 'extracting'], to: 'extracting' },
  merge: { from: ['staged', 'merging'], to: 'merging' },
};

/**
 * The first run that keeps run $1 from going: an earlier open run of its flow ($2), an open dependency
 * ($3), an earlier run of its flow being extracted ($5 in claims, $8 here: see afterExtracting).
 */
const blockers = (extractingParam: string) => `
  CASE WHEN $2::boolean THEN (SELECT min(e.id) FROM runs e WHERE e.flow_id = r.flow_id AND e.id < r.id AND e.${OPEN_RUN_PREDICATE}) END AS earlier,
  CASE WHEN $3::boolean THEN (SELECT min(d.id) FROM runs d WHERE d.id = ANY(r.depends_on) AND d.state <> ALL($4::text[])) END AS dependency,
  CASE WHEN ${extractingParam}::boolean THEN (SELECT min(e.id) FROM runs e WHERE e.flow_id = r.flow_id AND e.id < r.id AND e.state = 'extracting'
    AND e.${OPEN_RUN_PREDICATE}) END AS extracting`;
const BLOCKERS = blockers('$8');
/** A file of the run still arriving (growth.ts): it may be read, never merged, before the sender seals it. */
const GROWING = `EXISTS (SELECT 1 FROM inbox i JOIN inbox_growth g ON g.key = i.growth_key
  WHERE i.id = ANY(r.inbox_ids) AND i.growth_key IS NOT NULL AND g.state <> 'sealed') AS growing`;

// The lock is tried only when everything else allows the run to go (CASE decides the order), in a CTE
// evaluated once; a lock taken while a concurrent worker moved the run on is given back below.
const CLAIM_SQL = `
  WITH r AS (
    SELECT r.id, r.state, f.paused, ${BLOCKERS}, ${GROWING}
    FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.id = $1
  ), go AS (
    SELECT r.*, (r.state = ANY($5::text[]) AND NOT r.paused AND r.earlier IS NULL AND r.dependency IS NULL AND r.extracting IS NULL
      AND NOT (r.growing AND $6 = 'merging')) AS may FROM r
  ), locked AS (
    SELECT go.*, CASE WHEN go.may AND $7::bigint IS NOT NULL THEN pg_try_advisory_lock($7::bigint) ELSE go.may END AS took FROM go
  ), taken AS (
    UPDATE runs u SET state = $6,
      attempts = u.attempts + CASE WHEN $6 = 'extracting' THEN 1 ELSE 0 END,
      started_at = CASE WHEN $6 = 'extracting' THEN now() ELSE u.started_at END
    FROM locked WHERE u.id = locked.id AND locked.took AND u.state = ANY($5::text[])
    RETURNING u.id
  )
  SELECT locked.state, locked.paused, locked.earlier, locked.dependency, locked.extracting, locked.growing, locked.took,
    EXISTS (SELECT 1 FROM taken) AS claimed
  FROM locked`;

interface ClaimRow {
  state: RunState;
  paused: boolean;
  earlier: string | null;
  dependency: string | null;
  extracting: string | null;
  growing: boolean;
  took: boolean;
  claimed: boolean;
}

/**
 * Takes run `runId` for a stage if it may go now, in one statement; else says why not. With `lockKey`,
 * `q` must be the connection that keeps the lock for the stage's length (and unlocks it after).
 */
export async function claimRun(q: Queryable, runId: number, opts: ClaimOptions): Promise<ClaimResult> {
  const { from, to } = STAGES[opts.stage];
  const r = await q.query<ClaimRow>(CLAIM_SQL, [runId, opts.ordered, opts.dependencies, TERMINAL_STATES, from, to, opts.lockKey ?? null, !!opts.afterExtracting]);
  const row = r.rows[0];
  if (!row) return { claimed: false, why: 'gone' };
  if (row.claimed) return { claimed: true };
  if (row.took && opts.lockKey !== undefined) await q.query(UNLOCK_SQL, [opts.lockKey]);
  if (row.paused && from.includes(row.state)) return { claimed: false, why: 'paused' };
  // A merge job that came before its run was staged waits for the extract (which enqueues the merge).
  if (opts.stage === 'merge' && (row.state === 'received' || row.state === 'extracting')) return { claimed: false, why: 'waiting', waitingFor: runId };
  if (!from.includes(row.state)) return { claimed: false, why: 'past', state: row.state };
  const blocker = row.earlier ?? row.dependency ?? row.extracting;
  if (blocker !== null) return { claimed: false, why: 'waiting', waitingFor: Number(blocker) };
  // Its file is still arriving: the seal wakes its merge job (growth.ts).
  if (opts.stage === 'merge' && row.growing) return { claimed: false, why: 'waiting', waitingFor: runId };
  // Everything allowed it: either another worker holds its lock, or it moved on in the same instant.
  if (row.took) return { claimed: false, why: 'past', state: row.state };
  return { claimed: false, why: 'busy' };
}

/**
 * What run `runId` still waits for (the same test as the claim, taking nothing), or null. A job that
 * was delayed because its run waited asks this once more after the delay is set: a run that settled in
 * between found the job not yet delayed and could not wake it. For a merge, a run still being extracted
 * waits for itself (its extract enqueues the merge).
 */
export async function blockerOf(q: Queryable, runId: number, opts: Pick<ClaimOptions, 'stage' | 'ordered' | 'dependencies' | 'afterExtracting'>): Promise<number | null> {
  const r = await q.query<{ state: RunState; earlier: string | null; dependency: string | null; extracting: string | null; growing: boolean }>(
    `SELECT r.state, ${blockers('$5')}, ${GROWING} FROM runs r WHERE r.id = $1`, [runId, opts.ordered, opts.dependencies, TERMINAL_STATES, !!opts.afterExtracting]);
  const row = r.rows[0];
  if (!row) return null;
  if (opts.stage === 'merge' && (row.state === 'received' || row.state === 'extracting' || row.growing)) return runId;
  const b = row.earlier ?? row.dependency ?? row.extracting;
  return b === null ? null : Number(b);
}

/** The per-flow ordering guard: whether an earlier run of the flow is still open (or held). */
export async function hasEarlierOpenRun(q: Queryable, flowId: number, runId: number): Promise<boolean> {
  const r = await q.query(`SELECT 1 FROM runs WHERE flow_id = $1 AND id < $2 AND state <> ALL($3::text[]) LIMIT 1`, [flowId, runId, TERMINAL_STATES]);
  return !!r.rowCount;
}

/** Whether every run in `ids` has ended (done, failed, rejected): a dependent run may then write. */
export async function runsEnded(q: Queryable, ids: readonly (number | string)[]): Promise<boolean> {
  if (!ids.length) return true;
  const open = await q.query(`SELECT 1 FROM runs WHERE id = ANY($1::bigint[]) AND state <> ALL($2::text[]) LIMIT 1`, [ids.map(Number), TERMINAL_STATES]);
  return !open.rowCount;
}
