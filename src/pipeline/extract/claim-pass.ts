// Which runs one read of a payload serves: the run whose job is running (the leader) and, when its file
// is shared (runs.read_with), every other run of the file that may read now — each taken by the lifecycle's claim.
import type pg from 'pg';
import type { Flow } from '../../schemas/index.ts';
import { runLogger } from '../../telemetry/logger.ts';
import type { PipelineDeps } from '../deps.ts';
import { claimRun, TERMINAL_STATES, type ClaimResult } from '../lifecycle/index.ts';
import { claimLockKey, extractLockKey, LOCK_SQL, UNLOCK_SQL } from '../locks.ts';
import { targetSpec } from '../targets.ts';
import type { RunMode } from './mappings.ts';
import type { PassRun } from './sink.ts';

export type NotClaimed = 'skipped' | 'paused' | 'busy' | 'waiting';

export interface LeaderRow {
  id: number;
  flow_id: number;
  state: string;
  kind: string;
  mode: RunMode;
  inbox_ids: number[];
  read_with: number | null;
  /** Set on a run gathering messages (coalesced receipts): it reads after the flow's earlier reads. */
  coalesce_bytes: number | null;
  name: string;
  definition: Flow;
  paused: boolean;
  /** A person approved it after a stage held it (ParseContext.approved). */
  approved: boolean;
}

const canon = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x));

function why(r: ClaimResult): NotClaimed {
  if (r.claimed) throw new Error('claimed');
  return r.why === 'gone' || r.why === 'past' ? 'skipped' : r.why;
}

function passRun(deps: PipelineDeps, r: { id: number; flow_id: number; name: string; definition: Flow; mode: RunMode; approved: boolean }): PassRun {
  const flow = r.definition;
  return { id: Number(r.id), flowId: r.flow_id, name: r.name, flow, spec: targetSpec(flow.target), mode: r.mode, approved: r.approved, log: runLogger(deps.log, r.name, Number(r.id)) };
}

/** The leader alone: a fact run waits for the runs it depends on (their codes must be known to write). */
export async function claimAlone(deps: PipelineDeps, lockClient: pg.PoolClient, leader: LeaderRow, growing = false): Promise<PassRun[] | NotClaimed> {
  const run = passRun(deps, leader);
  const r = await claimRun(lockClient, run.id, {
    stage: 'extract', ordered: false, dependencies: run.spec.kind === 'fact' && !growing, lockKey: extractLockKey(run.id), afterExtracting: leader.coalesce_bytes !== null,
  });
  return r.claimed ? [run] : why(r);
}

/**
 * The leader and the other runs of its file with the same connector and options, not paused. A fact
 * reads once what it refers to has ended (the price types of the same file: quick). While such a
 * dependency of any of the file's facts is still moving (not held, its flow not paused), the whole pass
 * waits — woken when it settles — so that the file is parsed once, not once more for the facts later.
 */
export async function claimShared(deps: PipelineDeps, lockClient: pg.PoolClient, leader: LeaderRow, growing = false): Promise<PassRun[] | NotClaimed> {
  const rows = await deps.db.selectFrom('runs as r').innerJoin('flows as f', 'f.id', 'r.flow_id')
    .select(['r.id', 'r.flow_id', 'r.mode', 'r.depends_on', 'r.inbox_ids', 'r.approved', 'f.name', 'f.definition', 'f.paused'])
    .where('r.read_with', '=', leader.read_with).where('r.state', 'in', ['received', 'extracting']).where('r.kind', '=', 'payload').orderBy('r.id').execute();
  const leaderFlow = leader.definition;
  const options = canon(leaderFlow.source.options ?? {});
  const others = rows.filter((x) => Number(x.id) !== leader.id && !x.paused && x.definition.source.connector === leaderFlow.source.connector
    && canon(x.definition.source.options ?? {}) === options && x.inbox_ids.length === 1);
  const candidates = [{ ...leader, depends_on: rows.find((x) => Number(x.id) === leader.id)?.depends_on ?? [] }, ...others];
  const factDeps = candidates.filter((r) => targetSpec(r.definition.target).kind === 'fact').flatMap((r) => r.depends_on.map(Number));
  // A file still arriving is read to staging as it comes (growth.ts): what its facts refer to is needed
  // at their merge, which waits for it anyway, not at their read.
  if (factDeps.length && !growing) {
    const moving = await deps.pool.query(`SELECT 1 FROM runs d JOIN flows f ON f.id = d.flow_id
      WHERE d.id = ANY($1::bigint[]) AND d.state <> ALL($2::text[]) AND d.state <> 'held' AND NOT f.paused LIMIT 1`, [factDeps, TERMINAL_STATES]);
    if (moving.rowCount) return 'waiting';
  }
  // Workers take several runs of the file at once (prices and stock are queued together): each
  // would lead a pass and claim what the other has not yet, and the file would be parsed two or
  // three times over, at the same time. Claiming is serialised per file, so the first pass takes
  // every run that may read now and the others find theirs taken ('busy').
  const claimKey = claimLockKey(Number(leader.read_with));
  const claimed: PassRun[] = [];
  await lockClient.query(LOCK_SQL, [claimKey]);
  // One transaction for the claims: the pass's runs start together (one started_at), or none does.
  await lockClient.query('BEGIN');
  try {
    for (const c of candidates) {
      const run = passRun(deps, c);
      const r = await claimRun(lockClient, run.id, { stage: 'extract', ordered: false, dependencies: run.spec.kind === 'fact' && !growing, lockKey: extractLockKey(run.id) });
      if (r.claimed) claimed.push(run);
      else if (run.id === leader.id) {
        // The leader goes first: nothing is taken yet.
        await lockClient.query('COMMIT');
        return why(r);
      }
      // Another run that may not go now is read alone later, by its own job.
    }
    await lockClient.query('COMMIT');
  } catch (e) {
    await lockClient.query('ROLLBACK').catch(() => {});
    for (const c of claimed) await lockClient.query(UNLOCK_SQL, [extractLockKey(c.id)]).catch(() => {});
    throw e;
  } finally {
    await lockClient.query(UNLOCK_SQL, [claimKey]);
  }
  return claimed;
}

/**
 * Whether run `runId`'s extract still waits (a superset of what the claims above wait for: better a
 * job left to its safety delay than one woken to wait again at once): an open run it depends on, or a
 * moving dependency of a run that shares its file.
 */
export async function extractBlocked(deps: PipelineDeps, runId: number): Promise<boolean> {
  const r = await deps.pool.query(`
    SELECT 1 FROM runs r
    JOIN runs x ON x.id = r.id OR (r.read_with IS NOT NULL AND x.read_with = r.read_with AND x.state IN ('received', 'extracting'))
    JOIN runs d ON d.id = ANY(x.depends_on)
    JOIN flows f ON f.id = d.flow_id
    WHERE r.id = $1 AND d.state <> ALL($2::text[]) AND (x.id = r.id OR (d.state <> 'held' AND NOT f.paused))
    UNION ALL
    -- A run gathering messages reads after the flow's earlier read (claimAlone, afterExtracting).
    SELECT 1 FROM runs r JOIN runs e ON e.flow_id = r.flow_id AND e.id < r.id AND e.state = 'extracting'
    WHERE r.id = $1 AND r.coalesce_bytes IS NOT NULL
    LIMIT 1`, [runId, TERMINAL_STATES]);
  return !!r.rowCount;
}
