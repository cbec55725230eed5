// A slot kept for small runs: each stage's worker takes one job more than its configured concurrency,
// and a big run (payload over MAGISTRAL_SMALL_RUN_BYTES, or a snapshot group's finalize that removes rows) may hold at most
// the configured number. A big job that finds them all taken goes back to the queue, delayed, and is
// promoted as soon as a big job of this worker ends. bench:freshness measured 1-row deltas waiting for a
// reader (queued p95 1.0–1.6 s, 100k rows; seconds at 2M) while a snapshot of another flow was read.
// Per-flow order is not the queue's business: the claims keep runs of a flow merging in receipt order.
import { DelayedError, type Job } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { extractJobId, mergeJobId } from '../src/pipeline/queues.ts';
import { TERMINAL_STATES } from '../src/pipeline/lifecycle/index.ts';
import { asSmallRun } from '../src/pipeline/priority.ts';

// The threshold's default, MAGISTRAL_SMALL_RUN_BYTES = 1 MiB (schemas/config.schema.json): bench:freshness's
// deltas are 45 B (1 CSV row) to 3.5 KB (100 rows) and ~30 KB (a 1C offers file of 100 prices), an IDoc
// message a few KB; its snapshot is ~70 MB (2M rows). 1 MiB (~30,000 CSV prices) is read in a fraction
// of a second on a quiet machine, so a run that size never holds the kept slot long; above it a run
// takes a configured slot like any load.
/** How long a big job sent back stays delayed at most: it is promoted when a big slot frees before then. */
const PARKED_MS = 2000;

export type Stage = 'extract' | 'merge';

/**
 * Whether run `runId` is small: its payload's files hold at most `maxBytes`. A snapshot group's finalize is
 * small when it will remove nothing — no run of its group is a snapshot with rows (finalizeSnapshotGroup
 * ends such a group without a lock or a scan): bench:freshness's 1C deltas (changes only, one exchange
 * session each) waited p95 44 s for their finalize, parked behind the big snapshot's merge.
 */
export async function isSmallRun(deps: PipelineDeps, runId: number, maxBytes: number): Promise<boolean> {
  const r = await deps.pool.query<{ kind: string; bytes: string; removes: boolean }>(`
    SELECT r.kind, coalesce((SELECT sum(i.size_bytes) FROM inbox i WHERE i.id = ANY(r.inbox_ids)), 0) AS bytes,
      r.kind = 'finalize' AND EXISTS (SELECT 1 FROM runs g WHERE g.snapshot_group = r.snapshot_group AND g.flow_id = r.flow_id
        AND g.id <> r.id AND g.mode = 'snapshot' AND (g.rows_read > 0 OR g.state <> ALL($2::text[]))) AS removes
    FROM runs r WHERE r.id = $1`, [runId, TERMINAL_STATES]);
  const row = r.rows[0];
  // A job of a run gone (or of another installation) is skipped or refused at once: no slot worth keeping.
  if (!row) return true;
  if (row.kind === 'finalize') return !row.removes;
  return Number(row.bytes) <= maxBytes;
}

/** The worker's concurrency for a stage: the configured one, plus the slot kept for small runs. */
export function stageConcurrency(configured: number, smallRunBytes: number): number {
  return smallRunBytes > 0 ? configured + 1 : configured;
}

/**
 * Wraps a stage's processor: small runs go straight in; a big run takes one of `bigSlots` or is sent back
 * delayed (and promoted when one frees). With `smallRunBytes` 0 the processor is returned as it is.
 */
export function keepingSmallSlot<D extends { runId: number }>(
  deps: PipelineDeps, stage: Stage, bigSlots: number, smallRunBytes: number,
  processor: (job: Job<D>, token?: string) => Promise<string>,
): (job: Job<D>, token?: string) => Promise<string> {
  if (smallRunBytes <= 0) return processor;
  let big = 0;
  const parked: number[] = [];
  const unpark = async (): Promise<void> => {
    const runId = parked.shift();
    if (runId === undefined) return;
    const job = await deps.queues[stage].getJob(stage === 'extract' ? extractJobId(runId) : mergeJobId(runId));
    if (job && (await job.isDelayed())) await job.promote().catch(() => {});
  };
  return async (job, token) => {
    const { runId } = job.data;
    // A small run also has this process's big reads pause for it (src/pipeline/priority.ts).
    if (await isSmallRun(deps, runId, smallRunBytes)) return asSmallRun(() => processor(job, token));
    if (big >= bigSlots) {
      if (!parked.includes(runId)) parked.push(runId);
      await job.moveToDelayed(Date.now() + PARKED_MS, token);
      throw new DelayedError();
    }
    big++;
    const at = parked.indexOf(runId);
    if (at >= 0) parked.splice(at, 1);
    try {
      return await processor(job, token);
    } finally {
      big--;
      await unpark().catch(() => {});
    }
  };
}
