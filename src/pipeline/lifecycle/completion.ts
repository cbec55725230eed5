// What a run's end tells the outside: metrics (stage durations, rows by outcome, runs finished by state)
// and the log line, plus waking the jobs that wait for a run once it has settled.
import type { PipelineDeps } from '../deps.ts';
import { wakeWaiting } from '../jobs.ts';
import type { RunState } from './states.ts';
import { annotate, ATTR } from '../../telemetry/tracing.ts';

export interface Completion {
  flow: string;
  stage: 'extract' | 'merge';
  ms: number;
  /** Rows by outcome (read, staged, inserted, rejected …), counted as given. */
  rows: Record<string, number>;
  /** The state a run ended in, when this stage ended it. */
  finished?: RunState;
}

export function recordCompletion(deps: Pick<PipelineDeps, 'metrics'>, c: Completion): void {
  deps.metrics?.stageDuration.observe({ stage: c.stage, flow: c.flow }, c.ms / 1000);
  for (const [outcome, n] of Object.entries(c.rows)) deps.metrics?.rowsProcessed.inc({ flow: c.flow, outcome }, n);
  if (c.finished) deps.metrics?.runsFinished.inc({ flow: c.flow, state: c.finished });
  // The stage's span (workers/processors.ts): its rows are those the stage read (extract) or wrote (merge).
  // A shared read completes several runs in one span: the last one's counts stand.
  const rows = c.stage === 'extract' ? c.rows.read ?? 0 : Object.values(c.rows).reduce((a, n) => a + n, 0);
  annotate({ [ATTR.flow]: c.flow, [ATTR.rows]: rows, ...Object.fromEntries(Object.entries(c.rows).map(([k, n]) => [`${ATTR.rows}.${k}`, n])) });
}

/**
 * A run is done and its rows are visible: the freshness histogram gets the time from its payload's receipt,
 * for it and for the later runs of its flow its merge carried (a group merge). Read from the run's own
 * timestamps, so the figure is the store's, not this worker's share of it.
 */
export async function observeFreshness(deps: Pick<PipelineDeps, 'metrics' | 'pool'>, runId: number): Promise<void> {
  if (!deps.metrics) return;
  const r = await deps.pool.query<{ flow: string; seconds: number }>(`
    SELECT f.name AS flow, extract(epoch FROM r.finished_at - r.received_at)::float8 AS seconds
    FROM runs r JOIN flows f ON f.id = r.flow_id
    WHERE r.state = 'done' AND (r.id = $1 OR (r.flow_id = (SELECT flow_id FROM runs WHERE id = $1) AND r.id > $1 AND r.merged_with = $1))`, [runId]);
  for (const x of r.rows) deps.metrics.freshness.observe({ flow: x.flow }, x.seconds);
}

/**
 * A run has settled (done, failed, rejected, or moved on so that others may go): the jobs waiting for
 * it are promoted now. Best effort: a job that misses it comes back after its safety delay. Call it
 * after the transaction that settled the run has committed, never inside it.
 */
export async function runSettled(deps: PipelineDeps, runId: number): Promise<void> {
  await wakeWaiting(deps, runId).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'could not wake the runs waiting for this one'));
}
