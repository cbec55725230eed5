// Queue jobs of runs: making sure a run's next stage has a job, and waking the jobs that wait for a
// run when it settles. PostgreSQL holds the truth; a job is only a nudge to look at it again.
import { OPEN_RUN_PREDICATE } from '../db/migrations/0015-runs-flow-open.ts';
import type { JobsOptions } from 'bullmq';
import type { Flow } from '../schemas/index.ts';
import type { PipelineDeps } from './deps.ts';
import { extractJobId, mergeJobId } from './queues.ts';
import { installationId } from './installation.ts';
import { traceField } from '../telemetry/tracing.ts';

/** A job of a flow's work (a run's stage, an order to send, an act to ask for): retried as the flow's `retry` says. */
export function jobOptions(flow: Flow, jobId: string): JobsOptions {
  const retry = flow.retry ?? {};
  return {
    jobId,
    attempts: retry.attempts ?? 8,
    backoff: { type: retry.backoff ?? 'exponential', delay: retry.delayMs ?? 1000 },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/**
 * Makes sure a job exists for the run's next stage. Adding with the same job id is a no-op while the
 * job is waiting or active; a finished job of the same id (left from an earlier attempt) is removed
 * first. Returns whether a job was added.
 */
export async function ensureJob(deps: PipelineDeps, queue: 'extract' | 'merge', runId: number, flow: Flow, opts: { promote?: boolean } = {}): Promise<boolean> {
  const q = deps.queues[queue];
  const jobId = queue === 'extract' ? extractJobId(runId) : mergeJobId(runId);
  const existing = await q.getJob(jobId);
  if (existing) {
    const state = await existing.getState();
    if (state === 'completed' || state === 'failed') await existing.remove().catch(() => {});
    else {
      // A job left delayed while its run waited ('waiting') is due now that the run has moved on. The
      // sweeper does not promote: a job delayed by its retry backoff must keep its delay.
      if (opts.promote && state === 'delayed') await existing.promote().catch(() => {});
      return false;
    }
  }
  await q.add(queue, { runId, installation: await installationId(deps.db), ...traceField() }, jobOptions(flow, jobId));
  return true;
}

/**
 * A run has settled: the jobs of runs that wait for it (its dependents in the same file, later runs of
 * its flow) come out of their delay now instead of at their next poll. A chain of catalog merges
 * (groups → products → product properties) otherwise lost up to half a second at every link.
 */
export async function wakeWaiting(deps: PipelineDeps, runId: number): Promise<void> {
  const waiting = await deps.pool.query<{ id: string; state: string }>(`
    SELECT r.id, r.state FROM runs r
    WHERE r.state IN ('received', 'staged') AND (r.depends_on @> ARRAY[$1::bigint]
       -- Of the flow's later runs only the next open one can go now (runs of a flow merge in order):
       -- waking all of them sent each back to waiting after a claim that found an earlier run open.
       -- bench:sap measured that herd at 0.5 s of hand-off per run with 2,000 runs queued.
       OR r.id = (SELECT min(n.id) FROM runs n WHERE n.flow_id = (SELECT flow_id FROM runs WHERE id = $1) AND n.id > $1
                  AND n.${OPEN_RUN_PREDICATE})
       -- A shared read waits for the dependencies of every fact run of its file (so that the file is
       -- parsed once): wake the file's other runs too.
       OR r.read_with IN (SELECT d.read_with FROM runs d WHERE d.depends_on @> ARRAY[$1::bigint] AND d.read_with IS NOT NULL))
    ORDER BY r.id LIMIT 50`, [runId]);
  for (const w of waiting.rows) {
    const id = Number(w.id);
    const job = await (w.state === 'received' ? deps.queues.extract.getJob(extractJobId(id)) : deps.queues.merge.getJob(mergeJobId(id)));
    if (job && (await job.isDelayed())) await job.promote().catch(() => {}); // it may have started meanwhile
  }
}

export async function enqueueExtract(deps: PipelineDeps, runId: number, flow: Flow): Promise<void> {
  await ensureJob(deps, 'extract', runId, flow, { promote: true });
}

export async function enqueueMerge(deps: PipelineDeps, runId: number, flow: Flow): Promise<void> {
  await ensureJob(deps, 'merge', runId, flow, { promote: true });
}


/**
 * A run's read has ended (staged, merged, failed): the flow's next run gathering messages waits for
 * that (claim's afterExtracting) and goes now instead of at its safety delay.
 */
export async function wakeNextRead(deps: PipelineDeps, runId: number): Promise<void> {
  const next = await deps.pool.query<{ id: string }>(`
    SELECT n.id FROM runs n WHERE n.flow_id = (SELECT flow_id FROM runs WHERE id = $1) AND n.id > $1 AND n.state = 'received'
      AND n.coalesce_bytes IS NOT NULL AND n.${OPEN_RUN_PREDICATE} ORDER BY n.id LIMIT 1`, [runId]);
  const id = next.rows[0] && Number(next.rows[0].id);
  if (!id) return;
  const job = await deps.queues.extract.getJob(extractJobId(id));
  if (job && (await job.isDelayed())) await job.promote().catch(() => {});
}
